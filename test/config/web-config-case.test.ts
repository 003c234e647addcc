/**
 * Configuration is looked up by the exact path: web.config files live on a case-sensitive file
 * system, so a request for /PRIVATE must never leave /private without its web.config.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer } from '../helpers/server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    files: {
      'private/doc.txt': 'secret',
      'private/web.config': `<configuration><system.webServer><security><authentication>
        <anonymousAuthentication enabled="false"/></authentication></security></system.webServer></configuration>`,
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('configuration lookup by path', () => {
  it('keeps a directory web.config in force after a request for a differently cased path', async () => {
    const before = await fetch(`${t.url}/private/doc.txt`);
    expect(before.status).toBe(401);
    expect(subStatusOf(await before.text())).toBe('401.2');
    const upper = await fetch(`${t.url}/PRIVATE/doc.txt`);
    expect(upper.status).toBe(404);
    await upper.text();
    const after = await fetch(`${t.url}/private/doc.txt`);
    expect(after.status).toBe(401);
    expect(await after.text()).not.toContain('secret');
  });
});

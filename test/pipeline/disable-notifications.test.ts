/**
 * `IHttpContext::DisableNotifications` switches notifications off for the calling module and
 * the current request only (iis-reference.md §1.2); per-module context slots keep each
 * request's state apart.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const DISABLER = fileURLToPath(new URL('../fixtures/modules/disabler.ts', import.meta.url));

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    files: { 'a.txt': 'a' },
    webServer: `
      <modules>
        <add name="Disabler" type="${DISABLER}#Disabler"/>
        <add name="Bystander" type="${DISABLER}#Bystander"/>
      </modules>`,
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('disableNotifications', () => {
  it('leaves every notification on when nothing is disabled', async () => {
    const r = await fetch(`${t.url}/a.txt`);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-disabler')).toBe('BeginRequest,AuthorizeRequest,PostAuthorizeRequest');
    expect(r.headers.get('x-bystander')).toBe('ran');
  });

  it('skips the disabled event and post-event of the calling module only, for this request only', async () => {
    const [off, on] = await Promise.all([
      fetch(`${t.url}/a.txt`, { headers: { 'x-disable': '1' } }),
      fetch(`${t.url}/a.txt`),
    ]);
    expect(off.headers.get('x-disabler')).toBe('BeginRequest');
    expect(off.headers.get('x-bystander')).toBe('ran');
    expect(on.headers.get('x-disabler')).toBe('BeginRequest,AuthorizeRequest,PostAuthorizeRequest');
    await Promise.all([off.text(), on.text()]);
  });
});

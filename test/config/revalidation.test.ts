/**
 * web.config changes are noticed within revalidateMs even when the URL is requested more often
 * than that (a busy URL must not keep its stale configuration forever).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ files: { 'a.txt': 'a' }, revalidateMs: 300, webServer: '<caching enableKernelCache="false"/>' });
});
afterAll(() => t.stop());

describe('configuration revalidation', () => {
  it('notices a new web.config while the URL is requested every 40 ms', async () => {
    const header = async () => (await fetch(`${t.url}/a.txt`)).headers.get('x-new');
    expect(await header()).toBeNull();
    writeFileSync(join(t.root, 'web.config'), '<configuration><system.webServer><httpProtocol><customHeaders><add name="X-New" value="1"/></customHeaders></httpProtocol></system.webServer></configuration>');
    const started = Date.now();
    let seen: string | null = null;
    while (seen === null && Date.now() - started < 3000) {
      await new Promise((r) => setTimeout(r, 40));
      seen = await header();
    }
    expect(seen).toBe('1');
  });
});

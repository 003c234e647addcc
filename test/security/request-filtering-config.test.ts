/**
 * Where request filtering rules come from at run time: a web.config edit takes effect on the
 * next request (another effective configuration, hence another compiled table), a bad value in
 * a web.config answers 500.19 for the URLs under it only, and the stock hidden segment is there
 * with no configuration at all.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer } from '../helpers/server.js';
import { rawRequest } from '../filter/raw-request.js';

const denying = (sequence: string) => `<configuration><system.webServer><security><requestFiltering>
  <denyUrlSequences><add sequence="${sequence}"/></denyUrlSequences>
</requestFiltering></security></system.webServer></configuration>`;

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({
    revalidateMs: 50,
    files: {
      'a.txt': 'a',
      'live/one.txt': 'one',
      'live/two.txt': 'two',
      'live/web.config': denying('one'),
      'broken/a.txt': 'never',
      'broken/web.config': `<configuration><system.webServer><security>
<requestFiltering>
  <requestLimits maxUrl="lots"/>
</requestFiltering></security></system.webServer></configuration>`,
    },
  });
});
afterAll(() => s.stop());

async function answer(target: string): Promise<string> {
  const r = await rawRequest(s.url, target);
  return subStatusOf(r.body) ?? String(r.status);
}

describe('request filtering configuration at run time', () => {
  it('refuses the stock hidden segment with no configuration', async () => {
    expect(await answer('/web.config')).toBe('404.8');
  });

  it('applies an edited web.config on the next requests', async () => {
    expect(await answer('/live/one.txt')).toBe('404.5');
    expect(await answer('/live/two.txt')).toBe('200');
    await sleep(60);
    writeFileSync(join(s.root, 'live/web.config'), denying('two') + '\n');
    let seen = '';
    for (let i = 0; i < 40 && seen !== '404.5'; i++) {
      await sleep(50);
      seen = await answer('/live/two.txt');
    }
    expect(seen).toBe('404.5');
    expect(await answer('/live/one.txt')).toBe('200');
  });

  it('answers 500.19 naming the file, line and attribute for a bad value, under that folder only', async () => {
    const r = await rawRequest(s.url, '/broken/a.txt');
    expect(r.status).toBe(500);
    expect(subStatusOf(r.body)).toBe('500.19');
    expect(r.body).toContain(`${join(s.root, 'broken', 'web.config')}:3 attribute 'maxUrl'`);
    expect(r.body).not.toContain('never');
    expect(await answer('/a.txt')).toBe('200');
  });
});

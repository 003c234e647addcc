/**
 * Limits the listener enforces before a request reaches a pool: requestLimits
 * maxAllowedContentLength of the request's own URL (413.1) and the site's limits
 * maxUrlSegments (404.20).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer } from '../helpers/server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    files: {
      'a.txt': 'a',
      'upload/a.txt': 'a',
      'upload/web.config': `<configuration><system.webServer><security><requestFiltering>
        <requestLimits maxAllowedContentLength="10"/></requestFiltering></security></system.webServer></configuration>`,
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('request limits', () => {
  it('applies the maxAllowedContentLength of the URL, not only of the site root', async () => {
    const small = await fetch(`${t.url}/upload/a.txt`, { method: 'POST', body: '0123456789' });
    expect(small.status).toBe(405); // under the limit: it reaches the static file handler
    await small.text();
    const big = await fetch(`${t.url}/upload/a.txt`, { method: 'POST', body: 'x'.repeat(1000) });
    expect(big.status).toBe(413);
    expect(subStatusOf(await big.text())).toBe('413.1');
    const elsewhere = await fetch(`${t.url}/a.txt`, { method: 'POST', body: 'x'.repeat(1000) });
    expect(elsewhere.status).toBe(405);
    await elsewhere.text();
  });

  it('answers 404.20 past limits maxUrlSegments (32 by default)', async () => {
    const ok = await fetch(`${t.url}/${'a/'.repeat(30)}x.txt`);
    expect(ok.status).toBe(404);
    expect(subStatusOf(await ok.text())).toBe('404.0');
    const tooDeep = await fetch(`${t.url}/${'a/'.repeat(40)}x.txt`);
    expect(tooDeep.status).toBe(404);
    expect(subStatusOf(await tooDeep.text())).toBe('404.20');
  });
});

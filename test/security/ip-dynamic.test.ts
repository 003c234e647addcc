/**
 * security/dynamicIpSecurity end to end: per-client limits on requests in progress (403.501)
 * and on the request rate (403.502), set per site, counted per client address (127.0.0.1 and
 * 127.0.0.2 here) or per X-Forwarded-For client in proxy mode; logging-only mode counts and
 * reports without refusing. A slow module holds requests open.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { get, sleep, startGet } from './ip-client.js';

const SLOW = fileURLToPath(new URL('../fixtures/modules/slow.ts', import.meta.url));
const ONE = '127.0.0.1';
const TWO = '127.0.0.2';

function dynamic(site: string, xml: string): string {
  return `<location path="${site}"><system.webServer><security>${xml}</security></system.webServer></location>`;
}

let t: TestServer;

beforeAll(async () => {
  const sites = ['Concurrent', 'Rate', 'Quiet', 'Watch', 'Proxied', 'Unlimited'].map((name, i) => ({
    name, id: i + 1, files: { 'a.txt': name },
  }));
  t = await startTestServer({
    sites,
    webServer: `<modules><add name="Slow" type="${SLOW}#SlowModule"/></modules>`,
    rootXml: [
      dynamic('Concurrent', `<dynamicIpSecurity>
        <denyByConcurrentRequests enabled="true" maxConcurrentRequests="2"/>
      </dynamicIpSecurity>`),
      dynamic('Rate', `<dynamicIpSecurity>
        <denyByRequestRate enabled="true" maxRequests="3" requestIntervalInMilliseconds="1000"/>
      </dynamicIpSecurity>`),
      dynamic('Quiet', `<dynamicIpSecurity denyAction="Unauthorized">
        <denyByConcurrentRequests enabled="true" maxConcurrentRequests="1"/>
        <denyByRequestRate enabled="true" maxRequests="2" requestIntervalInMilliseconds="60000"/>
      </dynamicIpSecurity>`),
      dynamic('Watch', `<dynamicIpSecurity enableLoggingOnlyMode="true">
        <denyByConcurrentRequests enabled="true" maxConcurrentRequests="1"/>
        <denyByRequestRate enabled="true" maxRequests="2" requestIntervalInMilliseconds="60000"/>
      </dynamicIpSecurity>`),
      dynamic('Proxied', `<dynamicIpSecurity enableProxyMode="true">
        <denyByConcurrentRequests enabled="true" maxConcurrentRequests="1"/>
        <denyByRequestRate enabled="true" maxRequests="4" requestIntervalInMilliseconds="60000"/>
      </dynamicIpSecurity>`),
    ].join('\n'),
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('dynamicIpSecurity', () => {
  it('refuses a client past maxConcurrentRequests (403.501), not the others, and forgets finished requests', async () => {
    const url = t.urlOf('Concurrent');
    const held = [startGet(`${url}/slow?ms=1200`, { from: TWO }), startGet(`${url}/slow?ms=1200`, { from: TWO })];
    await sleep(300);
    const third = await get(`${url}/a.txt`, { from: TWO });
    expect([third.status, third.subStatus]).toEqual([403, '403.501']);
    expect(third.body).toContain('client 127.0.0.2 has 2 requests in progress');
    const other = await get(`${url}/a.txt`, { from: ONE });
    expect([other.status, other.body]).toEqual([200, 'Concurrent']);
    for (const h of held) expect((await h.done).body).toBe('done');
    expect((await get(`${url}/a.txt`, { from: TWO })).status).toBe(200);
  });

  it('counts a request the client abandoned as finished', async () => {
    const url = t.urlOf('Concurrent');
    const held = [startGet(`${url}/slow?ms=5000`, { from: TWO }), startGet(`${url}/slow?ms=5000`, { from: TWO })];
    await sleep(300);
    expect((await get(`${url}/a.txt`, { from: TWO })).status).toBe(403);
    for (const h of held) h.abort();
    await sleep(200);
    const after = await get(`${url}/a.txt`, { from: TWO });
    expect([after.status, after.body]).toEqual([200, 'Concurrent']);
  });

  it('refuses a client past maxRequests per interval (403.502) until it slows down', async () => {
    const url = t.urlOf('Rate');
    const burst = await Promise.all(Array.from({ length: 5 }, () => get(`${url}/a.txt`, { from: TWO })));
    const statuses = burst.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 403, 403]);
    const refused = burst.find((r) => r.status === 403)!;
    expect(refused.subStatus).toBe('403.502');
    expect(refused.body).toContain('more than 3 requests in 1000 ms');
    expect((await get(`${url}/a.txt`, { from: ONE })).status).toBe(200);
    // Two intervals later the client starts with a clean slate.
    await sleep(2100);
    expect((await get(`${url}/a.txt`, { from: TWO })).status).toBe(200);
  });

  it('answers 401.501 / 401.502 with denyAction="Unauthorized"', async () => {
    const url = t.urlOf('Quiet');
    const held = startGet(`${url}/slow?ms=800`, { from: TWO });
    await sleep(300);
    const concurrent = await get(`${url}/a.txt`, { from: TWO });
    expect([concurrent.status, concurrent.subStatus]).toEqual([401, '401.501']);
    expect((await held.done).status).toBe(200);
    // The third request in the interval: over maxRequests="2".
    const rate = await get(`${url}/a.txt`, { from: TWO });
    expect([rate.status, rate.subStatus]).toEqual([401, '401.502']);
  });

  it('in logging-only mode counts and reports, but refuses nothing', async () => {
    const url = t.urlOf('Watch');
    const warnings: Error[] = [];
    const listen = (w: Error) => {
      if ((w as NodeJS.ErrnoException).code === 'W3CORE_DYNAMIC_IP') warnings.push(w);
    };
    process.on('warning', listen);
    try {
      const held = startGet(`${url}/slow?ms=600`, { from: TWO });
      await sleep(200);
      const results = [await get(`${url}/a.txt`, { from: TWO }), await get(`${url}/a.txt`, { from: TWO }),
        await get(`${url}/a.txt`, { from: TWO })];
      expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
      expect((await held.done).status).toBe(200);
      await sleep(50);
    } finally {
      process.off('warning', listen);
    }
    const text = warnings.map((w) => w.message).join('\n');
    expect(text).toContain("client 127.0.0.2 of site 'Watch' is over the concurrent request limit");
    expect(text).toContain("client 127.0.0.2 of site 'Watch' is over the request rate limit");
  });

  it('in proxy mode counts the X-Forwarded-For client, not the proxy', async () => {
    const url = t.urlOf('Proxied');
    const as = (client: string) => ({ from: ONE, headers: { 'X-Forwarded-For': client } });
    const held = startGet(`${url}/slow?ms=800`, as('198.51.100.1'));
    await sleep(300);
    // Same proxy, same client: over maxConcurrentRequests="1".
    expect((await get(`${url}/a.txt`, as('198.51.100.1'))).subStatus).toBe('403.501');
    // Same proxy, another client: served.
    expect((await get(`${url}/a.txt`, as('198.51.100.2'))).status).toBe(200);
    // The right-most address is the one the proxy saw; what the client wrote before it is not trusted.
    expect((await get(`${url}/a.txt`, as('203.0.113.9, 198.51.100.1'))).subStatus).toBe('403.501');
    expect((await held.done).status).toBe(200);
    await sleep(50);
    expect((await get(`${url}/a.txt`, as('198.51.100.1'))).status).toBe(200);
    // This is the fifth request of 198.51.100.1 (maxRequests="4").
    expect((await get(`${url}/a.txt`, as('198.51.100.1'))).subStatus).toBe('403.502');
    expect((await get(`${url}/a.txt`, as('198.51.100.3'))).status).toBe(200);
  });

  it('leaves sites without dynamicIpSecurity alone', async () => {
    const url = t.urlOf('Unlimited');
    const results = await Promise.all(Array.from({ length: 30 }, () => get(`${url}/a.txt`, { from: TWO })));
    expect(results.every((r) => r.status === 200)).toBe(true);
  });
});

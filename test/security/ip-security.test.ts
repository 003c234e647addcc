/**
 * security/ipSecurity end to end: a real server on 127.0.0.1, and two real clients, 127.0.0.1
 * and 127.0.0.2 (a second loopback address as the client socket's local address). Rules come
 * from `<location>` blocks and web.config files; denied clients get 403.6, or 401.503 / 404.503
 * / a dropped connection per denyAction.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { get, sleep } from './ip-client.js';

const ONE = '127.0.0.1';
const TWO = '127.0.0.2';

function at(path: string, ipSecurity: string): string {
  return `<location path="Test/${path}"><system.webServer><security>${ipSecurity}</security></system.webServer></location>`;
}

const FOLDERS = [
  'deny-two', 'only-one', 'subnet', 'cidr', 'first-match', 'unauthorized', 'not-found', 'abort', 'proxy', 'late',
  'broken', 'reverse-dns',
];

let t: TestServer;

beforeAll(async () => {
  const files: Record<string, string> = { 'a.txt': 'root' };
  for (const f of FOLDERS) {
    files[`${f}/a.txt`] = f;
    files[`${f}/inner/a.txt`] = `${f} inner`;
  }
  files['broken/web.config'] = `<configuration>
  <system.webServer>
    <security>
      <ipSecurity>
        <add ipAddress="127.0.0.300" allowed="false"/>
      </ipSecurity>
    </security>
  </system.webServer>
</configuration>`;
  files['reverse-dns/web.config'] = `<configuration>
  <system.webServer><security><ipSecurity>
    <add ipAddress="" domainName="example.com" allowed="false"/>
  </ipSecurity></security></system.webServer>
</configuration>`;
  t = await startTestServer({
    files,
    rootXml: [
      at('deny-two', '<ipSecurity><add ipAddress="127.0.0.2"/></ipSecurity>'),
      at('only-one', '<ipSecurity allowUnlisted="false"><add ipAddress="127.0.0.1" allowed="true"/></ipSecurity>'),
      // 127.0.0.0–127.0.0.1 denied; 127.0.0.2 is outside the mask.
      at('subnet', '<ipSecurity><add ipAddress="127.0.0.0" subnetMask="255.255.255.254"/></ipSecurity>'),
      at('cidr', '<ipSecurity><add ipAddress="127.0.0.2/31"/></ipSecurity>'),
      at('first-match', `<ipSecurity>
        <add ipAddress="127.0.0.2" allowed="true"/>
        <add ipAddress="127.0.0.0/8" allowed="false"/>
      </ipSecurity>`),
      at('unauthorized', '<ipSecurity denyAction="Unauthorized"><add ipAddress="127.0.0.2"/></ipSecurity>'),
      at('not-found', '<ipSecurity denyAction="NotFound"><add ipAddress="127.0.0.2"/></ipSecurity>'),
      at('abort', '<ipSecurity denyAction="AbortRequest"><add ipAddress="127.0.0.2"/></ipSecurity>'),
      at('proxy', `<ipSecurity enableProxyMode="true">
        <add ipAddress="2001:db8::" subnetMask="ffff:ffff::"/>
        <add ipAddress="10.0.0.0" subnetMask="255.0.0.0"/>
        <add ipAddress="fe80::/10"/>
      </ipSecurity>`),
    ].join('\n'),
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('ipSecurity', () => {
  it('denies one address and lets the other through (403.6)', async () => {
    const one = await get(`${t.url}/deny-two/a.txt`, { from: ONE });
    expect([one.status, one.body]).toEqual([200, 'deny-two']);
    const two = await get(`${t.url}/deny-two/a.txt`, { from: TWO });
    expect(two.status).toBe(403);
    expect(two.subStatus).toBe('403.6');
    expect(two.body).toContain('client address 127.0.0.2');
    // The rule covers the folder's subtree and nothing outside it.
    expect((await get(`${t.url}/deny-two/inner/a.txt`, { from: TWO })).status).toBe(403);
    const root = await get(`${t.url}/a.txt`, { from: TWO });
    expect([root.status, root.body]).toEqual([200, 'root']);
  });

  it('with allowUnlisted="false" only lets listed addresses through', async () => {
    expect((await get(`${t.url}/only-one/a.txt`, { from: ONE })).status).toBe(200);
    const two = await get(`${t.url}/only-one/a.txt`, { from: TWO });
    expect([two.status, two.subStatus]).toEqual([403, '403.6']);
    expect(two.body).toContain('allowUnlisted is false');
  });

  it('matches a subnet mask and a CIDR prefix', async () => {
    expect((await get(`${t.url}/subnet/a.txt`, { from: ONE })).status).toBe(403);
    expect((await get(`${t.url}/subnet/a.txt`, { from: TWO })).status).toBe(200);
    expect((await get(`${t.url}/cidr/a.txt`, { from: ONE })).status).toBe(200);
    expect((await get(`${t.url}/cidr/a.txt`, { from: TWO })).status).toBe(403);
  });

  it('evaluates entries top-down: the first match wins', async () => {
    expect((await get(`${t.url}/first-match/a.txt`, { from: TWO })).status).toBe(200);
    const one = await get(`${t.url}/first-match/a.txt`, { from: ONE });
    expect(one.status).toBe(403);
    expect(one.body).toContain('ipAddress="127.0.0.0/8"');
  });

  it('answers per denyAction: 401.503, 404.503, or a dropped connection', async () => {
    const unauthorized = await get(`${t.url}/unauthorized/a.txt`, { from: TWO });
    expect([unauthorized.status, unauthorized.subStatus]).toEqual([401, '401.503']);
    const notFound = await get(`${t.url}/not-found/a.txt`, { from: TWO });
    expect([notFound.status, notFound.subStatus]).toEqual([404, '404.503']);
    const aborted = await get(`${t.url}/abort/a.txt`, { from: TWO });
    expect(aborted.status).toBe(0);
    expect(aborted.error).toMatch(/ECONNRESET|socket hang up/);
    // The allowed client on the same URLs is served.
    for (const f of ['unauthorized', 'not-found', 'abort']) {
      const r = await get(`${t.url}/${f}/a.txt`, { from: ONE });
      expect([r.status, r.body]).toEqual([200, f]);
    }
  });

  it('in proxy mode also checks X-Forwarded-For (IPv6, mapped IPv4, ports, lists)', async () => {
    const via = (xff: string | undefined) =>
      get(`${t.url}/proxy/a.txt`, { from: ONE, headers: xff === undefined ? {} : { 'X-Forwarded-For': xff } });
    expect((await via(undefined)).status).toBe(200);
    expect((await via('192.0.2.1')).status).toBe(200);
    expect((await via('2001:db8:1::5')).status).toBe(403);
    expect((await via('[2001:db8::1]:443')).status).toBe(403);
    expect((await via('2001:db9::1')).status).toBe(200);
    expect((await via('::ffff:10.1.2.3')).status).toBe(403);
    expect((await via('10.200.0.1:5555')).status).toBe(403);
    expect((await via('fe80::1%eth0')).status).toBe(403);
    expect((await via('192.0.2.1, unknown, 10.0.0.7')).status).toBe(403);
    const bad = await via('192.0.2.1, not-an-address');
    expect([bad.status, bad.subStatus]).toEqual([400, '400.10']);
  });

  it('applies a web.config rule added while the server runs, and lifts it when removed', async () => {
    const url = `${t.url}/late/a.txt`;
    expect((await get(url, { from: TWO })).status).toBe(200);
    const file = join(t.root, 'late', 'web.config');
    writeFileSync(file, `<configuration><system.webServer><security>
      <ipSecurity><add ipAddress="127.0.0.2" allowed="false"/></ipSecurity>
    </security></system.webServer></configuration>`);
    await sleep(150);
    const denied = await get(url, { from: TWO });
    expect([denied.status, denied.subStatus]).toEqual([403, '403.6']);
    expect(denied.body).toContain(file);
    expect((await get(url, { from: ONE })).status).toBe(200);
    rmSync(file);
    await sleep(150);
    expect((await get(url, { from: TWO })).status).toBe(200);
  });

  it('answers 500.19 naming the file, line and attribute for a bad address', async () => {
    const r = await get(`${t.url}/broken/a.txt`, { from: ONE });
    expect([r.status, r.subStatus]).toEqual([500, '500.19']);
    expect(r.body).toContain(`${join(t.root, 'broken', 'web.config')}:5 attribute 'ipAddress'`);
    expect(r.body).toContain('127.0.0.300');
  });

  it('refuses domainName entries (reverse DNS) with 500.19', async () => {
    const r = await get(`${t.url}/reverse-dns/a.txt`, { from: ONE });
    expect([r.status, r.subStatus]).toEqual([500, '500.19']);
    expect(r.body).toContain("attribute 'domainName'");
    expect(r.body).toContain('reverse DNS');
  });
});

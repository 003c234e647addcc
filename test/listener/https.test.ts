/**
 * https bindings (iis-reference.md §2.4): pages served over TLS with the binding's certificate,
 * SNI choosing the certificate by server name on one port (sslFlags 1), the default certificate
 * for clients that send no server name or an unknown one, and http and https sites side by side.
 * Every client trusts only the test CA made for this run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type W3CoreServer } from '../../dist/index.js';
import { writeFiles } from '../helpers/server.js';
import {
  TEST_PASSPHRASE, createTestPki, freePort, httpsConfig, httpsGet, type TestPki,
} from '../helpers/tls.js';

let pki: TestPki;

beforeAll(() => {
  pki = createTestPki(
    ['www.example', 'a.example', 'b.example', 'c.example', 'default.example'],
    ['default.example'],
  );
});

afterAll(() => pki.cleanup());

/** A site root under the PKI's temporary directory whose `site.txt` names the site. */
function siteRoot(name: string, files: Record<string, string> = {}): string {
  const root = join(pki.dir, 'sites', name);
  mkdirSync(root, { recursive: true });
  writeFiles(root, { 'site.txt': name, ...files });
  return root;
}

/** A module answering `/vars` with the server variables that tell https from http. */
function serverVarsModule(): string {
  const file = join(pki.dir, 'server-vars.mjs');
  const dist = new URL('../../dist/index.js', import.meta.url).href;
  writeFileSync(file, `import { REQUEST_NOTIFICATION_STATUS } from '${dist}';
export class ServerVars {
  onBeginRequest(ctx) {
    if (ctx.request.path !== '/vars') return REQUEST_NOTIFICATION_STATUS.CONTINUE;
    ctx.response.setHeader('Content-Type', 'text/plain');
    ctx.response.write(['HTTPS', 'SERVER_PORT_SECURE', 'SERVER_PORT'].map((n) => n + '=' + ctx.getServerVariable(n)).join(' '));
    return REQUEST_NOTIFICATION_STATUS.FINISH_REQUEST;
  }
}
`);
  return file;
}

async function start(text: string, name: string): Promise<W3CoreServer> {
  const file = join(pki.dir, `${name}.config`);
  writeFileSync(file, text);
  return startServer({ configFile: file, revalidateMs: 50 });
}

const portOf = (url: string) => Number(new URL(url).port);

describe('an https site next to an http site', () => {
  let server: W3CoreServer;
  let secure: string;
  let plain: string;

  beforeAll(async () => {
    const www = pki.certs['www.example']!;
    server = await start(httpsConfig([
      {
        name: 'Secure', id: 1, root: siteRoot('Secure', { 'docs/readme.txt': 'read me' }),
        // The certificate file carries the chain; the key is encrypted.
        bindings: [{ bindingInformation: '127.0.0.1:0:', certificateFile: www.chain, keyFile: www.encryptedKey, passphrase: TEST_PASSPHRASE }],
      },
      { name: 'Plain', id: 2, root: siteRoot('Plain', { 'docs/readme.txt': 'read me' }), bindings: [{ protocol: 'http', bindingInformation: '127.0.0.1:0:' }] },
    ], `<modules><add name="ServerVars" type="${serverVarsModule()}#ServerVars"/></modules>`), 'side-by-side');
    secure = server.url('Secure');
    plain = server.url('Plain');
  });

  afterAll(() => server?.stop());

  it('gives https:// URLs for https bindings and http:// for http ones', () => {
    expect(secure).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(plain).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(portOf(secure)).not.toBe(portOf(plain));
  });

  it('serves a page over TLS with the binding certificate, verified against the test CA', async () => {
    const r = await httpsGet({ port: portOf(secure), path: '/site.txt', servername: 'www.example', ca: pki.caPem });
    expect(r.status).toBe(200);
    expect(r.body).toBe('Secure');
    expect(r.peerCommonName).toBe('www.example');
    expect(r.peerAltNames).toBe('DNS:www.example');
    expect(r.protocol).toMatch(/^TLSv1\.[23]$/);
  });

  it('serves the http site in clear text at the same time', async () => {
    const r = await fetch(`${plain}/site.txt`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('Plain');
  });

  it('tells the pipeline the request is secure (HTTPS, SERVER_PORT_SECURE)', async () => {
    const r = await httpsGet({ port: portOf(secure), path: '/vars', servername: 'www.example', ca: pki.caPem });
    expect(r.body).toBe(`HTTPS=on SERVER_PORT_SECURE=1 SERVER_PORT=${portOf(secure)}`);
    const p = await fetch(`${plain}/vars`);
    expect(await p.text()).toBe(`HTTPS=off SERVER_PORT_SECURE=0 SERVER_PORT=${portOf(plain)}`);
  });

  it('redirects a directory to its slash URL with the https scheme', async () => {
    const r = await httpsGet({ port: portOf(secure), path: '/docs', servername: 'www.example', ca: pki.caPem });
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('https://www.example/docs/');
    const p = await fetch(`${plain}/docs`, { redirect: 'manual' });
    expect(p.status).toBe(301);
    expect(p.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/docs\/$/);
  });

  it('does not answer clear-text HTTP on the https port', async () => {
    await expect(fetch(`http://127.0.0.1:${portOf(secure)}/site.txt`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  });
});

/** An SNI binding (sslFlags 1) of `host` on `port` with the test CA's certificate for it. */
function sniBinding(port: number, host: string) {
  return {
    bindingInformation: `127.0.0.1:${port}:${host}`, certificateFile: pki.certs[host]!.cert, keyFile: pki.certs[host]!.key, sslFlags: 1,
  };
}

describe('SNI: several host names on one port, each with its certificate', () => {
  let server: W3CoreServer;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    const sni = (host: string) => sniBinding(port, host);
    const fallback = pki.certs['default.example']!;
    server = await start(httpsConfig([
      { name: 'Alpha', id: 1, root: siteRoot('Alpha'), bindings: [sni('a.example')] },
      { name: 'Beta', id: 2, root: siteRoot('Beta'), bindings: [sni('b.example')] },
      { name: 'Gamma', id: 3, root: siteRoot('Gamma'), bindings: [sni('c.example')] },
      {
        name: 'Fallback', id: 4, root: siteRoot('Fallback'),
        bindings: [{ bindingInformation: `127.0.0.1:${port}:`, certificateFile: fallback.cert, keyFile: fallback.key }],
      },
    ]), 'sni');
  });

  afterAll(() => server?.stop());

  it('listens once, on the configured port', () => {
    expect(new Set(server.bindings.map((b) => b.port))).toEqual(new Set([port]));
    expect(server.url('Beta')).toBe(`https://127.0.0.1:${port}`);
  });

  for (const [host, site] of [['a.example', 'Alpha'], ['b.example', 'Beta'], ['c.example', 'Gamma']] as const) {
    it(`presents ${host}'s certificate to a client asking for ${host}, and serves ${site}`, async () => {
      const r = await httpsGet({ port, path: '/site.txt', servername: host, ca: pki.caPem });
      expect(r.peerCommonName).toBe(host);
      expect(r.peerAltNames).toBe(`DNS:${host}`);
      expect(r.status).toBe(200);
      expect(r.body).toBe(site);
    });
  }

  it('presents the default certificate (the binding without a host) to a client sending no server name', async () => {
    const r = await httpsGet({ port, path: '/site.txt', ca: pki.caPem });
    expect(r.peerCommonName).toBe('default.example');
    expect(r.body).toBe('Fallback');
  });

  it('presents the default certificate for an unknown server name, which a verifying client refuses', async () => {
    await expect(httpsGet({ port, path: '/site.txt', servername: 'unknown.example', ca: pki.caPem }))
      .rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    const r = await httpsGet({ port, path: '/site.txt', servername: 'unknown.example', ca: pki.caPem, verify: false });
    expect(r.peerCommonName).toBe('default.example');
    // The Host header routes the request, as on http: unknown.example goes to the binding without a host.
    expect(r.body).toBe('Fallback');
  });

  it('routes by the Host header, not by the server name of the handshake', async () => {
    const r = await httpsGet({ port, path: '/site.txt', servername: 'a.example', host: 'b.example', ca: pki.caPem });
    expect(r.peerCommonName).toBe('a.example');
    expect(r.body).toBe('Beta');
  });

  it('matches server names as sent: a mixed-case name gets the default certificate', async () => {
    const r = await httpsGet({ port, path: '/site.txt', servername: 'A.Example', host: 'a.example', ca: pki.caPem, verify: false });
    expect(r.peerCommonName).toBe('default.example');
    expect(r.body).toBe('Alpha');
  });
});

describe('SNI without a binding that has no host name', () => {
  let server: W3CoreServer;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    const sni = (host: string) => sniBinding(port, host);
    server = await start(httpsConfig([
      { name: 'Beta', id: 2, root: siteRoot('Beta'), bindings: [sni('b.example')] },
      { name: 'Alpha', id: 1, root: siteRoot('Alpha'), bindings: [sni('a.example')] },
    ]), 'sni-only');
  });

  afterAll(() => server?.stop());

  it('presents the first binding\'s certificate without a server name; an unknown Host is 404', async () => {
    const r = await httpsGet({ port, path: '/site.txt', ca: pki.caPem, verify: false });
    expect(r.peerCommonName).toBe('b.example');
    expect(r.status).toBe(404);
  });

  it('still chooses each host\'s own certificate by server name', async () => {
    const a = await httpsGet({ port, path: '/site.txt', servername: 'a.example', ca: pki.caPem });
    expect([a.peerCommonName, a.body]).toEqual(['a.example', 'Alpha']);
    const b = await httpsGet({ port, path: '/site.txt', servername: 'b.example', ca: pki.caPem });
    expect([b.peerCommonName, b.body]).toEqual(['b.example', 'Beta']);
  });
});

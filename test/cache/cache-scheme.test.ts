/**
 * One site on http and https: the response cache keeps their answers apart (HTTP.sys keys its
 * cache by the whole URL, scheme included), so a page that differs by scheme never crosses over.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type W3CoreServer } from '../../dist/index.js';
import { createTestPki, freePort, httpsConfig, httpsGet, type TestPki } from '../helpers/tls.js';

let pki: TestPki;
let server: W3CoreServer;
let httpPort: number;
let httpsPort: number;

beforeAll(async () => {
  pki = createTestPki(['www.example']);
  const root = join(pki.dir, 'site');
  mkdirSync(root, { recursive: true });
  const dist = new URL('../../dist/index.js', import.meta.url).href;
  const module = join(pki.dir, 'scheme.mjs');
  writeFileSync(module, `import { REQUEST_NOTIFICATION_STATUS } from '${dist}';
export class Scheme {
  onBeginRequest(ctx) {
    ctx.response.cachePolicy.setKernelCachePolicy('untilChange');
    ctx.response.setHeader('Content-Type', 'text/plain');
    ctx.response.write(ctx.request.secure ? 'https' : 'http');
    return REQUEST_NOTIFICATION_STATUS.FINISH_REQUEST;
  }
}
`);
  httpPort = await freePort();
  httpsPort = await freePort();
  const www = pki.certs['www.example']!;
  const configFile = join(pki.dir, 'applicationHost.config');
  writeFileSync(configFile, httpsConfig([{
    name: 'Both', id: 1, root,
    bindings: [
      { protocol: 'http', bindingInformation: `127.0.0.1:${httpPort}:` },
      { bindingInformation: `127.0.0.1:${httpsPort}:`, certificateFile: www.cert, keyFile: www.key },
    ],
  }], `<modules><add name="Scheme" type="${module}#Scheme"/></modules>`));
  server = await startServer({ configFile });
});

afterAll(async () => {
  await server?.stop();
  pki?.cleanup();
});

describe('response cache and the scheme', () => {
  it('answers http requests with the http entry and https requests with the https entry', async () => {
    for (let i = 0; i < 3; i++) expect(await (await fetch(`http://127.0.0.1:${httpPort}/x`)).text()).toBe('http');
    const hits = server.cache!.stats().hits;
    expect(hits).toBe(1);
    for (let i = 0; i < 3; i++) {
      const res = await httpsGet({ port: httpsPort, path: '/x', servername: 'www.example', ca: pki.caPem });
      expect(res.body).toBe('https');
    }
    expect(server.cache!.stats().hits).toBe(hits + 1);
    expect(await (await fetch(`http://127.0.0.1:${httpPort}/x`)).text()).toBe('http');
  });
});

/**
 * managedPipelineMode of the application pool. Integrated: every module in `<modules>` sees
 * every request. Classic: a non-built-in (TypeScript, the counterpart of managed) module runs
 * only for requests whose handler mapping names it, as ASP.NET modules ran only inside the
 * aspnet_isapi handler in IIS 6-style pools; the built-in (native) modules still run for all.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer } from '../helpers/server.js';

const HEADER_TAGGER = fileURLToPath(new URL('../fixtures/modules/header-tagger.ts', import.meta.url));

let t: TestServer;
const files = { 'page.txt': 'static page' };

beforeAll(async () => {
  t = await startTestServer({
    sites: [
      { name: 'IntegratedSite', id: 1, files, applicationPool: 'DefaultAppPool' },
      { name: 'ClassicSite', id: 2, files, applicationPool: 'ClassicPool' },
    ],
    pools: '<add name="DefaultAppPool"/><add name="ClassicPool" managedPipelineMode="Classic"/>',
    webServer: `
      <modules><add name="HeaderTagger" type="${HEADER_TAGGER}#HeaderTagger"/></modules>
      <handlers><add name="Tagged" path="*.tag" verb="*" modules="HeaderTagger"/></handlers>`,
  });
});

afterAll(async () => {
  await t?.stop();
});

async function get(site: string, path: string) {
  const res = await fetch(`${t.urlOf(site)}${path}`);
  return {
    status: res.status,
    body: await res.text(),
    begin: res.headers.get('x-tagger-begin'),
    send: res.headers.get('x-tagger-send'),
    poweredBy: res.headers.get('x-powered-by'),
  };
}

describe('Integrated pool', () => {
  it('runs the module for a static file request', async () => {
    const r = await get('IntegratedSite', '/page.txt');
    expect(r).toMatchObject({ status: 200, body: 'static page', begin: 'yes', send: 'yes' });
  });

  it('runs the module for a URL mapped to it, as its handler', async () => {
    const r = await get('IntegratedSite', '/x.tag');
    expect(r).toMatchObject({ status: 200, body: 'tagged', begin: 'yes', send: 'yes' });
  });

  it('runs the module for an error response', async () => {
    const r = await get('IntegratedSite', '/missing.txt');
    expect(r.status).toBe(404);
    expect(r).toMatchObject({ begin: 'yes', send: 'yes' });
  });
});

describe('Classic pool', () => {
  it('does not run the module for a static file request; built-in modules still run', async () => {
    const r = await get('ClassicSite', '/page.txt');
    expect(r).toMatchObject({ status: 200, body: 'static page', begin: null, send: null });
    // ProtocolSupportModule (built-in) still adds the custom headers.
    expect(r.poweredBy).toBe('w3core');
  });

  it('does not run the module for an error response of another handler', async () => {
    const r = await get('ClassicSite', '/missing.txt');
    expect(r.status).toBe(404);
    expect(subStatusOf(r.body)).toBe('404.0');
    expect(r).toMatchObject({ begin: null, send: null });
  });

  it('runs the module as the handler of a URL mapped to it (ExecuteRequestHandler, SendResponse)', async () => {
    const r = await get('ClassicSite', '/x.tag');
    expect(r).toMatchObject({ status: 200, body: 'tagged', send: 'yes' });
  });

  it('runs the module\'s BeginRequest for a URL whose handler names it', async () => {
    // In a Classic pool the whole ASP.NET pipeline, BeginRequest included, ran for requests
    // handed to the ASP.NET handler; a module named by the handler should see its
    // BeginRequest, not only the notifications that come after MapRequestHandler.
    const r = await get('ClassicSite', '/y.tag');
    expect(r.status).toBe(200);
    expect(r.begin).toBe('yes');
  });
});

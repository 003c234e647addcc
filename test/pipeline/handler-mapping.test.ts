import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer, webConfig } from '../helpers/server.js';

/**
 * Handler mapping at MapRequestHandler (iis-reference.md §2.7): first entry whose path mask,
 * verb and resource fit; 405 when only the verb failed, 404.4 when no mask matched, 404.0 when
 * the resource of a matching handler is missing.
 */

describe('handler mapping with only a GET handler for *.x', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      // `.x` is in the stock MIME map (application/directx).
      webServer: `<handlers>
          <clear/>
          <add name="X-Get" path="*.x" verb="GET" modules="StaticFileModule" resourceType="File" requireAccess="Read"/>
          <add name="Readme" path="readme.txt" verb="GET,HEAD" modules="StaticFileModule" resourceType="File" requireAccess="Read"/>
        </handlers>`,
      files: {
        'a.x': 'payload of a.x',
        'A2.X': 'payload of A2.X',
        'dir/b.x': 'payload of b.x',
        'a.xy': 'not for the x handler',
        'a.x.txt': 'not for the x handler either',
        'ax': 'no extension',
        'readme.txt': 'read me',
        'other.txt': 'other',
        'more/web.config': webConfig(
          '<handlers><add name="All-More" path="*" verb="*" modules="StaticFileModule" resourceType="File" requireAccess="Read"/></handlers>'),
        'more/c.txt': 'payload of more/c.txt',
        // A deeper *.x handler whose module writes nothing for GET: if it is tried before the
        // inherited X-Get, the file is not served.
        'shadow/web.config': webConfig(
          '<handlers><add name="X-Shadow" path="*.x" verb="GET" modules="ProtocolSupportModule" requireAccess="None"/></handlers>'),
        'shadow/d.x': 'payload of shadow/d.x',
      },
    });
  });
  afterAll(() => s.stop());

  it('serves GET for a path matching *.x', async () => {
    const r = await fetch(`${s.url}/a.x`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/directx');
    expect(await r.text()).toBe('payload of a.x');
  });

  it('matches *.x in sub-directories and case-insensitively', async () => {
    const sub = await fetch(`${s.url}/dir/b.x`, { redirect: 'manual' });
    expect(sub.status).toBe(200);
    expect(await sub.text()).toBe('payload of b.x');
    const upper = await fetch(`${s.url}/A2.X`, { redirect: 'manual' });
    expect(upper.status).toBe(200);
    expect(await upper.text()).toBe('payload of A2.X');
  });

  it('answers POST to *.x with 405 (the path matched, the verb did not)', async () => {
    const r = await fetch(`${s.url}/a.x`, { method: 'POST', body: 'data', redirect: 'manual' });
    expect(r.status).toBe(405);
    const body = await r.text();
    expect(subStatusOf(body)).toBe('405.0');
    expect(body).not.toContain('payload of a.x');
  });

  it('sends Allow with the 405 of the handler mapping (RFC 9110 §15.5.6)', async () => {
    const r = await fetch(`${s.url}/a.x`, { method: 'POST', body: 'data', redirect: 'manual' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow') ?? '').toMatch(/\bGET\b/);
    await r.arrayBuffer();
  });

  it('answers 404.4 for paths *.x does not match', async () => {
    for (const path of ['/a.xy', '/a.x.txt', '/ax', '/other.txt']) {
      const r = await fetch(`${s.url}${path}`, { redirect: 'manual' });
      expect(r.status, path).toBe(404);
      const body = await r.text();
      expect(subStatusOf(body), path).toBe('404.4');
      expect(body).not.toContain('not for the x handler');
    }
  });

  it('answers 404.0 when a matching File handler has no file to serve', async () => {
    const r = await fetch(`${s.url}/missing.x`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(subStatusOf(await r.text())).toBe('404.0');
  });

  it('matches a file-name mask exactly and honours its verb list', async () => {
    const r = await fetch(`${s.url}/readme.txt`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('read me');
    const del = await fetch(`${s.url}/readme.txt`, { method: 'DELETE', redirect: 'manual' });
    expect(del.status).toBe(405);
    await del.arrayBuffer();
  });

  it('uses handlers added by a deeper web.config', async () => {
    const r = await fetch(`${s.url}/more/c.txt`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('payload of more/c.txt');
  });

  it('tries the deeper web.config handlers before the inherited ones (mergeAppend=false)', async () => {
    const r = await fetch(`${s.url}/shadow/d.x`, { redirect: 'manual' });
    // X-Shadow was chosen: its module does not answer GET, so the response stays empty.
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('');
  });
});

describe('handler mapping per site', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      sites: [
        { name: 'Normal', id: 1, files: { 'index.html': 'normal index' } },
        { name: 'Cleared', id: 2, files: { 'index.html': 'cleared index' } },
      ],
      rootXml: `<location path="Cleared"><system.webServer><handlers><clear/></handlers></system.webServer></location>`,
    });
  });
  afterAll(() => s.stop());

  it('serves files on a site with the stock handlers', async () => {
    const r = await fetch(`${s.urlOf('Normal')}/index.html`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('normal index');
  });

  it('answers 404.4 on a site whose handlers are cleared', async () => {
    for (const path of ['/index.html', '/', '/missing.txt']) {
      const r = await fetch(`${s.urlOf('Cleared')}${path}`, { redirect: 'manual' });
      expect(r.status, path).toBe(404);
      const body = await r.text();
      expect(subStatusOf(body), path).toBe('404.4');
      expect(body).not.toContain('cleared index');
    }
  });

  it('has no OPTIONS handler either on the cleared site', async () => {
    const r = await fetch(`${s.urlOf('Cleared')}/index.html`, { method: 'OPTIONS', redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(subStatusOf(await r.text())).toBe('404.4');
  });
});

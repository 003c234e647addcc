import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer, webConfig } from '../helpers/server.js';

/**
 * CustomErrorModule (iis-reference.md §1.6, §3.3): detailed pages for local clients by default,
 * custom pages per status and substatus, the terse page, existingResponse and Redirect mode.
 */

const TEAPOT_MODULE = fileURLToPath(new URL('../fixtures/modules/errors-teapot.ts', import.meta.url));
const TEAPOT_BODY = 'short and stout';

describe('CustomErrorModule with errorMode DetailedLocalOnly (default)', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      webServer: `<modules><add name="Teapot" type="${TEAPOT_MODULE}#TeapotModule"/></modules>`,
      files: {
        'index.html': 'home',
        '404.html': 'CUSTOM-404-PAGE',
        'web.config': webConfig('<httpErrors><error statusCode="404" path="404.html"/></httpErrors>'),
        'nolist/readme.txt': 'r',
      },
    });
  });
  afterAll(() => s.stop());

  it('gives a local client the detailed page with status, substatus and physical path', async () => {
    const r = await fetch(`${s.url}/missing.txt`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const body = await r.text();
    expect(subStatusOf(body)).toBe('404.0');
    expect(body).toContain(join(s.root, 'missing.txt'));
    // The custom page configured for 404 is for remote clients only.
    expect(body).not.toContain('CUSTOM-404-PAGE');
  });

  it('shows the substatus of the error on the detailed page (403.14)', async () => {
    const r = await fetch(`${s.url}/nolist/`, { redirect: 'manual' });
    expect(r.status).toBe(403);
    expect(subStatusOf(await r.text())).toBe('403.14');
  });

  it('replaces a module body with the detailed page (existingResponse Auto, no trySkipCustomErrors)', async () => {
    const r = await fetch(`${s.url}/teapot`, { redirect: 'manual' });
    expect(r.status).toBe(418);
    const body = await r.text();
    expect(body).not.toContain(TEAPOT_BODY);
    expect(subStatusOf(body)).toBe('418.0');
  });

  it('keeps a module body set with trySkipCustomErrors (existingResponse Auto)', async () => {
    const r = await fetch(`${s.url}/teapot?skip=1`, { redirect: 'manual' });
    expect(r.status).toBe(418);
    expect(r.headers.get('content-type')).toBe('text/plain');
    expect(await r.text()).toBe(TEAPOT_BODY);
  });
});

describe('CustomErrorModule with errorMode Custom in the site root web.config', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      files: {
        'index.html': 'home',
        'thing.xyz123': 'no MIME map for this',
        '404.html': 'CUSTOM-404-PAGE',
        '404-3.html': 'CUSTOM-404.3-PAGE',
        'web.config': webConfig(`<httpErrors errorMode="Custom">
            <error statusCode="404" path="404.html"/>
            <error statusCode="404" subStatusCode="3" path="404-3.html"/>
            <error statusCode="403" path="http://errors.example.com/forbidden" responseMode="Redirect"/>
          </httpErrors>`),
        'nolist/readme.txt': 'r',
        'sub/sub404.html': 'SUB-FOLDER-404-PAGE',
        'sub/web.config': webConfig(`<httpErrors>
            <remove statusCode="404"/>
            <error statusCode="404" path="sub404.html"/>
          </httpErrors>`),
        'broken/web.config': webConfig(`<httpErrors>
            <remove statusCode="404"/>
            <error statusCode="404" path="does-not-exist.html"/>
          </httpErrors>`),
      },
    });
  });
  afterAll(() => s.stop());

  it('answers 404 with the custom page, a path relative to the web.config folder', async () => {
    const r = await fetch(`${s.url}/missing.txt`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await r.text()).toBe('CUSTOM-404-PAGE');
  });

  it('prefers the entry for the exact substatus (404.3) over the -1 entry', async () => {
    const r = await fetch(`${s.url}/thing.xyz123`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(await r.text()).toBe('CUSTOM-404.3-PAGE');
  });

  it('resolves a sub-folder web.config entry against that sub-folder', async () => {
    const r = await fetch(`${s.url}/sub/missing.txt`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(await r.text()).toBe('SUB-FOLDER-404-PAGE');
  });

  it('redirects with 302 to the path of a responseMode="Redirect" entry', async () => {
    const r = await fetch(`${s.url}/nolist/`, { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('http://errors.example.com/forbidden');
    await r.arrayBuffer();
  });

  it('answers a status without an entry with the terse page: no detail, no physical path', async () => {
    const r = await fetch(`${s.url}/index.html`, { method: 'POST', body: 'x', redirect: 'manual' });
    expect(r.status).toBe(405);
    const body = await r.text();
    expect(body).toContain('405');
    expect(subStatusOf(body)).toBeUndefined();
    expect(body).not.toContain(s.root);
    expect(body).not.toContain(s.dir);
    expect(body).not.toContain('Physical Path');
    expect(body).not.toContain('StaticFileModule');
  });

  it('falls back to the terse page when the custom file does not exist', async () => {
    const r = await fetch(`${s.url}/broken/missing.txt`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    const body = await r.text();
    expect(body).toContain('404');
    expect(subStatusOf(body)).toBeUndefined();
    expect(body).not.toContain(s.root);
  });
});

describe('CustomErrorModule existingResponse with a module body', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      webServer: `<modules><add name="Teapot" type="${TEAPOT_MODULE}#TeapotModule"/></modules>
        <httpErrors errorMode="Custom"><error statusCode="418" path="418.html"/></httpErrors>`,
      files: {
        'pass/web.config': webConfig('<httpErrors existingResponse="PassThrough"/>'),
        'replace/web.config': webConfig('<httpErrors existingResponse="Replace"/>'),
      },
    });
    // A relative path in applicationHost.config resolves against the folder of that file.
    writeFileSync(join(s.dir, '418.html'), 'CUSTOM-418-PAGE');
  });
  afterAll(() => s.stop());

  it('Auto replaces the body of a module that did not ask to skip custom errors', async () => {
    const r = await fetch(`${s.url}/teapot`, { redirect: 'manual' });
    expect(r.status).toBe(418);
    expect(await r.text()).toBe('CUSTOM-418-PAGE');
  });

  it('Auto keeps the body of a module that set trySkipCustomErrors', async () => {
    const r = await fetch(`${s.url}/teapot?skip=1`, { redirect: 'manual' });
    expect(r.status).toBe(418);
    expect(await r.text()).toBe(TEAPOT_BODY);
  });

  it('PassThrough keeps the module body even without trySkipCustomErrors', async () => {
    const r = await fetch(`${s.url}/pass/teapot`, { redirect: 'manual' });
    expect(r.status).toBe(418);
    expect(r.headers.get('content-type')).toBe('text/plain');
    expect(await r.text()).toBe(TEAPOT_BODY);
  });

  it('PassThrough still fills an error response without a body (terse page: no 404 entry)', async () => {
    const r = await fetch(`${s.url}/pass/missing.txt`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    const body = await r.text();
    expect(body).toContain('404');
    expect(subStatusOf(body)).toBeUndefined();
    expect(body).not.toContain(s.root);
  });

  it('Replace replaces the module body even with trySkipCustomErrors', async () => {
    const r = await fetch(`${s.url}/replace/teapot?skip=1`, { redirect: 'manual' });
    expect(r.status).toBe(418);
    expect(await r.text()).toBe('CUSTOM-418-PAGE');
  });
});

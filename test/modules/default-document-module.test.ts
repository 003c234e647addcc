import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer, webConfig } from '../helpers/server.js';

/**
 * DefaultDocumentModule (iis-reference.md §3.1): the stock list in order, `<files>` entries of
 * deeper levels tried first (mergeAppend=false), the 301 courtesy redirect, and `enabled="false"`
 * passing the request on to DirectoryListingModule.
 */

describe('DefaultDocumentModule with the stock list', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      files: {
        'index.html': '<p>root index.html</p>',
        'both/Default.htm': '<p>both Default.htm</p>',
        'both/index.html': '<p>both index.html</p>',
        'htm/index.htm': '<p>htm index.htm</p>',
        'htm/index.html': '<p>htm index.html</p>',
        'dir/index.html': '<p>dir index.html</p>',
        'none/readme.txt': 'no default document here',
        'off/index.html': '<p>off index.html</p>',
        'off/web.config': webConfig('<defaultDocument enabled="false"/>'),
        'offbrowse/index.html': '<p>offbrowse index.html</p>',
        'offbrowse/web.config': webConfig('<defaultDocument enabled="false"/><directoryBrowse enabled="true"/>'),
        'sub/Default.htm': '<p>sub Default.htm</p>',
        'sub/home.html': '<p>sub home.html</p>',
        'sub/web.config': webConfig('<defaultDocument><files><add value="home.html"/></files></defaultDocument>'),
        'sub/deeper/Default.htm': '<p>deeper Default.htm</p>',
        'sub/deeper/home.html': '<p>deeper home.html</p>',
        'hidden/web.config': webConfig('<defaultDocument><files><clear/><add value="web.config"/></files></defaultDocument>'),
      },
    });
  });
  afterAll(() => s.stop());

  it('serves index.html for / as text/html', async () => {
    const r = await fetch(`${s.url}/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html');
    expect(await r.text()).toBe('<p>root index.html</p>');
  });

  it('prefers Default.htm over index.html (stock list order)', async () => {
    const r = await fetch(`${s.url}/both/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>both Default.htm</p>');
  });

  it('prefers index.htm over index.html (stock list order)', async () => {
    const r = await fetch(`${s.url}/htm/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>htm index.htm</p>');
  });

  it('redirects /dir to /dir/ with 301 and an absolute Location', async () => {
    const r = await fetch(`${s.url}/dir`, { redirect: 'manual' });
    expect(r.status).toBe(301);
    expect(r.headers.get('location')).toBe(`${s.url}/dir/`);
    await r.arrayBuffer();
  });

  it('keeps the query string on the trailing-slash redirect', async () => {
    const r = await fetch(`${s.url}/dir?a=1&b=2`, { redirect: 'manual' });
    expect(r.status).toBe(301);
    expect(r.headers.get('location')).toBe(`${s.url}/dir/?a=1&b=2`);
    await r.arrayBuffer();
  });

  it('serves a default document with the static file validators', async () => {
    const r = await fetch(`${s.url}/dir/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(r.headers.get('last-modified')).not.toBeNull();
    expect(await r.text()).toBe('<p>dir index.html</p>');
  });

  it('tries a <files> entry added in a web.config before the inherited stock entries', async () => {
    const r = await fetch(`${s.url}/sub/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>sub home.html</p>');
  });

  it('keeps the web.config entry first in the folders below it', async () => {
    const r = await fetch(`${s.url}/sub/deeper/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>deeper home.html</p>');
  });

  it('answers a directory without any default document with 403.14 (browsing off)', async () => {
    const r = await fetch(`${s.url}/none/`, { redirect: 'manual' });
    expect(r.status).toBe(403);
    const body = await r.text();
    expect(subStatusOf(body)).toBe('403.14');
    expect(body).not.toContain('no default document here');
  });

  it('passes the request on when default documents are disabled (403.14 with browsing off)', async () => {
    const r = await fetch(`${s.url}/off/`, { redirect: 'manual' });
    expect(r.status).toBe(403);
    const body = await r.text();
    expect(subStatusOf(body)).toBe('403.14');
    expect(body).not.toContain('off index.html');
  });

  it('passes the request on to the directory listing when default documents are disabled', async () => {
    const r = await fetch(`${s.url}/offbrowse/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    const body = await r.text();
    expect(body).toContain('index.html</A>');
    expect(body).not.toContain('offbrowse index.html');
  });

  it('still serves the file itself when default documents are disabled', async () => {
    const r = await fetch(`${s.url}/off/index.html`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>off index.html</p>');
  });

  it('never serves a hidden segment (web.config) as a default document', async () => {
    const r = await fetch(`${s.url}/hidden/`, { redirect: 'manual' });
    const body = await r.text();
    expect(r.status).toBe(403);
    expect(subStatusOf(body)).toBe('403.14');
    expect(body).not.toContain('<defaultDocument>');
  });
});

describe('DefaultDocumentModule configured in applicationHost.config', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      webServer: '<defaultDocument><files><add value="home.html"/></files></defaultDocument>',
      files: {
        'Default.htm': '<p>Default.htm</p>',
        'home.html': '<p>home.html</p>',
        'only-stock/Default.htm': '<p>only-stock Default.htm</p>',
      },
    });
  });
  afterAll(() => s.stop());

  it('tries the added entry before the stock Default.htm', async () => {
    const r = await fetch(`${s.url}/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>home.html</p>');
  });

  it('falls back to the stock entries where the added one does not exist', async () => {
    const r = await fetch(`${s.url}/only-stock/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>only-stock Default.htm</p>');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, webConfig } from '../helpers/server.js';

/**
 * HttpRedirectionModule (iis-reference.md §3.4): destination with and without exactDestination,
 * the httpResponseStatus values, scoping to the folder whose web.config enables it, and wildcards.
 */

const get = async (url: string): Promise<Response> => {
  const r = await fetch(url, { redirect: 'manual' });
  await r.arrayBuffer();
  return r;
};

describe('HttpRedirectionModule configured in sub-folder web.config files', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      files: {
        'index.html': '<p>home</p>',
        'other/page.html': '<p>other</p>',
        'old/web.config': webConfig('<httpRedirect enabled="true" destination="http://new.example.com/new"/>'),
        'old/a/b.html': 'never served',
        'exact/web.config': webConfig(
          '<httpRedirect enabled="true" destination="http://new.example.com/landing.html" exactDestination="true" httpResponseStatus="Permanent"/>'),
        'temp/web.config': webConfig(
          '<httpRedirect enabled="true" destination="http://new.example.com/t/" httpResponseStatus="Temporary"/>'),
        'perm/web.config': webConfig(
          '<httpRedirect enabled="true" destination="http://new.example.com/p" httpResponseStatus="Permanent"/>'),
        'stop/web.config': webConfig('<httpRedirect enabled="true" destination="http://new.example.com/stop"/>'),
        'stop/keep/web.config': webConfig('<httpRedirect enabled="false"/>'),
        'stop/keep/page.html': '<p>kept</p>',
      },
    });
  });
  afterAll(() => s.stop());

  it('redirects with 302 (Found, the default) and appends the path below the folder', async () => {
    const r = await get(`${s.url}/old/a/b.html`);
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('http://new.example.com/new/a/b.html');
  });

  it('redirects the folder itself to the destination', async () => {
    const r = await get(`${s.url}/old/`);
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toMatch(/^http:\/\/new\.example\.com\/new\/?$/);
  });

  it('redirects paths below the folder that do not exist', async () => {
    const r = await get(`${s.url}/old/gone/away.php`);
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('http://new.example.com/new/gone/away.php');
  });

  it('with exactDestination="true" sends every request to the destination as it is', async () => {
    const r = await get(`${s.url}/exact/deep/page.html`);
    expect(r.headers.get('location')).toBe('http://new.example.com/landing.html');
  });

  it('httpResponseStatus="Permanent" answers 301', async () => {
    const r = await get(`${s.url}/perm/x.html`);
    expect(r.status).toBe(301);
    expect(r.headers.get('location')).toBe('http://new.example.com/p/x.html');
    const exact = await get(`${s.url}/exact/deep/page.html`);
    expect(exact.status).toBe(301);
  });

  it('httpResponseStatus="Temporary" answers 307', async () => {
    const r = await get(`${s.url}/temp/x.html`);
    expect(r.status).toBe(307);
    expect(r.headers.get('location')).toBe('http://new.example.com/t/x.html');
  });

  it('does not redirect the site root or sibling folders', async () => {
    const root = await fetch(`${s.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(200);
    expect(await root.text()).toBe('<p>home</p>');
    const other = await fetch(`${s.url}/other/page.html`, { redirect: 'manual' });
    expect(other.status).toBe(200);
    expect(await other.text()).toBe('<p>other</p>');
  });

  it('does not redirect a folder whose name only starts like the configured one', async () => {
    const r = await get(`${s.url}/older/page.html`);
    expect(r.status).not.toBe(302);
    expect(r.headers.get('location')).toBeNull();
  });

  it('is turned off again below by a deeper web.config with enabled="false"', async () => {
    const r = await fetch(`${s.url}/stop/keep/page.html`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>kept</p>');
  });
});

describe('HttpRedirectionModule wildcards', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      webServer: `<httpRedirect enabled="true" exactDestination="true">
          <add wildcard="*.php" destination="/new.html"/>
        </httpRedirect>`,
      files: { 'new.html': '<p>new</p>', 'page.html': '<p>page</p>' },
    });
  });
  afterAll(() => s.stop());

  it('redirects a request matching the wildcard to its destination', async () => {
    const r = await get(`${s.url}/index.php`);
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe(`${s.url}/new.html`);
  });

  it('matches the wildcard in sub-folders too', async () => {
    const r = await get(`${s.url}/legacy/deep/old.php`);
    expect(r.status).toBe(302);
    expect(new URL(r.headers.get('location')!, s.url).pathname).toBe('/new.html');
  });

  it('does not redirect requests that do not match the wildcard', async () => {
    const r = await fetch(`${s.url}/page.html`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>page</p>');
  });

  it('does not redirect the destination onto itself', async () => {
    const r = await fetch(`${s.url}/new.html`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('<p>new</p>');
  });
});

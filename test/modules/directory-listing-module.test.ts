import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer, webConfig } from '../helpers/server.js';

/**
 * DirectoryListingModule (iis-reference.md §3.2): 403.14 with browsing off, the IIS-style
 * listing with browsing on, hidden segments never listed, and a sub-directory web.config that
 * turns browsing on only below itself.
 */

/** The `HREF`s of a listing, in order. */
const hrefs = (html: string): string[] => [...html.matchAll(/<A HREF="([^"]*)">/gi)].map((m) => m[1]!);
/** The link texts of a listing, in order. */
const names = (html: string): string[] => [...html.matchAll(/<A HREF="[^"]*">([^<]*)<\/A>/gi)].map((m) => m[1]!);

describe('DirectoryListingModule with browsing off (stock)', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      files: {
        'docs/a.txt': 'a',
        'docs/b.txt': 'b',
        'open/web.config': webConfig('<directoryBrowse enabled="true"/>'),
        'open/listed.txt': 'listed',
        'open/inner/deep.txt': 'deep',
        'closed/secret-name.txt': 'x',
      },
    });
  });
  afterAll(() => s.stop());

  it('answers a directory without a default document with 403.14', async () => {
    const r = await fetch(`${s.url}/docs/`, { redirect: 'manual' });
    expect(r.status).toBe(403);
    const body = await r.text();
    expect(subStatusOf(body)).toBe('403.14');
    expect(body).not.toContain('a.txt');
  });

  it('answers the site root without a default document with 403.14', async () => {
    const r = await fetch(`${s.url}/`, { redirect: 'manual' });
    expect(r.status).toBe(403);
    expect(subStatusOf(await r.text())).toBe('403.14');
  });

  it('lists a folder whose own web.config enables browsing', async () => {
    const r = await fetch(`${s.url}/open/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    const body = await r.text();
    expect(names(body)).toEqual(['[To Parent Directory]', 'inner', 'listed.txt']);
    expect(hrefs(body)).toEqual(['/', '/open/inner/', '/open/listed.txt']);
  });

  it('lists the folders below it too (the setting is inherited)', async () => {
    const r = await fetch(`${s.url}/open/inner/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    const body = await r.text();
    expect(names(body)).toEqual(['[To Parent Directory]', 'deep.txt']);
    expect(hrefs(body)[0]).toBe('/open/');
  });

  it('does not list a sibling folder outside that web.config', async () => {
    const r = await fetch(`${s.url}/closed/`, { redirect: 'manual' });
    expect(r.status).toBe(403);
    const body = await r.text();
    expect(subStatusOf(body)).toBe('403.14');
    expect(body).not.toContain('secret-name.txt');
  });
});

describe('DirectoryListingModule with browsing on', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      webServer: `<directoryBrowse enabled="true"/>
        <security><requestFiltering><hiddenSegments><add segment="private"/></hiddenSegments></requestFiltering></security>`,
      files: {
        'web.config': webConfig(''),
        'zeta.txt': 'z',
        'Alpha.css': 'a{}',
        'beta.json': '{}',
        'a b&c.txt': 'spaces',
        'sub/one.txt': '1',
        'sub/WEB.CONFIG': 'upper-case web.config',
        'sub/web.config.': 'trailing dot',
        'private/x.txt': 'x',
        'Private.txt': 'not hidden: its segment is Private.txt, not private',
        'sub/private': 'a file named like a hidden segment',
      },
    });
  });
  afterAll(() => s.stop());

  it('lists the root with every file name and no parent link', async () => {
    const r = await fetch(`${s.url}/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const body = await r.text();
    expect(body).not.toContain('[To Parent Directory]');
    // Case-insensitive name order, as NTFS returns it.
    expect(names(body)).toEqual(['a b&amp;c.txt', 'Alpha.css', 'beta.json', 'Private.txt', 'sub', 'zeta.txt']);
  });

  it('links entries with percent-encoded URLs and directories with a trailing slash', async () => {
    const body = await (await fetch(`${s.url}/`, { redirect: 'manual' })).text();
    expect(hrefs(body)).toContain('/a%20b%26c.txt');
    expect(hrefs(body)).toContain('/sub/');
    const linked = await fetch(`${s.url}/a%20b%26c.txt`, { redirect: 'manual' });
    expect(linked.status).toBe(200);
    expect(await linked.text()).toBe('spaces');
  });

  it('shows a parent link in a sub-directory', async () => {
    const r = await fetch(`${s.url}/sub/`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    const body = await r.text();
    expect(names(body)[0]).toBe('[To Parent Directory]');
    expect(hrefs(body)[0]).toBe('/');
    expect(names(body)).toContain('one.txt');
  });

  it('never lists web.config, whatever its case or trailing dots', async () => {
    const root = await (await fetch(`${s.url}/`, { redirect: 'manual' })).text();
    const sub = await (await fetch(`${s.url}/sub/`, { redirect: 'manual' })).text();
    for (const body of [root, sub]) expect(body.toLowerCase()).not.toContain('web.config');
  });

  it('never lists a configured hidden segment (file or directory)', async () => {
    const root = await (await fetch(`${s.url}/`, { redirect: 'manual' })).text();
    expect(hrefs(root)).not.toContain('/private/');
    const sub = await (await fetch(`${s.url}/sub/`, { redirect: 'manual' })).text();
    expect(names(sub)).toEqual(['[To Parent Directory]', 'one.txt']);
  });

  it('refuses to list a hidden directory with 404.8', async () => {
    const r = await fetch(`${s.url}/private/`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    const body = await r.text();
    expect(subStatusOf(body)).toBe('404.8');
    expect(body).not.toContain('x.txt</A>');
  });

  it('redirects a directory URL without its trailing slash before listing', async () => {
    const r = await fetch(`${s.url}/sub`, { redirect: 'manual' });
    expect(r.status).toBe(301);
    expect(r.headers.get('location')).toBe(`${s.url}/sub/`);
    await r.arrayBuffer();
  });
});

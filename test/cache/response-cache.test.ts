/**
 * The kernel-style response cache: a response the worker allows is kept by the listener after
 * `frequentHitThreshold` (2) requests and then answered without a worker. The test module
 * (fixtures/modules/cache-counter.ts) counts how often it ran, so a response from the cache
 * shows the count of the response that filled it.
 */
import { fileURLToPath } from 'node:url';
import { mkdirSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const COUNTER = fileURLToPath(new URL('../fixtures/modules/cache-counter.ts', import.meta.url));

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { method, headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The counts the module answered with, for `n` requests in a row. */
async function counts(url: string, n: number, headers: Record<string, string> = {}): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await get(url, headers)).body.slice(0, 8).replace(/\.+$/, ''));
  return out;
}

function distinct(values: string[]): number {
  return new Set(values).size;
}

describe('kernel-style response cache: what is kept and when', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({
      files: {
        'page.html': '<p>version 1</p>',
        'notes.txt': 'text file',
        'nocache/page.html': '<p>no cache here</p>',
        'nocache/web.config': '<configuration><system.webServer><caching enableKernelCache="false"/></system.webServer></configuration>',
      },
      webServer: `<modules><add name="CacheCounter" type="${COUNTER}#CacheCounter"/></modules>
        <caching><profiles>
          <add extension=".json" kernelCachePolicy="CacheForTimePeriod" duration="00:00:30"/>
          <add extension=".txt" kernelCachePolicy="DisableCache"/>
        </profiles></caching>`,
    });
  });
  afterAll(() => t.stop());

  it('serves a URL from the cache from the third request on (frequentHitThreshold 2)', async () => {
    const before = t.server.cache!.stats();
    const seen = await counts(`${t.url}/dyn/until`, 5);
    // The first two requests ran the module; the second one's response filled the cache.
    expect(seen[1]).not.toBe(seen[0]);
    expect(seen.slice(2)).toEqual([seen[1], seen[1], seen[1]]);
    const after = t.server.cache!.stats();
    expect(after.hits - before.hits).toBe(3);
    expect(after.entries).toBeGreaterThanOrEqual(1);
    expect(after.bytes).toBeGreaterThan(0);
  });

  it('keeps answering from the cache when concurrent misses replace the entry', async () => {
    const url = `${t.url}/dyn/vary-query?v=burst`;
    // All of these miss at once; the second response fills the cache, the later ones replace it.
    await Promise.all(Array.from({ length: 12 }, () => get(url)));
    const before = t.server.cache!.stats().hits;
    const a = await get(url);
    const b = await get(url);
    expect(b.body).toBe(a.body);
    expect(t.server.cache!.stats().hits).toBe(before + 2);
  });

  it('keeps the body and headers of the response that filled it, with a fresh Date', async () => {
    const url = `${t.url}/dyn/until`;
    const a = await get(url);
    await new Promise((r) => setTimeout(r, 2100));
    const b = await get(url);
    expect(b.body).toBe(a.body);
    expect(b.headers.get('content-type')).toBe('text/plain');
    expect(b.headers.get('server')).toBe('w3core');
    // uWS keeps its Date to the second, refreshed by a timer: two hits 2.1 s apart differ.
    expect(Date.parse(b.headers.get('date')!) - Date.parse(a.headers.get('date')!)).toBeGreaterThanOrEqual(1000);
  });

  it('never keeps a response the module did not allow or disabled, nor a status other than 200', async () => {
    for (const path of ['/dyn/plain', '/dyn/disabled', '/dyn/vary-star', '/dyn/status']) {
      const seen = await counts(`${t.url}${path}`, 4);
      expect(distinct(seen), path).toBe(4);
    }
  });

  it('never keeps an answer that sets a cookie or is marked private', async () => {
    for (const path of ['/dyn/cookie', '/dyn/private']) {
      const seen = await counts(`${t.url}${path}`, 4);
      expect(distinct(seen), path).toBe(4);
    }
  });

  it('keys entries by Host: a page reflecting the host name is never served to another one', async () => {
    const url = `${t.url}/dyn/host`;
    const host = new URL(t.url).host;
    const evil = () => new Promise<string>((resolve, reject) => {
      request(url, { headers: { host: 'evil.example' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve(body));
      }).on('error', reject).end();
    });
    await evil();
    await evil();
    expect(await evil()).toContain('host=evil.example');
    const res = await get(url);
    expect(res.body).toContain(`host=${host}`);
  });

  it('does not answer from the cache for a query string, Authorization, Range or a conditional request', async () => {
    const url = `${t.url}/dyn/until`;
    await counts(url, 3); // cached by now
    const cached = (await get(url)).body;
    for (const [suffix, headers] of [
      ['?x=1', {}],
      ['', { authorization: 'Basic dTpw' }],
      ['', { range: 'bytes=0-1' }],
      ['', { 'if-none-match': '"x"' }],
      ['', { 'if-modified-since': new Date().toUTCString() }],
      ['', { translate: 'f' }],
    ] as const) {
      const seen = await counts(`${url}${suffix}`, 3, headers);
      expect(seen, `${suffix} ${JSON.stringify(headers)}`).not.toContain(cached);
      expect(distinct(seen)).toBe(3);
    }
    expect((await get(url)).body).toBe(cached);
  });

  it('answers HEAD from the entry a GET filled, with the GET length and no body', async () => {
    const url = `${t.url}/dyn/until`;
    const full = await get(url);
    const before = t.server.cache!.stats().hits;
    const res = await fetch(url, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(full.body)));
    expect(await res.text()).toBe('');
    expect(t.server.cache!.stats().hits).toBe(before + 1);
  });

  it('expires a timeToLive entry', async () => {
    const url = `${t.url}/dyn/ttl`;
    const first = await counts(url, 3);
    expect(first[2]).toBe(first[1]);
    await new Promise((r) => setTimeout(r, 1100));
    const later = await get(url);
    expect(later.body).not.toBe(first[1]);
  });

  it('keeps one entry per value of a varyByHeaders header', async () => {
    const url = `${t.url}/dyn/vary-header`;
    const a = await counts(url, 3, { 'x-variant': 'a' });
    expect(a[2]).toBe(a[1]);
    const b = await counts(url, 3, { 'x-variant': 'b' });
    expect(b[2]).toBe(b[1]);
    expect(b[1]).not.toBe(a[1]);
    expect((await get(url, { 'x-variant': 'a' })).body).toBe(a[1]);
  });

  it('keeps one entry per value of a varyByQueryString parameter', async () => {
    const url = `${t.url}/dyn/vary-query`;
    const one = await counts(`${url}?v=1`, 3);
    const two = await counts(`${url}?v=2`, 3);
    expect(one[2]).toBe(one[1]);
    expect(two[2]).toBe(two[1]);
    expect(one[1]).not.toBe(two[1]);
    expect((await get(`${url}?v=1`)).body).toBe(one[1]);
  });

  it('honours Vary: Accept-Encoding', async () => {
    const url = `${t.url}/dyn/vary-response`;
    const gz = await counts(url, 3, { 'accept-encoding': 'gzip' });
    const id = await counts(url, 3, { 'accept-encoding': 'identity' });
    expect(gz[2]).toBe(gz[1]);
    expect(id[2]).toBe(id[1]);
    expect(gz[1]).not.toBe(id[1]);
  });

  it('does not keep a response larger than maxResponseSize (262144)', async () => {
    // The size is the query string, which this URL does not vary by: use two URLs' worth of
    // requests with the same size via a header-free path.
    const small = await counts(`${t.url}/dyn/big?size=1000`, 3);
    expect(distinct(small)).toBe(3); // a query string without a profile for it: never cached
    const res = await fetch(`${t.url}/dyn/big?size=300000`);
    expect((await res.text()).length).toBe(300000);
  });

  it('caches by caching profile (CacheForTimePeriod for .json) and not where a profile disables it', async () => {
    const json = await counts(`${t.url}/dyn/data.json`, 3);
    expect(json[2]).toBe(json[1]);
    const before = t.server.cache!.stats().hits;
    for (let i = 0; i < 4; i++) expect((await get(`${t.url}/notes.txt`)).body).toBe('text file');
    expect(t.server.cache!.stats().hits).toBe(before);
  });

  it('does not cache where a web.config turns enableKernelCache off', async () => {
    const before = t.server.cache!.stats().hits;
    for (let i = 0; i < 4; i++) expect((await get(`${t.url}/nocache/page.html`)).body).toBe('<p>no cache here</p>');
    expect(t.server.cache!.stats().hits).toBe(before);
  });

  it('serves a static file from the cache and drops it when the file changes', async () => {
    const url = `${t.url}/page.html`;
    const before = t.server.cache!.stats().hits;
    for (let i = 0; i < 4; i++) expect((await get(url)).body).toBe('<p>version 1</p>');
    expect(t.server.cache!.stats().hits).toBe(before + 2);
    writeFileSync(join(t.root, 'page.html'), '<p>version 2, longer</p>');
    let body = '';
    for (let i = 0; i < 40 && body !== '<p>version 2, longer</p>'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      body = (await get(url)).body;
    }
    expect(body).toBe('<p>version 2, longer</p>');
  });

  it('notices a swapped symlink (an atomic deployment) within a second', async () => {
    mkdirSync(join(t.root, 'v1'));
    mkdirSync(join(t.root, 'v2'));
    writeFileSync(join(t.root, 'v1', 'app.html'), 'release 1');
    writeFileSync(join(t.root, 'v2', 'app.html'), 'release 2, new');
    symlinkSync('v1', join(t.root, 'current'));
    const url = `${t.url}/current/app.html`;
    for (let i = 0; i < 3; i++) expect((await get(url)).body).toBe('release 1');
    symlinkSync('v2', join(t.root, 'current.next'));
    renameSync(join(t.root, 'current.next'), join(t.root, 'current'));
    let body = '';
    for (let i = 0; i < 60 && body !== 'release 2, new'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      body = (await get(url)).body;
    }
    expect(body).toBe('release 2, new');
  });

  it('drops an entry when a module calls flushKernelCache', async () => {
    const url = `${t.url}/dyn/until`;
    await counts(url, 3);
    const cached = (await get(url)).body;
    await get(`${t.url}/dyn/flush`);
    let fresh = cached;
    for (let i = 0; i < 40 && fresh === cached; i++) {
      await new Promise((r) => setTimeout(r, 25));
      fresh = (await get(url)).body;
    }
    expect(fresh).not.toBe(cached);
  });

  it('drops every entry when the configuration changes', async () => {
    const url = `${t.url}/page.html`;
    utimesSync(join(t.root, 'page.html'), new Date(), new Date());
    await counts(url, 3);
    const dynUrl = `${t.url}/dyn/until`;
    await counts(dynUrl, 3);
    const cached = (await get(dynUrl)).body;
    writeFileSync(join(t.root, 'web.config'), '<configuration><system.webServer><httpProtocol><customHeaders><add name="X-Changed" value="yes"/></customHeaders></httpProtocol></system.webServer></configuration>');
    let res = await get(dynUrl);
    for (let i = 0; i < 40 && res.body === cached; i++) {
      await new Promise((r) => setTimeout(r, 25));
      res = await get(dynUrl);
    }
    expect(res.body).not.toBe(cached);
    expect(res.headers.get('x-changed')).toBe('yes');
  });
});

describe('kernel-style response cache: bounded memory', () => {
  let t: TestServer;
  const files: Record<string, string> = {};
  for (let i = 0; i < 30; i++) files[`f${i}.html`] = String(i).padEnd(60_000, '.');

  beforeAll(async () => {
    t = await startTestServer({ files, webServer: '<caching maxCacheSize="1"/>' });
  });
  afterAll(() => t.stop());

  it('evicts to stay within maxCacheSize (1 MB) and counts the evictions', async () => {
    for (let i = 0; i < 30; i++) {
      for (let k = 0; k < 2; k++) expect((await get(`${t.url}/f${i}.html`)).body.length).toBe(60_000);
    }
    const s = t.server.cache!.stats();
    expect(s.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(s.entries).toBeGreaterThan(10);
    expect(s.entries).toBeLessThan(30);
    expect(s.evictions).toBe(30 - s.entries);
    // The most recent files are the ones still cached.
    const hits = s.hits;
    expect((await get(`${t.url}/f29.html`)).body.startsWith('29')).toBe(true);
    expect(t.server.cache!.stats().hits).toBe(hits + 1);
  });
});

describe('kernel-style response cache: switched off server-wide', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ files: { 'a.html': 'a' }, webServer: '<caching enableKernelCache="false"/>' });
  });
  afterAll(() => t.stop());

  it('has no cache and serves every request from the worker', async () => {
    expect(t.server.cache).toBeUndefined();
    for (let i = 0; i < 3; i++) expect((await get(`${t.url}/a.html`)).body).toBe('a');
  });
});

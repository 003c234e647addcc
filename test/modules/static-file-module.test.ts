import { utimesSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer } from '../helpers/server.js';

/**
 * StaticFileModule (iis-reference.md §3.10; RFC 9110 §8.8, §13, §14): MIME map, validators,
 * conditional requests, byte ranges, verbs and clientCache, against the real server.
 */

const TEXT = 'abcdefghijklmnopqrstuvwxyz0123456789'; // 36 bytes
const SIZE = TEXT.length;
const MTIME = new Date('2020-01-02T03:04:05Z');
const MTIME_HTTP = 'Thu, 02 Jan 2020 03:04:05 GMT';

const FILES = {
  'style.css': 'body { color: red }',
  'data.json': '{"ok":true}',
  'alpha.txt': TEXT,
  'thing.xyz123': 'custom type',
};

/** Sends raw requests on one connection and returns everything the server wrote until it closed. */
function rawExchange(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

describe('StaticFileModule with the stock configuration', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({ files: FILES });
    for (const name of Object.keys(FILES)) utimesSync(join(s.root, name), MTIME, MTIME);
  });
  afterAll(() => s.stop());

  it('serves .css as text/css with the exact bytes', async () => {
    const r = await fetch(`${s.url}/style.css`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/css');
    expect(r.headers.get('content-length')).toBe(String(FILES['style.css'].length));
    expect(await r.text()).toBe(FILES['style.css']);
  });

  it('serves .json as application/json', async () => {
    const r = await fetch(`${s.url}/data.json`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(await r.json()).toEqual({ ok: true });
  });

  it('sends a quoted ETag, Last-Modified from the file time and Accept-Ranges', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(r.headers.get('last-modified')).toBe(MTIME_HTTP);
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    // NoControl is the clientCache default: no caching directives at all.
    expect(r.headers.get('cache-control')).toBeNull();
    expect(r.headers.get('expires')).toBeNull();
  });

  it('answers If-None-Match with the current ETag with 304 and no body', async () => {
    const first = await fetch(`${s.url}/alpha.txt`, { redirect: 'manual' });
    const etag = first.headers.get('etag')!;
    await first.arrayBuffer();
    const r = await fetch(`${s.url}/alpha.txt`, { headers: { 'If-None-Match': etag }, redirect: 'manual' });
    expect(r.status).toBe(304);
    expect(r.headers.get('etag')).toBe(etag);
    expect((await r.arrayBuffer()).byteLength).toBe(0);
  });

  it('answers If-None-Match with another ETag with the full 200', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { headers: { 'If-None-Match': '"not-this-one"' }, redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(TEXT);
  });

  it('answers If-Modified-Since at or after Last-Modified with 304', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { headers: { 'If-Modified-Since': MTIME_HTTP }, redirect: 'manual' });
    expect(r.status).toBe(304);
    expect((await r.arrayBuffer()).byteLength).toBe(0);
  });

  it('answers If-Modified-Since before Last-Modified with 200', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, {
      headers: { 'If-Modified-Since': 'Wed, 01 Jan 2020 00:00:00 GMT' }, redirect: 'manual',
    });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(TEXT);
  });

  it('answers Range bytes=0-9 with 206, Content-Range and exactly those bytes', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { headers: { Range: 'bytes=0-9' }, redirect: 'manual' });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 0-9/${SIZE}`);
    expect(r.headers.get('content-length')).toBe('10');
    expect(r.headers.get('content-type')).toBe('text/plain');
    expect(await r.text()).toBe(TEXT.slice(0, 10));
  });

  it('answers a suffix range (bytes=-5) with the last five bytes', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { headers: { Range: 'bytes=-5' }, redirect: 'manual' });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes ${SIZE - 5}-${SIZE - 1}/${SIZE}`);
    expect(await r.text()).toBe(TEXT.slice(-5));
  });

  it('answers an open range (bytes=30-) with the rest of the file', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { headers: { Range: 'bytes=30-' }, redirect: 'manual' });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 30-${SIZE - 1}/${SIZE}`);
    expect(await r.text()).toBe(TEXT.slice(30));
  });

  it('answers several ranges with 206 multipart/byteranges holding each part', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { headers: { Range: 'bytes=0-1,5-7' }, redirect: 'manual' });
    expect(r.status).toBe(206);
    const type = r.headers.get('content-type')!;
    const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)?.[1];
    expect(boundary).toBeDefined();
    const body = await r.text();
    expect(r.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    const parts = body.split(`--${boundary}`);
    // '' before the first delimiter, two parts, '--\r\n' after the closing delimiter.
    expect(parts).toHaveLength(4);
    expect(parts[3]).toBe('--\r\n');
    const parsed = parts.slice(1, 3).map((p) => {
      const [head, data] = p.replace(/^\r\n/, '').split('\r\n\r\n');
      return { head: head!, data: data!.replace(/\r\n$/, '') };
    });
    expect(parsed[0]!.head).toContain('Content-Type: text/plain');
    expect(parsed[0]!.head).toContain(`Content-Range: bytes 0-1/${SIZE}`);
    expect(parsed[0]!.data).toBe(TEXT.slice(0, 2));
    expect(parsed[1]!.head).toContain(`Content-Range: bytes 5-7/${SIZE}`);
    expect(parsed[1]!.data).toBe(TEXT.slice(5, 8));
  });

  it('answers an unsatisfiable range with 416 and Content-Range: bytes */size', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { headers: { Range: `bytes=${SIZE + 10}-${SIZE + 20}` }, redirect: 'manual' });
    expect(r.status).toBe(416);
    expect(r.headers.get('content-range')).toBe(`bytes */${SIZE}`);
    await r.arrayBuffer();
  });

  it('ignores Range with an If-Range that no longer matches (full 200)', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, {
      headers: { Range: 'bytes=0-9', 'If-Range': '"stale-etag"' }, redirect: 'manual',
    });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(TEXT);
  });

  it('answers HEAD with the GET headers, Content-Length and no body', async () => {
    const get = await fetch(`${s.url}/style.css`, { redirect: 'manual' });
    await get.arrayBuffer();
    // Raw HEAD followed by a pipelined GET on the same connection: a body after the HEAD
    // headers would sit between the two responses.
    const raw = await rawExchange(s.url,
      'HEAD /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n' +
      'GET /alpha.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    const end = raw.indexOf('\r\n\r\n');
    const head = raw.slice(0, end);
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(new RegExp(`\\r\\ncontent-length: ${FILES['style.css'].length}\\r?$`, 'im'));
    expect(head).toMatch(/\r\ncontent-type: text\/css\r?$/im);
    expect(head).toMatch(new RegExp(`\\r\\netag: ${get.headers.get('etag')!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r?$`, 'im'));
    expect(head).toMatch(new RegExp(`\\r\\nlast-modified: ${get.headers.get('last-modified')}\\r?$`, 'im'));
    // The next bytes are the second response, not a body.
    expect(raw.slice(end + 4)).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw).not.toContain(FILES['style.css']);
    expect(raw.endsWith(TEXT)).toBe(true);
  });

  it('refuses an extension without a MIME map entry with 404.3', async () => {
    const r = await fetch(`${s.url}/thing.xyz123`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    const body = await r.text();
    expect(subStatusOf(body)).toBe('404.3');
    expect(body).not.toContain('custom type');
  });

  it('refuses POST to a static file with 405 and an Allow header', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { method: 'POST', body: 'x=1', redirect: 'manual' });
    expect(r.status).toBe(405);
    const allow = r.headers.get('allow') ?? '';
    expect(allow).toMatch(/\bGET\b/);
    expect(allow).not.toMatch(/\bPOST\b/);
    expect(subStatusOf(await r.text())).toBe('405.0');
  });

  it('refuses PUT and DELETE to a static file with 405', async () => {
    for (const method of ['PUT', 'DELETE']) {
      const r = await fetch(`${s.url}/alpha.txt`, { method, body: method === 'PUT' ? 'x' : undefined, redirect: 'manual' });
      expect(r.status, method).toBe(405);
      await r.arrayBuffer();
    }
  });

  it('answers a missing file with 404.0', async () => {
    const r = await fetch(`${s.url}/no-such-file.txt`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(subStatusOf(await r.text())).toBe('404.0');
  });

  it('answers a file requested with a trailing slash with 404', async () => {
    const r = await fetch(`${s.url}/alpha.txt/`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(await r.text()).not.toContain(TEXT);
  });
});

describe('StaticFileModule with staticContent configured', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      files: FILES,
      webServer: `<staticContent>
        <mimeMap fileExtension=".xyz123" mimeType="application/x-test"/>
        <clientCache cacheControlMode="UseMaxAge" cacheControlMaxAge="01:30:00"/>
      </staticContent>`,
    });
  });
  afterAll(() => s.stop());

  it('serves an extension added with <mimeMap> with its MIME type', async () => {
    const r = await fetch(`${s.url}/thing.xyz123`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/x-test');
    expect(await r.text()).toBe('custom type');
  });

  it('keeps the stock MIME map next to the added entry', async () => {
    const r = await fetch(`${s.url}/style.css`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/css');
    await r.arrayBuffer();
  });

  it('sends Cache-Control max-age in seconds with clientCache UseMaxAge', async () => {
    const r = await fetch(`${s.url}/alpha.txt`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('max-age=5400');
    await r.arrayBuffer();
  });
});

describe('StaticFileModule clientCache variants from web.config', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      files: {
        'nocache/a.txt': 'a',
        'nocache/web.config': `<configuration><system.webServer><staticContent>
          <clientCache cacheControlMode="DisableCache"/></staticContent></system.webServer></configuration>`,
        'expires/a.txt': 'a',
        'expires/web.config': `<configuration><system.webServer><staticContent>
          <clientCache cacheControlMode="UseExpires" httpExpires="Fri, 01 Jan 2038 00:00:00 GMT" setEtag="false"/>
          </staticContent></system.webServer></configuration>`,
        'plain/a.txt': 'a',
      },
    });
  });
  afterAll(() => s.stop());

  it('DisableCache sends Cache-Control: no-cache', async () => {
    const r = await fetch(`${s.url}/nocache/a.txt`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-cache');
    await r.arrayBuffer();
  });

  it('UseExpires sends the configured Expires, and setEtag="false" drops the ETag', async () => {
    const r = await fetch(`${s.url}/expires/a.txt`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('expires')).toBe('Fri, 01 Jan 2038 00:00:00 GMT');
    expect(r.headers.get('etag')).toBeNull();
    await r.arrayBuffer();
  });

  it('a sibling folder without the web.config is not affected', async () => {
    const r = await fetch(`${s.url}/plain/a.txt`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBeNull();
    expect(r.headers.get('etag')).not.toBeNull();
    await r.arrayBuffer();
  });
});

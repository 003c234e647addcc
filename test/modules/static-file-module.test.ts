import { utimesSync } from 'node:fs';
import { Agent, request } from 'node:http';
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

/**
 * Sends one raw request and resolves with what arrived up to and including the chunk that
 * completed the header block (uWS writes a head and an in-memory body in one cork, so a body
 * sent by mistake would be part of it), then drops the connection.
 */
function rawHead(url: string, request: string): Promise<{ head: string; rest: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let data = '';
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.destroy();
      resolve({ head: data.slice(0, end), rest: data.slice(end + 4) });
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed before a full header block: ${JSON.stringify(data)}`)));
  });
}

/** One request on a keep-alive agent: status, body and whether the socket was reused. */
function agentRequest(agent: Agent, url: string, method: string): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, reused: req.reusedSocket }));
    });
    req.on('error', (err) => reject(new Error(`${method} ${url} (reused socket: ${req.reusedSocket}): ${err.message}`)));
    req.end();
  });
}

const header = (head: string, name: string): string | undefined =>
  new RegExp(`\\r\\n${name}: ([^\\r]*)`, 'i').exec(head)?.[1];

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
    const { head, rest } = await rawHead(s.url, 'HEAD /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(header(head, 'content-length')).toBe(String(FILES['style.css'].length));
    expect(header(head, 'content-type')).toBe('text/css');
    expect(header(head, 'etag')).toBe(get.headers.get('etag'));
    expect(header(head, 'last-modified')).toBe(get.headers.get('last-modified'));
    expect(header(head, 'accept-ranges')).toBe('bytes');
    expect(rest).toBe('');
  });

  it('answers HEAD for a missing file with 404, the error page length and no body', async () => {
    const { head, rest } = await rawHead(s.url, 'HEAD /missing.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 404 /);
    expect(Number(header(head, 'content-length'))).toBeGreaterThan(0);
    expect(rest).toBe('');
  });

  it('keeps a keep-alive connection usable after a HEAD response', async () => {
    // RFC 9112 §9.3: a persistent connection carries the next request after a complete
    // response; a HEAD response is complete at the end of its header block (RFC 9110 §9.3.2).
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await agentRequest(agent, `${s.url}/style.css`, 'HEAD');
      expect(first.status).toBe(200);
      expect(first.body).toBe('');
      const second = await agentRequest(agent, `${s.url}/alpha.txt`, 'GET');
      expect(second.status).toBe(200);
      expect(second.body).toBe(TEXT);
    } finally {
      agent.destroy();
    }
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

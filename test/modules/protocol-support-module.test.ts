import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, webConfig } from '../helpers/server.js';

/**
 * ProtocolSupportModule (iis-reference.md §2.7, §3.5): customHeaders on every response,
 * redirectHeaders on redirects only, OPTIONS and TRACE, and allowKeepAlive.
 */

interface AgentResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  reused: boolean;
}

/** One request through node:http (any method, including TRACE, which fetch refuses). */
function httpRequest(
  url: string, method: string, options: { agent?: Agent; headers?: Record<string, string> } = {},
): Promise<AgentResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: options.agent, headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', (err) => reject(new Error(`${method} ${url} (reused socket: ${req.reusedSocket}): ${err.message}`)));
    req.end();
  });
}

/**
 * Sends one keep-alive request on a raw socket and reports whether the server closed the
 * connection after answering (or left it open: checked after a bound, so a server that keeps
 * the connection fails the test instead of hanging it).
 */
function closedAfterResponse(url: string, path: string): Promise<{ closed: boolean; data: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: keep-alive\r\n\r\n`);
    });
    let data = '';
    const bound = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, data });
    }, 5000);
    socket.on('data', (c: Buffer) => { data += c.toString('latin1'); });
    socket.on('error', (err) => {
      clearTimeout(bound);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(bound);
      resolve({ closed: true, data });
    });
  });
}

describe('ProtocolSupportModule headers and verbs', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      webServer: `<httpProtocol>
          <customHeaders><add name="X-Custom" value="custom-value"/></customHeaders>
          <redirectHeaders><add name="X-Redirect-Only" value="moved"/></redirectHeaders>
        </httpProtocol>`,
      files: {
        'index.html': '<p>home</p>',
        'dir/index.html': '<p>dir</p>',
        'noxp/a.txt': 'a',
        'noxp/web.config': webConfig('<httpProtocol><customHeaders><remove name="X-Powered-By"/></customHeaders></httpProtocol>'),
      },
    });
  });
  afterAll(() => s.stop());

  it('adds X-Powered-By: w3core and the configured custom header to a 200', async () => {
    const r = await fetch(`${s.url}/index.html`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-powered-by')).toBe('w3core');
    expect(r.headers.get('x-custom')).toBe('custom-value');
    await r.arrayBuffer();
  });

  it('adds the custom headers to error responses too', async () => {
    const r = await fetch(`${s.url}/missing.txt`, { redirect: 'manual' });
    expect(r.status).toBe(404);
    expect(r.headers.get('x-custom')).toBe('custom-value');
    expect(r.headers.get('x-powered-by')).toBe('w3core');
    await r.arrayBuffer();
  });

  it('drops X-Powered-By where a web.config removes it, keeping the other custom headers', async () => {
    const r = await fetch(`${s.url}/noxp/a.txt`, { redirect: 'manual' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-powered-by')).toBeNull();
    expect(r.headers.get('x-custom')).toBe('custom-value');
    await r.arrayBuffer();
  });

  it('adds redirectHeaders to a 3xx response', async () => {
    const r = await fetch(`${s.url}/dir`, { redirect: 'manual' });
    expect(r.status).toBe(301);
    expect(r.headers.get('x-redirect-only')).toBe('moved');
    expect(r.headers.get('x-custom')).toBe('custom-value');
    await r.arrayBuffer();
  });

  it('does not add redirectHeaders to 200 or 404 responses', async () => {
    for (const path of ['/index.html', '/missing.txt']) {
      const r = await fetch(`${s.url}${path}`, { redirect: 'manual' });
      expect(r.headers.get('x-redirect-only'), path).toBeNull();
      await r.arrayBuffer();
    }
  });

  it('answers OPTIONS with 200 and an Allow header', async () => {
    const r = await fetch(`${s.url}/index.html`, { method: 'OPTIONS', redirect: 'manual' });
    expect(r.status).toBe(200);
    const allow = (r.headers.get('allow') ?? '').split(',').map((v) => v.trim());
    expect(allow).toEqual(expect.arrayContaining(['OPTIONS', 'GET', 'HEAD']));
    expect(await r.text()).not.toContain('<p>home</p>');
  });

  it('answers TRACE with 405 without echoing the request', async () => {
    const r = await httpRequest(`${s.url}/index.html`, 'TRACE', { headers: { 'X-Echo-Me': 'trace-secret-3141' } });
    expect(r.status).toBe(405);
    expect(r.body).not.toContain('trace-secret-3141');
    expect(String(r.headers.allow ?? '')).not.toContain('TRACE');
  });

  it('keeps connections alive by default (the second request reuses the socket)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await httpRequest(`${s.url}/index.html`, 'GET', { agent });
      const second = await httpRequest(`${s.url}/index.html`, 'GET', { agent });
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(second.reused).toBe(true);
      expect(second.headers.connection).not.toBe('close');
    } finally {
      agent.destroy();
    }
  });
});

describe('ProtocolSupportModule with allowKeepAlive="false"', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({
      webServer: '<httpProtocol allowKeepAlive="false"/>',
      files: { 'index.html': '<p>home</p>', 'a.txt': 'a'.repeat(1000) },
    });
  });
  afterAll(() => s.stop());

  it('closes the connection after a file response, which arrives complete', async () => {
    const { closed, data } = await closedAfterResponse(s.url, '/a.txt');
    expect(data).toMatch(/^HTTP\/1\.1 200 /);
    expect(data.endsWith('a'.repeat(1000))).toBe(true);
    expect(closed).toBe(true);
  });

  it('closes the connection after an in-memory (error) response', async () => {
    const { closed, data } = await closedAfterResponse(s.url, '/missing.txt');
    expect(data).toMatch(/^HTTP\/1\.1 404 /);
    expect(closed).toBe(true);
  });

  it('announces the close with Connection: close on an in-memory response (RFC 9112 §9.6)', async () => {
    const r = await httpRequest(`${s.url}/missing.txt`, 'GET');
    expect(r.status).toBe(404);
    expect(String(r.headers.connection).toLowerCase()).toBe('close');
  });

  it('announces the close with Connection: close on a file response (RFC 9112 §9.6)', async () => {
    const r = await httpRequest(`${s.url}/index.html`, 'GET');
    expect(r.status).toBe(200);
    expect(r.body).toBe('<p>home</p>');
    expect(String(r.headers.connection).toLowerCase()).toBe('close');
  });

  it('makes a keep-alive client open a new connection for the next request', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await httpRequest(`${s.url}/index.html`, 'GET', { agent });
      expect(first.status).toBe(200);
      expect(first.body).toBe('<p>home</p>');
      const second = await httpRequest(`${s.url}/index.html`, 'GET', { agent });
      expect(second.status).toBe(200);
      expect(second.reused).toBe(false);
    } finally {
      agent.destroy();
    }
  });
});

/**
 * A module that throws or rejects fails its own request with 500.0 and nothing else: the
 * worker keeps serving, other requests of the same batch are answered normally, and a local
 * client gets the detailed error page naming the module and the error (httpErrors
 * errorMode="DetailedLocalOnly", iis-reference.md §1.6).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer } from '../helpers/server.js';

const CRASH = fileURLToPath(new URL('../fixtures/modules/crash.ts', import.meta.url));

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    files: { 'ok.txt': 'healthy', 'throw-end.txt': 'sent before the failure', 'dir/ok2.txt': 'also healthy' },
    webServer: `
      <modules>
        <add name="Thrower" type="${CRASH}#ThrowingModule"/>
        <add name="Rejecter" type="${CRASH}#RejectingModule"/>
      </modules>`,
  });
});

afterAll(async () => {
  await t?.stop();
});

async function get(path: string) {
  const res = await fetch(`${t.url}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('a module that fails', () => {
  it('throwing synchronously gives 500.0 with the module name and the message on the local detailed page', async () => {
    const r = await get('/throw/a.txt');
    expect(r.status).toBe(500);
    expect(r.type).toMatch(/^text\/html/);
    expect(subStatusOf(r.body)).toBe('500.0');
    expect(r.body).toContain('HTTP Error 500.0');
    expect(r.body).toContain('Thrower');
    expect(r.body).toContain('BeginRequest');
    // The message is shown HTML-escaped.
    expect(r.body).toContain('synchronous failure &lt;in&gt; ThrowingModule &amp; co');
    expect(r.body).not.toContain('<in>');
  });

  it('rejecting asynchronously gives 500.0 with the module name and the message', async () => {
    const r = await get('/reject/b.txt');
    expect(r.status).toBe(500);
    expect(subStatusOf(r.body)).toBe('500.0');
    expect(r.body).toContain('Rejecter');
    expect(r.body).toContain('asynchronous rejection from RejectingModule');
  });

  it('throwing something that is not an Error still gives 500.0 with its text', async () => {
    const r = await get('/throw-string');
    expect(r.status).toBe(500);
    expect(subStatusOf(r.body)).toBe('500.0');
    expect(r.body).toContain('a plain string was thrown');
  });

  it('throwing in SendResponse replaces the response with 500.0', async () => {
    const r = await get('/throw-send/ok.txt');
    expect(r.status).toBe(500);
    expect(r.body).toContain('Thrower');
    expect(r.body).toContain('failure while sending the response');
  });

  it('throwing in EndRequest, after the response left, does not change the response', async () => {
    const r = await get('/throw-end.txt');
    expect(r.status).toBe(200);
    expect(r.body).toBe('sent before the failure');
  });
});

describe('isolation', () => {
  it('answers healthy requests sent in the same batch as failing ones', async () => {
    const paths = ['/throw/1', '/ok.txt', '/reject/2', '/dir/ok2.txt', '/throw-string', '/ok.txt', '/reject/3', '/ok.txt'];
    const results = await Promise.all(paths.map(get));
    expect(results.map((r) => r.status)).toEqual([500, 200, 500, 200, 500, 200, 500, 200]);
    expect(results[1]!.body).toBe('healthy');
    expect(results[3]!.body).toBe('also healthy');
    expect(results[2]!.body).toContain('asynchronous rejection from RejectingModule');
    expect(results[0]!.body).toContain('Thrower');
  });

  it('keeps serving after many failures', async () => {
    for (let round = 0; round < 5; round++) {
      const failing = await Promise.all(Array.from({ length: 10 }, (_, i) => get(i % 2 ? `/throw/${round}-${i}` : `/reject/${round}-${i}`)));
      expect(failing.every((r) => r.status === 500)).toBe(true);
    }
    const healthy = await Promise.all(Array.from({ length: 40 }, () => get('/ok.txt')));
    expect(healthy.map((r) => r.status)).toEqual(Array(40).fill(200));
    expect(new Set(healthy.map((r) => r.body))).toEqual(new Set(['healthy']));
  });

  it('serves other URLs on the same keep-alive connection after a failure', async () => {
    // undici reuses the connection: a 500 does not close it or poison the next request.
    expect((await get('/throw/x')).status).toBe(500);
    expect(await get('/ok.txt')).toMatchObject({ status: 200, body: 'healthy' });
    expect((await get('/reject/y')).status).toBe(500);
    expect(await get('/dir/ok2.txt')).toMatchObject({ status: 200, body: 'also healthy' });
  });
});

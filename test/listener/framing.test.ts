/**
 * Requests the listener cannot frame or route reliably are refused with 400 (or 501) and the
 * connection closed (RFC 9112 §3.2, §6.1, §6.3), before any pool sees them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let port: number;

beforeAll(async () => {
  t = await startTestServer({ files: { 'a.txt': 'a' } });
  port = Number(new URL(t.url).port);
});
afterAll(() => t.stop());

async function send(head: string, body = ''): Promise<{ status: number | null; end: string }> {
  const r = await rawExchange({ port, request: Buffer.from(`${head}\r\n\r\n${body}`, 'latin1'), answerMs: 1500 });
  return { status: r.responses[0]?.status ?? null, end: r.end };
}

describe('framing and Host', () => {
  it('serves a well-formed request', async () => {
    expect((await send('GET /a.txt HTTP/1.1\r\nHost: localhost')).status).toBe(200);
  });

  it.each([
    ['two Host headers', 'GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b', 400],
    ['an empty Host', 'GET /a.txt HTTP/1.1\r\nHost: ', 400],
    ['a Host with a space inside', 'GET /a.txt HTTP/1.1\r\nHost: a b', 400],
    ['chunked not last', 'POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip', 400],
    ['a coding before chunked', 'POST /a.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked', 501],
  ] as const)('refuses %s and closes the connection', async (_what, head, status) => {
    const r = await send(head);
    expect(r.status).toBe(status);
    expect(r.end).not.toBe('open');
  });

  it('drops a request with both Content-Length and Transfer-Encoding (uWS closes it unanswered)', async () => {
    const r = await send('POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked');
    expect(r.status).toBeNull();
    expect(r.end).not.toBe('open');
  });
});

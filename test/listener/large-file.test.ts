import { closeSync, openSync, truncateSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Streaming a 1 GiB file: the listener sends it in pieces with backpressure, so memory stays
 * flat. The server runs in this process (listener on the main thread, pool workers as threads),
 * so this process's RSS is the server's.
 */

const GIB = 1024 * 1024 * 1024;
const MIB = 1024 * 1024;

interface Streamed {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
  /** Every byte received was zero (the file is sparse). */
  allZero: boolean;
}

/** GETs a URL through node:http, counting the body bytes without keeping them. */
function streamGet(url: string, headers: Record<string, string> = {}): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    const agent = new Agent({ keepAlive: false });
    const req = request(url, { headers, agent }, (res) => {
      let bytes = 0;
      let allZero = true;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (allZero && chunk.some((b) => b !== 0)) allZero = false;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, bytes, allZero }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Samples this process's RSS every 50 ms while `work` runs; returns its result and the peak. */
async function withRssSampling<T>(work: () => Promise<T>): Promise<{ result: T; maxRss: number }> {
  let maxRss = process.memoryUsage().rss;
  const timer = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }, 50);
  try {
    const result = await work();
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
    return { result, maxRss };
  } finally {
    clearInterval(timer);
  }
}

describe('a 1 GiB file', () => {
  let s: TestServer;

  beforeAll(async () => {
    s = await startTestServer({ files: { 'small.bin': Buffer.alloc(64 * 1024) } });
    // Sparse: 1 GiB of zeros that take no disk space.
    const big = join(s.root, 'big.bin');
    closeSync(openSync(big, 'w'));
    truncateSync(big, GIB);
  });
  afterAll(() => s.stop());

  it('streams the whole file with GET while the server RSS grows by less than 64 MiB', async () => {
    // Warm up: start the pool worker and the application before taking the baseline.
    const warm = await streamGet(`${s.url}/small.bin`);
    expect(warm.status).toBe(200);
    expect(warm.bytes).toBe(64 * 1024);
    (globalThis as { gc?: () => void }).gc?.();
    const baseline = process.memoryUsage().rss;

    const { result, maxRss } = await withRssSampling(() => streamGet(`${s.url}/big.bin`));

    expect(result.status).toBe(200);
    expect(result.headers['content-length']).toBe(String(GIB));
    expect(result.headers['content-type']).toBe('application/octet-stream');
    expect(result.bytes).toBe(GIB);
    expect(result.allZero).toBe(true);
    const growth = maxRss - baseline;
    expect(growth, `RSS grew by ${(growth / MIB).toFixed(1)} MiB`).toBeLessThan(64 * MIB);
  }, 120_000);

  it('answers a Range at offset 1e9 with exactly the requested bytes', async () => {
    const r = await streamGet(`${s.url}/big.bin`, { Range: 'bytes=1000000000-1000000099' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 1000000000-1000000099/${GIB}`);
    expect(r.headers['content-length']).toBe('100');
    expect(r.bytes).toBe(100);
    expect(r.allZero).toBe(true);
  }, 120_000);

  it('answers an open Range from offset 1e9 with the rest of the file', async () => {
    const r = await streamGet(`${s.url}/big.bin`, { Range: 'bytes=1000000000-' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 1000000000-${GIB - 1}/${GIB}`);
    expect(r.headers['content-length']).toBe(String(GIB - 1e9));
    expect(r.bytes).toBe(GIB - 1e9);
  }, 120_000);

  it('answers a suffix Range of the last byte with one byte', async () => {
    const r = await streamGet(`${s.url}/big.bin`, { Range: 'bytes=-1' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${GIB - 1}-${GIB - 1}/${GIB}`);
    expect(r.bytes).toBe(1);
  }, 120_000);
});

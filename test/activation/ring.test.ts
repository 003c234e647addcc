/**
 * The listener ↔ worker fast lane: the single-producer single-consumer byte ring (ring.ts) and the
 * response record codec that travels in it (wire.ts, "The request and response rings"). Every
 * committed record must come out once, in order, byte for byte, on one thread and across two; a
 * consumer asleep in `waitForRecord` must be woken by every commit; a response must come back from
 * its record field for field.
 */
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteRing } from '../../dist/activation/ring.js';
import {
  decodeRequests, decodeResponses, encodeRequests, encodeResponse, fitsRing, requestsBound, RESPONSE_RING_BYTES,
  responseBound, responseExtra, RING_BODY_MAX, type WireCachePolicy, type WireChunk, type WireRequest, type WireResponse,
} from '../../dist/activation/wire.js';

const RING_MODULE_URL = new URL('../../dist/activation/ring.js', import.meta.url).href;

/** The bytes of record number `seq` with `length` bytes: the sequence number, then a pattern of both. */
function recordBytes(seq: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = i < 4 ? (seq >>> (8 * i)) & 0xff : (seq + i * 13 + length) & 0xff;
  return bytes;
}

describe('ByteRing on one thread', () => {
  type Step =
    | { readonly kind: 'produce'; readonly max: number; readonly cut: number }
    | { readonly kind: 'consume'; readonly count: number }
    | { readonly kind: 'peek' };

  function steps(maxRecord: number): fc.Arbitrary<Step[]> {
    const produce = fc.record({
      kind: fc.constant('produce' as const),
      max: fc.integer({ min: 0, max: maxRecord + 12 }),
      // The committed length is min(max, cut): often the whole reservation, often less.
      cut: fc.integer({ min: 0, max: maxRecord + 12 }),
    });
    const consume = fc.record({ kind: fc.constant('consume' as const), count: fc.integer({ min: 1, max: 4 }) });
    const peek = fc.record({ kind: fc.constant('peek' as const) });
    return fc.array(
      fc.oneof({ arbitrary: produce, weight: 6 }, { arbitrary: consume, weight: 3 }, { arbitrary: peek, weight: 1 }),
      { minLength: 1, maxLength: 300 },
    );
  }

  const scenario = fc.integer({ min: 16, max: 128 }).chain((words) =>
    fc.record({ capacity: fc.constant(words * 4), steps: steps(ByteRing.allocate(words * 4).maxRecord) }),
  );

  it('delivers every committed record once, in order, with its bytes, across wrap-around and full rings', () => {
    fc.assert(
      fc.property(scenario, ({ capacity, steps }) => {
        const ring = ByteRing.allocate(capacity);
        const maxRecord = ring.maxRecord;
        expect(maxRecord).toBeGreaterThan(0);
        /** Committed, not yet consumed: what the consumer must see next, in this order. */
        const queue: { seq: number; bytes: Buffer }[] = [];
        /** Reservations (≤ maxRecord) refused while records were in the ring. */
        const refused: number[] = [];
        let seq = 0;

        const consumeOne = (): void => {
          const at = ring.next();
          const want = queue.shift();
          if (want === undefined) {
            expect(at, 'an empty ring has no record').toBe(-1);
            return;
          }
          expect(at, `record #${want.seq} is in the ring`).toBeGreaterThanOrEqual(0);
          expect(ring.length(at), `length of record #${want.seq}`).toBe(want.bytes.length);
          expect(at + want.bytes.length).toBeLessThanOrEqual(ring.data.byteLength);
          const got = Buffer.from(ring.data.subarray(at, at + want.bytes.length));
          if (!got.equals(want.bytes)) expect(got.toString('hex'), `bytes of record #${want.seq}`).toBe(want.bytes.toString('hex'));
          ring.release(at);
        };

        const produce = (max: number, length: number): boolean => {
          const at = ring.reserve(max);
          if (max > maxRecord) {
            expect(at, `reserve(${max}) over maxRecord ${maxRecord}`).toBe(-1);
            return false;
          }
          if (at === -1) {
            expect(queue.length, `an empty ring refused reserve(${max})`).toBeGreaterThan(0);
            refused.push(max);
            return false;
          }
          expect(at).toBeGreaterThanOrEqual(4);
          expect(at + max, 'the reservation lies inside the data').toBeLessThanOrEqual(ring.data.byteLength);
          // A producer may write up to the reserved maximum before it knows the actual length:
          // scribbling over all of it catches a reservation that overlaps an unread record.
          ring.data.fill(0xa5, at, at + max);
          const bytes = recordBytes(seq, length);
          ring.data.set(bytes, at);
          ring.commit(length);
          queue.push({ seq: seq++, bytes });
          return true;
        };

        expect(ring.next(), 'a new ring is empty').toBe(-1);
        for (const step of steps) {
          if (step.kind === 'produce') produce(step.max, Math.min(step.max, step.cut));
          else if (step.kind === 'consume') for (let k = 0; k < step.count; k++) consumeOne();
          else {
            const first = ring.next();
            expect(ring.next(), 'next() without release returns the same record').toBe(first);
            expect(first === -1).toBe(queue.length === 0);
          }
        }
        while (queue.length > 0) consumeOne();
        expect(ring.next(), 'the drained ring is empty').toBe(-1);

        // Whatever was refused for lack of room fits once the ring is drained.
        for (const max of refused) {
          expect(produce(max, max), `reserve(${max}) on the drained ring`).toBe(true);
          consumeOne();
        }
        expect(ring.next()).toBe(-1);
      }),
      { numRuns: 400 },
    );
  });

  it('takes a record of exactly maxRecord bytes at every position of an empty ring', () => {
    for (const capacity of [64, 68, 100, 128, 260, 512]) {
      for (let position = 0; position < capacity; position += 4) {
        const ring = ByteRing.allocate(capacity);
        // Empty records are 4 bytes each: move head and tail together to `position`.
        for (let k = 0; k < position / 4; k++) {
          expect(ring.reserve(0)).not.toBe(-1);
          ring.commit(0);
          ring.release(ring.next());
        }
        expect(ring.next()).toBe(-1);
        const at = ring.reserve(ring.maxRecord);
        expect(at, `capacity ${capacity}, empty at ${position}`).not.toBe(-1);
        const bytes = recordBytes(position, ring.maxRecord);
        ring.data.set(bytes, at);
        ring.commit(ring.maxRecord);
        const out = ring.next();
        expect(Buffer.from(ring.data.subarray(out, out + ring.length(out))).equals(bytes), `capacity ${capacity}, empty at ${position}`).toBe(true);
        ring.release(out);
        expect(ring.next()).toBe(-1);
      }
    }
  });

  it('refuses a record larger than maxRecord even when empty', () => {
    const ring = ByteRing.allocate(256);
    expect(ring.maxRecord).toBe(120);
    expect(ring.reserve(121)).toBe(-1);
    expect(ring.reserve(256)).toBe(-1);
    expect(ring.reserve(120)).not.toBe(-1);
  });

  it('refuses a commit without a matching reservation, or longer than it', () => {
    const ring = ByteRing.allocate(128);
    expect(() => ring.commit(0)).toThrow(/without a matching reserve/);
    expect(ring.reserve(8)).not.toBe(-1);
    expect(() => ring.commit(9)).toThrow(/without a matching reserve/);
    ring.commit(8);
    expect(() => ring.commit(8)).toThrow(/without a matching reserve/);
    expect(ring.reserve(ring.maxRecord + 1)).toBe(-1);
    expect(() => ring.commit(0)).toThrow(/without a matching reserve/);
    const at = ring.next();
    expect(ring.length(at)).toBe(8);
  });

  it('refuses a SharedArrayBuffer that is not 16 + 4n bytes', () => {
    expect(() => new ByteRing(new SharedArrayBuffer(16))).toThrow(/16 \+ 4n bytes/);
    expect(() => new ByteRing(new SharedArrayBuffer(16 + 6))).toThrow(/16 \+ 4n bytes/);
    expect(new ByteRing(new SharedArrayBuffer(16 + 64)).data.byteLength).toBe(64);
    expect(ByteRing.allocate(61).data.byteLength).toBe(64);
  });

  it('shares records between two ByteRing objects on the same SharedArrayBuffer', () => {
    const producer = ByteRing.allocate(128);
    const consumer = new ByteRing(producer.sab);
    const at = producer.reserve(5);
    producer.data.set(recordBytes(7, 5), at);
    producer.commit(5);
    const out = consumer.next();
    expect(Buffer.from(consumer.data.subarray(out, out + consumer.length(out)))).toEqual(recordBytes(7, 5));
  });
});

describe('ByteRing wake-ups', () => {
  const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  it('wake() resolves a pending waitForRecord() with no record', async () => {
    const ring = ByteRing.allocate(256);
    let woke = false;
    const waiting = ring.waitForRecord().then(() => { woke = true; });
    await tick(30);
    expect(woke, 'waitForRecord on an empty ring waits').toBe(false);
    ring.wake();
    await waiting;
    expect(woke).toBe(true);
    expect(ring.next()).toBe(-1);
  });

  it('waitForRecord() resolves at once when a record is there, and on a commit when not', async () => {
    const ring = ByteRing.allocate(256);
    ring.reserve(3);
    ring.commit(3);
    await ring.waitForRecord();
    ring.release(ring.next());

    let woke = false;
    const waiting = ring.waitForRecord().then(() => { woke = true; });
    await tick(30);
    expect(woke).toBe(false);
    const at = ring.reserve(2);
    ring.data.set([9, 8], at);
    ring.commit(2);
    await waiting;
    const out = ring.next();
    expect([...ring.data.subarray(out, out + ring.length(out))]).toEqual([9, 8]);
  });

  it('a deferred consumer is not woken by commits; after rearm its pending wait is', async () => {
    const ring = ByteRing.allocate(256);
    let woke = false;
    const waiting = ring.waitForRecord().then(() => { woke = true; });
    ring.defer();
    const first = ring.reserve(1);
    ring.data[first] = 7;
    ring.commit(1);
    await tick(30);
    expect(woke, 'a commit while deferred notifies nobody').toBe(false);
    // The consumer reads what came meanwhile itself, after rearming.
    ring.rearm();
    const out = ring.next();
    expect(ring.data[out]).toBe(7);
    ring.release(out);
    const second = ring.reserve(1);
    ring.data[second] = 8;
    ring.commit(1);
    await waiting;
    expect(woke).toBe(true);
    expect(ring.data[ring.next()]).toBe(8);
  });
});

describe('ByteRing across threads', () => {
  /*
   * The producer is a worker thread running the built ring.js. Record `seq` is
   * `recordLength(seq)` bytes of `recordBytes(seq, length)` (the same functions, in JS), committed
   * after a reservation of up to 10 bytes more. When the ring is full it retries, then naps
   * briefly on a private Int32Array; every `pauseEvery` records it naps 2 ms so the consumer
   * drains the ring and goes to sleep in waitForRecord, and the commit after the nap must wake it.
   */
  const PRODUCER = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.ringUrl).then(({ ByteRing }) => {
      const { sab, count, pauseEvery } = workerData;
      const ring = new ByteRing(sab);
      const nap = new Int32Array(new SharedArrayBuffer(4));
      const recordLength = (seq) => (seq * 7919) % (ring.maxRecord + 1);
      let fullRetries = 0;
      for (let seq = 0; seq < count; seq++) {
        if (pauseEvery > 0 && seq % pauseEvery === 0) Atomics.wait(nap, 0, 0, 2);
        const length = recordLength(seq);
        const max = Math.min(ring.maxRecord, length + (seq % 3) * 5);
        let at = ring.reserve(max);
        for (let tries = 1; at === -1; tries++) {
          fullRetries++;
          if (tries % 200 === 0) Atomics.wait(nap, 0, 0, 0.05);
          at = ring.reserve(max);
        }
        ring.data.fill(0xa5, at, at + max);
        for (let i = 0; i < length; i++) ring.data[at + i] = i < 4 ? (seq >>> (8 * i)) & 0xff : (seq + i * 13 + length) & 0xff;
        ring.commit(length);
      }
      parentPort.postMessage({ fullRetries });
    });
  `;

  async function pump(capacity: number, count: number, pauseEvery: number): Promise<{ received: number; emptyWaits: number; fullRetries: number }> {
    const ring = ByteRing.allocate(capacity);
    const recordLength = (seq: number): number => (seq * 7919) % (ring.maxRecord + 1);
    let failure: unknown = null;
    let fullRetries = -1;
    const worker = new Worker(PRODUCER, { eval: true, workerData: { ringUrl: RING_MODULE_URL, sab: ring.sab, count, pauseEvery } });
    const exited = new Promise<void>((resolve) => {
      worker.on('message', (m: { fullRetries: number }) => { fullRetries = m.fullRetries; });
      worker.on('error', (error) => { failure = error; ring.wake(); });
      worker.on('exit', () => { ring.wake(); resolve(); });
    });
    let received = 0;
    let emptyWaits = 0;
    let workerGone = false;
    void exited.then(() => { workerGone = true; });
    try {
      while (received < count) {
        const at = ring.next();
        if (at === -1) {
          // A producer that is gone commits nothing more: stop instead of sleeping forever.
          if (failure !== null || (workerGone && ring.next() === -1)) break;
          emptyWaits++;
          await ring.waitForRecord();
          continue;
        }
        const want = recordBytes(received, recordLength(received));
        const length = ring.length(at);
        if (length !== want.length) throw new Error(`record #${received}: length ${length}, expected ${want.length}`);
        if (!want.equals(ring.data.subarray(at, at + length))) {
          throw new Error(`record #${received}: bytes ${Buffer.from(ring.data.subarray(at, at + length)).toString('hex')}, expected ${want.toString('hex')}`);
        }
        ring.release(at);
        received++;
      }
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    // The producer exits by itself after its last commit; its message arrives before 'exit'.
    await exited;
    if (failure !== null) throw failure;
    expect(ring.next(), 'nothing after the last record').toBe(-1);
    return { received, emptyWaits, fullRetries };
  }

  it('carries 20,000 records of 0..504 bytes in order through a 1 KB ring, waking a sleeping consumer', async () => {
    const { received, emptyWaits, fullRetries } = await pump(1024, 20_000, 100);
    expect(received).toBe(20_000);
    expect(fullRetries).toBeGreaterThanOrEqual(0);
    // The producer napped 200 times: the consumer found the ring drained and slept in
    // waitForRecord, to be woken by the next commit (not every nap, on a busy machine).
    expect(emptyWaits).toBeGreaterThanOrEqual(20);
  }, 25_000);

  it('carries 20,000 records through a 64-byte ring that is nearly always full', async () => {
    const { received, fullRetries } = await pump(64, 20_000, 0);
    expect(received).toBe(20_000);
    expect(fullRetries).toBeGreaterThan(0);
  }, 25_000);
});

describe('response records', () => {
  const KB = 1024;
  const GB = 1024 * 1024 * 1024;

  function response(overrides: Partial<WireResponse>): WireResponse {
    return {
      id: 1, status: 200, subStatus: 0, head: '200 OK\r\nContent-Type: text/plain\r\nServer: w3core', body: null,
      chunks: null, contentLength: 0, disconnect: false, cache: null, ...overrides,
    };
  }

  /** What the listener sees of `r` after the trip: head as UTF-8 bytes, or as a string when it streams files. */
  function expected(r: WireResponse): unknown {
    const headText = typeof r.head === 'string' ? r.head : Buffer.from(r.head).toString('utf8');
    return {
      ...r,
      head: r.chunks === null ? Buffer.from(headText, 'utf8') : headText,
      body: r.body === null ? null : Buffer.from(r.body),
    };
  }

  /** Copies what decodeResponses returns (views into the ring) so it outlives the record. */
  function kept(r: WireResponse): unknown {
    return { ...r, head: typeof r.head === 'string' ? r.head : Buffer.from(r.head), body: r.body === null ? null : Buffer.from(r.body) };
  }

  /** Encodes `responses` into one record of `ring`, reads it back, and checks each stayed within its bound. */
  function roundTrip(ring: ByteRing, responses: readonly WireResponse[]): { decoded: unknown[]; heads: (string | Uint8Array)[] } {
    const extras = responses.map(responseExtra);
    const bounds = responses.map((r, i) => responseBound(r, extras[i]!));
    const start = ring.reserve(bounds.reduce((a, b) => a + b, 0));
    expect(start, 'the record fits the ring').not.toBe(-1);
    let at = start;
    responses.forEach((r, i) => {
      const end = encodeResponse(ring.data, at, r, extras[i]!);
      expect(end - at, `bytes written for response ${i} within responseBound`).toBeLessThanOrEqual(bounds[i]!);
      at = end;
    });
    ring.commit(at - start);
    const record = ring.next();
    expect(record).toBe(start);
    const decoded: unknown[] = [];
    const heads: (string | Uint8Array)[] = [];
    decodeResponses(ring.data, record, ring.length(record), (r) => {
      heads.push(r.head);
      decoded.push(kept(r));
    });
    ring.release(record);
    return { decoded, heads };
  }

  const policy: WireCachePolicy = {
    ttlMs: 30_000,
    files: [{ path: '/srv/www/caf\u00e9/index.html', mtimeMs: 1732240000123.25, size: 4096 }, { path: '/srv/www/web.config', mtimeMs: 0, size: 0 }],
    varyByHeaders: ['accept-encoding', 'accept-language'],
    varyByQueryString: ['*'],
  };
  const fiveGb = 5 * GB;
  const cases: [string, WireResponse][] = [
    ['a body', response({ id: 2, body: Buffer.from('hello, world'), contentLength: 12 })],
    ['no body (HEAD)', response({ id: 3, body: null, contentLength: 1234 })],
    ['a zero-length body', response({ id: 4, head: '204 No Content', status: 204, body: new Uint8Array(0), contentLength: 0 })],
    ['a non-ASCII head', response({ id: 5, head: '200 OK\r\nX-Name: \u00e9\u20ac\r\nX-Emoji: \u{1F600}', body: Buffer.from([0, 255, 13, 10]), contentLength: 4 })],
    ['a head given as bytes', response({ id: 6, head: Buffer.from('404 Not Found\r\nX-Why: \u00e9', 'utf8'), status: 404, subStatus: 3, body: Buffer.from('nope'), contentLength: 4 })],
    ['an empty head', response({ id: 7, head: '', body: Buffer.from('x'), contentLength: 1 })],
    ['file chunks of a 5 GB file', response({
      id: 8, head: '200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5368709120', contentLength: fiveGb,
      chunks: [{ path: '/srv/www/big.iso', offset: 0, length: 4 * GB }, { path: '/srv/www/big.iso', offset: 4 * GB, length: GB }],
    })],
    ['file chunks with a non-ASCII path and head, and a cache policy', response({
      id: 9, head: '200 OK\r\nX-File: \u20ac.txt', contentLength: 3,
      chunks: [{ path: '/srv/www/caf\u00e9/\u20ac.txt', offset: 0, length: 3 }], cache: policy,
    })],
    ['a cache policy with a body', response({ id: 10, body: Buffer.from('cached'), contentLength: 6, cache: policy })],
    ['a cache policy with ttl 0 and no variants', response({ id: 11, body: Buffer.from('c'), contentLength: 1, cache: { ttlMs: 0, files: [], varyByHeaders: [], varyByQueryString: [] } })],
    ['disconnect', response({ id: 12, status: 400, head: '400 Bad Request\r\nConnection: close', body: Buffer.from('bad'), contentLength: 3, disconnect: true })],
    ['an id above 2^32', response({ id: 2 ** 32 + 5, body: Buffer.from('a'), contentLength: 1 })],
    ['the largest safe id', response({ id: Number.MAX_SAFE_INTEGER, body: null, contentLength: Number.MAX_SAFE_INTEGER })],
    ['a 5 GB Content-Length without a body', response({ id: 13, contentLength: fiveGb })],
    ['the largest status and substatus', response({ id: 14, status: 65535, subStatus: 65535 })],
    ['a body of RING_BODY_MAX bytes', response({ id: 15, body: Buffer.alloc(RING_BODY_MAX, 0x5a), contentLength: RING_BODY_MAX })],
  ];

  for (const [name, r] of cases) {
    it(`round-trips ${name}`, () => {
      expect(fitsRing(r)).toBe(true);
      const { decoded, heads } = roundTrip(ByteRing.allocate(RESPONSE_RING_BYTES), [r]);
      expect(decoded).toEqual([expected(r)]);
      expect(typeof heads[0] === 'string', 'head is a string exactly when the response streams files').toBe(r.chunks !== null);
    });
  }

  it('keeps non-ASCII head characters as their UTF-8 bytes', () => {
    const { heads } = roundTrip(ByteRing.allocate(4 * KB), [response({ head: '200 OK\r\nX-Name: \u00e9\u20ac' })]);
    const head = heads[0]!;
    expect(head).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(head as Uint8Array).toString()).toBe('200 OK\r\nX-Name: \u00e9\u20ac');
    expect(Buffer.from(head as Uint8Array).subarray(-5)).toEqual(Buffer.from([0xc3, 0xa9, 0xe2, 0x82, 0xac]));
  });

  it('round-trips every case in one record, in order', () => {
    const all = cases.map(([, r]) => r);
    const { decoded } = roundTrip(ByteRing.allocate(RESPONSE_RING_BYTES), all);
    expect(decoded).toEqual(all.map(expected));
  });

  it('round-trips records at every offset of a ring that wraps', () => {
    const ring = ByteRing.allocate(8 * KB);
    const small = cases.map(([, r]) => r).filter((r) => (r.body?.byteLength ?? 0) < KB);
    for (let round = 0; round < 60; round++) {
      const batch = small.slice(round % small.length, (round % small.length) + 1 + (round % 3));
      expect(roundTrip(ring, batch).decoded).toEqual(batch.map(expected));
    }
  });

  it('writes no more than responseBound for a head of 3-byte and 4-byte characters', () => {
    const { decoded } = roundTrip(ByteRing.allocate(64 * KB), [
      response({ head: '\u20ac'.repeat(500), chunks: [{ path: '\u{1F600}'.repeat(200), offset: 0, length: 1 }] }),
      response({ head: '\u{1F600}'.repeat(500), body: Buffer.from('\u20ac'.repeat(100)), cache: { ...policy, varyByHeaders: ['\u20ac'.repeat(50)] } }),
    ]);
    expect(decoded).toHaveLength(2);
  });

  it('leaves extra empty when a response has neither file chunks nor a cache policy', () => {
    expect(responseExtra(response({ body: Buffer.from('x') }))).toBe('');
    expect(responseExtra(response({ cache: policy }))).not.toBe('');
    expect(responseExtra(response({ chunks: [{ path: '/a', offset: 0, length: 1 }] }))).not.toBe('');
  });

  it('sends larger bodies and mixed chunk lists the message way', () => {
    expect(fitsRing(response({ body: new Uint8Array(RING_BODY_MAX) }))).toBe(true);
    expect(fitsRing(response({ body: new Uint8Array(RING_BODY_MAX + 1) }))).toBe(false);
    const file: WireChunk = { path: '/srv/a.txt', offset: 0, length: 10 };
    expect(fitsRing(response({ chunks: [file, file] }))).toBe(true);
    expect(fitsRing(response({ chunks: [Buffer.from('head of entity'), file] }))).toBe(false);
    expect(fitsRing(response({ chunks: [file, new Uint8Array(3)] }))).toBe(false);
  });

  it('round-trips random responses, several to a record (property)', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 80 });
    const fileChunk = fc.record({ path: text, offset: fc.maxSafeNat(), length: fc.maxSafeNat() });
    const cache = fc.record({
      ttlMs: fc.nat(),
      files: fc.array(fc.record({ path: text, mtimeMs: fc.double({ min: 0, max: 1e13, noNaN: true }), size: fc.maxSafeNat() }), { maxLength: 3 }),
      varyByHeaders: fc.array(text, { maxLength: 3 }),
      varyByQueryString: fc.array(text, { maxLength: 3 }),
    });
    const entity = fc.oneof(
      fc.record({ body: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }), chunks: fc.constant(null) }),
      fc.record({ body: fc.constant(null), chunks: fc.array(fileChunk, { minLength: 1, maxLength: 4 }) }),
    );
    const wireResponse = fc
      .record({
        id: fc.maxSafeNat(),
        status: fc.integer({ min: 0, max: 65535 }),
        subStatus: fc.integer({ min: 0, max: 65535 }),
        head: fc.oneof(text, text.map((s) => Buffer.from(s, 'utf8') as Uint8Array)),
        entity,
        contentLength: fc.maxSafeNat(),
        disconnect: fc.boolean(),
        cache: fc.option(cache, { nil: null }),
      })
      .map(({ entity: e, ...rest }): WireResponse => ({ ...rest, body: e.body, chunks: e.chunks }));
    const ring = ByteRing.allocate(256 * KB);
    fc.assert(
      fc.property(fc.array(wireResponse, { minLength: 1, maxLength: 6 }), (responses) => {
        for (const r of responses) expect(fitsRing(r)).toBe(true);
        expect(roundTrip(ring, responses).decoded).toEqual(responses.map(expected));
      }),
      { numRuns: 300 },
    );
  });
});

describe('request records', () => {
  function request(seq: number, overrides: Partial<WireRequest> = {}): WireRequest {
    return {
      id: 2 ** 32 + seq, siteId: 1, method: 'GET', rawUrl: `/r/${seq}?q=${seq}`, path: `/r/${seq}`, queryString: `q=${seq}`,
      httpVersion: '1.1', headers: ['host', 'localhost', 'x-seq', String(seq)], remoteAddress: '127.0.0.1', remotePort: 50000 + seq,
      localAddress: '127.0.0.1', localPort: 80, secure: seq % 2 === 0, entity: null, ...overrides,
    };
  }

  it('carries batches of requests as ring records, also after the ring wraps', () => {
    const ring = ByteRing.allocate(4 * 1024);
    for (let round = 0; round < 80; round++) {
      const batch = Array.from({ length: 1 + (round % 4) }, (_, k) => request(round * 4 + k, k === 1
        ? { headers: ['x-odd', '\u00e9\u20ac \u{1F600} \ud800', 'x-empty', ''], rawUrl: '/caf\u00e9', path: '/caf\u00e9' }
        : {}));
      const bound = requestsBound(batch);
      const at = ring.reserve(bound);
      expect(at, `round ${round}`).not.toBe(-1);
      const written = encodeRequests(ring.data, at, batch);
      expect(written).toBeLessThanOrEqual(bound);
      ring.commit(written);
      const record = ring.next();
      expect(decodeRequests(ring.data, record, ring.length(record), [])).toEqual(batch);
      ring.release(record);
    }
  });
});

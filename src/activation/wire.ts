/**
 * The message layout between the listener and the application pool workers. Requests of one
 * event-loop turn travel as one batch task: one `piscina.run` for up to 64 requests, because a
 * task of its own per request costs 31–40 µs of CPU on this kind of machine
 * (shared/anchors/perf-anchors.md). Bodies travel as transferred ArrayBuffers when large.
 */
import { Buffer } from 'node:buffer';

/** A file range of the response entity, streamed by the listener (`HTTP_DATA_CHUNK` FromFile). */
export interface WireFileChunk {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

export type WireChunk = Uint8Array | WireFileChunk;

export interface WireRequest {
  readonly id: number;
  readonly siteId: number;
  readonly method: string;
  readonly rawUrl: string;
  readonly path: string;
  readonly queryString: string;
  readonly httpVersion: string;
  /** Flat `[name, value, name, value, …]`, names lower-cased. */
  readonly headers: readonly string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  readonly entity: Uint8Array | null;
}

export interface WireResponse {
  readonly id: number;
  readonly status: number;
  readonly subStatus: number;
  /**
   * The status line after `HTTP/1.1 ` and the header lines, CRLF-joined, ready for the wire:
   * `200 OK\r\nContent-Type: text/plain\r\nServer: w3core`. Built by the worker from values
   * `HttpResponse` validated (no CR, LF or NUL), so the listener writes it with one call.
   * From the response ring it is the UTF-8 bytes themselves, a view that is only valid until
   * the listener returns from `complete` (anything kept longer copies it).
   */
  readonly head: string | Uint8Array;
  /** The whole entity when it is in memory (null for HEAD and empty bodies). */
  readonly body: Uint8Array | null;
  /** Set instead of `body` when the entity has file chunks. */
  readonly chunks: WireChunk[] | null;
  /** Entity length, also for HEAD (the Content-Length a GET would get). */
  readonly contentLength: number;
  readonly disconnect: boolean;
  /** Set when the kernel-style response cache may keep this response (the worker decided). */
  readonly cache: WireCachePolicy | null;
}

/** What the worker allows the listener's response cache to do with a response. */
export interface WireCachePolicy {
  /** How long the entry lives, in ms; 0 = until invalidated (file change, config change, flush). */
  readonly ttlMs: number;
  /** Files whose change drops the entry, with their state when the response was built. */
  readonly files: readonly { readonly path: string; readonly mtimeMs: number; readonly size: number }[];
  /** Lower-cased request headers the entry varies by (profile `varyByHeaders`, `Vary`). */
  readonly varyByHeaders: readonly string[];
  /** Query parameters it varies by (`['*']` = the whole query string); empty = no query string. */
  readonly varyByQueryString: readonly string[];
}

export interface BatchTask {
  /** Sequence number; named again in the `released` message. */
  readonly batch: number;
  /** The requests' fields (see {@link encodeRequests}), in a buffer transferred to the worker. */
  readonly bytes: Uint8Array;
  /** Request entities by position in the batch (null: none). */
  readonly entities: (Uint8Array | null)[];
}

/*
 * Requests cross to the worker as bytes, not objects: structured clone walks every object and
 * string of a batch on both threads (about 1.6 µs per request measured here), and building one
 * length-prefixed string field by field allocated about 1 KiB per request on the listener,
 * whose young-generation GC then ran on every core. Here the numbers go into a table and the
 * strings of the whole batch are joined once and written once, as UTF-16 (lossless for any
 * string uWS hands over), or as Latin-1 when the whole text is ASCII (the common case: half
 * the bytes, a plain copy on both sides, and one-byte strings in the worker, which V8 hashes and
 * compares faster); the worker reads the text with one call and slices it. Lengths, not
 * separators, so no byte a client sends can be mistaken for framing.
 *
 *   batch   := count:u32 encoding:u32 request-table{count} text    (encoding 1 = ASCII, 2 = UTF-16)
 *   request-table := id:f64 siteId:u32 remotePort:u32 localPort:u32 secure:u32 strings:u32 length:u32{strings}
 *   strings := method rawUrl path queryString httpVersion remoteAddress localAddress (name value)*
 *
 * little-endian; each length counts UTF-16 code units of the text, in order.
 */
const FIXED_STRINGS = 7;
const REQUEST_FIXED = 28;
const BATCH_FIXED = 8;
const TEXT_ASCII = 1;
const TEXT_UTF16 = 2;

/**
 * A DataView over `buffer` (same offsets): its getters and setters compile to plain loads and
 * stores, where each `Buffer#readUInt32LE` and friends is a call with its own range checks
 * (the codecs below make a dozen of them per request). A thread works with two rings, each
 * always the same Buffer, so the last two views are kept.
 */
let viewedA: Uint8Array | undefined;
let viewA: DataView | undefined;
let viewedB: Uint8Array | undefined;
let viewB: DataView | undefined;
function viewOf(buffer: Uint8Array): DataView {
  if (buffer === viewedA) return viewA!;
  if (buffer === viewedB) return viewB!;
  viewedB = viewedA;
  viewB = viewA;
  viewedA = buffer;
  return (viewA = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength));
}

/** Bytes {@link encodeRequests} writes for `requests`. */
export function requestsBound(requests: readonly WireRequest[]): number {
  let bytes = BATCH_FIXED;
  for (const r of requests) {
    let chars = r.method.length + r.rawUrl.length + r.path.length + r.queryString.length + r.httpVersion.length +
      r.remoteAddress.length + r.localAddress.length;
    for (const h of r.headers) chars += h.length;
    bytes += REQUEST_FIXED + 4 * (FIXED_STRINGS + r.headers.length) + 2 * chars;
  }
  return bytes;
}

/** Writes a batch of requests at `at` in `out` (main thread); returns the bytes written. */
export function encodeRequests(out: Buffer, at: number, requests: readonly WireRequest[]): number {
  const v = viewOf(out);
  v.setUint32(at, requests.length, true);
  let t = at + BATCH_FIXED;
  let text = '';
  for (const r of requests) {
    const headers = r.headers;
    v.setFloat64(t, r.id, true);
    v.setUint32(t + 8, r.siteId, true);
    v.setUint32(t + 12, r.remotePort, true);
    v.setUint32(t + 16, r.localPort, true);
    v.setUint32(t + 20, r.secure ? 1 : 0, true);
    v.setUint32(t + 24, FIXED_STRINGS + headers.length, true);
    v.setUint32(t + 28, r.method.length, true);
    v.setUint32(t + 32, r.rawUrl.length, true);
    v.setUint32(t + 36, r.path.length, true);
    v.setUint32(t + 40, r.queryString.length, true);
    v.setUint32(t + 44, r.httpVersion.length, true);
    v.setUint32(t + 48, r.remoteAddress.length, true);
    v.setUint32(t + 52, r.localAddress.length, true);
    t += REQUEST_FIXED + 4 * FIXED_STRINGS;
    text += r.method + r.rawUrl + r.path + r.queryString + r.httpVersion + r.remoteAddress + r.localAddress;
    for (let k = 0; k < headers.length; k++) {
      const h = headers[k]!;
      v.setUint32(t, h.length, true);
      t += 4;
      text += h;
    }
  }
  // One UTF-8 byte per character only when every character is ASCII.
  const ascii = Buffer.byteLength(text, 'utf8') === text.length;
  v.setUint32(at + 4, ascii ? TEXT_ASCII : TEXT_UTF16, true);
  const written = out.write(text, t, ascii ? 'latin1' : 'utf16le');
  // Buffer#write stops silently at the end: a batch cut short must not go out.
  if (written !== (ascii ? text.length : 2 * text.length)) throw new RangeError('w3core: request batch does not fit its buffer');
  return t + written - at;
}

/** Decodes what {@link encodeRequests} wrote at `at` (worker). */
export function decodeRequests(data: Buffer, at: number, length: number, entities: readonly (Uint8Array | null)[]): WireRequest[] {
  const end = at + length;
  const malformed = () => new Error(`w3core: malformed request batch at ${at}`);
  if (length < BATCH_FIXED || at < 0 || end > data.byteLength) throw malformed();
  const v = viewOf(data);
  const count = v.getUint32(at, true);
  const encoding = v.getUint32(at + 4, true);
  if (encoding !== TEXT_ASCII && encoding !== TEXT_UTF16) throw malformed();
  let t = at + BATCH_FIXED;
  for (let i = 0; i < count; i++) {
    if (t + REQUEST_FIXED > end) throw malformed();
    t += REQUEST_FIXED + 4 * v.getUint32(t + 24, true);
  }
  if (t > end || (encoding === TEXT_UTF16 && (end - t) % 2 !== 0)) throw malformed();
  const text = data.toString(encoding === TEXT_ASCII ? 'latin1' : 'utf16le', t, end);
  let c = 0;
  const next = (): string => {
    const n = v.getUint32(t, true);
    t += 4;
    if (c + n > text.length) throw malformed();
    return text.slice(c, (c += n));
  };
  const out: WireRequest[] = [];
  t = at + BATCH_FIXED;
  for (let i = 0; i < count; i++) {
    const id = v.getFloat64(t, true);
    const siteId = v.getUint32(t + 8, true);
    const remotePort = v.getUint32(t + 12, true);
    const localPort = v.getUint32(t + 16, true);
    const secure = v.getUint32(t + 20, true) === 1;
    const strings = v.getUint32(t + 24, true);
    if (strings < FIXED_STRINGS || (strings - FIXED_STRINGS) % 2 !== 0) throw malformed();
    t += REQUEST_FIXED;
    const method = next();
    const rawUrl = next();
    const path = next();
    const queryString = next();
    const httpVersion = next();
    const remoteAddress = next();
    const localAddress = next();
    const headers = new Array<string>(strings - FIXED_STRINGS);
    for (let k = 0; k < headers.length; k++) headers[k] = next();
    out.push({
      id, siteId, method, rawUrl, path, queryString, httpVersion, headers, remoteAddress, remotePort,
      localAddress, localPort, secure, entity: entities[i] ?? null,
    });
  }
  if (c !== text.length) throw malformed();
  return out;
}

export interface BatchResult {
  /** Responses that completed while the batch ran. */
  readonly responses: WireResponse[];
}

/*
 * The request and response rings (ring.ts). Once a worker has started it offers the pool one
 * ring each way (a `channel` message); from then on a batch of requests without an entity
 * travels as one ring record holding its {@link encodeRequests} bytes, and the
 * responses of one worker turn go back as one record of
 *
 *   response := id:f64 contentLength:f64 status:u16 subStatus:u16 flags:u32
 *               headBytes:u32 bodyBytes:u32 extraBytes:u32 head body extra
 *
 * little-endian, head as UTF-8, extra the JSON of {chunks, cache} when either is set. No
 * structured clone, no per-batch task or promise, no message per batch: the listener passes
 * head and body to uWS as views into the ring. What does not fit (entities, bodies over
 * {@link RING_BODY_MAX}, chunk lists mixing memory and file chunks, a full ring) takes the
 * piscina task and message path, which stays complete on its own.
 */

/** Largest in-memory response body that travels in the response ring. */
export const RING_BODY_MAX = 64 * 1024;
/** Request and response ring sizes per worker. */
export const REQUEST_RING_BYTES = 1024 * 1024;
export const RESPONSE_RING_BYTES = 4 * 1024 * 1024;

const RESPONSE_FIXED = 36;
const FLAG_DISCONNECT = 1;
const FLAG_BODY = 2;
const FLAG_EXTRA = 4;

/** A worker's rings, offered to its pool once it has started. */
export interface ChannelMessage {
  readonly w3core: 'channel';
  readonly threadId: number;
  /** Listener → worker. */
  readonly requests: SharedArrayBuffer;
  /** Worker → listener. */
  readonly responses: SharedArrayBuffer;
  /**
   * Int32 × `ID_SLOTS` (in-flight.ts): when a request's client leaves, the listener writes the
   * sequence of its id at its slot; a worker that finds it there when it takes the request from
   * the ring does not run it, as HTTP.sys drops a queued request whose connection closed. A mark
   * only ever meets a request of the same slot, and it is that request only if the sequences
   * agree.
   */
  readonly withdrawn: SharedArrayBuffer;
}

/** Whether `response` can travel in the response ring (else it is sent as a message). */
export function fitsRing(response: WireResponse): boolean {
  if (response.body !== null && response.body.byteLength > RING_BODY_MAX) return false;
  if (response.chunks === null) return true;
  for (const c of response.chunks) if (c instanceof Uint8Array) return false;
  return true;
}

/** Upper bound of the bytes {@link encodeResponse} writes for `response` with `extra`. */
export function responseBound(response: WireResponse, extra: string): number {
  return RESPONSE_FIXED + response.head.length * 3 + (response.body?.byteLength ?? 0) + extra.length * 3;
}

/** The `extra` JSON of a response ('' when it has neither file chunks nor a cache policy). */
export function responseExtra(response: WireResponse): string {
  return response.chunks === null && response.cache === null ? '' : JSON.stringify({ chunks: response.chunks, cache: response.cache });
}

/** Writes one response at `at` in `out`; returns where the next one goes (worker). */
export function encodeResponse(out: Buffer, at: number, response: WireResponse, extra: string): number {
  const head = typeof response.head === 'string' ? out.write(response.head, at + RESPONSE_FIXED, 'utf8') : copyInto(out, response.head, at + RESPONSE_FIXED);
  let end = at + RESPONSE_FIXED + head;
  const body = response.body === null ? 0 : copyInto(out, response.body, end);
  end += body;
  const extraBytes = extra === '' ? 0 : out.write(extra, end, 'utf8');
  end += extraBytes;
  const v = viewOf(out);
  v.setFloat64(at, response.id, true);
  v.setFloat64(at + 8, response.contentLength, true);
  v.setUint16(at + 16, response.status, true);
  v.setUint16(at + 18, response.subStatus, true);
  v.setUint32(at + 20, (response.disconnect ? FLAG_DISCONNECT : 0) | (response.body !== null ? FLAG_BODY : 0) | (extraBytes > 0 ? FLAG_EXTRA : 0), true);
  v.setUint32(at + 24, head, true);
  v.setUint32(at + 28, body, true);
  v.setUint32(at + 32, extraBytes, true);
  return end;
}

function copyInto(out: Buffer, bytes: Uint8Array, at: number): number {
  out.set(bytes, at);
  return bytes.byteLength;
}

/**
 * Reads the responses of one ring record (listener). Head and body are views into the ring
 * unless the response streams file chunks (its head is used after the record is released,
 * so it is copied).
 */
export function decodeResponses(data: Buffer, at: number, length: number, each: (response: WireResponse) => void): void {
  const end = at + length;
  const v = viewOf(data);
  while (at < end) {
    const flags = v.getUint32(at + 20, true);
    const headBytes = v.getUint32(at + 24, true);
    const bodyBytes = v.getUint32(at + 28, true);
    const extraBytes = v.getUint32(at + 32, true);
    const headAt = at + RESPONSE_FIXED;
    const bodyAt = headAt + headBytes;
    const extraAt = bodyAt + bodyBytes;
    let chunks: WireChunk[] | null = null;
    let cache: WireCachePolicy | null = null;
    if ((flags & FLAG_EXTRA) !== 0) {
      const extra = JSON.parse(data.toString('utf8', extraAt, extraAt + extraBytes)) as { chunks: WireFileChunk[] | null; cache: WireCachePolicy | null };
      chunks = extra.chunks;
      cache = extra.cache;
    }
    each({
      id: v.getFloat64(at, true),
      status: v.getUint16(at + 16, true),
      subStatus: v.getUint16(at + 18, true),
      head: chunks === null ? data.subarray(headAt, bodyAt) : data.toString('utf8', headAt, bodyAt),
      body: (flags & FLAG_BODY) !== 0 ? data.subarray(bodyAt, extraAt) : null,
      chunks,
      contentLength: v.getFloat64(at + 8, true),
      disconnect: (flags & FLAG_DISCONNECT) !== 0,
      cache,
    });
    at = extraAt + extraBytes;
  }
}

/** A response that completed after its batch returned (a module went asynchronous). */
export interface LateResponseMessage {
  readonly w3core: 'response';
  readonly response: WireResponse;
}

/**
 * The worker finished the synchronous part of a batch whose task stays open for requests
 * waiting on I/O: the listener may send it the next batch.
 */
export interface BatchReleasedMessage {
  readonly w3core: 'released';
  readonly batch: number;
}

/** A module asked to flush the kernel-style cache (`IHttpServer::FlushKernelCache`). */
export interface CacheFlushMessage {
  readonly w3core: 'cache-flush';
  readonly siteId: number;
  /** URL prefix to drop ('/' = the whole site). */
  readonly url: string;
}

/** What a worker knows of a request it is running (RequestMonitorModule's view). */
export interface ExecutingInWorker {
  readonly id: number;
  /** The notification being delivered (`pipeLineState`), e.g. `BeginRequest`. */
  readonly stage: string;
  /** The module running, or '' between modules. */
  readonly module: string;
  readonly timeInWorkerMs: number;
}

/** A worker's answer to an `executing` control message. */
export interface ExecutingMessage {
  readonly w3core: 'executing';
  readonly replyId: string;
  readonly workerId: number;
  readonly items: readonly ExecutingInWorker[];
}

export type WorkerMessage = LateResponseMessage | BatchReleasedMessage | CacheFlushMessage | ExecutingMessage | ChannelMessage;

/** Messages on a generation's BroadcastChannel (heard by workers whose event loop runs). */
export type ControlMessage =
  | { readonly type: 'stop'; readonly configurationChange?: string }
  | { readonly type: 'executing'; readonly replyId: string };

/** `HealthCheck` for a worker, and a heartbeat (a task, so an idle worker wakes for it). */
export interface PingTask {
  readonly control: 'ping';
}

/**
 * Health slots shared by a generation's workers and the pool (one Int32Array): index 0 hands
 * out slots; each worker writes its thread id, a heartbeat that moves while its event loop
 * runs, how many tasks it holds open, and its V8 heap in KB.
 */
export const HEALTH = {
  BASE: 1,
  SLOTS: 256,
  SLOT: 5,
  THREAD: 0,
  BEAT: 1,
  OPEN_TASKS: 2,
  HEAP_USED_KB: 3,
  HEAP_TOTAL_KB: 4,
} as const;

/**
 * Stopping a pool reaches every worker two ways, because piscina cannot address one worker:
 * a message on the generation's BroadcastChannel (heard at once by every worker, also one
 * busy with requests whose tasks stay open) and one stop task per worker (piscina gives tasks
 * to the least busy worker, so a worker may get none of them). Each worker runs StopListening and
 * ApplicationStop once and counts itself in `PoolWorkerData.stopped`; a stop task is held until
 * every worker has counted itself, or `timeoutMs` passed.
 */
export interface StopTask {
  readonly control: 'stop';
  readonly workers: number;
  readonly timeoutMs: number;
  /** Stopped for a recycle caused by this changed configuration path: ConfigurationChange fires first. */
  readonly configurationChange?: string;
}

/** `CACHE_OPERATION` values (iis-reference.md §1.9). */
export const CACHE_OPERATION = { RETRIEVE: 0, ADD: 1, DELETE: 2, FLUSH_PREFIX: 3, ENUM: 4 } as const;

/** Something that happened to the listener's response cache, for the global notifications. */
export type CacheEvent =
  | { readonly kind: 'operation'; readonly operation: number; readonly siteId: number; readonly url: string }
  | { readonly kind: 'cleanup' };

/**
 * Cache events for one worker: its global modules hear `CacheOperation` / `CacheCleanup`.
 * A task, so it is ordered with the batches and answered (piscina resolves it when done).
 */
export interface CacheEventsTask {
  readonly control: 'cache';
  readonly events: readonly CacheEvent[];
}

/** What every worker of a pool is started with. */
export interface PoolWorkerData {
  readonly configFile: string;
  readonly configText: string;
  readonly poolName: string;
  readonly classic: boolean;
  readonly revalidateMs: number;
  /** BroadcastChannel name for the stop message. */
  readonly channel: string;
  /** One Int32 on a SharedArrayBuffer: workers that have run their stop handlers. */
  readonly stopped: Int32Array;
  /** Health slots ({@link HEALTH}). */
  readonly health: Int32Array;
}

/**
 * Raw HTTP/1.x over `node:net` for conformance tests: send bytes exactly as given (malformed
 * ones included), then record what came back and how the connection ended. Client libraries
 * normalise or refuse malformed requests, so the corpora replay (`test/listener/corpora.test.ts`)
 * talks to the server through this instead.
 *
 * @example
 * const x = await rawExchange({ port, request: Buffer.from('GET / HTTP/1.0\r\n\r\n', 'latin1') });
 * x.responses.map((r) => r.status); // [200]
 * x.end;                            // 'closed' (HTTP/1.0 without keep-alive)
 */
import { connect } from 'node:net';

/** One response read off the wire. */
export interface RawResponse {
  /** Status code of the status line; null for bytes that are not an HTTP/1.x response (HTTP/0.9-style body). */
  readonly status: number | null;
  /** `HTTP/1.1` etc. ('' when there was no status line). */
  readonly version: string;
  readonly reason: string;
  /** Header fields in order, names as sent. */
  readonly headers: readonly (readonly [string, string])[];
  /** The entity as framed by Content-Length, chunked coding, or the end of the connection. */
  readonly body: Buffer;
  /** False when the connection ended before the framing said the response was over. */
  readonly complete: boolean;
}

/** Value of a response header (case-insensitive name; repeated fields comma-joined). */
export function headerOf(response: RawResponse, name: string): string | undefined {
  const lower = name.toLowerCase();
  const values = response.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  return values.length ? values.join(', ') : undefined;
}

/**
 * How the connection ended:
 * - `closed`: the server closed it (FIN or reset) while we were still sending or reading,
 * - `closed-after-half-close`: it stayed open until we half-closed, then the server closed it,
 * - `open`: still open when we stopped waiting (we then destroy it).
 */
export type ConnectionEnd = 'closed' | 'closed-after-half-close' | 'open';

export interface RawExchange {
  /** Everything the server sent. */
  readonly raw: Buffer;
  /** The responses parsed from `raw`, in order (a last incomplete one included). */
  readonly responses: readonly RawResponse[];
  readonly end: ConnectionEnd;
  /**
   * How many of `responses` had (at least) begun before we half-closed: all of them when we
   * did not half-close.
   */
  readonly responsesBeforeHalfClose: number;
  /** The server reset the connection (ECONNRESET / EPIPE) rather than closing it cleanly. */
  readonly reset: boolean;
}

export interface RawExchangeOptions {
  readonly port: number;
  readonly host?: string;
  /** Bytes to send; several segments are written one after another with `segmentGapMs` between them. */
  readonly request: Buffer | readonly Buffer[];
  readonly segmentGapMs?: number;
  /**
   * Request methods in order, to frame the responses (a response to HEAD has no body). The
   * missing ones count as GET.
   */
  readonly methods?: readonly string[];
  /**
   * Stop waiting for answers this long after the last byte arrived (or after sending, when
   * nothing arrived) once `expectResponses` complete responses are in.
   */
  readonly settleMs?: number;
  /** The same bound while fewer than `expectResponses` complete responses are in. */
  readonly answerMs?: number;
  /** How many complete responses end the wait early (after `settleMs` of silence). Default 1. */
  readonly expectResponses?: number;
  /**
   * After the answer phase, half-close (shutdown our write side) and wait this long for the
   * server to close. 0 = do not half-close.
   */
  readonly halfCloseMs?: number;
}

/**
 * Opens a connection, sends `request`, reads until the server closes or goes quiet, optionally
 * half-closes and waits for the close, and returns what came back. Never rejects: connection
 * errors show up as `reset`.
 */
export function rawExchange(options: RawExchangeOptions): Promise<RawExchange> {
  const segments = Buffer.isBuffer(options.request) ? [options.request] : options.request;
  const settleMs = options.settleMs ?? 100;
  const answerMs = options.answerMs ?? 1000;
  const halfCloseMs = options.halfCloseMs ?? 0;
  const expectResponses = options.expectResponses ?? 1;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = false;
    let reset = false;
    let halfClosed = false;
    let beforeHalfClose = -1;
    let lastActivity = Date.now();
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const socket = connect(options.port, options.host ?? '127.0.0.1');
    socket.setNoDelay(true);

    const finish = (end: ConnectionEnd) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks);
      const responses = parseResponses(raw, options.methods ?? [], closed);
      resolve({ raw, responses, end, responsesBeforeHalfClose: beforeHalfClose < 0 ? responses.length : beforeHalfClose, reset });
    };

    const check = () => {
      clearTimeout(timer);
      if (done) return;
      if (closed) {
        finish(halfClosed ? 'closed-after-half-close' : 'closed');
        return;
      }
      if (halfClosed) return; // waiting for the close, bounded by the half-close timer
      const complete = parseResponses(Buffer.concat(chunks), options.methods ?? [], false).filter((r) => r.complete).length;
      const bound = complete >= expectResponses ? settleMs : answerMs;
      const wait = lastActivity + bound - Date.now();
      if (wait > 0) {
        timer = setTimeout(check, wait);
        return;
      }
      if (halfCloseMs <= 0) {
        finish('open');
        return;
      }
      halfClosed = true;
      beforeHalfClose = parseResponses(Buffer.concat(chunks), options.methods ?? [], false).length;
      socket.end();
      timer = setTimeout(() => finish('open'), halfCloseMs);
    };

    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      lastActivity = Date.now();
      check();
    });
    socket.on('error', () => {
      reset = true;
    });
    socket.on('close', () => {
      closed = true;
      check();
    });
    socket.on('connect', async () => {
      for (let i = 0; i < segments.length; i++) {
        if (i > 0 && options.segmentGapMs) await new Promise((r) => setTimeout(r, options.segmentGapMs));
        if (closed || done) break;
        socket.write(segments[i]!);
      }
      lastActivity = Date.now();
      check();
    });
  });
}

const CRLF_CRLF = Buffer.from('\r\n\r\n');

/**
 * Splits what a server sent into responses. `eof` says the connection is over, so a response
 * without framing extends to the end and an unfinished one is reported incomplete. Bytes that
 * do not start with `HTTP/` become one response with status null (an HTTP/0.9 answer, or junk).
 */
export function parseResponses(raw: Buffer, methods: readonly string[], eof: boolean): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < raw.byteLength) {
    // Not `HTTP/` (nor the start of it, still arriving): not a status line.
    if (!'HTTP/'.startsWith(raw.subarray(at, at + 5).toString('latin1'))) {
      out.push({ status: null, version: '', reason: '', headers: [], body: raw.subarray(at), complete: eof });
      break;
    }
    const headEnd = raw.indexOf(CRLF_CRLF, at);
    if (headEnd < 0) {
      // Not even the header block is in yet.
      const line = raw.subarray(at).toString('latin1').split('\r\n')[0]!;
      const m = /^(HTTP\/\d+\.\d+) (\d{3})(?: (.*))?$/.exec(line);
      if (m) out.push({ status: Number(m[2]), version: m[1]!, reason: m[3] ?? '', headers: [], body: Buffer.alloc(0), complete: false });
      else if (eof) out.push({ status: null, version: '', reason: '', headers: [], body: raw.subarray(at), complete: false });
      break;
    }
    const [statusLine, ...lines] = raw.subarray(at, headEnd).toString('latin1').split('\r\n');
    const m = /^(HTTP\/\d+\.\d+) (\d{3})(?: (.*))?$/.exec(statusLine!);
    if (!m) {
      out.push({ status: null, version: '', reason: '', headers: [], body: raw.subarray(at), complete: eof });
      break;
    }
    const status = Number(m[2]);
    const headers = lines.map((l) => {
      const colon = l.indexOf(':');
      return [colon < 0 ? l : l.slice(0, colon), colon < 0 ? '' : l.slice(colon + 1).trim()] as const;
    });
    const response = { status, version: m[1]!, reason: m[3] ?? '', headers };
    const bodyStart = headEnd + 4;
    const method = (methods[out.filter((r) => r.status === null || r.status >= 200).length] ?? 'GET').toUpperCase();
    const header = (name: string) => headers.find(([n]) => n.toLowerCase() === name)?.[1];
    if ((status >= 100 && status < 200) || status === 204 || status === 304 || method === 'HEAD') {
      out.push({ ...response, body: Buffer.alloc(0), complete: true });
      at = bodyStart;
      continue;
    }
    if (/\bchunked\b/i.test(header('transfer-encoding') ?? '')) {
      const decoded = decodeChunked(raw, bodyStart);
      out.push({ ...response, body: decoded.body, complete: decoded.end !== undefined });
      if (decoded.end === undefined) break;
      at = decoded.end;
      continue;
    }
    const length = header('content-length');
    if (length !== undefined && /^\d+$/.test(length)) {
      const end = bodyStart + Number(length);
      out.push({ ...response, body: raw.subarray(bodyStart, Math.min(end, raw.byteLength)), complete: end <= raw.byteLength });
      if (end > raw.byteLength) break;
      at = end;
      continue;
    }
    // No framing: the body runs to the end of the connection.
    out.push({ ...response, body: raw.subarray(bodyStart), complete: eof });
    break;
  }
  return out;
}

function decodeChunked(raw: Buffer, start: number): { body: Buffer; end: number | undefined } {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return { body: Buffer.concat(parts), end: undefined };
    const size = parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return { body: Buffer.concat(parts), end: undefined };
    at = lineEnd + 2;
    if (size === 0) {
      // An empty trailer section, or trailer fields up to the empty line.
      if (raw.subarray(at, at + 2).toString('latin1') === '\r\n') return { body: Buffer.concat(parts), end: at + 2 };
      const trailerEnd = raw.indexOf(CRLF_CRLF, at);
      return { body: Buffer.concat(parts), end: trailerEnd < 0 ? undefined : trailerEnd + 4 };
    }
    if (at + size + 2 > raw.byteLength) {
      parts.push(raw.subarray(at, Math.min(at + size, raw.byteLength)));
      return { body: Buffer.concat(parts), end: undefined };
    }
    parts.push(raw.subarray(at, at + size));
    at += size + 2;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

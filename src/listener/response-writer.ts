import { Buffer } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import type { HttpResponse } from 'uWebSockets.js';
import type { WireChunk, WireResponse } from '../activation/wire.js';

/** Per-response state the listener keeps next to the uWS response. */
export interface ResponseState {
  aborted: boolean;
  readonly method: string;
  /** Called by the listener's onAborted: wakes a stream waiting for the socket to drain. */
  onAbort: (() => void) | undefined;
}

const STREAM_PIECE = 256 * 1024;

/** Ends a HEAD response with the Content-Length a GET would get (see writeResponse). */
export function endHead(res: HttpResponse, contentLength: number | undefined, close: boolean): void {
  if (contentLength !== undefined) res.writeHeader('Content-Length', String(contentLength));
  if (close) res.writeHeader('Connection', 'close');
  res.endWithoutBody();
}

/**
 * Writes a pipeline response: status, headers and an in-memory body in one cork. Entities with
 * file chunks are streamed piece by piece, each piece sent only when the socket took the last
 * one (`tryEnd` + `onWritable`), so a 1 GB file costs one piece of memory, never the file.
 */
export function writeResponse(res: HttpResponse, state: ResponseState, response: WireResponse): void {
  if (state.aborted) return;
  const head = state.method === 'HEAD' || response.status === 304 || response.status === 204;
  if (!head && response.chunks) {
    if (response.disconnect && response.contentLength <= SMALL_ENTITY) {
      // uWS can close after `end()` but not after a streamed `tryEnd()`: a small entity to be
      // followed by a disconnect is read here and sent in one piece.
      void readSmall(response.chunks).then((body) => {
        if (!state.aborted) res.cork(() => { writeHead(res, response); res.end(body, true); });
      }, (err: unknown) => failStream(res, state, err));
      return;
    }
    res.cork(() => {
      writeHead(res, response);
      // A large streamed entity cannot be followed by a server-side close (uWS has no close
      // flag on tryEnd); the header tells the client to close.
      if (response.disconnect) res.writeHeader('Connection', 'close');
    });
    void streamChunks(res, state, response.chunks, response.contentLength);
    return;
  }
  corked = res;
  corkedResponse = response;
  corkedHead = head;
  try {
    res.cork(writeCorked);
  } finally {
    corked = undefined;
    corkedResponse = undefined;
  }
}

/*
 * What the common case writes inside one cork: one function for every response rather than a
 * closure each (cork calls it before returning, so the three slots are never shared).
 */
let corked: HttpResponse | undefined;
let corkedResponse: WireResponse | undefined;
let corkedHead = false;

function writeCorked(): void {
  const res = corked!;
  const response = corkedResponse!;
  writeHead(res, response);
  if (corkedHead) {
    // uWS's endWithoutBody(n) leaves the connection expecting n body bytes, and an explicit
    // `undefined` writes a length of 2^63: write the header ourselves and end without one.
    endHead(res, response.status === 304 || response.status === 204 ? undefined : response.contentLength, response.disconnect);
  } else {
    res.end(response.body ?? undefined, response.disconnect);
  }
}

/** Entities up to this size are read in one go when they must be followed by a close. */
const SMALL_ENTITY = 4 * 1024 * 1024;

async function readSmall(chunks: WireChunk[]): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for (const chunk of chunks) {
    if (chunk instanceof Uint8Array) {
      parts.push(chunk);
      continue;
    }
    const handle = await open(chunk.path, 'r');
    try {
      const buf = Buffer.allocUnsafe(chunk.length);
      const { bytesRead } = await handle.read(buf, 0, chunk.length, chunk.offset);
      if (bytesRead !== chunk.length) throw new Error(`${chunk.path} ended early`);
      parts.push(buf);
    } finally {
      await handle.close();
    }
  }
  return Buffer.concat(parts);
}

function failStream(res: HttpResponse, state: ResponseState, err: unknown): void {
  // Headers may be gone already: the only honest signal left is to drop the connection.
  console.error('w3core: sending a response failed:', (err as Error).message);
  if (!state.aborted) {
    state.aborted = true;
    try {
      res.close();
    } catch {
      // the response had completed; nothing left to signal
    }
  }
}

/**
 * Status line and headers in one native call: `writeStatus` writes its argument verbatim after
 * `HTTP/1.1 `, so the worker's pre-joined head goes out whole. One `writeHeader` per header
 * cost a JS→C++ crossing each and was the listener's largest self time in profiles.
 */
function writeHead(res: HttpResponse, response: WireResponse): void {
  res.writeStatus(response.head);
}

async function streamChunks(
  res: HttpResponse, state: ResponseState, chunks: WireChunk[], total: number,
): Promise<void> {
  let handle: FileHandle | undefined;
  let handlePath = '';
  try {
    for (const chunk of chunks) {
      if (chunk instanceof Uint8Array) {
        if (!(await send(res, state, chunk, total))) return;
        continue;
      }
      if (handlePath !== chunk.path) {
        await handle?.close();
        handle = await open(chunk.path, 'r');
        handlePath = chunk.path;
      }
      let position = chunk.offset;
      let remaining = chunk.length;
      while (remaining > 0) {
        if (state.aborted) return;
        const piece = Buffer.allocUnsafeSlow(Math.min(STREAM_PIECE, remaining));
        const { bytesRead } = await handle!.read(piece, 0, piece.length, position);
        if (bytesRead === 0) throw new Error(`${chunk.path} ended early (was it truncated while being sent?)`);
        position += bytesRead;
        remaining -= bytesRead;
        if (!(await send(res, state, piece.subarray(0, bytesRead), total))) return;
      }
    }
  } catch (err) {
    failStream(res, state, err);
  } finally {
    await handle?.close();
  }
}

/** Sends one piece; resolves when the socket has taken it all. False when the client left. */
function send(res: HttpResponse, state: ResponseState, piece: Uint8Array, total: number): Promise<boolean> | boolean {
  if (state.aborted) return false;
  const startOffset = res.getWriteOffset();
  let ok = false;
  res.cork(() => {
    [ok] = res.tryEnd(piece, total);
  });
  if (ok) return true;
  return new Promise<boolean>((resolve) => {
    state.onAbort = () => resolve(false);
    res.onWritable((offset) => {
      if (state.aborted) {
        resolve(false);
        return true;
      }
      const rest = piece.subarray(offset - startOffset);
      let sent = false;
      let done = false;
      res.cork(() => {
        [sent, done] = res.tryEnd(rest, total);
      });
      if (sent || done) {
        state.onAbort = undefined;
        resolve(true);
      }
      return sent;
    });
  });
}

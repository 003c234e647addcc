import { open, type FileHandle } from 'node:fs/promises';
import type { HttpResponse } from 'uWebSockets.js';
import type { WireChunk, WireResponse } from '../activation/wire.js';

/** Headers uWS writes itself or that framing owns; a module cannot set them. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'date', 'connection']);

/** Per-response state the listener keeps next to the uWS response. */
export interface ResponseState {
  aborted: boolean;
  readonly method: string;
  /** Called by the listener's onAborted: wakes a stream waiting for the socket to drain. */
  onAbort: (() => void) | undefined;
}

const STREAM_PIECE = 256 * 1024;

/**
 * Writes a pipeline response: status, headers and an in-memory body in one cork. Entities with
 * file chunks are streamed piece by piece, each piece sent only when the socket took the last
 * one (`tryEnd` + `onWritable`), so a 1 GB file costs one piece of memory, never the file.
 */
export function writeResponse(res: HttpResponse, state: ResponseState, response: WireResponse): void {
  if (state.aborted) return;
  const head = state.method === 'HEAD' || response.status === 304 || response.status === 204;
  if (!head && response.chunks) {
    res.cork(() => writeHead(res, response));
    void streamChunks(res, state, response.chunks, response.contentLength, response.disconnect);
    return;
  }
  res.cork(() => {
    writeHead(res, response);
    if (head) {
      // No arguments: uWS then writes no Content-Length (an explicit `undefined` writes 2^63).
      // A 304/204 therefore keeps the connection even when a disconnect was asked for.
      if (response.status === 304 || response.status === 204) res.endWithoutBody();
      else res.endWithoutBody(response.contentLength, response.disconnect);
    } else {
      res.end(response.body ?? undefined, response.disconnect);
    }
  });
}

function writeHead(res: HttpResponse, response: WireResponse): void {
  res.writeStatus(`${response.status} ${response.statusText}`);
  let server = false;
  const h = response.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!;
    const lower = name.toLowerCase();
    if (FRAMING.has(lower)) continue;
    if (lower === 'server') server = true;
    res.writeHeader(name, h[i + 1]!);
  }
  if (!server) res.writeHeader('Server', 'w3core');
}

async function streamChunks(
  res: HttpResponse, state: ResponseState, chunks: WireChunk[], total: number, disconnect: boolean,
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
    if (disconnect && !state.aborted) res.cork(() => res.close());
  } catch (err) {
    // Headers are gone already: the only honest signal left is to drop the connection.
    console.error('w3core: streaming a response failed:', (err as Error).message);
    if (!state.aborted) {
      state.aborted = true;
      res.close();
    }
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

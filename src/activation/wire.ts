/**
 * The message layout between the listener and the application pool workers. Requests of one
 * event-loop turn travel as one batch task: one `piscina.run` for up to 32 requests, because a
 * task of its own per request costs 31–40 µs of CPU on this kind of machine
 * (shared/anchors/perf-anchors.md). Bodies travel as transferred ArrayBuffers when large.
 */

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
  readonly headers: string[];
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
  readonly statusText: string;
  /** Flat `[name, value, …]` in the order set. */
  readonly headers: string[];
  /** The whole entity when it is in memory (null for HEAD and empty bodies). */
  readonly body: Uint8Array | null;
  /** Set instead of `body` when the entity has file chunks. */
  readonly chunks: WireChunk[] | null;
  /** Entity length, also for HEAD (the Content-Length a GET would get). */
  readonly contentLength: number;
  readonly disconnect: boolean;
  readonly kernelCacheDisabled: boolean;
}

export interface BatchTask {
  readonly requests: WireRequest[];
}

export interface BatchResult {
  /** Responses that completed while the batch ran. */
  readonly responses: WireResponse[];
}

/** A response that completed after its batch returned (a module went asynchronous). */
export interface LateResponseMessage {
  readonly w3core: 'response';
  readonly response: WireResponse;
}

/**
 * Sent as one task per worker when the pool stops: each worker runs StopListening and
 * ApplicationStop once, counts itself in `stopped`, and holds its task until every worker has
 * (or `timeoutMs` passed), so piscina hands the other stop tasks to the other workers.
 */
export interface StopTask {
  readonly control: 'stop';
  /** One Int32 on a SharedArrayBuffer: workers stopped so far. */
  readonly stopped: Int32Array;
  readonly workers: number;
  readonly timeoutMs: number;
}

/** What every worker of a pool is started with. */
export interface PoolWorkerData {
  readonly configFile: string;
  readonly configText: string;
  readonly poolName: string;
  readonly classic: boolean;
  readonly revalidateMs: number;
}

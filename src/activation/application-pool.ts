import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { AppPoolConfig } from '../config/application-host.js';
import {
  encodeRequests, type BatchResult, type BatchTask, type CacheEvent, type CacheEventsTask, type PoolWorkerData, type StopTask, type WireRequest,
  type WireResponse, type WorkerMessage,
} from './wire.js';

/** A request waiting for its application pool: what the listener needs back. */
export interface PoolRequest {
  readonly wire: WireRequest;
  /** Called once with the response, unless the pool failed the request (then `fail`). */
  complete(response: WireResponse): void;
  fail(status: 500 | 503, reason: string): void;
  /** Set by the pool when the request leaves for a worker (for the request timeout). */
  sentAt: number;
  /** The client went away: a request still queued is dropped instead of sent. */
  readonly aborted: boolean;
}

/**
 * Most requests per batch task. The anchors measured 32 (shared/anchors/perf-anchors.md); here
 * every task also costs a cross-CPU wake-up of the worker, and 64 did no worse and often better.
 */
export const MAX_BATCH = 64;

/**
 * Batches handed to each worker before the next waits for one to finish: two keep the worker
 * busy (one runs while the next is in transit) and let batches grow under load.
 */
const BATCHES_PER_WORKER = 2;

/** How long a request may stay in a worker (the default site `limits connectionTimeout`). */
export const REQUEST_TIMEOUT_MS = 120_000;

const WORKER_FILE = new URL('../worker/worker-entry.js', import.meta.url);

export type PoolState = 'Started' | 'Stopping' | 'Stopped';

/**
 * An application pool (WAS + w3wp): a piscina pool whose workers run the integrated pipeline.
 *
 * Requests arriving in one event-loop turn are gathered and sent as one task (at most
 * {@link MAX_BATCH}); the batch leaves on `setImmediate`, i.e. right after uWS has delivered
 * everything it read in this turn, or, when every worker is busy with a batch, as soon as one
 * is done. `queueLength` bounds requests waiting or in flight: past
 * it the listener answers 503 at once, as HTTP.sys does when a pool's queue is full.
 */
export class ApplicationPool {
  readonly config: AppPoolConfig;
  #piscina: Piscina | undefined;
  #state: PoolState = 'Started';
  #batch: PoolRequest[] = [];
  #scheduled = false;
  /** Requests handed to a worker, in hand-over order, with the time they left. */
  readonly #inflight = new Map<number, PoolRequest>();
  #sweeper: NodeJS.Timeout | undefined;
  readonly #workerData: PoolWorkerData;
  /** Batches a worker is still working through synchronously (not yet answered or released). */
  readonly #busyBatches = new Set<number>();
  #nextBatch = 1;
  #threads = 1;
  #cacheEvents: CacheEvent[] = [];
  /** A module asked for `FlushKernelCache` (the server points this at its response cache). */
  onCacheFlush: ((siteId: number, url: string) => void) | undefined;
  readonly #flushWhenIdle = () => {
    this.#scheduled = false;
    if (this.#busyBatches.size < this.#threads * BATCHES_PER_WORKER) this.#flush();
  };

  constructor(config: AppPoolConfig, configFile: string, configText: string, revalidateMs: number) {
    this.config = config;
    this.#workerData = {
      configFile,
      configText,
      poolName: config.name,
      classic: config.managedPipelineMode === 'Classic',
      revalidateMs,
      channel: `w3core:${randomUUID()}:${config.name}`,
      stopped: new Int32Array(new SharedArrayBuffer(4)),
    };
    if (config.startMode === 'AlwaysRunning') this.#start();
  }

  get name(): string {
    return this.config.name;
  }

  get state(): PoolState {
    return this.#state;
  }

  /** Requests queued or running in the workers. */
  get queueLength(): number {
    return this.#inflight.size + this.#batch.length;
  }

  get workerCount(): number {
    return this.#piscina?.threads.length ?? 0;
  }

  /** On-demand activation: the first request starts the workers and waits for them. */
  #start(): Piscina {
    if (this.#piscina) return this.#piscina;
    const threads = Math.max(1, this.config.maxProcesses);
    this.#threads = threads;
    const piscina = new Piscina({
      filename: WORKER_FILE.href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      // An idle worker parks in a blocking Atomics.wait: the cheapest wake-up. A batch whose
      // requests wait on I/O keeps its task open (see worker-entry.ts), so the worker's event
      // loop runs while anything is outstanding, and more batches can come in meanwhile.
      atomics: 'sync',
      // Batches whose requests wait on I/O stay open; they must never stop new batches from
      // reaching the worker, so the bound is the pool's own queueLength.
      concurrentTasksPerWorker: this.config.queueLength,
      stricterFIFO: true,
      // Per-task run-time histograms cost a clock read and a record per task; unused here.
      recordTiming: false,
      workerData: this.#workerData,
    });
    piscina.on('message', (msg: WorkerMessage) => {
      if (msg?.w3core === 'response') this.#complete(msg.response);
      else if (msg?.w3core === 'released') this.#release(msg.batch);
      else if (msg?.w3core === 'cache-flush') this.onCacheFlush?.(msg.siteId, msg.url);
    });
    piscina.on('error', (err: unknown) => console.error(`w3core: application pool '${this.name}' worker error:`, err));
    this.#piscina = piscina;
    return piscina;
  }

  /** Queues a request for the pool's workers. */
  dispatch(request: PoolRequest): void {
    if (this.#state !== 'Started') {
      request.fail(503, 'application pool unavailable');
      return;
    }
    if (this.queueLength >= this.config.queueLength) {
      request.fail(503, 'queue full');
      return;
    }
    this.#batch.push(request);
    if (this.#batch.length >= MAX_BATCH) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushWhenIdle);
    }
  }

  /**
   * Tells the pool's global modules about the response cache (`CacheOperation`,
   * `CacheCleanup`). Events of one event-loop turn go together, as one task; a pool that has
   * not started is not started for them.
   */
  notifyCache(event: CacheEvent): void {
    const piscina = this.#piscina;
    if (!piscina || this.#state !== 'Started') return;
    this.#cacheEvents.push(event);
    if (this.#cacheEvents.length > 1) return;
    setImmediate(() => {
      const events = this.#cacheEvents;
      this.#cacheEvents = [];
      if (this.#piscina !== piscina || this.#state !== 'Started') return;
      const task: CacheEventsTask = { control: 'cache', events };
      piscina.run(task).catch((err: unknown) => console.error(`w3core: application pool '${this.name}': cache notification failed:`, err));
    });
  }

  /**
   * A worker finished the synchronous part of a batch. Requests that gathered while every
   * worker was busy leave now, as one batch: under load batches grow instead of piling up as
   * many small tasks (each task costs tens of µs; a request in a batch a few).
   */
  #release(batchId: number): void {
    if (!this.#busyBatches.delete(batchId)) return;
    if (this.#batch.length > 0 && this.#busyBatches.size < this.#threads * BATCHES_PER_WORKER) this.#flush();
  }

  #flush(): void {
    // Clients that left while their request waited in the queue leave it too.
    const batch = this.#batch.filter((r) => !r.aborted);
    this.#batch = [];
    if (batch.length === 0) return;
    const piscina = this.#start();
    const requests: WireRequest[] = [];
    const transferList: ArrayBuffer[] = [];
    const now = Date.now();
    this.#sweeper ??= setInterval(() => this.#expire(), 1000).unref();
    for (const r of batch) {
      this.#inflight.set(r.wire.id, r);
      r.sentAt = now;
      requests.push(r.wire);
      const entity = r.wire.entity;
      if (entity && entity.byteOffset === 0 && entity.byteLength === entity.buffer.byteLength && entity.byteLength >= 65536) {
        transferList.push(entity.buffer as ArrayBuffer);
      }
    }
    const batchId = this.#nextBatch++;
    this.#busyBatches.add(batchId);
    const task: BatchTask = { batch: batchId, ...encodeRequests(requests) };
    piscina.run(task, { transferList }).then(
      (result: BatchResult) => {
        for (const response of result.responses) this.#complete(response);
        this.#release(batchId);
      },
      (err: unknown) => {
        this.#release(batchId);
        // The task failed as a whole (a worker died): its requests that had no response yet
        // get 503 rather than a hung connection.
        for (const r of batch) {
          if (this.#inflight.delete(r.wire.id)) r.fail(503, `worker failure: ${(err as Error).message}`);
        }
      },
    );
  }

  /**
   * A request whose module never finishes must not hold its connection forever (uWS has no
   * timeout for a pending response): past {@link REQUEST_TIMEOUT_MS} it gets 503, as HTTP.sys
   * gives up on a request after `connectionTimeout`. A response that comes later is dropped.
   */
  #expire(): void {
    const deadline = Date.now() - REQUEST_TIMEOUT_MS;
    for (const [id, request] of this.#inflight) {
      if (request.sentAt > deadline) break; // hand-over order: the rest are younger
      this.#inflight.delete(id);
      request.fail(503, 'the request timed out in its application pool');
    }
  }

  #complete(response: WireResponse): void {
    const request = this.#inflight.get(response.id);
    if (!request) return;
    this.#inflight.delete(response.id);
    request.complete(response);
  }

  /**
   * Stops the pool: StopListening and ApplicationStop run in every worker (bounded by
   * `timeoutMs`), then the workers end. Requests still queued get 503.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.#state !== 'Started') return;
    this.#state = 'Stopping';
    for (const r of this.#batch) r.fail(503, 'application pool stopping');
    this.#batch = [];
    const piscina = this.#piscina;
    if (piscina) {
      const workers = piscina.threads.length;
      const channel = new BroadcastChannel(this.#workerData.channel);
      channel.postMessage('stop');
      channel.close();
      const task: StopTask = { control: 'stop', workers, timeoutMs };
      await Promise.allSettled(Array.from({ length: workers }, () => piscina.run(task)));
      await piscina.destroy();
      this.#piscina = undefined;
    }
    for (const r of this.#inflight.values()) r.fail(503, 'application pool stopped');
    this.#inflight.clear();
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#state = 'Stopped';
  }
}

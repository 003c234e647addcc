import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { AppPoolConfig } from '../config/application-host.js';
import { InFlightTable, sequenceOf, slotOf } from './in-flight.js';
import { ByteRing } from './ring.js';
import {
  HEALTH, decodeResponses, encodeRequests, requestsBound, type BatchResult, type ChannelMessage, type BatchTask, type CacheEvent, type CacheEventsTask,
  type ControlMessage, type ExecutingInWorker, type PingTask, type PoolWorkerData, type StopTask, type WireRequest,
  type WireResponse, type WorkerMessage,
} from './wire.js';

const NO_CHANNELS: readonly Channel[] = [];

/** A request waiting for its application pool: what the listener needs back. */
export interface PoolRequest extends WireRequest {
  /** Given by the pool as the request leaves for a worker. */
  id: number;
  /** Called once with the response, unless the pool failed the request (then `fail`). */
  complete(response: WireResponse): void;
  fail(status: 500 | 503, reason: string): void;
  /** Set by the pool when the request leaves for a worker (for the request timeout). */
  sentAt: number;
  /** The client went away: a request still queued is dropped instead of sent. */
  readonly aborted: boolean;
  /** Set by the pool while the request waits in a worker's ring: call it when the client leaves. */
  withdraw: ((id: number) => void) | undefined;
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

/** How often the pool looks at its workers (health, memory, schedules, idleness). */
const MONITOR_MS = 250;

const WORKER_FILE = new URL('../worker/worker-entry.js', import.meta.url);

/** RSCA pool states (iis-reference.md §2.5). */
export type PoolState = 'Starting' | 'Started' | 'Stopping' | 'Stopped';

/** Why a pool recycled (`recycling logEventOnRecycle` flag names). */
export type RecycleReason =
  | 'Time' | 'Requests' | 'Schedule' | 'Memory' | 'PrivateMemory' | 'OnDemand' | 'ConfigChange' | 'Unhealthy';

/** A worker of the pool (`appcmd list wp`). */
export interface PoolWorkerInfo {
  /** Thread id: the "process id" of this w3wp. */
  readonly id: number;
  readonly state: 'Running' | 'Stopping';
  readonly startedAt: number;
  /** Which start of the pool's workers it belongs to (goes up with every recycle). */
  readonly generation: number;
}

/** Counters of one pool. */
export interface PoolStats {
  readonly state: PoolState;
  /** Requests queued in the listener or running in the workers. */
  readonly queueLength: number;
  readonly requestsServed: number;
  /** Workers started to replace one that crashed or was killed as unhealthy. */
  readonly workerRestarts: number;
  readonly recycles: number;
  readonly crashes: number;
}

/** A request in a worker, as the pool knows it. */
export interface ExecutingPoolRequest {
  readonly request: PoolRequest;
  readonly workerGeneration: number;
  /** What the worker reported: stage and module, when it answered in time. */
  readonly inWorker: ExecutingInWorker | undefined;
  readonly workerId: number | null;
}

/** A worker's rings (wire.ts): requests without an entity go this way once it offered them. */
class Channel {
  readonly threadId: number;
  readonly requests: ByteRing;
  readonly responses: ByteRing;
  /** Requests sent through this channel and not answered yet. */
  held = 0;
  closed = false;
  readonly #withdrawn: Int32Array;

  constructor(message: ChannelMessage) {
    this.threadId = message.threadId;
    this.requests = new ByteRing(message.requests);
    this.responses = new ByteRing(message.responses);
    this.#withdrawn = new Int32Array(message.withdrawn);
  }

  /** The client of request `id` left: if the worker has not taken it yet, it never runs. */
  readonly withdraw = (id: number): void => {
    Atomics.store(this.#withdrawn, slotOf(id), sequenceOf(id));
  };
}

/**
 * One start of the pool's workers (a w3wp generation): a piscina pool with its own stop
 * channel and health slots. A recycle starts a new one and lets this one drain.
 */
class Generation {
  readonly id: number;
  readonly piscina: Piscina;
  readonly data: PoolWorkerData;
  readonly startedAt = Date.now();
  readonly busyBatches = new Set<number>();
  /** The rings of its workers that have offered them. */
  readonly channels: Channel[] = [];
  readonly workerStarted = new Map<number, number>();
  /** Per thread id: the heartbeat last seen and when it last moved. */
  readonly beats = new Map<number, { beat: number; since: number }>();
  inflight = 0;
  served = 0;
  draining = false;
  destroying = false;
  /** The shutdown in progress or done, once {@link ApplicationPool} retires this generation. */
  retired: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  #giveUp: (() => void) | undefined;
  #giveUpAt = Infinity;
  #giveUpTimer: NodeJS.Timeout | undefined;

  /** Resolves when nothing is in flight any more, or after `timeoutMs` (which {@link expedite} may shorten). */
  drainedWithin(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#giveUp = resolve;
      this.expedite(timeoutMs);
      void this.drained().then(() => {
        clearTimeout(this.#giveUpTimer);
        resolve();
      });
    });
  }

  /** Gives the drain at most `timeoutMs` more. */
  expedite(timeoutMs: number): void {
    const at = Date.now() + timeoutMs;
    if (at >= this.#giveUpAt || !this.#giveUp) return;
    this.#giveUpAt = at;
    clearTimeout(this.#giveUpTimer);
    this.#giveUpTimer = setTimeout(this.#giveUp, timeoutMs);
  }

  constructor(id: number, piscina: Piscina, data: PoolWorkerData) {
    this.id = id;
    this.piscina = piscina;
    this.data = data;
  }

  /** Resolves when no request of this generation is in flight any more. */
  drained(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const prior = this.#drained;
      this.#drained = () => {
        prior?.();
        resolve();
      };
    });
  }

  done(): void {
    this.inflight--;
    this.served++;
    if (this.inflight === 0) {
      const d = this.#drained;
      this.#drained = undefined;
      d?.();
    }
  }

  /** Health slot fields of a worker thread, or undefined before it claimed one. */
  slotOf(threadId: number): number | undefined {
    const h = this.data.health;
    for (let s = 0; s < HEALTH.SLOTS; s++) {
      const base = HEALTH.BASE + s * HEALTH.SLOT;
      if (Atomics.load(h, base + HEALTH.THREAD) === threadId) return base;
    }
    return undefined;
  }
}

interface InFlight {
  readonly request: PoolRequest;
  readonly gen: Generation;
  /** Sent through this worker's ring (undefined: as a piscina task). */
  readonly channel: Channel | undefined;
}

/**
 * An application pool (WAS + w3wp): a piscina pool whose workers run the integrated pipeline,
 * started, recycled, health-checked and stopped as IIS does with its worker processes.
 *
 * Requests arriving in one event-loop turn are gathered and sent as one task (at most
 * {@link MAX_BATCH}); the batch leaves on `setImmediate`, i.e. right after uWS has delivered
 * everything it read in this turn, or, when every worker is busy with a batch, as soon as one
 * is done. `queueLength` bounds requests waiting or in flight: past it the listener answers 503
 * at once, as HTTP.sys does when a pool's queue is full.
 *
 * Recycling (periodicRestart time, requests, schedule, memory, privateMemory; on demand; on
 * configuration change) is overlapped unless `disallowOverlappingRotation`: a new generation of
 * workers takes the new requests while the old one finishes its own, up to `shutdownTimeLimit`.
 * A worker that crashes or stops answering pings is replaced and its requests get 503; with
 * `rapidFailProtection`, `rapidFailProtectionMaxCrashes` crashes within the interval stop the
 * pool (503 until {@link start}).
 */
export class ApplicationPool {
  readonly config: AppPoolConfig;
  #state: PoolState = 'Started';
  #batch: PoolRequest[] = [];
  #scheduled = false;
  /** Requests handed to a worker, by the id the table gave them. */
  readonly #inflight = new InFlightTable<InFlight>();
  #current: Generation | undefined;
  readonly #retiring = new Set<Generation>();
  /** A non-overlapped recycle waits for the old workers before starting new ones. */
  #holding = false;
  #monitor: NodeJS.Timeout | undefined;
  readonly #configFile: string;
  readonly #configText: string;
  readonly #revalidateMs: number;
  #nextBatch = 1;
  #nextGeneration = 1;
  #threads = 1;
  #cacheEvents: CacheEvent[] = [];
  #lastActivity = Date.now();
  #lastPing = Date.now();
  #lastScheduleMinute = -1;
  #crashTimes: number[] = [];
  #served = 0;
  #restarts = 0;
  #recycles = 0;
  #crashes = 0;
  #recycling: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  /** A module asked for `FlushKernelCache` (the server points this at its response cache). */
  onCacheFlush: ((siteId: number, url: string) => void) | undefined;
  /** Pool events worth an operator's attention (recycles, crashes, rapid-fail); default: stderr. */
  onEvent: (message: string) => void = (message) => console.error(`w3core: application pool '${this.name}': ${message}`);
  /**
   * Response rings whose worker need not wake the listener until {@link #flushWhenIdle} has
   * run: while a batch gathers, the listener is busy and reads them there itself.
   */
  #deferred: Channel[] = [];
  readonly #flushWhenIdle = () => {
    this.#scheduled = false;
    try {
      this.#flush();
    } finally {
      // After the flush: a worker on this CPU runs the new batch right away and its answers
      // are in the ring by now, read here without a notify, a task and a promise each. Always
      // rearmed: a ring left deferred would never wake the listener again.
      const deferred = this.#deferred;
      if (deferred.length > 0) {
        this.#deferred = [];
        for (const channel of deferred) {
          channel.responses.rearm();
          this.#readResponses(channel);
        }
      }
    }
  };

  constructor(config: AppPoolConfig, configFile: string, configText: string, revalidateMs: number) {
    this.config = config;
    this.#configFile = configFile;
    this.#configText = configText;
    this.#revalidateMs = revalidateMs;
    this.#threads = Math.max(1, config.maxProcesses);
    if (config.startMode === 'AlwaysRunning' && config.autoStart) this.#activate();
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

  /** Live worker threads of the current generation. */
  get workerCount(): number {
    return this.#current?.piscina.threads.length ?? 0;
  }

  get workers(): readonly PoolWorkerInfo[] {
    const out: PoolWorkerInfo[] = [];
    for (const gen of [...this.#retiring, ...(this.#current ? [this.#current] : [])]) {
      for (const w of gen.piscina.threads) {
        out.push({
          id: w.threadId, state: gen.draining ? 'Stopping' : 'Running',
          startedAt: gen.workerStarted.get(w.threadId) ?? gen.startedAt, generation: gen.id,
        });
      }
    }
    return out;
  }

  stats(): PoolStats {
    return {
      state: this.#state, queueLength: this.queueLength, requestsServed: this.#served,
      workerRestarts: this.#restarts, recycles: this.#recycles, crashes: this.#crashes,
    };
  }

  /** Queues a request for the pool's workers. */
  dispatch(request: PoolRequest): void {
    if (this.#state !== 'Started') {
      request.fail(503, this.#state === 'Stopped' ? 'application pool stopped' : 'application pool stopping');
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
      for (const channel of this.#current?.channels ?? NO_CHANNELS) {
        channel.responses.defer();
        this.#deferred.push(channel);
      }
    }
  }

  /** RSCA Start: a stopped pool (stopped by an operator or by rapid-fail protection) serves again. */
  start(): void {
    if (this.#state !== 'Stopped') return;
    this.#state = 'Started';
    this.#crashTimes = [];
    if (this.config.startMode === 'AlwaysRunning') this.#activate();
  }

  /**
   * Recycles the pool's workers (`appcmd recycle apppool`): new workers take new requests
   * (unless `disallowOverlappingRotation`: then after the old ones are gone), the old ones
   * finish what they hold, up to `shutdownTimeLimit`, run StopListening/ApplicationStop and
   * end. A pool without running workers has nothing to recycle.
   */
  recycle(reason: RecycleReason = 'OnDemand', changedPath?: string): Promise<void> {
    if (this.#recycling) return this.#recycling;
    const old = this.#current;
    if (this.#state !== 'Started' || !old) return Promise.resolve();
    this.#recycles++;
    this.onEvent(`recycling its workers (${reason})`);
    const run = async () => {
      if (this.config.recycling.disallowOverlappingRotation) {
        this.#current = undefined;
        this.#holding = true;
        try {
          await this.#retire(old, this.config.shutdownTimeLimitMs, changedPath);
        } finally {
          this.#holding = false;
        }
        if (this.#state === 'Started') this.#activate();
      } else {
        this.#current = undefined;
        this.#activate();
        await this.#retire(old, this.config.shutdownTimeLimitMs, changedPath);
      }
    };
    this.#recycling = run().finally(() => {
      this.#recycling = undefined;
      this.#flush();
    });
    return this.#recycling;
  }

  /**
   * Stops the pool: queued requests get 503, requests in the workers finish (up to
   * `timeoutMs`, by default `shutdownTimeLimit`), StopListening and ApplicationStop run in every
   * worker, then the workers end.
   */
  stop(timeoutMs = this.config.shutdownTimeLimitMs): Promise<void> {
    if (this.#state === 'Stopped') return Promise.resolve();
    if (this.#stopping) {
      // Already stopping (e.g. rapid-fail protection): a shorter limit still applies.
      for (const g of this.#retiring) g.expedite(timeoutMs);
      return this.#stopping;
    }
    this.#stopping = this.#stop(timeoutMs).finally(() => { this.#stopping = undefined; });
    return this.#stopping;
  }

  async #stop(timeoutMs: number): Promise<void> {
    this.#state = 'Stopping';
    for (const r of this.#batch) r.fail(503, 'application pool stopping');
    this.#batch = [];
    const current = this.#current;
    this.#current = undefined;
    const all = [...this.#retiring, ...(current ? [current] : [])];
    await Promise.all(all.map((g) => this.#retire(g, timeoutMs)));
    for (const { request } of this.#inflight.values()) request.fail(503, 'application pool stopped');
    this.#inflight.clear();
    clearInterval(this.#monitor);
    this.#monitor = undefined;
    this.#state = 'Stopped';
  }

  /**
   * Requests in this pool's workers, with the stage and module each worker reports for them
   * (RequestMonitorModule). A worker that does not answer within `timeoutMs` (busy in
   * synchronous code) leaves its requests' stage and module unknown.
   */
  async executing(timeoutMs = 250): Promise<ExecutingPoolRequest[]> {
    const reports = new Map<number, { item: ExecutingInWorker; workerId: number }>();
    const gens = [...this.#retiring, ...(this.#current ? [this.#current] : [])].filter((g) => g.inflight > 0);
    await Promise.all(gens.map((gen) => new Promise<void>((resolve) => {
      const replyId = randomUUID();
      const expected = gen.piscina.threads.length;
      let answered = 0;
      const channel = new BroadcastChannel(gen.data.channel);
      const finish = () => {
        clearTimeout(timer);
        gen.piscina.off('message', onMessage);
        channel.close();
        resolve();
      };
      const onMessage = (msg: WorkerMessage) => {
        if (msg?.w3core !== 'executing' || msg.replyId !== replyId) return;
        for (const item of msg.items) reports.set(item.id, { item, workerId: msg.workerId });
        if (++answered >= expected) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      gen.piscina.on('message', onMessage);
      channel.postMessage({ type: 'executing', replyId } satisfies ControlMessage);
    })));
    const out: ExecutingPoolRequest[] = [];
    for (const [id, { request, gen }] of this.#inflight) {
      const report = reports.get(id);
      out.push({ request, workerGeneration: gen.id, inWorker: report?.item, workerId: report?.workerId ?? null });
    }
    return out;
  }

  /**
   * Tells the pool's global modules about the response cache (`CacheOperation`,
   * `CacheCleanup`). Events of one event-loop turn go together, as one task; a pool that has
   * not started is not started for them.
   */
  notifyCache(event: CacheEvent): void {
    const gen = this.#current;
    if (!gen || this.#state !== 'Started') return;
    this.#cacheEvents.push(event);
    if (this.#cacheEvents.length > 1) return;
    setImmediate(() => {
      const events = this.#cacheEvents;
      this.#cacheEvents = [];
      if (this.#current !== gen || this.#state !== 'Started') return;
      const task: CacheEventsTask = { control: 'cache', events };
      gen.piscina.run(task).catch((err: unknown) => this.onEvent(`cache notification failed: ${(err as Error).message}`));
    });
  }

  /** Starts a generation of workers (on demand, AlwaysRunning, or for a recycle). */
  #activate(): Generation {
    if (this.#current) return this.#current;
    const id = this.#nextGeneration++;
    const data: PoolWorkerData = {
      configFile: this.#configFile,
      configText: this.#configText,
      poolName: this.config.name,
      classic: this.config.managedPipelineMode === 'Classic',
      revalidateMs: this.#revalidateMs,
      channel: `w3core:${randomUUID()}:${this.config.name}:${id}`,
      stopped: new Int32Array(new SharedArrayBuffer(4)),
      health: new Int32Array(new SharedArrayBuffer(4 * (HEALTH.BASE + HEALTH.SLOTS * HEALTH.SLOT))),
    };
    const piscina = new Piscina({
      filename: WORKER_FILE.href,
      minThreads: this.#threads,
      maxThreads: this.#threads,
      idleTimeout: Infinity,
      // An idle worker waits with Atomics.waitAsync: its event loop keeps running, so a
      // module's timers fire and an error thrown from one crashes the worker when it happens
      // (with 'sync', a blocking Atomics.wait, an idle worker ran no timers at all). Measured
      // here, the two cost the same per request.
      atomics: 'async',
      // Batches whose requests wait on I/O stay open; they must never stop new batches from
      // reaching the worker, so the bound is the pool's own queueLength.
      concurrentTasksPerWorker: this.config.queueLength,
      stricterFIFO: true,
      // Per-task run-time histograms cost a clock read and a record per task; unused here.
      recordTiming: false,
      workerData: data,
      ...(this.config.memoryLimitMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: this.config.memoryLimitMb } } : {}),
    });
    const gen = new Generation(id, piscina, data);
    piscina.on('message', (msg: WorkerMessage) => {
      // An exception here would be uncaught on the listener thread: contain it.
      try {
        if (msg?.w3core === 'response') {
          this.#lastActivity = Date.now();
          this.#complete(msg.response);
        } else if (msg?.w3core === 'channel') this.#connect(gen, new Channel(msg));
        else if (msg?.w3core === 'released') this.#release(gen, msg.batch);
        else if (msg?.w3core === 'cache-flush' && typeof msg.url === 'string') this.onCacheFlush?.(msg.siteId, msg.url);
      } catch (err) {
        this.onEvent(`handling a worker message failed: ${(err as Error)?.stack ?? String(err)}`);
      }
    });
    piscina.on('workerCreate', (w: { id: number }) => {
      gen.workerStarted.set(w.id, Date.now());
    });
    piscina.on('workerDestroy', (w: { id: number }) => {
      gen.workerStarted.delete(w.id);
      gen.beats.delete(w.id);
      // piscina emits this while the worker may still be listed: close its channel by id now,
      // and look again once piscina has let go of it (an ended thread's id reads -1).
      this.#disconnectDead(gen, w.id);
      setImmediate(() => this.#disconnectDead(gen));
      // (After its thread ended a worker's id reads -1.)
      if (!gen.destroying) this.#crashed(gen, w.id > 0 ? `worker ${w.id} ended unexpectedly` : 'a worker ended unexpectedly');
    });
    piscina.on('error', (err: unknown) => this.onEvent(`worker error: ${(err as Error)?.message ?? String(err)}`));
    this.#current = gen;
    this.#monitor ??= setInterval(() => this.#watch(), MONITOR_MS).unref();
    return gen;
  }

  /** A worker offered its rings: requests go that way from now on, responses are read as they come. */
  #connect(gen: Generation, channel: Channel): void {
    if (gen.destroying || !gen.piscina.threads.some((w) => w.threadId === channel.threadId)) return;
    gen.channels.push(channel);
    void (async () => {
      while (!channel.closed) {
        this.#readResponses(channel);
        if (this.#batch.length > 0) this.#flush();
        await channel.responses.waitForRecord();
      }
    })();
    if (this.#batch.length > 0) this.#flush();
  }

  readonly #ringResponse = (response: WireResponse): void => this.#complete(response);

  #readResponses(channel: Channel): void {
    const ring = channel.responses;
    let at = ring.next();
    if (at < 0) return;
    // Completions count as activity (idle timeout): one clock read per read of the ring.
    this.#lastActivity = Date.now();
    for (; at >= 0; at = ring.next()) {
      try {
        decodeResponses(ring.data, at, ring.length(at), this.#ringResponse);
      } catch (err) {
        this.onEvent(`answering from a worker's ring failed: ${(err as Error)?.stack ?? String(err)}`);
      } finally {
        ring.release(at);
      }
    }
  }

  /**
   * Closes the channels of workers that are gone: what they answered before they went is
   * still delivered, the rest of their requests get 503 rather than a hung connection.
   */
  #disconnectDead(gen: Generation, dead?: number | 'all'): void {
    const live = new Set(dead === 'all' ? [] : gen.piscina.threads.map((w) => w.threadId));
    for (let i = gen.channels.length - 1; i >= 0; i--) {
      const channel = gen.channels[i]!;
      if (live.has(channel.threadId) && channel.threadId !== dead) continue;
      gen.channels.splice(i, 1);
      this.#readResponses(channel);
      channel.closed = true;
      channel.responses.wake();
      if (channel.held === 0) continue;
      for (const [id, f] of this.#inflight) {
        if (f.channel !== channel) continue;
        this.#inflight.delete(id);
        gen.done();
        f.request.fail(503, 'its worker ended');
      }
      channel.held = 0;
    }
  }

  /** A worker died (or was killed as unhealthy): count it, and stop the pool on rapid failure. */
  #crashed(gen: Generation, what: string): void {
    this.#crashes++;
    const now = Date.now();
    const f = this.config.failure;
    this.#crashTimes = this.#crashTimes.filter((t) => now - t < f.rapidFailProtectionIntervalMs);
    this.#crashTimes.push(now);
    this.onEvent(`${what}; its requests get 503`);
    if (f.rapidFailProtection && this.#crashTimes.length >= f.rapidFailProtectionMaxCrashes && this.#state === 'Started') {
      this.onEvent(`${this.#crashTimes.length} worker failures within ${Math.round(f.rapidFailProtectionIntervalMs / 1000)} s: ` +
        'rapid-fail protection stops the pool (requests get 503 until it is started again)');
      void this.stop(0);
      return;
    }
    // piscina replaces a worker that was ready; one that failed while starting is not, and a
    // generation left without workers is replaced as a whole.
    if (gen === this.#current) {
      this.#restarts++;
      setImmediate(() => {
        if (gen === this.#current && gen.piscina.threads.length === 0 && this.#state === 'Started') {
          this.#current = undefined;
          void this.#retire(gen, 0);
          this.#flush();
        }
      });
    }
  }

  /**
   * A worker finished the synchronous part of a batch. Requests that gathered while every
   * worker was busy leave now, as one batch: under load batches grow instead of piling up as
   * many small tasks (each task costs tens of µs; a request in a batch a few).
   */
  #release(gen: Generation, batchId: number): void {
    if (!gen.busyBatches.delete(batchId)) return;
    if (this.#batch.length > 0) this.#flush();
  }

  #flush(): void {
    if (this.#batch.length === 0 || this.#state !== 'Started' || this.#holding) return;
    const gen = this.#current ?? this.#activate();
    this.#lastActivity = Date.now();
    // One pass: clients that left while their request waited in the queue leave it too;
    // requests without an entity take a worker's ring once one is there.
    const rings = gen.channels.length > 0;
    const ring: PoolRequest[] = [];
    let batch: PoolRequest[] = [];
    for (const r of this.#batch) {
      if (r.aborted) continue;
      (rings && r.entity === null ? ring : batch).push(r);
    }
    this.#batch = [];
    if (ring.length > 0 && !this.#sendByRing(gen, ring)) batch = ring.concat(batch);
    if (batch.length === 0) return;
    if (gen.busyBatches.size >= this.#threads * BATCHES_PER_WORKER) {
      // The rest waits for a task batch to finish (#release flushes again).
      this.#batch = batch;
      return;
    }
    const transferList: ArrayBuffer[] = [];
    const now = Date.now();
    for (const r of batch) {
      r.id = this.#inflight.add({ request: r, gen, channel: undefined });
      r.sentAt = now;
      const entity = r.entity;
      if (entity && entity.byteOffset === 0 && entity.byteLength === entity.buffer.byteLength && entity.byteLength >= 65536) {
        transferList.push(entity.buffer as ArrayBuffer);
      }
    }
    gen.inflight += batch.length;
    const batchId = this.#nextBatch++;
    gen.busyBatches.add(batchId);
    const buffer = Buffer.allocUnsafeSlow(requestsBound(batch));
    // The bound allows two bytes a character; an ASCII batch is written with one.
    const bytes = buffer.subarray(0, encodeRequests(buffer, 0, batch));
    transferList.push(buffer.buffer as ArrayBuffer);
    const task: BatchTask = { batch: batchId, bytes, entities: batch.map((r) => r.entity) };
    gen.piscina.run(task, { transferList }).then(
      (result: BatchResult) => {
        try {
          this.#lastActivity = Date.now();
          for (const response of result.responses) this.#complete(response);
        } catch (err) {
          this.onEvent(`answering a batch failed: ${(err as Error)?.stack ?? String(err)}`);
        }
        this.#release(gen, batchId);
      },
      (err: unknown) => {
        gen.busyBatches.delete(batchId);
        // The task failed as a whole (its worker died or was stopped): its requests that had
        // no response yet get 503 rather than a hung connection.
        for (const r of batch) {
          const f = this.#inflight.get(r.id);
          if (f?.request === r) {
            this.#inflight.delete(r.id);
            gen.done();
            r.fail(503, `worker failure: ${(err as Error).message}`);
          }
        }
        if (this.#batch.length > 0) this.#flush();
      },
    );
  }

  /**
   * Sends requests without an entity through the ring of the least busy worker that offered
   * one; false when that ring has no room (they take a piscina task instead). A worker takes
   * everything waiting in its ring at once, so the ring needs no bound of its own; a client
   * that leaves while its request waits there withdraws it (`withdraw`).
   */
  #sendByRing(gen: Generation, ring: PoolRequest[]): boolean {
    let channel = gen.channels[0]!;
    for (const c of gen.channels) if (c.held < channel.held) channel = c;
    const at = channel.requests.reserve(requestsBound(ring));
    if (at < 0) return false;
    const now = Date.now();
    for (const r of ring) {
      r.id = this.#inflight.add({ request: r, gen, channel });
      r.sentAt = now;
      r.withdraw = channel.withdraw;
    }
    const length = encodeRequests(channel.requests.data, at, ring);
    channel.held += ring.length;
    gen.inflight += ring.length;
    channel.requests.commit(length);
    return true;
  }

  #complete(response: WireResponse): void {
    const f = this.#inflight.delete(response.id);
    if (!f) return;
    if (f.channel !== undefined) f.channel.held--;
    this.#served++;
    f.gen.done();
    f.request.complete(response);
    const limit = this.config.recycling.requests;
    if (limit > 0 && f.gen === this.#current && f.gen.served >= limit) void this.recycle('Requests');
  }

  /**
   * Takes a generation out of service: no new requests; what it holds may finish within
   * `timeoutMs`; then its workers run StopListening/ApplicationStop and end. Requests still in
   * it after that get 503.
   */
  #retire(gen: Generation, timeoutMs: number, changedPath?: string): Promise<void> {
    // One shutdown per generation: a second caller (a stop during a recycle, rapid-fail) only
    // shortens the wait. Two concurrent piscina.destroy() calls would let piscina start new
    // threads that nobody owns.
    if (gen.retired) {
      gen.expedite(timeoutMs);
      return gen.retired;
    }
    gen.retired = this.#shutDown(gen, timeoutMs, changedPath);
    return gen.retired;
  }

  async #shutDown(gen: Generation, timeoutMs: number, changedPath: string | undefined): Promise<void> {
    gen.draining = true;
    this.#retiring.add(gen);
    if (this.#current === gen) this.#current = undefined;
    const deadline = Date.now() + timeoutMs;
    await gen.drainedWithin(timeoutMs);
    gen.destroying = true;
    const workers = gen.piscina.threads.length;
    if (workers > 0) {
      const stopWithin = Math.max(1000, Math.min(5000, deadline - Date.now()));
      const channel = new BroadcastChannel(gen.data.channel);
      channel.postMessage({ type: 'stop', configurationChange: changedPath } satisfies ControlMessage);
      channel.close();
      const task: StopTask = { control: 'stop', workers, timeoutMs: stopWithin, configurationChange: changedPath };
      let stopTimer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(Array.from({ length: workers }, () => gen.piscina.run(task))),
        new Promise<void>((r) => { stopTimer = setTimeout(r, stopWithin + 1000); }),
      ]);
      clearTimeout(stopTimer);
    }
    await gen.piscina.destroy();
    this.#disconnectDead(gen, 'all');
    for (const [id, f] of this.#inflight) {
      if (f.gen !== gen) continue;
      this.#inflight.delete(id);
      f.request.fail(503, 'its worker was shut down');
    }
    this.#retiring.delete(gen);
  }

  /**
   * Every {@link MONITOR_MS}: pings (a worker holding work whose heartbeat has not moved for
   * `pingResponseTime` is terminated and replaced), memory limits, periodic and scheduled
   * recycling, the idle timeout, and requests stuck past {@link REQUEST_TIMEOUT_MS}.
   */
  #watch(): void {
    const now = Date.now();
    this.#expire(now);
    const gen = this.#current;
    if (this.config.pingingEnabled) {
      for (const g of [...this.#retiring, ...(gen ? [gen] : [])]) this.#ping(g, now);
      if (gen && now - this.#lastPing >= this.config.pingIntervalMs) {
        this.#lastPing = now;
        // HealthCheck in the workers; an idle worker wakes for the task.
        const task: PingTask = { control: 'ping' };
        for (let i = 0; i < gen.piscina.threads.length; i++) gen.piscina.run(task).catch(() => { /* its worker died */ });
      }
    }
    if (!gen || this.#state !== 'Started' || this.#recycling) return;
    const r = this.config.recycling;
    if (r.memoryKb > 0 || r.privateMemoryKb > 0) {
      const h = gen.data.health;
      for (const w of gen.piscina.threads) {
        const base = gen.slotOf(w.threadId);
        if (base === undefined) continue;
        if (r.privateMemoryKb > 0 && Atomics.load(h, base + HEALTH.HEAP_USED_KB) > r.privateMemoryKb) {
          void this.recycle('PrivateMemory');
          return;
        }
        if (r.memoryKb > 0 && Atomics.load(h, base + HEALTH.HEAP_TOTAL_KB) > r.memoryKb) {
          void this.recycle('Memory');
          return;
        }
      }
    }
    if (r.timeMs > 0 && now - gen.startedAt >= r.timeMs) {
      void this.recycle('Time');
      return;
    }
    if (r.scheduleMinutes.length > 0) {
      const d = new Date(now);
      const minute = d.getHours() * 60 + d.getMinutes();
      if (minute !== this.#lastScheduleMinute && r.scheduleMinutes.includes(minute)) {
        this.#lastScheduleMinute = minute;
        void this.recycle('Schedule');
        return;
      }
    }
    const idle = this.config.idleTimeoutMs;
    if (idle > 0 && this.#inflight.size === 0 && this.#batch.length === 0 && now - this.#lastActivity >= idle) {
      this.onEvent(`idle for ${Math.round(idle / 1000)} s: its workers stop (the next request starts them)`);
      this.#lastActivity = now;
      void this.#retire(gen, 0).then(() => {
        if (this.#state === 'Started' && this.config.startMode === 'AlwaysRunning' && !this.#current) this.#activate();
      });
    }
  }

  /** Terminates a worker that holds work but whose heartbeat stood still for pingResponseTime. */
  #ping(gen: Generation, now: number): void {
    const h = gen.data.health;
    for (const w of gen.piscina.threads) {
      const base = gen.slotOf(w.threadId);
      if (base === undefined) continue;
      const beat = Atomics.load(h, base + HEALTH.BEAT);
      const busy = Atomics.load(h, base + HEALTH.OPEN_TASKS) > 0;
      const seen = gen.beats.get(w.threadId);
      if (!seen || seen.beat !== beat || !busy) {
        gen.beats.set(w.threadId, { beat, since: now });
        continue;
      }
      if (now - seen.since >= this.config.pingResponseTimeMs) {
        gen.beats.delete(w.threadId);
        this.onEvent(`worker ${w.threadId} did not answer pings for ${now - seen.since} ms: terminating it`);
        void w.terminate();
      }
    }
  }

  /**
   * A request whose module never finishes must not hold its connection forever (uWS has no
   * timeout for a pending response): past {@link REQUEST_TIMEOUT_MS} it gets 503, as HTTP.sys
   * gives up on a request after `connectionTimeout`. A response that comes later is dropped.
   */
  #expire(now: number): void {
    const deadline = now - REQUEST_TIMEOUT_MS;
    if (this.#inflight.size === 0) return;
    for (const [id, f] of this.#inflight) {
      if (f.request.sentAt > deadline) break; // hand-over order: the rest are younger
      this.#inflight.delete(id);
      if (f.channel !== undefined) f.channel.held--;
      f.gen.done();
      f.request.fail(503, 'the request timed out in its application pool');
    }
  }
}

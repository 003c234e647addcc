/**
 * Performance counters in the Prometheus text format (the admin endpoint's `/metrics`), built
 * on prom-client with one {@link Registry} per server: several servers may run in one process
 * (tests do), and the process-wide default registry would mix their numbers.
 *
 * Two kinds of numbers:
 * - per request (requests, bytes, duration per site): fed by `server.onRequestCompleted` on the
 *   listener thread, the server's hottest code. A prom-client `observe`/`inc` with labels costs
 *   0.5–1 µs (label hashing, validation, bucket search over objects); a listener request costs
 *   ~10 µs of CPU in all. So a request only adds to plain numbers of its site (~30 ns measured,
 *   against ~1.5 µs for the same counters and histogram through prom-client), and the
 *   prom-client metrics take those numbers over when scraped (collect callbacks);
 * - state (pools, workers, queues, cache, connections): read at scrape time from the pools and
 *   the cache.
 *
 * Metric names and labels are documented in native-notes.md ("Admin endpoint, appcmd, counters") and in {@link METRIC_NAMES}.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { PoolState } from '../activation/application-pool.js';
import type { CompletedRequest } from '../listener/listener.js';
import type { AdministeredPool, AdministeredServer, SiteState } from './administered.js';

/**
 * Upper bounds (seconds) of the request duration histogram: from a kernel-cache hit (well under
 * a millisecond) to the 120 s a request may stay in a pool (`connectionTimeout`).
 */
export const REQUEST_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
]);

/** The metrics a {@link ServerMetrics} registry exposes. */
export const METRIC_NAMES = Object.freeze({
  /** counter {site, status_class}: answered requests, by status class `1xx`…`5xx`. */
  REQUESTS: 'w3core_requests_total',
  /** counter {site}: bytes written to clients (status line, headers, entity). */
  SENT_BYTES: 'w3core_sent_bytes_total',
  /** counter {site}: bytes received from clients (request line, headers, entity). */
  RECEIVED_BYTES: 'w3core_received_bytes_total',
  /** histogram {site}: time from the request's arrival to its answer, in seconds. */
  REQUEST_DURATION: 'w3core_request_duration_seconds',
  /** gauge: client connections open now (only when the server counts them). */
  CURRENT_CONNECTIONS: 'w3core_current_connections',
  /** gauge: requests queued for a pool or running in a worker, all pools together. */
  REQUESTS_IN_FLIGHT: 'w3core_requests_in_flight',
  /** gauge {site, state}: 1 for the site's current state, 0 for the other. */
  SITE_STATE: 'w3core_site_state',
  /** gauge {app_pool, state}: 1 for the pool's current RSCA state, 0 for the others. */
  APP_POOL_STATE: 'w3core_app_pool_state',
  /** gauge {app_pool}: requests queued for the pool or running in its workers. */
  APP_POOL_QUEUE_LENGTH: 'w3core_app_pool_queue_length',
  /** gauge {app_pool}: worker threads ("w3wp") alive, including ones draining after a recycle. */
  APP_POOL_WORKERS: 'w3core_app_pool_workers',
  /** counter {app_pool}: requests the pool's workers answered. */
  APP_POOL_REQUESTS: 'w3core_app_pool_requests_total',
  /** counter {app_pool}: workers started to replace one that crashed or was unhealthy. */
  APP_POOL_WORKER_RESTARTS: 'w3core_app_pool_worker_restarts_total',
  /** counter {app_pool}: recycles (any reason). */
  APP_POOL_RECYCLES: 'w3core_app_pool_recycles_total',
  /** counter {app_pool}: worker crashes. */
  APP_POOL_WORKER_CRASHES: 'w3core_app_pool_worker_crashes_total',
  /** counter: requests answered from the kernel-style response cache. */
  CACHE_HITS: 'w3core_cache_hits_total',
  /** counter: cache-eligible requests that went to a worker. */
  CACHE_MISSES: 'w3core_cache_misses_total',
  /** gauge: entries in the response cache. */
  CACHE_ENTRIES: 'w3core_cache_entries',
  /** gauge: bytes held by the response cache (entities and heads). */
  CACHE_BYTES: 'w3core_cache_bytes',
  /** counter: entries dropped to stay within `maxCacheSize`. */
  CACHE_EVICTIONS: 'w3core_cache_evictions_total',
  /** counter: entries dropped by file changes, configuration changes and flushes. */
  CACHE_INVALIDATIONS: 'w3core_cache_invalidations_total',
});

/** Label value of requests that matched no site (no binding for their Host header). */
export const NO_SITE_LABEL = '(none)';

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const POOL_STATES: readonly PoolState[] = ['Starting', 'Started', 'Stopping', 'Stopped'];
const SITE_STATES: readonly SiteState[] = ['Started', 'Stopped'];

/** Plain running totals of one site, added to on every answered request. */
class SiteTally {
  readonly site: string;
  /** Index 0–4: 1xx–5xx; 5: any other status. */
  readonly byClass = new Float64Array(6);
  sent = 0;
  received = 0;
  /** Non-cumulative: [i] counts durations ≤ bucket i and > bucket i-1; the last slot is +Inf. */
  readonly buckets = new Float64Array(REQUEST_DURATION_BUCKETS.length + 1);
  durationSum = 0;
  count = 0;

  constructor(site: string) {
    this.site = site;
  }
}

/** One value line of a prom-client metric, as its `get()` returns it. */
interface ValueLine {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName?: string;
}

/**
 * The request duration histogram, kept in {@link SiteTally} numbers and given to the registry as
 * prom-client's own metrics give theirs: an object with `name`, `help`, `type` and `get()`
 * (prom-client's `AggregatorRegistry` registers the same kind of object). The registry writes
 * the text; this only avoids a per-request `Histogram.observe`.
 */
class TalliedHistogram {
  readonly name: string = METRIC_NAMES.REQUEST_DURATION;
  readonly help = 'Time from the arrival of a request to its answer, in seconds, per site.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #tallies: () => Iterable<SiteTally>;

  constructor(tallies: () => Iterable<SiteTally>) {
    this.#tallies = tallies;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: ValueLine[] } {
    const values: ValueLine[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const t of this.#tallies()) {
      let cumulative = 0;
      for (let i = 0; i < REQUEST_DURATION_BUCKETS.length; i++) {
        cumulative += t.buckets[i]!;
        values.push({ metricName: bucketName, labels: { le: REQUEST_DURATION_BUCKETS[i]!, site: t.site }, value: cumulative });
      }
      values.push({ metricName: bucketName, labels: { le: '+Inf', site: t.site }, value: t.count });
      values.push({ metricName: `${this.name}_sum`, labels: { site: t.site }, value: t.durationSum });
      values.push({ metricName: `${this.name}_count`, labels: { site: t.site }, value: t.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** `Registry.resetMetrics()` calls this; the totals belong to the server, so nothing resets. */
  reset(): void {}
}

/**
 * The counters of one server, in a prom-client {@link Registry} of its own.
 *
 * @example
 * ```ts
 * const metrics = new ServerMetrics(server);
 * server.onRequestCompleted = metrics.record;
 * const text = await metrics.metrics(); // Prometheus text format 0.0.4
 * ```
 */
export class ServerMetrics {
  /** The registry (embedders may register their own metrics in it). */
  readonly registry: Registry;
  readonly #server: AdministeredServer;
  /** By site id (0: no site). */
  readonly #tallies = new Map<number, SiteTally>();

  constructor(server: AdministeredServer) {
    this.#server = server;
    this.registry = new Registry();
    // Every configured site shows from the first scrape, with zeros: rate() needs a first sample.
    for (const site of server.config.sites) this.#tallies.set(site.id, new SiteTally(site.name));
    this.#defineRequestMetrics();
    this.#defineStateMetrics();
    if (server.cache) this.#defineCacheMetrics(server.cache);
  }

  /**
   * Adds one answered request (bound: pass it as `onRequestCompleted`). Runs on the listener
   * thread for every request: plain arithmetic only.
   */
  readonly record = (r: CompletedRequest): void => {
    let t = this.#tallies.get(r.siteId);
    if (t === undefined) {
      t = new SiteTally(r.siteId === 0 || r.siteName === '' ? NO_SITE_LABEL : r.siteName);
      this.#tallies.set(r.siteId, t);
    }
    const cls = (r.status / 100) | 0;
    t.byClass[cls >= 1 && cls <= 5 ? cls - 1 : 5]!++;
    t.sent += r.bytesSent;
    t.received += r.bytesReceived;
    const seconds = r.durationMs / 1000;
    let i = 0;
    while (i < REQUEST_DURATION_BUCKETS.length && seconds > REQUEST_DURATION_BUCKETS[i]!) i++;
    t.buckets[i]!++;
    t.durationSum += seconds;
    t.count++;
  };

  /** Content-Type of {@link metrics}' text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Everything, in the Prometheus text exposition format (version 0.0.4). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  #defineRequestMetrics(): void {
    const tallies = () => this.#tallies.values();
    const registers = [this.registry];
    new Counter({
      name: METRIC_NAMES.REQUESTS,
      help: 'Answered requests per site, by status class (1xx-5xx).',
      labelNames: ['site', 'status_class'] as const,
      registers,
      collect() {
        this.reset();
        for (const t of tallies()) {
          STATUS_CLASSES.forEach((cls, i) => this.inc({ site: t.site, status_class: cls }, t.byClass[i]!));
          if (t.byClass[5]! > 0) this.inc({ site: t.site, status_class: 'other' }, t.byClass[5]!);
        }
      },
    });
    new Counter({
      name: METRIC_NAMES.SENT_BYTES,
      help: 'Bytes sent to clients per site (status line, headers and entity).',
      labelNames: ['site'] as const,
      registers,
      collect() {
        this.reset();
        for (const t of tallies()) this.inc({ site: t.site }, t.sent);
      },
    });
    new Counter({
      name: METRIC_NAMES.RECEIVED_BYTES,
      help: 'Bytes received from clients per site (request line, headers and entity).',
      labelNames: ['site'] as const,
      registers,
      collect() {
        this.reset();
        for (const t of tallies()) this.inc({ site: t.site }, t.received);
      },
    });
    this.registry.registerMetric(new TalliedHistogram(tallies) as unknown as Metric);
  }

  #defineStateMetrics(): void {
    const server = this.#server;
    const registers = [this.registry];
    if (server.openConnections !== undefined) {
      new Gauge({
        name: METRIC_NAMES.CURRENT_CONNECTIONS,
        help: 'Client connections open now.',
        registers,
        collect() {
          this.set(server.openConnections ?? 0);
        },
      });
    }
    new Gauge({
      name: METRIC_NAMES.REQUESTS_IN_FLIGHT,
      help: 'Requests accepted by the listener and not answered yet (queued for a pool or running in a worker).',
      registers,
      collect() {
        let n = 0;
        for (const pool of server.pools.values()) n += pool.stats().queueLength;
        this.set(n);
      },
    });
    new Gauge({
      name: METRIC_NAMES.SITE_STATE,
      help: 'State of each site: 1 for the current state, 0 for the other.',
      labelNames: ['site', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const site of server.config.sites) {
          const state = server.siteState(site.name);
          for (const s of SITE_STATES) this.set({ site: site.name, state: s }, s === state ? 1 : 0);
        }
      },
    });
    const poolCounter = (name: string, help: string, read: (p: AdministeredPool) => number) => new Counter({
      name, help, labelNames: ['app_pool'] as const, registers,
      collect() {
        this.reset();
        for (const pool of server.pools.values()) this.inc({ app_pool: pool.name }, read(pool));
      },
    });
    const poolGauge = (name: string, help: string, read: (p: AdministeredPool) => number) => new Gauge({
      name, help, labelNames: ['app_pool'] as const, registers,
      collect() {
        this.reset();
        for (const pool of server.pools.values()) this.set({ app_pool: pool.name }, read(pool));
      },
    });
    new Gauge({
      name: METRIC_NAMES.APP_POOL_STATE,
      help: 'RSCA state of each application pool: 1 for the current state, 0 for the others.',
      labelNames: ['app_pool', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const pool of server.pools.values()) {
          const state = pool.state;
          for (const s of POOL_STATES) this.set({ app_pool: pool.name, state: s }, s === state ? 1 : 0);
        }
      },
    });
    poolGauge(METRIC_NAMES.APP_POOL_QUEUE_LENGTH, 'Requests queued for the application pool or running in its workers.',
      (p) => p.stats().queueLength);
    poolGauge(METRIC_NAMES.APP_POOL_WORKERS, 'Worker threads of the application pool alive now (including draining ones).',
      (p) => p.workers.length);
    poolCounter(METRIC_NAMES.APP_POOL_REQUESTS, 'Requests answered by the application pool\'s workers.', (p) => p.stats().requestsServed);
    poolCounter(METRIC_NAMES.APP_POOL_WORKER_RESTARTS, 'Workers started to replace one that crashed or was found unhealthy.',
      (p) => p.stats().workerRestarts);
    poolCounter(METRIC_NAMES.APP_POOL_RECYCLES, 'Recycles of the application pool (any reason).', (p) => p.stats().recycles);
    poolCounter(METRIC_NAMES.APP_POOL_WORKER_CRASHES, 'Worker crashes in the application pool.', (p) => p.stats().crashes);
  }

  #defineCacheMetrics(cache: NonNullable<AdministeredServer['cache']>): void {
    const registers = [this.registry];
    const counter = (name: string, help: string, read: () => number) => new Counter({
      name, help, registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
    const gauge = (name: string, help: string, read: () => number) => new Gauge({
      name, help, registers,
      collect() {
        this.set(read());
      },
    });
    counter(METRIC_NAMES.CACHE_HITS, 'Requests answered from the kernel-style response cache.', () => cache.stats().hits);
    counter(METRIC_NAMES.CACHE_MISSES, 'Cache-eligible requests that went to a worker.', () => cache.stats().misses);
    gauge(METRIC_NAMES.CACHE_ENTRIES, 'Entries in the response cache.', () => cache.stats().entries);
    gauge(METRIC_NAMES.CACHE_BYTES, 'Bytes held by the response cache (entities and heads).', () => cache.stats().bytes);
    counter(METRIC_NAMES.CACHE_EVICTIONS, 'Response cache entries dropped to stay within maxCacheSize.', () => cache.stats().evictions);
    counter(METRIC_NAMES.CACHE_INVALIDATIONS, 'Response cache entries dropped by file or configuration changes and flushes.',
      () => cache.stats().invalidations);
  }
}

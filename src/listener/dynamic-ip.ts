import type { DynamicIpSecuritySection } from '../wasm/ip-security-config.js';

/** Which dynamicIpSecurity limit a client went over. */
export type DynamicIpLimit = 'concurrent' | 'rate';

/** What logging-only mode reports about a client over a limit. */
export interface DynamicIpLogEntry {
  readonly site: string;
  /** The counted client (the X-Forwarded-For address in proxy mode). */
  readonly client: string;
  readonly limit: DynamicIpLimit;
  /** Requests of the client in progress, this one included. */
  readonly inFlight: number;
  /** Requests of the client in the last interval (sliding estimate), this one included. */
  readonly rate: number;
}

export interface DynamicIpOptions {
  /** Clients tracked per site (about; see {@link DynamicIpRestriction}). Default 65536. */
  readonly maxClients?: number;
  /**
   * Where logging-only mode (`enableLoggingOnlyMode`) reports a client over a limit, at most once
   * a second per client and limit. Default: `process.emitWarning` with code `W3CORE_DYNAMIC_IP`.
   */
  readonly log?: (entry: DynamicIpLogEntry) => void;
}

/** Per-client counters. A class so every entry has one shape. */
class ClientState {
  inFlight = 0;
  /** Start of the current rate window and the requests counted in it and in the window before. */
  windowStart = 0;
  current = 0;
  previous = 0;
  loggedConcurrentAt = -Infinity;
  loggedRateAt = -Infinity;
}

/**
 * Clients in two generations. A lookup finds a client in either; a client seen while only in
 * the old one moves to the young one. The generations turn over once the young one is full or
 * `idleMs` has passed: whatever is still only in the old one then was not seen for at least
 * `idleMs` and is forgotten, except clients with requests in progress, which move along.
 * O(1) per request (the turnover walks the old generation, amortised over its lifetime);
 * no `Map` with oldest-first deletion, whose holes make `keys().next()` slow.
 */
class SiteCounters {
  young = new Map<string, ClientState>();
  old = new Map<string, ClientState>();
  turnedAt: number;
  /**
   * Proxy mode: socket address → the counted clients of its requests in progress, in the order
   * they were admitted, so that `release`, which may hear only the socket address, finds a client.
   */
  readonly via = new Map<string, string[]>();

  constructor(now: number) {
    this.turnedAt = now;
  }

  get(client: string): ClientState | undefined {
    const state = this.young.get(client);
    if (state !== undefined) return state;
    const aged = this.old.get(client);
    if (aged !== undefined) {
      this.old.delete(client);
      this.young.set(client, aged);
    }
    return aged;
  }

  /** Turns the generations over when the young one is full or `idleMs` has passed. */
  age(now: number, idleMs: number, half: number): void {
    if (this.young.size < half && now - this.turnedAt < idleMs) return;
    const dropped = this.old;
    this.old = this.young;
    this.young = new Map();
    this.turnedAt = now;
    for (const [client, state] of dropped) if (state.inFlight > 0) this.young.set(client, state);
  }
}

const DEFAULT_MAX_CLIENTS = 65536;
const LOG_EVERY_MS = 1000;

function defaultLog(entry: DynamicIpLogEntry): void {
  process.emitWarning(
    `dynamicIpSecurity (logging only): client ${entry.client} of site '${entry.site}' is over the ` +
    `${entry.limit === 'concurrent' ? 'concurrent request' : 'request rate'} limit ` +
    `(${entry.inFlight} in progress, ${entry.rate} in the interval)`,
    { type: 'DynamicIpSecurity', code: 'W3CORE_DYNAMIC_IP' },
  );
}

/**
 * The counters of `dynamicIpSecurity`: requests in progress and request rate per client and
 * site, O(1) per request, with bounded memory.
 *
 * - Concurrency: a request `admit` lets pass is in progress until `release`; a client with
 *   `maxConcurrentRequests` in progress is refused (403.501).
 * - Rate: a sliding window estimate over two fixed windows of `requestIntervalInMilliseconds`
 *   (the previous window's count weighted by its overlap, plus the current one). Every
 *   request counts, refused ones too: a client keeps being refused until it slows down below
 *   `maxRequests` per interval (403.502).
 * - Memory: clients live in two generations ({@link SiteCounters}) that turn over every
 *   `max(2 × requestIntervalInMilliseconds, 1 s)` or when `maxClients / 2` new clients arrived
 *   first; idle clients (nothing in progress, not seen since the turnover before) are
 *   forgotten. Under that much client churn, rate state can be forgotten sooner than two
 *   intervals; clients with requests in progress are always kept.
 */
export class DynamicIpRestriction {
  readonly #sites = new Map<number, SiteCounters>();
  readonly #maxClients: number;
  readonly #log: (entry: DynamicIpLogEntry) => void;

  constructor(options: DynamicIpOptions = {}) {
    this.#maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
    this.#log = options.log ?? defaultLog;
  }

  /**
   * Counts one request of `client` (arriving through socket address `via`) and decides.
   * @returns the limit that refuses it, or null when it may pass (it is then in progress).
   */
  admit(
    siteId: number, siteName: string, policy: DynamicIpSecuritySection, client: string, via: string, now: number,
  ): DynamicIpLimit | null {
    const concurrent = policy.denyByConcurrentRequests;
    const rate = policy.denyByRequestRate;
    let counters = this.#sites.get(siteId);
    if (!counters) this.#sites.set(siteId, (counters = new SiteCounters(now)));
    // Idle: nothing counted for two intervals carries no information about the rate.
    counters.age(now, rate.enabled ? Math.max(2 * rate.requestIntervalInMilliseconds, 1000) : 1000, this.#maxClients >> 1);
    let state = counters.get(client);
    if (!state) {
      state = new ClientState();
      state.windowStart = now;
      counters.young.set(client, state);
    }
    let over: DynamicIpLimit | null = null;
    let estimate = 0;
    if (rate.enabled) {
      const interval = rate.requestIntervalInMilliseconds;
      const elapsed = now - state.windowStart;
      if (elapsed < 0) {
        // The wall clock went back: start over rather than weigh a window from the future.
        state.windowStart = now;
        state.previous = 0;
        state.current = 0;
      } else if (elapsed >= interval) {
        const windows = Math.floor(elapsed / interval);
        state.previous = windows === 1 ? state.current : 0;
        state.current = 0;
        state.windowStart += windows * interval;
      }
      state.current++;
      const overlap = (interval - (now - state.windowStart)) / interval;
      estimate = Math.ceil(state.previous * overlap) + state.current;
      if (estimate > rate.maxRequests) over = 'rate';
    }
    if (over === null && concurrent.enabled && state.inFlight >= concurrent.maxConcurrentRequests) over = 'concurrent';
    if (over !== null) {
      if (!policy.enableLoggingOnlyMode) return over;
      this.#report(siteName, client, state, over, estimate, now);
    }
    if (concurrent.enabled) {
      state.inFlight++;
      if (policy.enableProxyMode) {
        let through = counters.via.get(via);
        if (!through) counters.via.set(via, (through = []));
        through.push(client);
      }
    }
    return null;
  }

  /**
   * A request `admit` let pass is over. `client` is the counted client when the caller knows it.
   * Otherwise it is the socket address `via`, or in proxy mode the client of the most recent
   * request still in progress through `via`: short requests finish first, so a client holding
   * long requests stays counted while others come and go (native-notes.md, "IP restrictions").
   */
  release(siteId: number, via: string, client?: string): void {
    const counters = this.#sites.get(siteId);
    if (!counters) return;
    let counted = client ?? via;
    const through = counters.via.get(via);
    if (through) {
      // Searched from the end: the request that finishes is usually among the latest.
      const i = client === undefined ? through.length - 1 : through.lastIndexOf(client);
      if (i >= 0) {
        counted = through[i]!;
        if (i === through.length - 1) through.pop();
        else through.splice(i, 1);
        if (through.length === 0) counters.via.delete(via);
      }
    }
    const state = counters.young.get(counted) ?? counters.old.get(counted);
    if (state && state.inFlight > 0) state.inFlight--;
  }

  /** Requests of `client` in progress at a site (for tests and diagnostics). */
  inFlight(siteId: number, client: string): number {
    const counters = this.#sites.get(siteId);
    return (counters?.young.get(client) ?? counters?.old.get(client))?.inFlight ?? 0;
  }

  /** Clients tracked at a site. */
  trackedClients(siteId: number): number {
    const counters = this.#sites.get(siteId);
    return counters ? counters.young.size + counters.old.size : 0;
  }

  #report(site: string, client: string, state: ClientState, limit: DynamicIpLimit, rate: number, now: number): void {
    if (limit === 'rate') {
      if (now - state.loggedRateAt < LOG_EVERY_MS) return;
      state.loggedRateAt = now;
    } else {
      if (now - state.loggedConcurrentAt < LOG_EVERY_MS) return;
      state.loggedConcurrentAt = now;
    }
    this.#log({ site, client, limit, inFlight: state.inFlight + 1, rate });
  }
}

/**
 * What the operating surface (admin endpoint, `appcmd`, counters) needs from a running server:
 * the runtime-state half of IIS's RSCA (sites and pools with their state and Start/Stop/Recycle
 * methods, worker processes, currently executing requests) plus the numbers behind the
 * performance counters. `W3CoreServer` satisfies it; the admin code depends on nothing else,
 * so it stays out of the server's and the pools' internals.
 */
import type { PoolState, PoolStats, PoolWorkerInfo } from '../activation/application-pool.js';
import type { AppPoolConfig, SiteConfig } from '../config/application-host.js';
import type { ResponseCacheStats } from '../cache/response-cache.js';
import type { CompletedRequest, ListeningBinding } from '../listener/listener.js';
import type { ExecutingRequest } from '../server.js';

export type { ExecutingRequest };

/** RSCA site states that w3core uses (`Starting`/`Stopping` never last: a site switches at once). */
export type SiteState = 'Started' | 'Stopped';

/** An application pool as the admin endpoint drives it (RSCA `ApplicationPool`). */
export interface AdministeredPool {
  readonly name: string;
  readonly config: AppPoolConfig;
  readonly state: PoolState;
  /** Worker threads ("w3wp processes") of every generation still alive. */
  readonly workers: readonly PoolWorkerInfo[];
  /** RSCA Start: a stopped pool serves again. No effect unless the pool is Stopped. */
  start(): void;
  /** RSCA Stop: resolves once the workers have ended. */
  stop(): Promise<void>;
  /** RSCA Recycle (`logEventOnRecycle` reason `OnDemand`). */
  recycle(reason?: 'OnDemand'): Promise<void>;
  stats(): PoolStats;
}

/** A running server as the admin endpoint sees it (`W3CoreServer` is one). */
export interface AdministeredServer {
  readonly config: { readonly sites: readonly SiteConfig[] };
  /** Sockets listened on (the bound port of bindings configured with port 0). */
  readonly bindings: readonly ListeningBinding[];
  /** Keyed by lower-case pool name. */
  readonly pools: ReadonlyMap<string, AdministeredPool>;
  readonly cache: { stats(): ResponseCacheStats } | undefined;
  /**
   * Client connections open now, when the server counts them (the `w3core_current_connections`
   * gauge is left out otherwise).
   */
  readonly openConnections?: number;
  /** Called on the listener thread once per answered request. */
  onRequestCompleted: ((r: CompletedRequest) => void) | undefined;
  siteState(name: string): SiteState;
  startSite(name: string): void;
  stopSite(name: string): void;
  executingRequests(): Promise<readonly ExecutingRequest[]>;
}

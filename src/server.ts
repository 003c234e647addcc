import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ApplicationPool } from './activation/application-pool.js';
import { resolveAdminToken, startAdminEndpoint, type AdminEndpoint } from './admin/admin-server.js';
import { readString } from './config/attributes.js';
import { parseApplicationHost, type ServerConfig, type SiteConfig } from './config/application-host.js';
import { ConfigHierarchy } from './config/config-hierarchy.js';
import { nodeAt } from './config/config-node.js';
import { ConfigError } from './errors.js';
import { Admission } from './listener/admission.js';
import { DYNAMIC_IP_SECURITY, IP_SECURITY } from './wasm/ip-security-config.js';
import { CACHING, SERVER_RUNTIME } from './cache/caching-config.js';
import { ResponseCache } from './cache/response-cache.js';
import { Listener, type CompletedRequest, type ListeningBinding } from './listener/listener.js';
import { findApplication } from './config/url-mapping.js';
import { loadNativeUws } from './listener/native.js';
import { BUILT_IN_MODULES, SECTION_READERS } from './modules/index.js';

/** How to start a server: a configuration file, or its text with a path used for messages. */
export interface ServerOptions {
  /** Path of applicationHost.config. */
  readonly configFile?: string;
  /** The configuration itself; `configFile` then only names it and anchors relative paths. */
  readonly configText?: string;
  /** How often (ms) web.config files are checked for changes; default 1000. */
  readonly revalidateMs?: number;
}

/**
 * A running w3core server: configuration, one {@link ApplicationPool} per `<applicationPools>`
 * entry, and the listener.
 *
 * @example
 * ```ts
 * import { startServer } from 'w3core';
 * const server = await startServer({ configFile: 'applicationHost.config' });
 * console.log(server.bindings.map((b) => `http://${b.host}:${b.port}`));
 * await server.stop();
 * ```
 */
export class W3CoreServer {
  readonly config: ServerConfig;
  readonly pools: ReadonlyMap<string, ApplicationPool>;
  readonly #listener: Listener;
  readonly #hierarchy: ConfigHierarchy;
  /** The kernel-style response cache; undefined when `caching enableKernelCache` is off server-wide. */
  readonly cache: ResponseCache | undefined;
  #stopped = false;
  #admin: AdminEndpoint | undefined;

  private constructor(
    config: ServerConfig, pools: Map<string, ApplicationPool>, listener: Listener, hierarchy: ConfigHierarchy,
    cache: ResponseCache | undefined,
  ) {
    this.config = config;
    this.pools = pools;
    this.#listener = listener;
    this.#hierarchy = hierarchy;
    this.cache = cache;
  }

  /**
   * Reads and validates the configuration, starts the pools marked AlwaysRunning and listens.
   * @throws ConfigError for bad configuration (file, line and attribute in the message).
   */
  static async start(options: ServerOptions): Promise<W3CoreServer> {
    loadNativeUws();
    const file = resolve(options.configFile ?? 'applicationHost.config');
    let text = options.configText;
    if (text === undefined) {
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new ConfigError(file, 0, undefined, `cannot read the configuration file: ${(err as Error).message}`);
      }
    }
    const config = parseApplicationHost(text, file);
    // The admin token is checked before anything starts (it may come from the environment).
    if (config.admin.enabled) resolveAdminToken(config.admin);
    const revalidateMs = options.revalidateMs ?? 1000;
    const hierarchy = new ConfigHierarchy(config, revalidateMs);
    validateServerLevel(hierarchy);
    const cache = createResponseCache(hierarchy);
    let pools: Map<string, ApplicationPool> | undefined;
    hierarchy.onChange = (path, site) => {
      // Any configuration change may change any cached response (headers, rules, mappings).
      cache?.flushAll();
      // The application's pool recycles, as IIS recycles on a web.config change
      // (unless recycling disallowRotationOnConfigChange).
      const pool = pools?.get(findApplication(site, path).applicationPool.toLowerCase());
      if (pool && !pool.config.recycling.disallowRotationOnConfigChange) void pool.recycle('ConfigChange', path);
    };
    pools = new Map<string, ApplicationPool>();
    for (const [key, pool] of config.appPools) {
      const p = new ApplicationPool(pool, file, text, revalidateMs);
      p.onCacheFlush = (siteId, url) => cache?.flush(siteId, url);
      pools.set(key, p);
    }
    if (cache) {
      cache.onOperation = (operation, siteId, url) => {
        for (const p of pools.values()) p.notifyCache({ kind: 'operation', operation, siteId, url });
      };
      cache.onCleanup = () => {
        for (const p of pools.values()) p.notifyCache({ kind: 'cleanup' });
      };
    }
    const listener = new Listener({
      sites: config.sites,
      pools,
      cache,
      admission: new Admission((site: SiteConfig, path: string) => {
        try {
          return hierarchy.effective(site, path);
        } catch {
          // A broken web.config: the worker answers 500.19 for it.
          return undefined;
        }
      }),
    });
    const server = new W3CoreServer(config, pools, listener, hierarchy, cache);
    try {
      await listener.listen();
      if (config.admin.enabled) server.#admin = await startAdminEndpoint(server, config.admin);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /** The admin endpoint (`<w3coreAdmin enabled="true">`), on 127.0.0.1; undefined when off. */
  get admin(): AdminEndpoint | undefined {
    return this.#admin;
  }

  /** The sockets the server listens on, with the port actually bound. */
  get bindings(): readonly ListeningBinding[] {
    return this.#listener.bindings;
  }

  /**
   * `http://host:port` (or `https://` for an https binding) of the first binding of a site (by
   * name), or of the first site. `host` is the bound address, not the binding's host name: a
   * client of an SNI binding sets the server name (and Host header) itself.
   */
  url(siteName?: string): string {
    const b = this.bindings.find((x) => siteName === undefined || x.site.name.toLowerCase() === siteName.toLowerCase());
    if (!b) throw new Error(`no listening binding for site '${siteName ?? ''}'`);
    return `${b.binding.protocol}://${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`;
  }

  /** The effective configuration hierarchy (as the listener sees it). */
  get hierarchy(): ConfigHierarchy {
    return this.#hierarchy;
  }

  /** `Started` or `Stopped` (RSCA site state). */
  siteState(name: string): 'Started' | 'Stopped' {
    return this.#listener.isSiteStopped(this.#site(name).id) ? 'Stopped' : 'Started';
  }

  /** Serves a stopped site again (`appcmd start site`). */
  startSite(name: string): void {
    this.#listener.setSiteStopped(this.#site(name).id, false);
  }

  /** Stops serving a site (`appcmd stop site`): its requests get 404.1 until it starts again. */
  stopSite(name: string): void {
    const site = this.#site(name);
    this.#listener.setSiteStopped(site.id, true);
    this.cache?.flush(site.id);
  }

  #site(name: string): SiteConfig {
    const site = this.config.sites.find((s) => s.name.toLowerCase() === name.toLowerCase());
    if (!site) throw new Error(`no site named '${name}'`);
    return site;
  }

  /** Observes every answered request on the listener thread (counters, logs). */
  get onRequestCompleted(): ((r: CompletedRequest) => void) | undefined {
    return this.#listener.onRequestCompleted;
  }

  set onRequestCompleted(observer: ((r: CompletedRequest) => void) | undefined) {
    this.#listener.onRequestCompleted = observer;
  }

  /**
   * The requests currently in the pools' workers (RequestMonitorModule, `appcmd list
   * requests`), with the stage and module each worker reports.
   */
  async executingRequests(): Promise<ExecutingRequest[]> {
    const now = Date.now();
    const sites = new Map(this.config.sites.map((s) => [s.id, s]));
    const out: ExecutingRequest[] = [];
    for (const pool of this.pools.values()) {
      for (const e of await pool.executing()) {
        const w = e.request;
        let host = '';
        for (let i = 0; i < w.headers.length; i += 2) if (w.headers[i] === 'host') host = w.headers[i + 1]!;
        out.push({
          requestId: w.id.toString(16).padStart(16, '0'),
          verb: w.method,
          url: w.rawUrl,
          siteId: w.siteId,
          siteName: sites.get(w.siteId)?.name ?? '',
          clientIpAddress: w.remoteAddress,
          localPort: w.localPort,
          hostName: host,
          timeElapsedMs: now - e.request.sentAt,
          applicationPool: pool.name,
          workerId: e.workerId,
          stage: e.inWorker?.stage ?? '',
          module: e.inWorker?.module ?? '',
        });
      }
    }
    return out;
  }

  /** Stops listening, lets the pools run StopListening/ApplicationStop, and ends the workers. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#admin?.close();
    // Stop accepting; requests already in the pools finish (up to each pool's
    // shutdownTimeLimit), then the connections still open are closed.
    this.#listener.close();
    this.cache?.close();
    await Promise.all([...this.pools.values()].map((p) => p.stop()));
    this.#listener.closeConnections();
  }
}

/** `caching maxCacheSize="0"` (automatic): this many bytes. */
const AUTOMATIC_CACHE_BYTES = 256 * 1024 * 1024;

/**
 * The response cache as applicationHost.config sets it (`caching` maxCacheSize and
 * maxResponseSize count only there, as in IIS; `serverRuntime` frequent-hit settings are read
 * at server level). Off when the server-level `caching` turns the kernel cache off.
 */
function createResponseCache(hierarchy: ConfigHierarchy): ResponseCache | undefined {
  const caching = hierarchy.serverRoot.section(CACHING);
  if (!caching.enabled || !caching.enableKernelCache) return undefined;
  const runtime = hierarchy.serverRoot.section(SERVER_RUNTIME);
  return new ResponseCache({
    maxBytes: caching.maxCacheSize === 0 ? AUTOMATIC_CACHE_BYTES : caching.maxCacheSize * 1024 * 1024,
    maxResponseSize: caching.maxResponseSize,
    frequentHitThreshold: runtime.frequentHitThreshold,
    frequentHitTimePeriodMs: runtime.frequentHitTimePeriodMs,
  });
}

/** A request in a worker (RSCA `GetRequests` fields that apply here). */
export interface ExecutingRequest {
  readonly requestId: string;
  readonly verb: string;
  readonly url: string;
  readonly siteId: number;
  readonly siteName: string;
  readonly clientIpAddress: string;
  readonly localPort: number;
  readonly hostName: string;
  /** Since the request left for its worker. */
  readonly timeElapsedMs: number;
  readonly applicationPool: string;
  /** Thread id of the worker running it (null when that worker did not answer in time). */
  readonly workerId: number | null;
  /** Notification being delivered (`pipeLineState`), '' when unknown. */
  readonly stage: string;
  /** Module running, '' between modules or when unknown. */
  readonly module: string;
}

/** Shorthand for {@link W3CoreServer.start}. */
export function startServer(options: ServerOptions): Promise<W3CoreServer> {
  return W3CoreServer.start(options);
}

/**
 * Start-up checks of what applicationHost.config sets: every built-in section must read
 * (types, enums, ranges), and every module must be a built-in name or a file that exists.
 * web.config files are checked when requests reach them (a broken one gives 500.19).
 */
function validateServerLevel(hierarchy: ConfigHierarchy): void {
  const root = hierarchy.serverRoot;
  for (const reader of SECTION_READERS) root.section(reader);
  // Read on the listener only (the workers never need them): a bad address or limit in
  // applicationHost.config stops start-up rather than answering 500.19 per request.
  root.section(IP_SECURITY);
  root.section(DYNAMIC_IP_SECURITY);
  for (const [section, attribute] of [['modules', 'type'], ['globalModules', 'image']] as const) {
    for (const entry of nodeAt(root.root, section)?.entries ?? []) {
      const name = readString(entry, 'name', '');
      const spec = readString(entry, attribute, '');
      if (!spec) {
        if (!BUILT_IN_MODULES.has(name)) {
          throw new ConfigError(entry.position.file, entry.position.line, 'name',
            `'${name}' is not a built-in module; give it ${attribute}="./file.ts#Export"`);
        }
        continue;
      }
      const at = entry.attributes.get(attribute)!;
      const path = spec.slice(0, spec.lastIndexOf('#') > 0 ? spec.lastIndexOf('#') : undefined);
      const full = isAbsolute(path) ? path : resolve(dirname(at.file), path);
      if (!existsSync(full)) throw new ConfigError(at.file, at.line, attribute, `module file ${full} does not exist`);
    }
  }
}

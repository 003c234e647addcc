/**
 * The admin endpoint: w3core's stand-in for IIS's runtime state and control API (RSCA, which
 * `appcmd` and IIS Manager use) and for its performance counters. A small JSON-over-HTTP API on
 * a loopback port, off by default, every request authenticated with a bearer token.
 *
 * It is a control plane, not a data plane: `node:http` on the main thread is plenty, and keeps
 * it apart from the uWS listener and its limits, filters and cache.
 *
 * Routes (all need `Authorization: Bearer <token>`; JSON unless noted):
 *
 * | Route | Answer |
 * |---|---|
 * | `GET /sites[?name=&state=]` | {@link SiteInfo}[] |
 * | `POST /sites/<name>/start` · `/stop` | {@link ActionResult} |
 * | `GET /apppools[?name=&state=]` | {@link AppPoolInfo}[] |
 * | `POST /apppools/<name>/start` · `/stop` · `/recycle` | {@link ActionResult} |
 * | `GET /wp[?apppool=&id=]` | {@link WorkerProcessInfo}[] |
 * | `GET /requests[?elapsed=ms&apppool=&site=id&wp=id]` | {@link ExecutingRequest}[] |
 * | `GET /metrics` | Prometheus text format |
 *
 * Errors: `{ "error": { "status": 404, "message": "Cannot find APPPOOL object with identifier \"X\"." } }`
 * with 400 (bad query), 401 (no or wrong token; no details), 404 (unknown route, site or pool),
 * 405 (wrong method), 409 (the object is not in a state that allows the action), 500.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PoolState } from '../activation/application-pool.js';
import type { AdminConfig } from '../config/application-host.js';
import { ConfigError } from '../errors.js';
import type { AdministeredPool, AdministeredServer, ExecutingRequest, SiteState } from './administered.js';
import { ServerMetrics } from './metrics.js';

/** The only address the endpoint binds: it can stop pools, so it never faces the network. */
export const ADMIN_HOST = '127.0.0.1';

/** Environment variable holding the token when the configuration gives none. */
export const ADMIN_TOKEN_ENV = 'W3CORE_ADMIN_TOKEN';

/** Shortest token accepted: a guessable token on a control plane is no protection. */
export const MIN_TOKEN_LENGTH = 16;

/** A running admin endpoint. */
export interface AdminEndpoint {
  /** The port bound (the configured one, or the ephemeral one for `port="0"`). */
  readonly port: number;
  /** The server's counters (the same ones `/metrics` shows). */
  readonly metrics: ServerMetrics;
  /** Stops listening, ends open admin connections and detaches the counters from the server. */
  close(): Promise<void>;
}

/** `GET /sites`: one site, as `appcmd list sites` shows it. */
export interface SiteInfo {
  readonly name: string;
  readonly id: number;
  /** `protocol/ip:port:host` (the bound port where the configured one is 0). */
  readonly bindings: readonly string[];
  readonly state: SiteState;
  readonly serverAutoStart: boolean;
}

/** `GET /apppools`: one application pool. */
export interface AppPoolInfo {
  readonly name: string;
  readonly state: PoolState;
  /** Always '' (no CLR here); appcmd shows it as `MgdVersion`. */
  readonly managedRuntimeVersion: string;
  readonly managedPipelineMode: 'Integrated' | 'Classic';
  readonly startMode: 'OnDemand' | 'AlwaysRunning';
  /** Configured bound of queued plus running requests. */
  readonly queueLength: number;
  /** Requests queued or running now. */
  readonly currentQueueLength: number;
  readonly requestsServed: number;
  readonly workerRestarts: number;
  readonly recycles: number;
  readonly crashes: number;
  /** Ids of the live workers (`WP` ids). */
  readonly workers: readonly number[];
}

/** `GET /wp`: one worker ("w3wp"): a pool's worker thread, its thread id standing for the PID. */
export interface WorkerProcessInfo {
  readonly id: number;
  readonly appPoolName: string;
  readonly state: 'Running' | 'Stopping';
  /** ISO 8601. */
  readonly startedAt: string;
  /** Which start of the pool's workers it belongs to (one more with each recycle). */
  readonly generation: number;
}

/** Answer of a `POST` action. */
export interface ActionResult {
  readonly object: 'SITE' | 'APPPOOL';
  readonly name: string;
  readonly action: 'start' | 'stop' | 'recycle';
  /** State after the action. */
  readonly state: string;
  /** appcmd's line, e.g. `"DefaultAppPool" successfully recycled`. */
  readonly message: string;
}

/**
 * The token the endpoint demands: the configured one (`token`, `%VAR%` expanded), else
 * `W3CORE_ADMIN_TOKEN` from the environment.
 * @throws ConfigError naming the `w3coreAdmin` element and attribute `token` when there is none,
 *   when it names an environment variable that is not set, or when it is too short.
 */
export function resolveAdminToken(config: AdminConfig, env: NodeJS.ProcessEnv = process.env): string {
  const fail = (detail: string): never => {
    throw new ConfigError(config.file, config.line, 'token', detail);
  };
  const unexpanded = /%([A-Za-z_][A-Za-z0-9_]*)%/.exec(config.token);
  if (unexpanded) fail(`the environment variable ${unexpanded[1]} is not set`);
  const token = config.token !== '' ? config.token : env[ADMIN_TOKEN_ENV] ?? '';
  if (token === '') {
    fail(`the admin endpoint is enabled without a token: set token="..." (may be %VARIABLE%) or ${ADMIN_TOKEN_ENV}`);
  }
  if (!/^[\x21-\x7e]+$/.test(token)) fail('the admin token must be printable ASCII without spaces');
  if (token.length < MIN_TOKEN_LENGTH) fail(`the admin token must have at least ${MIN_TOKEN_LENGTH} characters`);
  return token;
}

/** An error answered as `{ error: { status, message } }`. */
class AdminError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const notFound = (object: 'SITE' | 'APPPOOL', name: string) =>
  new AdminError(404, `Cannot find ${object} object with identifier "${name}".`);

/**
 * Starts the admin endpoint of `server` on 127.0.0.1 and attaches its counters to the server's
 * `onRequestCompleted` (after any observer already there).
 *
 * @example
 * ```ts
 * const admin = await startAdminEndpoint(server, { enabled: true, port: 0, token: 'a-long-random-token', file: 'x', line: 0 });
 * const res = await fetch(`http://127.0.0.1:${admin.port}/apppools`, {
 *   headers: { authorization: 'Bearer a-long-random-token' },
 * });
 * await admin.close();
 * ```
 * @throws ConfigError when there is no usable token (see {@link resolveAdminToken}).
 */
export async function startAdminEndpoint(server: AdministeredServer, config: AdminConfig): Promise<AdminEndpoint> {
  const expected = digest(resolveAdminToken(config));
  const metrics = new ServerMetrics(server);
  const api = new AdminApi(server, metrics);
  const http: Server = createServer((req, res) => {
    api.handle(req, res, expected).catch((err: unknown) => {
      // handle() answers its own errors; this is a failure while answering.
      console.error('w3core: admin endpoint:', err);
      if (!res.headersSent) send(res, 500, { error: { status: 500, message: 'internal error' } });
      else res.destroy();
    });
  });
  http.headersTimeout = 10_000;
  http.requestTimeout = 0; // a stop waits for the pool's shutdownTimeLimit
  await new Promise<void>((resolve, reject) => {
    http.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ConfigError(config.file, config.line, 'port', `the admin endpoint cannot listen on ${ADMIN_HOST}:${config.port}: ${err.message}`));
    });
    http.listen(config.port, ADMIN_HOST, () => resolve());
  });
  const previous = server.onRequestCompleted;
  const observer = previous === undefined
    ? metrics.record
    : (r: Parameters<typeof metrics.record>[0]) => {
      previous(r);
      metrics.record(r);
    };
  server.onRequestCompleted = observer;
  let closed: Promise<void> | undefined;
  return {
    port: (http.address() as AddressInfo).port,
    metrics,
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (server.onRequestCompleted === observer) server.onRequestCompleted = previous;
        http.close(() => resolve());
        http.closeAllConnections();
      });
      return closed;
    },
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Constant-time check of `Authorization: Bearer <token>`: both sides are hashed first, so the
 * comparison neither depends on where they differ nor on the length of what was sent.
 */
function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  // No header or another scheme compares an empty token, which never matches (tokens have 16+ characters).
  return timingSafeEqual(digest(m ? m[1]! : ''), expected);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** A query parameter that must be a non-negative integer when present. */
function uintParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new AdminError(400, `query parameter '${name}' must be a non-negative integer, not '${value}'`);
  return Number(value);
}

const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The routes, over one server. */
class AdminApi {
  readonly #server: AdministeredServer;
  readonly #metrics: ServerMetrics;

  constructor(server: AdministeredServer, metrics: ServerMetrics) {
    this.#server = server;
    this.#metrics = metrics;
  }

  async handle(req: IncomingMessage, res: ServerResponse, expected: Buffer): Promise<void> {
    // Bodies are never read: nothing here takes one.
    req.resume();
    if (!authorized(req, expected)) {
      send(res, 401, { error: { status: 401, message: 'unauthorized' } }, { 'WWW-Authenticate': 'Bearer realm="w3core"' });
      return;
    }
    try {
      const url = new URL(req.url ?? '/', 'http://admin.invalid');
      const segments = url.pathname.split('/').filter((s) => s !== '').map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          throw new AdminError(400, `malformed path segment '${s}'`);
        }
      });
      const method = req.method ?? 'GET';
      await this.#route(method, segments, url.searchParams, res);
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      send(res, err.status, { error: { status: err.status, message: err.message } }, err.headers);
    }
  }

  async #route(method: string, path: readonly string[], query: URLSearchParams, res: ServerResponse): Promise<void> {
    const [collection, name, action, ...rest] = path;
    const allow = (...methods: string[]) => {
      if (!methods.includes(method)) throw new AdminError(405, `${method} is not allowed here`, { Allow: methods.join(', ') });
    };
    if (rest.length > 0) throw new AdminError(404, 'no such route');
    switch (collection) {
      case 'metrics':
        if (name !== undefined) break;
        allow('GET');
        return this.#sendMetrics(res);
      case 'sites':
        if (name === undefined) {
          allow('GET');
          return send(res, 200, this.#sites(query));
        }
        if (action === 'start' || action === 'stop') {
          allow('POST');
          return send(res, 200, this.#siteAction(name, action));
        }
        break;
      case 'apppools':
        if (name === undefined) {
          allow('GET');
          return send(res, 200, this.#pools(query));
        }
        if (action === 'start' || action === 'stop' || action === 'recycle') {
          allow('POST');
          return send(res, 200, await this.#poolAction(name, action));
        }
        break;
      case 'wp':
        if (name !== undefined) break;
        allow('GET');
        return send(res, 200, this.#workers(query));
      case 'requests':
        if (name !== undefined) break;
        allow('GET');
        return send(res, 200, await this.#requests(query));
      default:
        break;
    }
    throw new AdminError(404, 'no such route');
  }

  async #sendMetrics(res: ServerResponse): Promise<void> {
    const text = await this.#metrics.metrics();
    res.writeHead(200, {
      'Content-Type': this.#metrics.contentType,
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
    });
    res.end(text);
  }

  #sites(query: URLSearchParams): SiteInfo[] {
    const server = this.#server;
    const name = query.get('name');
    const state = query.get('state');
    const out: SiteInfo[] = [];
    for (const site of server.config.sites) {
      if (name !== null && !eq(site.name, name)) continue;
      const siteState = server.siteState(site.name);
      if (state !== null && !eq(siteState, state)) continue;
      const bindings = site.bindings.map((b) => {
        // As configured, except a port 0 shows the port actually bound.
        const port = b.port === 0 ? server.bindings.find((l) => l.binding === b)?.port ?? 0 : b.port;
        return `${b.protocol}/${b.bindingInformation.replace(/^(\[[^\]]*\]|[^:]*):\d+:/, (_, ip: string) => `${ip}:${port}:`)}`;
      });
      out.push({ name: site.name, id: site.id, bindings, state: siteState, serverAutoStart: site.serverAutoStart });
    }
    return out;
  }

  #siteAction(name: string, action: 'start' | 'stop'): ActionResult {
    const server = this.#server;
    const site = server.config.sites.find((s) => eq(s.name, name));
    if (!site) throw notFound('SITE', name);
    const state = server.siteState(site.name);
    if (action === 'start') {
      if (state === 'Started') throw new AdminError(409, `Cannot start SITE "${site.name}": it is already started.`);
      server.startSite(site.name);
    } else {
      if (state === 'Stopped') throw new AdminError(409, `Cannot stop SITE "${site.name}": it is already stopped.`);
      server.stopSite(site.name);
    }
    return {
      object: 'SITE', name: site.name, action, state: server.siteState(site.name),
      message: `"${site.name}" successfully ${action === 'start' ? 'started' : 'stopped'}`,
    };
  }

  #pool(name: string): AdministeredPool {
    const pool = this.#server.pools.get(name.toLowerCase());
    if (!pool) throw notFound('APPPOOL', name);
    return pool;
  }

  #pools(query: URLSearchParams): AppPoolInfo[] {
    const name = query.get('name');
    const state = query.get('state');
    const out: AppPoolInfo[] = [];
    for (const pool of this.#server.pools.values()) {
      if (name !== null && !eq(pool.name, name)) continue;
      const stats = pool.stats();
      if (state !== null && !eq(stats.state, state)) continue;
      out.push({
        name: pool.name,
        state: stats.state,
        managedRuntimeVersion: '',
        managedPipelineMode: pool.config.managedPipelineMode,
        startMode: pool.config.startMode,
        queueLength: pool.config.queueLength,
        currentQueueLength: stats.queueLength,
        requestsServed: stats.requestsServed,
        workerRestarts: stats.workerRestarts,
        recycles: stats.recycles,
        crashes: stats.crashes,
        workers: pool.workers.map((w) => w.id),
      });
    }
    return out;
  }

  async #poolAction(name: string, action: 'start' | 'stop' | 'recycle'): Promise<ActionResult> {
    const pool = this.#pool(name);
    const state = pool.state;
    const refuse = (why: string) => new AdminError(409, `Cannot ${action} APPPOOL "${pool.name}": ${why}.`);
    switch (action) {
      case 'start':
        if (state === 'Started' || state === 'Starting') throw refuse('it is already started');
        if (state === 'Stopping') throw refuse('it is stopping');
        pool.start();
        break;
      case 'stop':
        if (state === 'Stopped') throw refuse('it is already stopped');
        if (state === 'Stopping') throw refuse('it is already stopping');
        await pool.stop();
        break;
      case 'recycle':
        if (state !== 'Started') throw refuse(`it is ${state.toLowerCase()}, not started`);
        await pool.recycle('OnDemand');
        break;
    }
    const done = action === 'start' ? 'started' : action === 'stop' ? 'stopped' : 'recycled';
    return { object: 'APPPOOL', name: pool.name, action, state: pool.state, message: `"${pool.name}" successfully ${done}` };
  }

  #workers(query: URLSearchParams): WorkerProcessInfo[] {
    const poolName = query.get('apppool');
    const id = uintParam(query, 'id');
    if (poolName !== null) this.#pool(poolName);
    const out: WorkerProcessInfo[] = [];
    for (const pool of this.#server.pools.values()) {
      if (poolName !== null && !eq(pool.name, poolName)) continue;
      for (const w of pool.workers) {
        if (id !== undefined && w.id !== id) continue;
        out.push({
          id: w.id, appPoolName: pool.name, state: w.state, startedAt: new Date(w.startedAt).toISOString(), generation: w.generation,
        });
      }
    }
    return out;
  }

  async #requests(query: URLSearchParams): Promise<ExecutingRequest[]> {
    const elapsed = uintParam(query, 'elapsed') ?? 0;
    const siteId = uintParam(query, 'site');
    const wp = uintParam(query, 'wp');
    const poolName = query.get('apppool');
    if (poolName !== null) this.#pool(poolName);
    const all = await this.#server.executingRequests();
    return all.filter((r) => r.timeElapsedMs >= elapsed
      && (siteId === undefined || r.siteId === siteId)
      && (wp === undefined || r.workerId === wp)
      && (poolName === null || eq(r.applicationPool, poolName)));
  }
}

/**
 * The code of one application pool worker (the "w3wp"): it receives batches of requests from
 * the listener, runs each through its application's integrated pipeline and returns the
 * responses. Responses that finish while the batch runs go back with the batch; those that
 * wait on asynchronous work follow as messages, so a slow request never holds up the others.
 */
import { Buffer } from 'node:buffer';
import { getHeapStatistics } from 'node:v8';
import { BroadcastChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import { parseApplicationHost, type ApplicationConfig, type SiteConfig } from '../config/application-host.js';
import { ConfigHierarchy, type EffectiveConfig } from '../config/config-hierarchy.js';
import { nodeAt } from '../config/config-node.js';
import { findApplication, mapUrlToPhysical, normalizeDecodedPath } from '../config/url-mapping.js';
import { ConfigError, HTTP_ERROR, errorPage, isLocalAddress } from '../errors.js';
import {
  HEALTH, REQUEST_RING_BYTES, RESPONSE_RING_BYTES, decodeRequests, encodeResponse, fitsRing, responseBound, responseExtra,
} from '../activation/wire.js';
import { ID_SLOTS, SlotTable, sequenceOf, slotOf } from '../activation/in-flight.js';
import { ByteRing } from '../activation/ring.js';
import type {
  BatchReleasedMessage, BatchResult, BatchTask, CacheEventsTask, CacheFlushMessage, ChannelMessage, ControlMessage, ExecutingInWorker, ExecutingMessage, PingTask, LateResponseMessage, PoolWorkerData, StopTask, WireCachePolicy, WireChunk, WireRequest, WireResponse,
} from '../activation/wire.js';
import { compilePipeline } from '../pipeline/compile.js';
import { PipelineEngine } from '../pipeline/engine.js';
import { GLOBAL_NOTIFICATION } from '../pipeline/events.js';
import { mapRequestHandler, selectHandler } from '../pipeline/handler-mapping.js';
import { HttpContext, HttpRequest, setKernelCacheFlusher, type ApplicationInfo } from '../pipeline/http-context.js';
import { CACHING } from '../cache/caching-config.js';
import type { ApplicationProvider } from '../pipeline/module.js';
import { loadModules } from './module-loader.js';
import { SECTION_READERS } from '../modules/index.js';

const data = workerData as PoolWorkerData;

/*
 * Health: this worker's slot in the pool's shared health array. The heartbeat moves while the
 * event loop runs (a timer, and every batch); a worker holding tasks whose heartbeat stands
 * still is stuck in synchronous code, and the pool terminates it after pingResponseTime.
 */
const health = data.health;
const slot = HEALTH.BASE + (Atomics.add(health, 0, 1) % HEALTH.SLOTS) * HEALTH.SLOT;
Atomics.store(health, slot + HEALTH.THREAD, threadId);
let heapCheckedAt = 0;

function beat(): void {
  Atomics.add(health, slot + HEALTH.BEAT, 1);
  const now = Date.now();
  if (now - heapCheckedAt >= 1000) {
    heapCheckedAt = now;
    const heap = getHeapStatistics();
    Atomics.store(health, slot + HEALTH.HEAP_USED_KB, Math.min(2 ** 31 - 1, Math.round(heap.used_heap_size / 1024)));
    Atomics.store(health, slot + HEALTH.HEAP_TOTAL_KB, Math.min(2 ** 31 - 1, Math.round(heap.total_heap_size / 1024)));
  }
}
beat();
setInterval(beat, 250).unref();

/** Requests this worker is running, for RequestMonitorModule queries (`appcmd list requests`). */
const executing = new SlotTable<HttpContext>();
const server = parseApplicationHost(data.configText, data.configFile);
const hierarchy = new ConfigHierarchy(server, data.revalidateMs);
const sites = new Map<number, SiteConfig>(server.sites.map((s) => [s.id, s]));

interface AppRuntime {
  readonly engine: PipelineEngine | undefined;
  /** Set when the application's modules could not be configured or loaded. */
  readonly failure: { readonly error: ConfigError; readonly code: 'CONFIG_INVALID' | 'MODULE_NOT_RECOGNIZED' } | undefined;
  readonly info: ApplicationInfo;
  readonly provider: ApplicationProvider;
  /** The app root's configuration the runtime was built from; a new one means rebuild. */
  readonly rootConfig: EffectiveConfig | undefined;
  /** `hierarchy.generation` when the runtime was last known current. */
  generation: number;
  readonly builtAt: number;
  /** Engines with PreBeginRequest handlers (global modules first); usually empty. */
  readonly preBegin: readonly PipelineEngine[];
}

/** By application (its config object: one per site and path), no key string per request. */
const apps = new Map<ApplicationConfig, AppRuntime | Promise<AppRuntime>>();

setKernelCacheFlusher((siteId, url) => {
  parentPort!.postMessage({ w3core: 'cache-flush', siteId, url } satisfies CacheFlushMessage);
});
const globals = loadModules(nodeAt(hierarchy.serverRoot.root, 'globalModules'), 'image').then((modules) => {
  const engine = new PipelineEngine(compilePipeline(modules), {
    classic: data.classic,
    mapUrl: () => '',
    mapHandler: () => true,
  });
  return engine;
});
let globalEngine: PipelineEngine | undefined;
globals.then((g) => { globalEngine = g; refreshThreadCleanup(); }, (err: unknown) => console.error(`w3core: global modules failed to load: ${(err as Error).message}`));

hierarchy.onChange = (path) => {
  const provider = { path };
  void globalEngine?.fireGlobal(GLOBAL_NOTIFICATION.CONFIGURATION_CHANGE, provider);
  for (const rt of apps.values()) {
    if (!(rt instanceof Promise)) void rt.engine?.fireGlobal(GLOBAL_NOTIFICATION.CONFIGURATION_CHANGE, provider);
  }
};

function appRootUrl(app: ApplicationConfig): string {
  return app.path === '/' ? '/' : `${app.path}/`;
}

async function buildRuntime(site: SiteConfig, app: ApplicationConfig): Promise<AppRuntime> {
  const physicalPath = mapUrlToPhysical(site, appRootUrl(app))!.physicalPath;
  const info: ApplicationInfo = {
    path: app.path,
    physicalPath,
    applicationPool: app.applicationPool,
    configPath: `MACHINE/WEBROOT/APPHOST/${site.name}${app.path === '/' ? '' : app.path}`,
  };
  const provider: ApplicationProvider = {
    siteId: site.id, siteName: site.name, applicationPath: app.path, physicalPath, applicationPool: app.applicationPool,
  };
  let rootConfig: EffectiveConfig | undefined;
  try {
    rootConfig = hierarchy.effective(site, appRootUrl(app));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { engine: undefined, failure: { error: err, code: 'CONFIG_INVALID' }, info, provider, rootConfig, preBegin: [], generation: hierarchy.generation, builtAt: Date.now() };
  }
  let modules;
  try {
    modules = await loadModules(nodeAt(rootConfig.root, 'modules'), 'type');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { engine: undefined, failure: { error: err, code: 'MODULE_NOT_RECOGNIZED' }, info, provider, rootConfig, preBegin: [], generation: hierarchy.generation, builtAt: Date.now() };
  }
  const pipeline = compilePipeline(modules);
  for (const w of pipeline.warnings) console.warn(`w3core: ${site.name}${app.path}: ${w}`);
  const engine = new PipelineEngine(pipeline, {
    classic: data.classic,
    mapUrl: (ctx, url) => {
      const canonical = url === ctx.request.path ? { ok: true as const, path: url } : normalizeDecodedPath(url.split('?')[0]!);
      const mapped = canonical.ok ? mapUrlToPhysical(ctx.siteConfig, canonical.path) : undefined;
      if (!mapped) throw new Error(`cannot map '${url}' to a physical path`);
      return mapped.physicalPath;
    },
    mapHandler: (ctx) => mapRequestHandler(ctx, data.classic),
    peekHandlerModules: (ctx) => {
      const chosen = selectHandler(ctx, true);
      return typeof chosen === 'string' ? [] : chosen.modules;
    },
  });
  const global = await globals.catch(() => undefined);
  await global?.fireGlobal(GLOBAL_NOTIFICATION.APPLICATION_START, provider);
  await engine.fireGlobal(GLOBAL_NOTIFICATION.APPLICATION_START, provider);
  const preBegin = [global, engine].filter(
    (e): e is PipelineEngine => e !== undefined && e.pipeline.global.has(GLOBAL_NOTIFICATION.PRE_BEGIN_REQUEST),
  );
  return {
    engine, failure: undefined, info, provider, rootConfig, preBegin, generation: hierarchy.generation, builtAt: Date.now(),
  };
}

/** The runtime of the application serving `path`, rebuilt when its configuration changed. */
function runtimeFor(site: SiteConfig, path: string): AppRuntime | Promise<AppRuntime> {
  const app = findApplication(site, path);
  const key = app;
  const current = apps.get(key);
  if (current && !(current instanceof Promise)) {
    if (current.generation === hierarchy.generation && !current.failure) return current;
    let root: EffectiveConfig | undefined;
    try {
      root = hierarchy.effective(site, appRootUrl(app));
    } catch {
      root = undefined;
    }
    // A module that failed to load is tried again (at most once a second), so fixing the
    // module's file is enough; a configuration error waits for the configuration to change.
    const retry = current.failure?.code === 'MODULE_NOT_RECOGNIZED' && Date.now() - current.builtAt > 1000;
    // Compare what the configuration was built from, not object identity: any change anywhere
    // drops every memoised configuration, and only this application's files matter here.
    const unchanged = root === undefined
      ? current.failure?.code === 'CONFIG_INVALID' // still broken: keep answering 500.19
      : root.signature === current.rootConfig?.signature && !retry;
    if (unchanged) {
      current.generation = hierarchy.generation;
      return current;
    }
    // The application's configuration changed: stop it and start it again, as IIS recycles
    // an application domain when its web.config changes.
    if (!current.failure) void stopApplication(current);
  } else if (current) {
    return current;
  }
  const building = buildRuntime(site, app).then(
    (rt) => {
      apps.set(key, rt);
      refreshThreadCleanup();
      return rt;
    },
    (err: unknown) => {
      apps.delete(key); // not a configuration problem: the next request tries again
      throw err;
    },
  );
  apps.set(key, building);
  return building;
}

async function stopApplication(rt: AppRuntime): Promise<void> {
  await rt.engine?.fireGlobal(GLOBAL_NOTIFICATION.APPLICATION_STOP, rt.provider);
  await globalEngine?.fireGlobal(GLOBAL_NOTIFICATION.APPLICATION_STOP, rt.provider);
}

type Deliver = (response: WireResponse) => void;

function handle(req: WireRequest, deliver: Deliver): void {
  const site = sites.get(req.siteId);
  if (!site) {
    deliver(errorResponse(req, 'SITE_NOT_FOUND', undefined));
    return;
  }
  let rt: AppRuntime | Promise<AppRuntime>;
  try {
    rt = runtimeFor(site, req.path);
  } catch (err) {
    deliver(errorResponse(req, 'MODULE_ERROR', err as Error));
    return;
  }
  if (rt instanceof Promise) {
    rt.then((r) => run(req, site, r, deliver), (err: unknown) => deliver(errorResponse(req, 'MODULE_ERROR', err as Error)));
  } else {
    run(req, site, rt, deliver);
  }
}

function run(req: WireRequest, site: SiteConfig, rt: AppRuntime, deliver: Deliver): void {
  if (rt.failure || !rt.engine) {
    deliver(errorResponse(req, rt.failure?.code ?? 'MODULE_ERROR', rt.failure?.error));
    return;
  }
  let config: EffectiveConfig;
  try {
    config = hierarchy.effective(site, req.path);
    validateSections(config);
  } catch (err) {
    deliver(errorResponse(req, 'CONFIG_INVALID', err as Error));
    return;
  }
  const request = new HttpRequest({
    method: req.method, rawUrl: req.rawUrl, path: req.path, queryString: req.queryString,
    httpVersion: req.httpVersion, remoteAddress: req.remoteAddress, remotePort: req.remotePort,
    localAddress: req.localAddress, localPort: req.localPort, secure: req.secure, headers: req.headers,
    entity: req.entity ?? EMPTY,
  });
  const ctx = new HttpContext({ request, site, application: rt.info, config, host: rt.engine });
  const engine = rt.engine;
  executing.set(req.id, ctx);
  const start = () => engine.execute(ctx, (c, provider) => {
    executing.delete(req.id);
    deliver(toWire(req, c, (provider.flags & 1) !== 0));
  });
  if (rt.preBegin.length === 0) {
    start();
    return;
  }
  (async () => {
    for (const e of rt.preBegin) await e.fireGlobal(GLOBAL_NOTIFICATION.PRE_BEGIN_REQUEST, ctx);
  })().then(start, start);
}

const EMPTY = new Uint8Array(0);

/**
 * Gives the bodies of `responses` one ArrayBuffer, each body a view into it. Cloning a view to
 * another thread copies its whole ArrayBuffer (a small Buffer is a view into Node's shared 8 KiB
 * pool: 12 bytes would cross as 8 KiB), and every ArrayBuffer the listener receives is one more
 * allocation with a backing store for its GC to sweep: one per batch instead of one per response.
 */
function packBodies(responses: WireResponse[]): WireResponse[] {
  let total = 0;
  for (const r of responses) if (r.body) total += r.body.byteLength;
  if (total === 0) return responses;
  const shared = new Uint8Array(total);
  let at = 0;
  return responses.map((r) => {
    if (!r.body) return r;
    shared.set(r.body, at);
    const body = shared.subarray(at, (at += r.body.byteLength));
    return { ...r, body };
  });
}

/** Headers uWS writes itself or that framing owns; a module cannot set them. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'date', 'connection']);
const validated = new WeakSet<EffectiveConfig>();

/**
 * Reads every built-in section once per effective configuration, so a bad value anywhere in
 * a web.config answers 500.19 for every URL under it, as IIS does, not only for the URLs whose
 * modules happen to read that section.
 */
function validateSections(config: EffectiveConfig): void {
  if (validated.has(config)) return;
  for (const reader of SECTION_READERS) config.section(reader);
  validated.add(config);
}

function toWire(req: WireRequest, ctx: HttpContext, disconnect: boolean): WireResponse {
  const res = ctx.response;
  let head = `${res.status} ${res.statusText}`;
  let server = false;
  let vary: string | undefined;
  let personal = false;
  for (const [lower, { name, values }] of res.headerEntries()) {
    if (FRAMING.has(lower)) continue;
    if (lower === 'set-cookie') {
      // Answers for one client never go to the listener's cache (HTTP.sys would keep them: the
      // known Set-Cookie pitfall; w3core does not). Each cookie keeps its own line.
      personal = true;
      for (const v of values) head += `\r\n${name}: ${v}`;
      continue;
    }
    const value = values.length === 1 ? values[0]! : values.join(', ');
    if (lower === 'server') server = true;
    else if (lower === 'vary') vary = value;
    else if (lower === 'cache-control' && PRIVATE_CACHE_CONTROL.test(value)) personal = true;
    head += `\r\n${name}: ${value}`;
  }
  if (!server) head += '\r\nServer: w3core';
  const chunks = res.chunks;
  const contentLength = res.bodyLength;
  let body: Uint8Array | null = null;
  let wireChunks: WireChunk[] | null = null;
  const noBody = req.method === 'HEAD' || res.status === 304 || res.status === 204 || res.status < 200;
  if (!noBody && chunks.length) {
    if (chunks.every((c) => c.kind === 'memory')) {
      body = chunks.length === 1 ? (chunks[0] as { data: Uint8Array }).data : Buffer.concat(chunks.map((c) => (c as { data: Uint8Array }).data));
    } else {
      wireChunks = chunks.map((c) => (c.kind === 'memory' ? c.data : { path: c.path, offset: c.offset, length: c.length }));
    }
  }
  return {
    id: req.id,
    status: res.status,
    subStatus: res.subStatus,
    head,
    body,
    chunks: wireChunks,
    contentLength: noBody && (res.status === 304 || res.status === 204) ? 0 : contentLength,
    disconnect: disconnect || res.needDisconnect,
    cache: body && !noBody && !personal ? kernelCachePolicy(ctx, vary) : null,
  };
}

/** `Cache-Control` directives that keep a response out of shared caches. */
const PRIVATE_CACHE_CONTROL = /(?:^|,)\s*(?:private|no-store|no-cache)\b/i;

/** The extension of the last URL segment, lower-cased with its dot ('' when none). */
function extensionOf(path: string): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash ? path.slice(dot).toLowerCase() : '';
}

/**
 * May the listener's kernel-style cache keep this response, and on what terms? The worker
 * decides what depends on the response and the configuration: a 200 whose module or
 * `caching` profile asked for it, not disabled by `DisableKernelCache`, caching on for the
 * URL. The listener adds what depends on the request (verb, query, Authorization, Range,
 * frequent hits, sizes).
 */
function kernelCachePolicy(ctx: HttpContext, vary: string | undefined): WireCachePolicy | null {
  const res = ctx.response;
  if (res.kernelCacheDisabled || res.status !== 200 || res.subStatus !== 0) return null;
  if (ctx.user && ctx.user.authenticationType !== 'Anonymous') return null;
  const caching = ctx.config.section(CACHING);
  if (!caching.enabled || !caching.enableKernelCache) return null;
  const policy = res.cachePolicyIfSet;
  if (policy === undefined && caching.profiles.size === 0) return null;
  let ttlMs = policy?.kernelPolicy === 'timeToLive' ? policy.secondsToLive * 1000 : 0;
  let cacheable = policy !== undefined && policy.kernelPolicy !== 'none';
  const varyByHeaders = [...(policy?.varyByHeaders ?? [])];
  const varyByQueryString = [...(policy?.varyByQueryStrings ?? [])];
  const profile = caching.profiles.get(extensionOf(ctx.request.path));
  if (profile) {
    if (profile.kernelCachePolicy === 'DisableCache') return null;
    if (profile.kernelCachePolicy === 'CacheUntilChange') {
      cacheable = true;
      ttlMs = 0;
    } else if (profile.kernelCachePolicy === 'CacheForTimePeriod') {
      if (profile.durationMs <= 0) return null; // a zero period caches nothing, not forever
      cacheable = true;
      ttlMs = profile.durationMs;
    }
    for (const h of profile.varyByHeaders) if (!varyByHeaders.includes(h)) varyByHeaders.push(h);
    for (const q of profile.varyByQueryString) if (!varyByQueryString.includes(q)) varyByQueryString.push(q);
  }
  if (!cacheable) return null;
  // `*` means every header (nothing to key on: not cacheable) or the whole query string.
  if (varyByHeaders.includes('*')) return null;
  if (varyByQueryString.includes('*')) varyByQueryString.splice(0, varyByQueryString.length, '*');
  // The response's own Vary header: `*` cannot be cached; names add to the variants.
  if (vary !== undefined) {
    for (const name of vary.split(',')) {
      const h = name.trim().toLowerCase();
      if (h === '*') return null;
      if (h && !varyByHeaders.includes(h)) varyByHeaders.push(h);
    }
  }
  return { ttlMs, files: policy?.invalidators ?? [], varyByHeaders, varyByQueryString };
}


/** A response built outside the pipeline: 500.19 for broken configuration, 500.21, 404.1. */
function errorResponse(req: WireRequest, code: keyof typeof HTTP_ERROR, error: Error | undefined): WireResponse {
  const e = HTTP_ERROR[code];
  const text = code === 'CONFIG_INVALID'
    ? 'The requested page cannot be accessed because the related configuration data for the page is invalid.'
    : code === 'MODULE_NOT_RECOGNIZED' ? 'A module named in the configuration could not be loaded.'
    : 'The request could not be completed.';
  const html = errorPage(code, text, isLocalAddress(req.remoteAddress) ? error?.message : undefined);
  if (error && !(error instanceof ConfigError)) console.error('w3core: request failed outside the pipeline:', error);
  const body = req.method === 'HEAD' ? null : Buffer.from(html);
  return {
    id: req.id, status: e.status, subStatus: e.subStatus,
    head: `${e.status} ${e.reason}\r\nContent-Type: text/html; charset=utf-8\r\nServer: w3core`, body, chunks: null,
    contentLength: Buffer.byteLength(html), disconnect: false, cache: null,
  };
}

/**
 * The piscina task: one batch of requests in, responses out.
 *
 * When every request of the batch finishes synchronously (the common case) the responses go
 * back as the task's result. When some wait on I/O, the finished ones leave at once as
 * messages and the task stays open until the last one is done, and the worker tells the pool
 * the batch is `released` so the next one may come (the pool keeps at most two batches per
 * worker in hand, counting open ones).
 */
export default function runBatch(task: BatchTask | StopTask | CacheEventsTask | PingTask): BatchResult | Promise<BatchResult> {
  if ('control' in task) {
    if (task.control === 'stop') return stopTask(task);
    if (task.control === 'ping') return ping();
    return cacheEvents(task);
  }
  Atomics.add(health, slot + HEALTH.OPEN_TASKS, 1);
  beat();
  let result: BatchResult | Promise<BatchResult>;
  try {
    result = runRequests(task);
  } catch (err) {
    taskDone();
    throw err;
  }
  if (result instanceof Promise) return result.finally(taskDone);
  taskDone();
  return result;
}

/** A batch task is over: the heartbeat moves, and ThreadCleanup runs for modules that want it. */
function taskDone(): void {
  Atomics.sub(health, slot + HEALTH.OPEN_TASKS, 1);
  batchDone();
}

function batchDone(): void {
  beat();
  if (threadCleanup.length > 0) {
    for (const engine of threadCleanup) void engine.fireGlobal(GLOBAL_NOTIFICATION.THREAD_CLEANUP, { threadId });
  }
}

/** Engines with ThreadCleanup handlers (kept current as applications start). */
let threadCleanup: PipelineEngine[] = [];

function refreshThreadCleanup(): void {
  const engines: PipelineEngine[] = [];
  if (globalEngine?.pipeline.global.has(GLOBAL_NOTIFICATION.THREAD_CLEANUP)) engines.push(globalEngine);
  for (const rt of apps.values()) {
    if (!(rt instanceof Promise) && rt.engine?.pipeline.global.has(GLOBAL_NOTIFICATION.THREAD_CLEANUP)) engines.push(rt.engine);
  }
  threadCleanup = engines;
}

/** The pool's ping: HealthCheck for the global modules, and a heartbeat. */
async function ping(): Promise<BatchResult> {
  beat();
  const engines: PipelineEngine[] = [];
  const global = await globals.catch(() => undefined);
  if (global) engines.push(global);
  for (const rt of apps.values()) if (!(rt instanceof Promise) && rt.engine) engines.push(rt.engine);
  for (const engine of engines) await engine.fireGlobal(GLOBAL_NOTIFICATION.HEALTH_CHECK, { threadId, poolName: data.poolName });
  return { responses: [] };
}

function runRequests(task: BatchTask): BatchResult | Promise<BatchResult> {
  const responses: WireResponse[] = [];
  let collecting = true;
  let finish: (() => void) | undefined;
  const deliver: Deliver = (response) => {
    outstanding--;
    if (collecting) responses.push(response);
    else {
      postLate(response);
      if (outstanding === 0) finish?.();
    }
  };
  const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  const requests = decodeRequests(bytes, 0, bytes.byteLength, task.entities);
  let outstanding = requests.length;
  for (const req of requests) {
    try {
      handle(req, deliver);
    } catch (err) {
      executing.delete(req.id);
      deliver(errorResponse(req, 'MODULE_ERROR', err as Error));
    }
  }
  if (outstanding === 0) return { responses: packBodies(responses) };
  // Let promise-based modules that need no I/O finish inside this batch.
  return new Promise<void>((r) => setImmediate(r)).then(() => {
    if (outstanding === 0) return { responses: packBodies(responses) };
    const early = responses.splice(0);
    collecting = false;
    // One message each: a shared buffer would be copied whole into every message.
    for (const response of early) postLate(response);
    parentPort!.postMessage({ w3core: 'released', batch: task.batch } satisfies BatchReleasedMessage);
    return new Promise<BatchResult>((resolve) => {
      finish = () => resolve({ responses: [] });
    });
  });
}

/*
 * The rings (wire.ts, ring.ts): the pool's fast lane. Requests arrive as ring records, with no
 * task; the responses of one turn leave as one record. While any ring request is unanswered
 * the worker counts one open task in its health slot, so a worker stuck in a module is still
 * seen by the pool's pings.
 */
const requestRing = ByteRing.allocate(REQUEST_RING_BYTES);
/** Requests whose client left while they waited in the ring (see ChannelMessage.withdrawn). */
const withdrawn = new Int32Array(new SharedArrayBuffer(4 * ID_SLOTS));
const responseRing = ByteRing.allocate(RESPONSE_RING_BYTES);
/** Most request records taken in one turn before the event loop gets a turn of its own. */
const RECORDS_PER_TURN = 16;
const NO_ENTITIES: (Uint8Array | null)[] = [];
let outbox: WireResponse[] = [];
let outboxScheduled = false;
let ringHeld = 0;
let ringTurn = false;

function deliverFromRing(response: WireResponse): void {
  outbox.push(response);
  if (--ringHeld === 0) Atomics.sub(health, slot + HEALTH.OPEN_TASKS, 1);
  if (!ringTurn && !outboxScheduled) {
    outboxScheduled = true;
    setImmediate(flushOutbox);
  }
}

/** Sends the answered ring requests: as one record when they fit, the rest as messages. */
function flushOutbox(): void {
  outboxScheduled = false;
  const list = outbox;
  outbox = [];
  // What goes in the record, with its JSON part and room, worked out once per response.
  const fit: { response: WireResponse; extra: string }[] = [];
  let room = 0;
  for (const response of list) {
    const extra = fitsRing(response) ? responseExtra(response) : undefined;
    const bound = extra === undefined ? 0 : responseBound(response, extra);
    if (extra === undefined || room + bound > responseRing.maxRecord) {
      postLate(response);
      continue;
    }
    fit.push({ response, extra });
    room += bound;
  }
  if (fit.length === 0) return;
  const start = responseRing.reserve(room);
  if (start < 0) {
    for (const { response } of fit) postLate(response);
    return;
  }
  let at = start;
  for (const { response, extra } of fit) at = encodeResponse(responseRing.data, at, response, extra);
  responseRing.commit(at - start);
}

/** A response that does not travel in the ring goes as a message of its own. */
function postLate(response: WireResponse): void {
  parentPort!.postMessage({ w3core: 'response', response: packBodies([response])[0]! } satisfies LateResponseMessage);
}

async function serveRing(): Promise<void> {
  for (;;) {
    let at = requestRing.next();
    if (at < 0) {
      await requestRing.waitForRecord();
      continue;
    }
    ringTurn = true;
    try {
      for (let records = 0; at >= 0 && records < RECORDS_PER_TURN; records++, at = requestRing.next()) {
        let requests: WireRequest[];
        try {
          requests = decodeRequests(requestRing.data, at, requestRing.length(at), NO_ENTITIES);
        } finally {
          requestRing.release(at);
        }
        if (ringHeld === 0 && requests.length > 0) Atomics.add(health, slot + HEALTH.OPEN_TASKS, 1);
        ringHeld += requests.length;
        for (const req of requests) {
          if (Atomics.load(withdrawn, slotOf(req.id)) === sequenceOf(req.id)) {
            deliverFromRing(withdrawnResponse(req));
            continue;
          }
          try {
            handle(req, deliverFromRing);
          } catch (err) {
            executing.delete(req.id);
            deliverFromRing(errorResponse(req, 'MODULE_ERROR', err as Error));
          }
        }
      }
    } catch (err) {
      console.error('w3core: a request batch could not be read:', err);
    } finally {
      ringTurn = false;
    }
    flushOutbox();
    batchDone();
    // More records waiting: let timers, I/O and control tasks have a turn first.
    if (requestRing.next() >= 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The answer for a request that never ran: its client is gone, so nobody reads it. */
function withdrawnResponse(req: WireRequest): WireResponse {
  return {
    id: req.id, status: 503, subStatus: 0, head: '503 Service Unavailable', body: null, chunks: null, contentLength: 0,
    disconnect: true, cache: null,
  };
}

parentPort!.postMessage({
  w3core: 'channel', threadId, requests: requestRing.sab, responses: responseRing.sab, withdrawn: withdrawn.buffer as SharedArrayBuffer,
} satisfies ChannelMessage);
void serveRing();

const OPERATION_NAMES = ['RETRIEVE', 'ADD', 'DELETE', 'FLUSH_PREFIX', 'ENUM'] as const;

/** `CacheOperation` / `CacheCleanup` for the global engine and every application's engine. */
async function cacheEvents(task: CacheEventsTask): Promise<BatchResult> {
  const engines: PipelineEngine[] = [];
  const global = await globals.catch(() => undefined);
  if (global) engines.push(global);
  for (const rt of apps.values()) if (!(rt instanceof Promise) && rt.engine) engines.push(rt.engine);
  for (const event of task.events) {
    for (const engine of engines) {
      if (event.kind === 'cleanup') {
        await engine.fireGlobal(GLOBAL_NOTIFICATION.CACHE_CLEANUP, { cache: 'kernel' });
      } else {
        const site = sites.get(event.siteId);
        await engine.fireGlobal(GLOBAL_NOTIFICATION.CACHE_OPERATION, {
          cache: 'kernel', operation: event.operation, operationName: OPERATION_NAMES[event.operation] ?? 'UNKNOWN',
          siteId: event.siteId, siteName: site?.name ?? '', url: event.url,
        });
      }
    }
  }
  return { responses: [] };
}

let stopping: Promise<void> | undefined;

/** StopListening, then ApplicationStop for every application this worker started; once. */
function stopWorker(changedPath?: string): Promise<void> {
  stopping ??= (async () => {
    // Recycled because a web.config changed: the modules hear of it before they stop.
    if (changedPath !== undefined) {
      const change = { path: changedPath };
      await globalEngine?.fireGlobal(GLOBAL_NOTIFICATION.CONFIGURATION_CHANGE, change);
      for (const rt of apps.values()) if (!(rt instanceof Promise)) await rt.engine?.fireGlobal(GLOBAL_NOTIFICATION.CONFIGURATION_CHANGE, change);
    }
    const provider = { applicationPool: data.poolName };
    await globalEngine?.fireGlobal(GLOBAL_NOTIFICATION.STOP_LISTENING, provider);
    for (const rt of apps.values()) {
      const r = rt instanceof Promise ? await rt.catch(() => undefined) : rt;
      if (!r) continue;
      await r.engine?.fireGlobal(GLOBAL_NOTIFICATION.STOP_LISTENING, provider);
      await stopApplication(r);
    }
  })().finally(() => {
    Atomics.add(data.stopped, 0, 1);
    Atomics.notify(data.stopped, 0);
  });
  return stopping;
}

type WaitAsync = (a: Int32Array, index: number, value: number, timeout: number) => { async: boolean; value: Promise<string> | string };

async function stopTask(task: StopTask): Promise<BatchResult> {
  await stopWorker(task.configurationChange);
  // Hold this task until every worker has stopped: a busy worker is not given the next one.
  const deadline = Date.now() + task.timeoutMs;
  const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
  for (let seen = Atomics.load(data.stopped, 0); seen < task.workers && Date.now() < deadline; seen = Atomics.load(data.stopped, 0)) {
    const r = waitAsync(data.stopped, 0, seen, 20);
    if (r.async) await r.value;
  }
  return { responses: [] };
}

// Heard only while this worker's event loop runs (requests in progress); an idle worker gets a
// stop task instead (see StopTask).
const channel = new BroadcastChannel(data.channel);
channel.onmessage = (event: unknown) => {
  const msg = (event as { data: ControlMessage }).data;
  if (msg?.type === 'stop') void stopWorker(msg.configurationChange);
  else if (msg?.type === 'executing') {
    const now = performance.now();
    const items: ExecutingInWorker[] = [];
    for (const [id, ctx] of executing) {
      items.push({ id, stage: ctx.currentNotification, module: ctx.currentModule, timeInWorkerMs: Math.round(now - ctx.startTime) });
    }
    parentPort!.postMessage({ w3core: 'executing', replyId: msg.replyId, workerId: threadId, items } satisfies ExecutingMessage);
  }
};
channel.unref();

import { Buffer } from 'node:buffer';
import { statSync, type Stats } from 'node:fs';
import type { SiteConfig } from '../config/application-host.js';
import type { EffectiveConfig, SectionReader } from '../config/config-hierarchy.js';
import { HTTP_ERROR, REASON_PHRASE, escapeHtml, isLocalAddress, type HttpErrorCode } from '../errors.js';
import type { TraceEvent } from './module.js';

/** One piece of the response entity (`HTTP_DATA_CHUNK`): bytes in memory or a range of a file. */
export type ResponseChunk =
  | { readonly kind: 'memory'; readonly data: Uint8Array }
  | { readonly kind: 'file'; readonly path: string; readonly offset: number; readonly length: number };

/** The request as copied out of the listener (`IHttpRequest`). */
export class HttpRequest {
  readonly method: string;
  /** The raw URL as received: path and query, still percent-encoded. */
  readonly rawUrl: string;
  /** The canonical path: decoded once, dot segments resolved. */
  readonly path: string;
  /** The raw query string without `?` (empty when none). */
  readonly queryString: string;
  readonly httpVersion: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly secure: boolean;
  #headers: ReadonlyMap<string, string> | readonly string[];
  #query: URLSearchParams | undefined;
  #entity: Uint8Array;
  /** Set by the engine: fires READ_ENTITY on the first read. */
  onReadEntity: (() => void | Promise<void>) | undefined;
  #entityRead = false;

  constructor(init: {
    method: string; rawUrl: string; path: string; queryString: string; httpVersion: string;
    remoteAddress: string; remotePort: number; localAddress: string; localPort: number;
    secure: boolean;
    /** A map, or the listener's flat `[name, value, …]` list (names lower-cased), read into one on first use. */
    headers: ReadonlyMap<string, string> | readonly string[];
    entity: Uint8Array;
  }) {
    this.method = init.method;
    this.rawUrl = init.rawUrl;
    this.path = init.path;
    this.queryString = init.queryString;
    this.httpVersion = init.httpVersion;
    this.remoteAddress = init.remoteAddress;
    this.remotePort = init.remotePort;
    this.localAddress = init.localAddress;
    this.localPort = init.localPort;
    this.secure = init.secure;
    this.#headers = init.headers;
    this.#entity = init.entity;
  }

  /** Header names lower-cased; repeated headers joined with `, ` (cookies with `; `). */
  get headers(): ReadonlyMap<string, string> {
    const h = this.#headers;
    if (!Array.isArray(h)) return h as ReadonlyMap<string, string>;
    // Built when a module first asks: many requests are answered without reading a header.
    const map = new Map<string, string>();
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!;
      const prior = map.get(name);
      const value = h[i + 1]!;
      map.set(name, prior === undefined ? value : `${prior}${name === 'cookie' ? '; ' : ', '}${value}`);
    }
    this.#headers = map;
    return map;
  }

  /** A request header by name (case-insensitive). */
  getHeader(name: string): string | undefined {
    return this.headers.get(name.toLowerCase());
  }

  /** Parsed query parameters, built on first use. */
  get query(): URLSearchParams {
    this.#query ??= new URLSearchParams(this.queryString);
    return this.#query;
  }

  /** Bytes of request entity the listener received (already bounded by maxAllowedContentLength). */
  get entityLength(): number {
    return this.#entity.byteLength;
  }

  /**
   * Reads the request entity (`IHttpRequest::ReadEntityBody`). The listener read it before the
   * request entered the pipeline, so this never waits on the network; READ_ENTITY fires on the
   * first call.
   */
  async readEntity(): Promise<Buffer> {
    if (!this.#entityRead) {
      this.#entityRead = true;
      await this.onReadEntity?.();
    }
    return Buffer.from(this.#entity.buffer, this.#entity.byteOffset, this.#entity.byteLength);
  }

  /** The entity as UTF-8 text. */
  async readText(): Promise<string> {
    return (await this.readEntity()).toString('utf8');
  }
}

/**
 * Response header names already checked against RFC 9110's token grammar, each with its
 * lower-cased key. Modules set the same few names, mostly as literals: one lookup replaces the
 * check, a `toLowerCase()` and hashing the new string for the header map.
 */
const HEADER_KEYS = new Map<string, string>();

/** The lower-cased key of a valid header name; undefined when `name` is not a token. */
function headerKey(name: string): string | undefined {
  const known = HEADER_KEYS.get(name);
  if (known !== undefined) return known;
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return undefined;
  const key = name.toLowerCase();
  if (HEADER_KEYS.size < 1024) HEADER_KEYS.set(name, key);
  return key;
}

/**
 * RFC 9110 §5.5: a field value is visible characters, SP and HTAB (obs-text passes); true when
 * `v` has anything else. A loop: most values are a few characters, where it beats a regex test.
 */
function hasInvalidFieldChar(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

interface HeaderEntry {
  name: string;
  values: string[];
}

export interface RedirectOptions {
  /** `true` (default): answer with a redirect status; `false`: keep the status, body only. */
  readonly resetStatusCode?: boolean;
  /** Carry the original query string over. */
  readonly includeParameters?: boolean;
  /** 301, 302 (default), 303, 307 or 308. */
  readonly status?: number;
}

/** A file a cached response depends on, as it was when the response was built. */
export interface CacheInvalidator {
  readonly path: string;
  readonly mtimeMs: number;
  readonly size: number;
}

/**
 * How the kernel-style response cache may keep this response (`IHttpCachePolicy`, kernel
 * part). `none` (the default) keeps a response out of it, unless a `caching` profile for the
 * URL's extension says otherwise; StaticFileModule sets `untilChange` with the file as its
 * invalidator. `DisableKernelCache` on the response always wins.
 */
export class CachePolicy {
  kernelPolicy: 'none' | 'untilChange' | 'timeToLive' = 'none';
  secondsToLive = 0;
  readonly invalidators: CacheInvalidator[] = [];
  /** Lower-cased request header names the response varies by. */
  readonly varyByHeaders: string[] = [];
  /** Query string parameter names the response varies by (`*` = all of the query string). */
  readonly varyByQueryStrings: string[] = [];

  /** `HTTP_CACHE_POLICY` for the kernel cache: until invalidated, or for `seconds`. */
  setKernelCachePolicy(policy: 'none' | 'untilChange' | 'timeToLive', seconds = 0): void {
    if (policy === 'timeToLive' && !(Number.isFinite(seconds) && seconds > 0)) {
      throw new RangeError(`timeToLive needs a positive number of seconds, not ${seconds}`);
    }
    this.kernelPolicy = policy;
    this.secondsToLive = seconds;
  }

  /** `SetKernelCacheInvalidatorSet`: the cached response goes when this file changes. */
  addInvalidator(path: string, stat: { readonly mtimeMs: number; readonly size: number }): void {
    this.invalidators.push({ path, mtimeMs: stat.mtimeMs, size: stat.size });
  }

  appendVaryByHeader(name: string): void {
    const lower = name.toLowerCase();
    if (!this.varyByHeaders.includes(lower)) this.varyByHeaders.push(lower);
  }

  appendVaryByQueryString(name: string): void {
    if (!this.varyByQueryStrings.includes(name)) this.varyByQueryStrings.push(name);
  }
}

/** The response being built (`IHttpResponse`). Buffered until the pipeline finishes. */
export class HttpResponse {
  status = 200;
  subStatus = 0;
  statusText = 'OK';
  /** Set with `setStatus(..., { trySkipCustomErrors: true })`: CustomErrorModule leaves the body alone (Auto). */
  trySkipCustomErrors = false;
  errorDescription: string | undefined;
  /** The error behind a 500 raised by a module, for detailed error pages. */
  error: { module: string; notification: string; message: string; stack: string | undefined } | undefined;
  /** Module and notification that set the status (`IHttpResponse::GetStatus`). */
  statusSetBy: { readonly module: string; readonly notification: string } | undefined;
  kernelCacheDisabled = false;
  kernelCacheDisableReason = 0;
  needDisconnect = false;
  #cachePolicy: CachePolicy | undefined;
  readonly #headers = new Map<string, HeaderEntry>();
  #chunks: ResponseChunk[] = [];
  readonly #request: HttpRequest;
  readonly #origin: { readonly currentModule: string; readonly currentNotification: string } | undefined;

  /** @param origin what is running now (the request's context), for {@link statusSetBy}. */
  constructor(request: HttpRequest, origin?: { readonly currentModule: string; readonly currentNotification: string }) {
    this.#request = request;
    this.#origin = origin;
  }

  /**
   * Sets the status (`IHttpResponse::SetStatus`).
   * @param options.trySkipCustomErrors keep this body even when custom errors would replace it.
   */
  setStatus(
    status: number, statusText?: string, subStatus = 0,
    options: { trySkipCustomErrors?: boolean; errorDescription?: string } = {},
  ): void {
    if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`invalid HTTP status ${status}`);
    if (statusText !== undefined && /[\r\n\0]/.test(statusText)) throw new TypeError('invalid HTTP status text');
    this.status = status;
    this.statusText = statusText ?? REASON_PHRASE[status] ?? 'Unknown';
    this.subStatus = subStatus;
    this.trySkipCustomErrors = options.trySkipCustomErrors ?? false;
    this.errorDescription = options.errorDescription;
    this.statusSetBy = this.#origin === undefined
      ? undefined
      : { module: this.#origin.currentModule, notification: this.#origin.currentNotification };
  }

  /** Sets a status from the coded error table, e.g. `setError('MIME_MAP_DENIED')` → 404.3. */
  setError(code: HttpErrorCode, description?: string): void {
    const e = HTTP_ERROR[code];
    this.setStatus(e.status, e.reason, e.subStatus, description === undefined ? {} : { errorDescription: description });
  }

  /** Sets a header; with `replace = false` the value is appended (comma-joined on the wire). */
  setHeader(name: string, value: string | number, replace = true): void {
    const v = String(value);
    const key = headerKey(name);
    if (key === undefined || hasInvalidFieldChar(v)) {
      throw new TypeError(`invalid response header ${JSON.stringify(name)}`);
    }
    const entry = this.#headers.get(key);
    if (entry && !replace) entry.values.push(v);
    else this.#headers.set(key, { name, values: [v] });
  }

  getHeader(name: string): string | undefined {
    return this.#headers.get(HEADER_KEYS.get(name) ?? name.toLowerCase())?.values.join(', ');
  }

  deleteHeader(name: string): void {
    this.#headers.delete(name.toLowerCase());
  }

  clearHeaders(): void {
    this.#headers.clear();
  }

  /**
   * The headers by lower-cased name, in insertion order, each with the name as set and its
   * values (what the worker joins into the response head without a pair per header).
   */
  headerEntries(): IterableIterator<[string, { readonly name: string; readonly values: readonly string[] }]> {
    return this.#headers.entries();
  }

  /** Header name/value pairs in insertion order; repeated `Set-Cookie` values stay separate. */
  *headerPairs(): Generator<[string, string]> {
    for (const { name, values } of this.#headers.values()) {
      if (name.toLowerCase() === 'set-cookie') for (const v of values) yield [name, v];
      else yield [name, values.join(', ')];
    }
  }

  /** Appends bytes or UTF-8 text to the entity (`WriteEntityChunks` with a memory chunk). */
  write(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.byteLength) this.#chunks.push({ kind: 'memory', data: bytes });
  }

  /**
   * Appends a range of a file (`HTTP_DATA_CHUNK` of type FromFileHandle). The listener streams
   * it with backpressure; the bytes never pass through the worker.
   */
  writeFile(path: string, offset = 0, length?: number): void {
    const len = length ?? statSync(path).size - offset;
    if (offset < 0 || len < 0) throw new RangeError('invalid file range');
    if (len) this.#chunks.push({ kind: 'file', path, offset, length: len });
  }

  get chunks(): readonly ResponseChunk[] {
    return this.#chunks;
  }

  /** Total entity length in bytes. */
  get bodyLength(): number {
    let n = 0;
    for (const c of this.#chunks) n += c.kind === 'memory' ? c.data.byteLength : c.length;
    return n;
  }

  /** Drops the entity, keeping status and headers. */
  clearBody(): void {
    this.#chunks = [];
  }

  /** Resets status, headers and entity (`IHttpResponse::Clear`). */
  clear(): void {
    this.clearBody();
    this.clearHeaders();
    this.setStatus(200);
    this.error = undefined;
    this.#cachePolicy = undefined;
  }

  /**
   * Redirects (`IHttpResponse::Redirect`): relative URLs are made absolute within the request's
   * host. The entity is discarded; return FINISH_REQUEST afterwards.
   */
  redirect(url: string, options: RedirectOptions = {}): void {
    let location = url;
    if (options.includeParameters && this.#request.queryString) {
      location += (location.includes('?') ? '&' : '?') + this.#request.queryString;
    }
    if (!/^[a-z][a-z0-9+.-]*:/i.test(location)) {
      const host = this.#request.getHeader('host') ?? `${this.#request.localAddress}:${this.#request.localPort}`;
      const base = `${this.#request.secure ? 'https' : 'http'}://${host}`;
      const dir = this.#request.path.slice(0, this.#request.path.lastIndexOf('/') + 1);
      location = new URL(location, base + dir).toString();
    }
    this.clearBody();
    if (options.resetStatusCode ?? true) this.setStatus(options.status ?? 302);
    this.setHeader('Location', location);
    this.setHeader('Content-Type', 'text/html; charset=UTF-8');
    this.write(`<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>This document may be found <a HREF="${escapeHtml(location)}">here</a></body>`);
  }

  /** The response's cache policy (`IHttpResponse::GetCachePolicy`), created on first use. */
  get cachePolicy(): CachePolicy {
    return (this.#cachePolicy ??= new CachePolicy());
  }

  /** The policy if a module touched it (the listener's cache needs no object otherwise). */
  get cachePolicyIfSet(): CachePolicy | undefined {
    return this.#cachePolicy;
  }

  /** Keeps this response out of the kernel-style response cache (`DisableKernelCache`). */
  disableKernelCache(reason = 9): void {
    this.kernelCacheDisabled = true;
    this.kernelCacheDisableReason = reason;
  }

  /** Closes the connection after this response (`SetNeedDisconnect`). */
  setNeedDisconnect(): void {
    this.needDisconnect = true;
  }
}

/** The user a module authenticated (`IHttpUser`). */
export interface HttpUser {
  readonly name: string;
  readonly authenticationType: string;
  readonly roles?: readonly string[];
}

/** The application serving the request (`IHttpApplication`). */
export interface ApplicationInfo {
  readonly path: string;
  readonly physicalPath: string;
  readonly applicationPool: string;
  /** `MACHINE/WEBROOT/APPHOST/<site><path>` */
  readonly configPath: string;
}

/** The handler chosen by the `<handlers>` mapping (`IScriptMapInfo`). */
export interface HandlerInfo {
  readonly name: string;
  readonly path: string;
  readonly verb: string;
  readonly modules: readonly string[];
  readonly resourceType: 'File' | 'Directory' | 'Either' | 'Unspecified';
}

/** Services the engine provides to the context; kept off the public surface. */
export interface ContextHost {
  mapPath(ctx: HttpContext, url: string): string;
  notifyCustom(ctx: HttpContext, name: string, data: unknown): void | Promise<void>;
  trace(ctx: HttpContext, event: TraceEvent): void;
}

/** Where `flushKernelCache` goes: set by the worker (a message to the listener's cache). */
let kernelCacheFlusher: ((siteId: number, url: string) => void) | undefined;

/** @internal Installs the worker's route to the listener's response cache. */
export function setKernelCacheFlusher(flusher: (siteId: number, url: string) => void): void {
  kernelCacheFlusher = flusher;
}

/** `globalThis.performance` is a lazy getter in Node: read it once, not once per request. */
const clock = performance;

const siteInfos = new WeakMap<SiteConfig, { readonly id: number; readonly name: string }>();

/** The `site` of a context: one frozen object per site, not one per request. */
function siteInfo(site: SiteConfig): { readonly id: number; readonly name: string } {
  let info = siteInfos.get(site);
  if (info === undefined) siteInfos.set(site, (info = Object.freeze({ id: site.id, name: site.name })));
  return info;
}

/**
 * Everything a module sees of one request (`IHttpContext`): request, response, user, site,
 * application, URL info, per-module context slots, server variables and trace events.
 */
export class HttpContext {
  readonly request: HttpRequest;
  readonly response: HttpResponse;
  readonly site: { readonly id: number; readonly name: string };
  readonly application: ApplicationInfo;
  /** The configuration in force for this URL. */
  readonly config: EffectiveConfig;
  #traceEvents: TraceEvent[] | undefined;
  user: HttpUser | undefined;
  /** Set at MapRequestHandler. */
  handler: HandlerInfo | undefined;
  /** Set by the engine while a module runs. */
  currentModule = '';
  currentModuleIndex = -1;
  currentNotification = '';
  /** `SetRequestHandled`: other handlers mapped for this request do not run. */
  requestHandled = false;
  readonly startTime = clock.now();
  // Allocated on first use: most requests never touch them.
  #slots: unknown[] | undefined;
  #serverVariables: Map<string, string> | undefined;
  readonly #host: ContextHost;
  readonly #siteConfig: SiteConfig;
  #physicalPath: string | undefined;
  #stat: Stats | undefined | null = null;
  /** Engine hooks for `indicateCompletion` and `disableNotifications`. */
  completion: ((status: number) => void) | undefined;
  /** Per module index: [notification mask, post-notification mask] it switched off. */
  #disabled: Map<number, [number, number]> | undefined;

  constructor(init: {
    request: HttpRequest; site: SiteConfig; application: ApplicationInfo; config: EffectiveConfig; host: ContextHost;
  }) {
    this.request = init.request;
    this.response = new HttpResponse(init.request, this);
    this.#siteConfig = init.site;
    this.site = siteInfo(init.site);
    this.application = init.application;
    this.config = init.config;
    this.#host = init.host;
  }

  /**
   * Drops this site's responses under `url` (a URL prefix; '/' = all) from the kernel-style
   * response cache on the listener (`IHttpServer::FlushKernelCache`). Asynchronous: requests
   * already on their way may still be answered from the cache.
   */
  flushKernelCache(url = '/'): void {
    if (typeof url !== 'string' || url.charCodeAt(0) !== 47) throw new TypeError(`flushKernelCache needs a URL path starting with '/', not ${String(url)}`);
    kernelCacheFlusher?.(this.site.id, url);
  }

  /** The full site configuration (bindings, applications). */
  get siteConfig(): SiteConfig {
    return this.#siteConfig;
  }

  /** Is the client on this machine? (`DetailedLocalOnly` error pages and similar decisions.) */
  get isLocal(): boolean {
    return isLocalAddress(this.request.remoteAddress);
  }

  /** A section of the effective configuration, typed by its reader. */
  getSection<T>(reader: SectionReader<T>): T {
    return this.config.section(reader);
  }

  /** The physical path of the request URL (fires MAP_PATH once). */
  get physicalPath(): string {
    this.#physicalPath ??= this.#host.mapPath(this, this.request.path);
    return this.#physicalPath;
  }

  /**
   * `stat` of {@link physicalPath}, taken once per request and shared by the handler mapping and
   * the modules that need it; undefined when there is nothing there (or it cannot be reached).
   */
  get physicalStat(): Stats | undefined {
    if (this.#stat === null) {
      try {
        this.#stat = statSync(this.physicalPath, { throwIfNoEntry: false });
      } catch {
        // ENOTDIR (`/file.txt/x`), EACCES, ELOOP: all look like "not there" from outside.
        this.#stat = undefined;
      }
    }
    return this.#stat;
  }

  /** Maps any URL of this site to a physical path (`IHttpContext::MapPath`); fires MAP_PATH. */
  mapPath(url: string): string {
    return this.#host.mapPath(this, url);
  }

  /** The per-request state of the module that is running (`IHttpModuleContextContainer`). */
  getModuleContext<T>(): T | undefined {
    return this.#slots?.[this.currentModuleIndex] as T | undefined;
  }

  setModuleContext<T>(value: T): void {
    (this.#slots ??= [])[this.currentModuleIndex] = value;
  }

  /** Trace events raised for this request so far. */
  get traceEvents(): readonly TraceEvent[] {
    return this.#traceEvents ?? [];
  }

  /** Raises RQ_CUSTOM_NOTIFICATION for the modules registered for it. */
  notifyCustomNotification(name: string, data?: unknown): void | Promise<void> {
    return this.#host.notifyCustom(this, name, data);
  }

  /** Resumes a PENDING notification (`IHttpContext::IndicateCompletion`). */
  indicateCompletion(status = 0): void {
    const resume = this.completion;
    if (!resume) throw new Error('indicateCompletion called while no notification is pending');
    this.completion = undefined;
    resume(status);
  }

  /** Turns off deterministic notifications for the calling module and this request only. */
  disableNotifications(notifications: number, postNotifications = 0): void {
    const masks = (this.#disabled ??= new Map()).get(this.currentModuleIndex) ?? [0, 0];
    masks[0] |= notifications;
    masks[1] |= postNotifications;
    this.#disabled.set(this.currentModuleIndex, masks);
  }

  /** Did module `moduleIndex` switch off this (post-)notification for this request? */
  isNotificationDisabled(moduleIndex: number, bit: number, post: boolean): boolean {
    const masks = this.#disabled?.get(moduleIndex);
    return masks !== undefined && (masks[post ? 1 : 0] & bit) !== 0;
  }

  /** Other handlers configured for this request do not run (`SetRequestHandled`). */
  setRequestHandled(): void {
    this.requestHandled = true;
  }

  /** Raises a trace event (`IHttpTraceContext`); global TraceEvent handlers see it. */
  trace(area: string, message: string): void {
    const event: TraceEvent = {
      time: clock.now() - this.startTime,
      module: this.currentModule,
      notification: this.currentNotification,
      area,
      message,
    };
    (this.#traceEvents ??= []).push(event);
    this.#host.trace(this, event);
  }

  /** A server variable (`GetServerVariable`): CGI names, `HTTP_<HEADER>`, or one set by a module. */
  getServerVariable(name: string): string | undefined {
    const key = name.toUpperCase();
    const set = this.#serverVariables?.get(key);
    if (set !== undefined) return set;
    const r = this.request;
    switch (key) {
      case 'REQUEST_METHOD': return r.method;
      case 'URL': case 'SCRIPT_NAME': case 'PATH_INFO': return r.path;
      case 'UNENCODED_URL': case 'HTTP_URL': case 'CACHE_URL': return r.rawUrl;
      case 'QUERY_STRING': return r.queryString;
      case 'REMOTE_ADDR': case 'REMOTE_HOST': return r.remoteAddress;
      case 'REMOTE_PORT': return String(r.remotePort);
      case 'LOCAL_ADDR': return r.localAddress;
      case 'SERVER_PORT': return String(r.localPort);
      case 'SERVER_NAME': return (r.getHeader('host') ?? r.localAddress).replace(/:\d+$/, '');
      case 'SERVER_PROTOCOL': return `HTTP/${r.httpVersion}`;
      case 'SERVER_SOFTWARE': return 'w3core';
      case 'HTTPS': return r.secure ? 'on' : 'off';
      case 'SERVER_PORT_SECURE': return r.secure ? '1' : '0';
      case 'INSTANCE_ID': return String(this.site.id);
      case 'INSTANCE_NAME': return this.site.name;
      case 'APPL_MD_PATH': return this.application.configPath;
      case 'APPL_PHYSICAL_PATH': return this.application.physicalPath;
      case 'APP_POOL_ID': return this.application.applicationPool;
      case 'PATH_TRANSLATED': return this.physicalPath;
      case 'CONTENT_LENGTH': return r.getHeader('content-length') ?? String(r.entityLength);
      case 'CONTENT_TYPE': return r.getHeader('content-type') ?? '';
      case 'AUTH_TYPE': return this.user?.authenticationType ?? '';
      case 'AUTH_USER': case 'LOGON_USER': case 'REMOTE_USER': return this.user?.name ?? '';
      default:
        if (key.startsWith('HTTP_')) return r.getHeader(key.slice(5).replace(/_/g, '-'));
        return undefined;
    }
  }

  setServerVariable(name: string, value: string): void {
    (this.#serverVariables ??= new Map()).set(name.toUpperCase(), value);
  }
}

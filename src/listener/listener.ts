import { Buffer } from 'node:buffer';
import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { ApplicationPool, PoolRequest } from '../activation/application-pool.js';
import type { WireResponse } from '../activation/wire.js';
import type { ApplicationConfig, BindingConfig, SiteConfig } from '../config/application-host.js';
import { findApplication } from '../config/url-mapping.js';
import { HTTP_ERROR, REASON_PHRASE, errorPage, isLocalAddress, type HttpError } from '../errors.js';
import type { Admission, AdmissionRequest, Rejection } from './admission.js';
import { ResponseCache, type CacheProbe } from '../cache/response-cache.js';
import { loadNativeUws } from './native.js';
import { createSslApp, loadPortTls, type PortTls } from './tls.js';
import { endHead, writeResponse, type ResponseState } from './response-writer.js';

/** A socket the listener opened for a binding. */
export interface ListeningBinding {
  readonly site: SiteConfig;
  readonly binding: BindingConfig;
  /** The port actually bound (differs from the configured one when that was 0). */
  readonly port: number;
  readonly host: string;
}

/** One answered request, as the listener saw it (for counters and logs). */
export interface CompletedRequest {
  /** 0 when no site matched the Host header. */
  readonly siteId: number;
  readonly siteName: string;
  /** '' when the request was answered before reaching a pool. */
  readonly applicationPool: string;
  readonly method: string;
  readonly status: number;
  readonly subStatus: number;
  /** Status line, headers and entity as w3core wrote them (uWS adds Date and framing). */
  readonly bytesSent: number;
  /** Request line and headers as received (approximate: w3core sees parsed headers) plus the entity. */
  readonly bytesReceived: number;
  readonly durationMs: number;
  /** Answered from the kernel-style response cache. */
  readonly fromCache: boolean;
}

export interface ListenerOptions {
  readonly sites: readonly SiteConfig[];
  readonly pools: ReadonlyMap<string, ApplicationPool>;
  /** Canonicalisation and the checks a request passes before it is queued. */
  readonly admission: Admission;
  /** The kernel-style response cache (absent: every request goes to its pool). */
  readonly cache?: ResponseCache;
}

interface PortGroup {
  readonly port: number;
  /** The port actually bound, known after listen. */
  boundPort: number;
  readonly address: string;
  /** https: the port speaks TLS (one port never mixes http and https bindings). */
  readonly secure: boolean;
  /** Certificates of an https port, loaded and checked before any socket opens. */
  tls: PortTls | undefined;
  readonly routes: { site: SiteConfig; binding: BindingConfig }[];
}


/**
 * The host name of a Host header, lower-cased, without port or IPv6 brackets. The common
 * header (`name` or `name:port`, already lower-case) takes no regular expression.
 */
function hostOf(header: string): string {
  let end = header.length;
  for (let i = end - 1; i >= 0; i--) {
    const c = header.charCodeAt(i);
    if (c === 58) { // ':' before the port digits
      end = i;
      break;
    }
    if (c < 48 || c > 57) break;
  }
  let start = 0;
  if (header.charCodeAt(0) === 91 && header.charCodeAt(end - 1) === 93) { // [v6]
    start = 1;
    end--;
  }
  const name = start === 0 && end === header.length ? header : header.slice(start, end);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return name.toLowerCase();
  }
  return name;
}

const EMPTY_HEADERS: readonly string[] = [];

/** IPv4 client addresses as text, by their 32 bits (bounded: cleared when full). */
const ipv4Text = new Map<number, string>();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The client address as uWS's `getRemoteAddressAsText` writes it (dotted IPv4; IPv6 as eight
 * zero-padded groups), from the binary address: no `inet_ntop` and no second buffer per
 * request, and an IPv4 client's text is made once.
 */
function remoteAddressOf(res: UwsResponse): string {
  const b = new Uint8Array(res.getRemoteAddress());
  if (b.length === 4) {
    const key = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    let text = ipv4Text.get(key);
    if (text === undefined) {
      if (ipv4Text.size >= 65536) ipv4Text.clear();
      ipv4Text.set(key, (text = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`));
    }
    return text;
  }
  if (b.length !== 16) return Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
  let text = HEX[b[0]!]! + HEX[b[1]!]!;
  for (let i = 2; i < 16; i += 2) text += `:${HEX[b[i]!]}${HEX[b[i + 1]!]}`;
  return text;
}

/** Header pairs of the request being copied; `collectHeader` is one function for all requests. */
let collected: string[] = [];
function collectHeader(name: string, value: string): void {
  collected.push(name, value);
}

/**
 * One request between the listener and its pool: what the pool needs (a `PoolRequest` is the
 * wire request itself), and how the answer goes back to the uWS response. A class, so the hot path
 * allocates one object per request instead of a record, a wire copy and two closures.
 */
class PendingRequest implements PoolRequest, ResponseState, AdmissionRequest, CacheProbe {
  aborted = false;
  // What the admission step reads (AdmissionRequest), set by the handler.
  rawPath = '';
  queryString = '';
  headers: readonly string[] = EMPTY_HEADERS;
  declaredLength = 0;
  chunked = false;
  sentAt = 0;
  /** `performance.now()` when the request arrived (only taken when completions are observed). */
  startedAt = 0;
  /** For the completion record: the site and pool the request was routed to. */
  routedSite: SiteConfig | undefined = undefined;
  poolName = '';
  entityLength = 0;
  onAbort: (() => void) | undefined = undefined;
  withdraw: ((id: number) => void) | undefined = undefined;
  // The request as the pool's workers see it (WireRequest), set once it is routed; the pool
  // gives the id.
  id = 0;
  siteId = 0;
  rawUrl = '';
  path = '';
  readonly httpVersion = '1.1';
  readonly remotePort = 0;
  localAddress = '';
  localPort = 0;
  secure = false;
  entity: Uint8Array | null = null;
  readonly res: UwsResponse;
  readonly method: string;
  readonly listener: Listener;

  constructor(res: UwsResponse, method: string, listener: Listener) {
    this.res = res;
    this.method = method;
    this.listener = listener;
  }

  /** Set when the request was eligible for the response cache and missed it (it is its own probe). */
  probe: CacheProbe | undefined = undefined;
  // CacheProbe: the Host header as sent, and the cache's epoch at the lookup.
  host = '';
  epoch = 0;
  /** Admitted and not yet over: the admission step hears once when it is. */
  #admitted = false;
  #remote: string | undefined = undefined;

  /**
   * The client address, read from the socket on first use (a `getpeername` and formatting):
   * a request answered from the cache with no IP rules in force never needs it. Only valid
   * while the response is open, so everything that needs it asks before answering.
   */
  get remoteAddress(): string {
    return (this.#remote ??= remoteAddressOf(this.res));
  }

  /** Reads the client address while the socket is still there (the pool reads it later). */
  captureRemoteAddress(): void {
    this.#remote ??= remoteAddressOf(this.res);
  }

  admitted(): void {
    this.#admitted = true;
  }

  /** The request is over for the admission step (once, whichever way it ended). */
  settle(): void {
    if (!this.#admitted) return;
    this.#admitted = false;
    // An address nobody read was not counted by the IP guard either.
    this.listener.finished(this.routedSite!, this.#remote ?? '', this.headers);
  }

  abort(): void {
    this.aborted = true;
    this.settle();
    this.withdraw?.(this.id);
    this.onAbort?.();
  }

  complete(response: WireResponse): void {
    this.settle();
    if (this.listener.onRequestCompleted !== undefined && !this.aborted) {
      this.listener.record(this, response.status, response.subStatus, response.head.length + response.contentLength, false);
    }
    if (this.probe !== undefined && response.cache !== null) this.listener.offer(this.probe, response);
    writeResponse(this.res, this, response);
  }

  fail(status: 500 | 503, reason: string): void {
    this.settle();
    this.listener.answer(this.res, this, status === 503 ? 'APP_POOL_UNAVAILABLE' : 'MODULE_ERROR', this.remoteAddress, reason);
  }
}

/** uWS listen option (native export, missing from the bundled typings as a value). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

/**
 * The HTTP.sys role: one uWS app per listening port, host-header routing to the site, longest
 * application path to its pool, request entity read here (bounded by maxAllowedContentLength)
 * and handed to the pool with the request.
 *
 * Everything needed from uWS's `HttpRequest` is copied before the handler returns (it is only
 * valid then), and `onAborted` is registered first: returning from a handler without either
 * answering or registering it terminates the process.
 */
export class Listener {
  readonly #options: ListenerOptions;
  readonly #sockets: us_listen_socket[] = [];
  readonly #bound: ListeningBinding[] = [];
  readonly #stoppedSites = new Set<number>();
  readonly #apps: TemplatedApp[] = [];
  /** Observes every answered request (counters); unset, the hot path skips the bookkeeping. */
  onRequestCompleted: ((r: CompletedRequest) => void) | undefined;

  constructor(options: ListenerOptions) {
    this.#options = options;
  }

  get bindings(): readonly ListeningBinding[] {
    return this.#bound;
  }

  async listen(): Promise<void> {
    const uws = loadNativeUws();
    const groups = new Map<string, PortGroup>();
    for (const site of this.#options.sites) {
      if (!site.serverAutoStart) continue;
      for (const binding of site.bindings) {
        const address = binding.ip === '*' ? '0.0.0.0' : binding.ip;
        const secure = binding.protocol === 'https';
        // Port 0 asks for an ephemeral port: each such binding gets its own socket.
        const key = binding.port === 0 ? `0:${site.id}:${binding.bindingInformation}` : String(binding.port);
        let group = groups.get(key);
        if (!group) groups.set(key, (group = { port: binding.port, boundPort: binding.port, address, secure, tls: undefined, routes: [] }));
        else if (group.secure !== secure) {
          // One socket speaks either TLS or clear text from its first byte.
          const first = group.routes[0]!;
          throw new Error(
            `site '${site.name}': binding ${binding.protocol}/${binding.bindingInformation} shares port ${binding.port} ` +
            `with binding ${first.binding.protocol}/${first.binding.bindingInformation} of site '${first.site.name}'; ` +
            'a port serves either http or https, not both',
          );
        } else if (group.address !== address) {
          // One socket per port: routing by local address is not built, and sharing one
          // socket would expose a loopback-only site on every address.
          throw new Error(
            `site '${site.name}': binding ${binding.bindingInformation} uses port ${binding.port} with another IP ` +
            `than binding ${group.routes[0]!.binding.bindingInformation} of site '${group.routes[0]!.site.name}'; ` +
            'bindings on one port must share their IP',
          );
        }
        const clash = group.routes.find((r) => r.binding.host === binding.host);
        if (clash) {
          throw new Error(
            `site '${site.name}': binding ${binding.bindingInformation} duplicates binding ` +
            `${clash.binding.bindingInformation} of site '${clash.site.name}'`,
          );
        }
        group.routes.push({ site, binding });
      }
    }
    // Every certificate is read and checked before the first socket opens, so a bad one fails
    // start-up (file, line, attribute) without a half-started listener.
    for (const group of groups.values()) {
      if (group.secure) group.tls = loadPortTls(uws, group.port, group.routes);
    }
    for (const group of groups.values()) {
      // An SSL app has a router per SNI server name: createSslApp puts the routes on each.
      const addRoutes = (routed: TemplatedApp) => this.#route(routed, group);
      const app = group.tls ? createSslApp(uws, group.tls, addRoutes) : uws.App();
      if (!group.tls) addRoutes(app);
      const socket = await new Promise<us_listen_socket>((resolve, reject) => {
        // Exclusive: uWS otherwise shares the port (SO_REUSEPORT) with any process already on it.
        (app.listen as unknown as (h: string, p: number, o: number, cb: (s: us_listen_socket | false) => void) => void)(
          group.address, group.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (s) => {
            if (s) resolve(s);
            else reject(new Error(`cannot listen on ${group.address}:${group.port} (in use, or no permission)`));
          },
        );
      });
      this.#sockets.push(socket);
      this.#apps.push(app);
      const port = uws.us_socket_local_port(socket);
      group.boundPort = port;
      for (const r of group.routes) {
        this.#bound.push({ site: r.site, binding: r.binding, port, host: group.address === '0.0.0.0' ? '127.0.0.1' : group.address });
      }
    }
  }

  /** Stops accepting connections (open ones finish their requests). */
  close(): void {
    const uws = loadNativeUws();
    for (const s of this.#sockets.splice(0)) uws.us_listen_socket_close(s);
  }

  /** Closes every client connection still open (after {@link close} and the pools' drain). */
  closeConnections(): void {
    // `close()` is in uWS v20.30 but missing from the bundled typings.
    for (const app of this.#apps.splice(0)) (app as unknown as { close(): void }).close();
  }

  #route(app: TemplatedApp, group: PortGroup): void {
    const exact = new Map<string, SiteConfig>();
    let any: SiteConfig | undefined;
    for (const { site, binding } of group.routes) {
      if (binding.host) exact.set(binding.host, site);
      else any ??= site;
    }
    const localAddress = group.address;
    const pools = this.#options.pools;
    const admission = this.#options.admission;
    const cache = this.#options.cache;
    const stoppedSites = this.#stoppedSites;
    const poolOfApp = new Map<ApplicationConfig, ApplicationPool>();
    app.any('/*', (res: UwsResponse, req: UwsRequest) => {
      const method = req.getCaseSensitiveMethod();
      const pending = new PendingRequest(res, method, this);
      if (this.onRequestCompleted !== undefined) pending.startedAt = performance.now();
      res.onAborted(() => pending.abort());
      const path = req.getUrl();
      const query = req.getQuery() ?? '';
      collected = [];
      req.forEach(collectHeader);
      const headers = collected;
      let hostHeader = '';
      let lengthHeader = '';
      let chunked = false;
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i]!;
        if (name === 'host') hostHeader = headers[i + 1]!;
        else if (name === 'content-length') lengthHeader = headers[i + 1]!;
        else if (name === 'transfer-encoding') chunked = true;
      }
      // One site on the port with no host name: no host to look at.
      const site = exact.size === 0 ? any : exact.get(hostOf(hostHeader)) ?? any;
      // A stopped site is not served: as with no site at all, 404.1.
      if (!site || (stoppedSites.size !== 0 && stoppedSites.has(site.id))) {
        this.answer(res, pending, 'SITE_NOT_FOUND', pending.remoteAddress);
        return;
      }
      pending.routedSite = site;
      const declared = lengthHeader === '' ? 0 : Number(lengthHeader);
      pending.rawPath = path;
      pending.queryString = query;
      pending.headers = headers;
      pending.declaredLength = declared;
      pending.chunked = chunked;
      const admitted = admission.admit(site, pending);
      if (!admitted.ok) {
        this.refuse(res, pending, admitted.rejection, pending.remoteAddress);
        return;
      }
      pending.admitted();
      const hasEntity = declared > 0 || chunked;
      pending.siteId = site.id;
      pending.path = admitted.path;
      pending.secure = group.secure;
      if (cache !== undefined && ResponseCache.eligible(method, headers, hasEntity)) {
        pending.host = hostHeader;
        pending.epoch = cache.epoch;
        const hit = cache.lookup(pending);
        if (hit !== undefined) {
          // Answered here, as HTTP.sys answers from its URI cache: no worker, one cork, and
          // uWS writes a fresh Date.
          res.cork(() => {
            res.writeStatus(hit.head);
            if (method === 'HEAD') endHead(res, hit.body.byteLength, false);
            else res.end(hit.body);
          });
          pending.settle();
          if (this.onRequestCompleted !== undefined) this.record(pending, 200, 0, hit.head.length + hit.body.byteLength, true);
          return;
        }
        pending.probe = pending;
      }
      const app = findApplication(site, admitted.path);
      let pool = poolOfApp.get(app);
      if (pool === undefined) poolOfApp.set(app, (pool = pools.get(app.applicationPool.toLowerCase())!));
      pending.poolName = pool.name;
      pending.rawUrl = query ? `${path}?${query}` : path;
      // Read now: the socket is only there until the response ends or the client leaves.
      pending.captureRemoteAddress();
      pending.localAddress = localAddress;
      pending.localPort = group.boundPort;
      if (hasEntity) this.#readEntity(res, pending, declared, chunked, admitted.entityLimit, pool);
      else pool.dispatch(pending);
    });
  }

  #readEntity(
    res: UwsResponse, pending: PendingRequest, declared: number, chunked: boolean, limit: number, pool: ApplicationPool,
  ): void {
    // Grown from what actually arrives, not from the declared length: a client announcing a
    // large body and sending nothing costs nothing.
    let buffer: Buffer = Buffer.allocUnsafeSlow(Math.min(declared || 65536, 65536, limit));
    let length = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed || pending.aborted) return;
      const bytes = new Uint8Array(chunk);
      if (length + bytes.byteLength > limit) {
        failed = true;
        pending.settle();
        this.answer(res, pending, 'CONTENT_TOO_LARGE', pending.remoteAddress, undefined, true);
        return;
      }
      if (length + bytes.byteLength > buffer.byteLength) {
        let grown: Buffer;
        try {
          const wanted = chunked ? Math.max(buffer.byteLength * 2, length + bytes.byteLength) : declared;
          grown = Buffer.allocUnsafeSlow(Math.min(limit, Math.max(wanted, length + bytes.byteLength)));
        } catch {
          // Out of memory for this entity: refuse it rather than take the process down
          // (an exception escaping a uWS callback ends the process).
          failed = true;
          pending.settle();
          this.answer(res, pending, 'APP_POOL_UNAVAILABLE', pending.remoteAddress, 'no memory for the request entity', true);
          return;
        }
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      buffer.set(bytes, length);
      length += bytes.byteLength;
      pending.entityLength = length;
      if (isLast) {
        // An exact-size buffer can be transferred to the worker instead of copied.
        let entity = buffer;
        if (length !== buffer.byteLength) {
          entity = Buffer.allocUnsafeSlow(length);
          buffer.copy(entity, 0, 0, length);
        }
        pending.entity = new Uint8Array(entity.buffer, entity.byteOffset, length);
        pool.dispatch(pending);
      }
    });
  }

  /** Stops serving a site (its requests get 404.1) or serves it again. */
  setSiteStopped(siteId: number, stopped: boolean): void {
    if (stopped) this.#stoppedSites.add(siteId);
    else this.#stoppedSites.delete(siteId);
  }

  isSiteStopped(siteId: number): boolean {
    return this.#stoppedSites.has(siteId);
  }

  /** @internal One answered request, for {@link onRequestCompleted}. */
  record(pending: PendingRequest, status: number, subStatus: number, bytesSent: number, fromCache: boolean): void {
    const observer = this.onRequestCompleted;
    if (observer === undefined) return;
    let headerBytes = pending.method.length + 12;
    for (const h of pending.headers) headerBytes += h.length + 2;
    try {
      observer({
        siteId: pending.routedSite?.id ?? 0,
        siteName: pending.routedSite?.name ?? '',
        applicationPool: pending.poolName,
        method: pending.method,
        status,
        subStatus,
        bytesSent,
        bytesReceived: headerBytes + pending.entityLength,
        durationMs: pending.startedAt === 0 ? 0 : performance.now() - pending.startedAt,
        fromCache,
      });
    } catch (err) {
      console.error('w3core: onRequestCompleted failed:', err);
    }
  }

  /** @internal A response the cache may keep. */
  offer(probe: CacheProbe, response: WireResponse): void {
    this.#options.cache?.offer(probe, response);
  }

  /** @internal An admitted request is over. */
  finished(site: SiteConfig, remoteAddress: string, headers?: readonly string[]): void {
    this.#options.admission.finished(site, remoteAddress, headers);
  }

  /** Answers (or drops, for `abort`) a request the admission step refused. */
  refuse(res: UwsResponse, state: ResponseState, rejection: Rejection, remoteAddress: string): void {
    if (rejection.abort) {
      state.aborted = true;
      res.close();
      return;
    }
    this.answer(res, state, rejection, remoteAddress, rejection.detail, rejection.close);
  }

  /**
   * Answers from the listener itself, as HTTP.sys does for requests that never reach a pool.
   * @internal
   */
  answer(
    res: UwsResponse, state: ResponseState, code: keyof typeof HTTP_ERROR | HttpError, remoteAddress: string,
    detail?: string, close = false,
  ): void {
    if (state.aborted) return;
    const e = typeof code === 'string' ? HTTP_ERROR[code] : code;
    const body = errorPage(e, undefined, isLocalAddress(remoteAddress) ? detail : undefined);
    if (this.onRequestCompleted !== undefined && state instanceof PendingRequest) {
      this.record(state, e.status, e.subStatus, Buffer.byteLength(body), false);
    }
    res.cork(() => {
      res.writeStatus(`${e.status} ${REASON_PHRASE[e.status] ?? e.reason}`);
      res.writeHeader('Content-Type', 'text/html; charset=utf-8');
      res.writeHeader('Server', 'w3core');
      if (state.method === 'HEAD') endHead(res, Buffer.byteLength(body), close);
      else res.end(body, close);
    });
  }
}

import type { HttpRequest as UwsRequest, HttpResponse as UwsResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { ApplicationPool, PoolRequest } from '../activation/application-pool.js';
import type { WireRequest, WireResponse } from '../activation/wire.js';
import type { BindingConfig, SiteConfig } from '../config/application-host.js';
import { canonicalizePath, findApplication } from '../config/url-mapping.js';
import { HTTP_ERROR, REASON_PHRASE } from '../errors.js';
import { loadNativeUws } from './native.js';
import { endHead, writeResponse, type ResponseState } from './response-writer.js';

/** A socket the listener opened for a binding. */
export interface ListeningBinding {
  readonly site: SiteConfig;
  readonly binding: BindingConfig;
  /** The port actually bound (differs from the configured one when that was 0). */
  readonly port: number;
  readonly host: string;
}

export interface ListenerOptions {
  readonly sites: readonly SiteConfig[];
  readonly pools: ReadonlyMap<string, ApplicationPool>;
  /** requestLimits maxAllowedContentLength per site id. */
  readonly maxContentLength: (site: SiteConfig) => number;
}

interface PortGroup {
  readonly port: number;
  /** The port actually bound, known after listen. */
  boundPort: number;
  readonly address: string;
  readonly routes: { site: SiteConfig; binding: BindingConfig }[];
}

let nextRequestId = 1;

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
        if (binding.protocol !== 'http') {
          throw new Error(`site '${site.name}': ${binding.protocol} bindings are not supported yet (binding ${binding.bindingInformation})`);
        }
        const address = binding.ip === '*' ? '0.0.0.0' : binding.ip;
        // Port 0 asks for an ephemeral port: each such binding gets its own socket.
        const key = binding.port === 0 ? `0:${site.id}:${binding.bindingInformation}` : String(binding.port);
        let group = groups.get(key);
        if (!group) groups.set(key, (group = { port: binding.port, boundPort: binding.port, address, routes: [] }));
        else if (group.address !== address) group = Object.assign(group, { address: '0.0.0.0' });
        group.routes.push({ site, binding });
      }
    }
    for (const group of groups.values()) {
      const app = uws.App();
      this.#route(app, group);
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

  #route(app: TemplatedApp, group: PortGroup): void {
    const exact = new Map<string, SiteConfig>();
    let any: SiteConfig | undefined;
    for (const { site, binding } of group.routes) {
      if (binding.host) exact.set(binding.host, site);
      else any ??= site;
    }
    const localAddress = group.address;
    const pools = this.#options.pools;
    app.any('/*', (res: UwsResponse, req: UwsRequest) => {
      const method = req.getCaseSensitiveMethod();
      const state: ResponseState = { aborted: false, method, onAbort: undefined };
      res.onAborted(() => {
        state.aborted = true;
        state.onAbort?.();
      });
      const path = req.getUrl();
      const query = req.getQuery() ?? '';
      const headers: string[] = [];
      req.forEach((k, v) => {
        headers.push(k, v);
      });
      const hostHeader = req.getHeader('host');
      const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
      const localPort = group.boundPort;
      const hostName = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
      const site = exact.get(hostName) ?? any;
      if (!site) {
        this.#answer(res, state, 'SITE_NOT_FOUND', remoteAddress);
        return;
      }
      const canonical = canonicalizePath(path);
      if (!canonical.ok) {
        this.#answer(res, state, canonical.subStatus === 11 ? 'DOUBLE_ESCAPE' : 'BAD_REQUEST', remoteAddress, canonical.reason);
        return;
      }
      const app = findApplication(site, canonical.path);
      const pool = pools.get(app.applicationPool.toLowerCase())!;
      const lengthHeader = req.getHeader('content-length');
      const chunked = req.getHeader('transfer-encoding') !== '';
      const declared = lengthHeader === '' ? 0 : Number(lengthHeader);
      const limit = this.#options.maxContentLength(site);
      if (declared > limit) {
        this.#answer(res, state, 'CONTENT_TOO_LARGE', remoteAddress, undefined, true);
        return;
      }
      const wire = {
        id: nextRequestId++,
        siteId: site.id,
        method,
        rawUrl: query ? `${path}?${query}` : path,
        path: canonical.path,
        queryString: query,
        httpVersion: '1.1',
        headers,
        remoteAddress,
        remotePort: 0,
        localAddress,
        localPort,
        secure: false,
        entity: null as Uint8Array | null,
      };
      if (declared > 0 || chunked) {
        this.#readEntity(res, state, wire, declared, chunked, limit, pool, remoteAddress);
      } else {
        this.#dispatch(res, state, wire, pool);
      }
    });
  }

  #readEntity(
    res: UwsResponse, state: ResponseState, wire: WireRequest & { entity: Uint8Array | null }, declared: number,
    chunked: boolean, limit: number, pool: ApplicationPool, remoteAddress: string,
  ): void {
    let buffer = Buffer.allocUnsafeSlow(chunked ? Math.min(limit, 65536) : declared);
    let length = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed || state.aborted) return;
      const bytes = new Uint8Array(chunk);
      if (length + bytes.byteLength > limit) {
        failed = true;
        this.#answer(res, state, 'CONTENT_TOO_LARGE', remoteAddress, undefined, true);
        return;
      }
      if (length + bytes.byteLength > buffer.byteLength) {
        const grown = Buffer.allocUnsafeSlow(Math.min(limit, Math.max(buffer.byteLength * 2, length + bytes.byteLength)));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      buffer.set(bytes, length);
      length += bytes.byteLength;
      if (isLast) {
        wire.entity = new Uint8Array(buffer.buffer, buffer.byteOffset, length);
        this.#dispatch(res, state, wire, pool);
      }
    });
  }

  #dispatch(res: UwsResponse, state: ResponseState, wire: WireRequest, pool: ApplicationPool): void {
    const request: PoolRequest = {
      wire,
      complete: (response: WireResponse) => {
        writeResponse(res, state, response);
      },
      fail: (status, reason) => {
        this.#answer(res, state, status === 503 ? 'APP_POOL_UNAVAILABLE' : 'MODULE_ERROR', wire.remoteAddress, reason);
      },
    };
    pool.dispatch(request);
  }

  /** Answers from the listener itself, as HTTP.sys does for requests that never reach a pool. */
  #answer(
    res: UwsResponse, state: ResponseState, code: keyof typeof HTTP_ERROR, remoteAddress: string,
    detail?: string, close = false,
  ): void {
    if (state.aborted) return;
    const e = HTTP_ERROR[code];
    const local = /^(127\.|::1$|::ffff:127\.|0000:0000:0000:0000:0000:0000:0000:0001)/.test(remoteAddress);
    const title = `HTTP Error ${e.status}.${e.subStatus} - ${e.reason}`;
    const body = `<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1>` +
      (local && detail ? `<p>${detail.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</p>` : '') + '</body></html>';
    res.cork(() => {
      res.writeStatus(`${e.status} ${REASON_PHRASE[e.status] ?? e.reason}`);
      res.writeHeader('Content-Type', 'text/html; charset=utf-8');
      res.writeHeader('Server', 'w3core');
      if (state.method === 'HEAD') endHead(res, Buffer.byteLength(body), close);
      else res.end(body, close);
    });
  }
}

import type { SiteConfig } from '../config/application-host.js';
import type { EffectiveConfig } from '../config/config-hierarchy.js';
import { ConfigError, HTTP_ERROR, type HttpError } from '../errors.js';
import { CompiledRules, FilterEngine, verdictError } from '../wasm/engine.js';
import { REQUEST_FILTERING } from '../wasm/request-filtering.js';
import { IpGuard } from './ip-guard.js';

/** What the listener knows about a request before it leaves for a pool (copied from uWS). */
export interface AdmissionRequest {
  readonly method: string;
  /** The path as the client sent it (uWS `getUrl()`): still percent-encoded, no query. */
  readonly rawPath: string;
  /** The query string as sent, without `?` ('' when none). */
  readonly queryString: string;
  /** Flat `[name, value, …]`, names lower-cased, in arrival order. */
  readonly headers: readonly string[];
  /** Client address as text (`127.0.0.1`, `::1`). */
  readonly remoteAddress: string;
  /** Declared Content-Length (0 when absent). */
  readonly declaredLength: number;
  /** `Transfer-Encoding` present: the entity length is known only once read. */
  readonly chunked: boolean;
}

/** Why a request is refused before it reaches a pool. */
export interface Rejection extends HttpError {
  /** Shown to local clients only. */
  readonly detail?: string;
  /** Close the connection after the answer (the rest of the request cannot be trusted). */
  readonly close: boolean;
  /** Drop the connection without any answer (`denyAction="AbortRequest"`). */
  readonly abort: boolean;
}

export type AdmissionResult =
  | {
    readonly ok: true;
    /** The canonical path: decoded, dot segments resolved; what the pipeline sees. */
    readonly path: string;
    /** Most entity bytes the listener may read for this URL (maxAllowedContentLength). */
    readonly entityLimit: number;
  }
  | { readonly ok: false; readonly rejection: Rejection };

/** The effective configuration of a URL of a site; undefined when it cannot be read (500.19 later). */
export type ConfigLookup = (site: SiteConfig, path: string) => EffectiveConfig | undefined;

/** maxAllowedContentLength when the URL's configuration cannot be read (schema default). */
const DEFAULT_ENTITY_LIMIT = 30000000;

function refusal(error: HttpError, detail: string | undefined, close = false): AdmissionResult {
  return { ok: false, rejection: { ...error, detail, close, abort: false } };
}

/**
 * A byte a request target may not carry raw (RFC 9112 §3.2): controls, DEL, and `#` (a
 * fragment is never sent; routers that cut at it would see another path than the filter). Raw bytes above
 * 0x7f pass on to request filtering (`allowHighBitCharacters`, 404.12), as HTTP.sys lets them.
 */
const INVALID_TARGET_BYTE = /[\x00-\x20#\x7f]/;

/** A bracketed IP literal Host, with an optional port (RFC 3986 §3.2.2). */
const IP_LITERAL_HOST = /^\[[0-9A-Fa-f:.]+\](?::\d*)?$/;

/** Characters of a reg-name (unreserved, sub-delims, '%'), by code. */
const REG_NAME = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=%") REG_NAME[c.charCodeAt(0)] = 1;

/**
 * A Host header value: reg-name or bracketed IP literal, then an optional port (RFC 3986
 * §3.2.2). Every request carries one, so the common `name` and `name:port` take a loop, not a
 * regex.
 */
function validHost(value: string): boolean {
  if (value.charCodeAt(0) === 91) return IP_LITERAL_HOST.test(value); // '['
  let i = 0;
  for (; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || REG_NAME[c] === 0) break;
  }
  if (i === 0) return false;
  if (i === value.length) return true;
  if (value.charCodeAt(i) !== 58) return false; // ':'
  for (i++; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Message framing (RFC 9112 §6.1, §6.3) and the Host header (§3.2). uWS takes any Transfer-Encoding for chunked and an
 * empty Content-Length for 0, so what it cannot frame is refused here, and the connection
 * closed: the rest of its bytes cannot be trusted.
 */
function checkFraming(headers: readonly string[]): AdmissionResult | undefined {
  let length: string | undefined;
  let codings: string | undefined;
  let hosts = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name === 'host') {
      // RFC 9112 §3.2: exactly one Host, and a valid one (reg-name or IP literal, optional port).
      if (++hosts > 1 || !validHost(headers[i + 1]!)) return refusal(HTTP_ERROR.BAD_REQUEST, 'invalid or repeated Host header', true);
    } else if (name === 'content-length') {
      if (length !== undefined || !/^\d+$/.test(headers[i + 1]!)) return refusal(HTTP_ERROR.BAD_REQUEST, 'invalid Content-Length', true);
      length = headers[i + 1];
    } else if (name === 'transfer-encoding') {
      codings = codings === undefined ? headers[i + 1]! : `${codings},${headers[i + 1]!}`;
    }
  }
  if (codings === undefined) return undefined;
  if (length !== undefined) return refusal(HTTP_ERROR.BAD_REQUEST, 'Content-Length and Transfer-Encoding together', true);
  const list = codings.split(',').map((c) => c.trim().toLowerCase());
  if (list.at(-1) !== 'chunked' || list.includes('')) return refusal(HTTP_ERROR.BAD_REQUEST, 'chunked must be the final transfer coding', true);
  if (list.length > 1) return refusal(HTTP_ERROR.NOT_IMPLEMENTED, `unsupported transfer coding ${list[0]}`, true);
  return undefined;
}

/**
 * The HTTP.sys admission step on the listener thread, in this order:
 *
 * 0. the request target's bytes and the message framing (400, or 501 for a transfer coding
 *    other than chunked; the connection closes);
 * 1. canonicalise the path in Wasm (400 for what could escape the site or smuggle a second
 *    decoding, 404.11 for a double escape in a path that is invalid as well);
 * 2. `limits maxUrlSegments` of the site (404.20);
 * 3. the URL's effective configuration, and its `security/requestFiltering` compiled into a
 *    Wasm table (memoised per {@link EffectiveConfig}, so the hot path reads no configuration);
 * 4. the {@link IpGuard} (ipSecurity, dynamicIpSecurity);
 * 5. request filtering in Wasm: 404.11, 404.14, 404.15, 404.12, 404.6, 404.5, 404.7, 404.8,
 *    404.18, 431, 404.19, 413.1 (native-notes.md, "Check order and verdicts").
 *
 * A URL whose web.config is broken is admitted with the default entity limit (its worker
 * answers 500.19); a requestFiltering section with a bad value is answered 500.19 here.
 * Every request the listener admits is later reported to {@link finished} exactly once.
 */
export class Admission {
  readonly #config: ConfigLookup;
  readonly #ip: IpGuard;
  readonly #engine = new FilterEngine({ encoding: 'utf8' });
  readonly #rules = new WeakMap<EffectiveConfig, CompiledRules | Rejection>();

  constructor(config: ConfigLookup) {
    this.#config = config;
    this.#ip = new IpGuard(config);
  }

  admit(site: SiteConfig, request: AdmissionRequest): AdmissionResult {
    if (INVALID_TARGET_BYTE.test(request.rawPath) || INVALID_TARGET_BYTE.test(request.queryString)) {
      return refusal(HTTP_ERROR.BAD_REQUEST, 'invalid character in the request target', true);
    }
    const framing = checkFraming(request.headers);
    if (framing) return framing;
    const engine = this.#engine;
    const canonical = engine.canonicalize(request.rawPath);
    if (canonical !== 0) return refusal(verdictError(canonical), engine.reason);
    const path = engine.path;
    if (site.maxUrlSegments > 0 && engine.segments > site.maxUrlSegments) return refusal(HTTP_ERROR.TOO_MANY_SEGMENTS, undefined);
    const config = this.#config(site, path);
    let rules: CompiledRules | undefined;
    if (config !== undefined) {
      let memo = this.#rules.get(config);
      if (memo === undefined) {
        memo = this.#compile(config);
        this.#rules.set(config, memo);
      }
      if (!(memo instanceof CompiledRules)) return { ok: false, rejection: memo };
      rules = memo;
    } else if (engine.doubleEscaped) {
      // No readable configuration: allowDoubleEscaping keeps its default (false).
      return refusal(HTTP_ERROR.DOUBLE_ESCAPE, 'double escape sequence in the path');
    }
    const refused = this.#ip.checkWith(config, site, request, request.headers);
    if (refused) return { ok: false, rejection: refused };
    const hasEntity = request.declaredLength > 0 || request.chunked;
    if (rules === undefined) {
      if (request.declaredLength > DEFAULT_ENTITY_LIMIT) return this.#refuse(site, request, HTTP_ERROR.CONTENT_TOO_LARGE, undefined, true);
      return { ok: true, path, entityLimit: hasEntity ? DEFAULT_ENTITY_LIMIT : 0 };
    }
    const verdict = engine.check(rules, request.queryString, request.method, request.headers, request.declaredLength);
    if (verdict !== 0) {
      return this.#refuse(site, request, verdictError(verdict), engine.describe(rules, verdict), verdict === 413001);
    }
    return { ok: true, path, entityLimit: hasEntity ? rules.maxAllowedContentLength : 0 };
  }

  /** An admitted request is over (response sent, failed, or the client left). */
  finished(site: SiteConfig, remoteAddress: string, headers?: readonly string[]): void {
    this.#ip.finished(site, remoteAddress, headers);
  }

  /** Refused after the IP guard counted the request in: it is over for the guard too. */
  #refuse(site: SiteConfig, request: AdmissionRequest, error: HttpError, detail: string | undefined, close: boolean): AdmissionResult {
    this.#ip.finished(site, request.remoteAddress, request.headers);
    return refusal(error, detail, close);
  }

  #compile(config: EffectiveConfig): CompiledRules | Rejection {
    try {
      return this.#engine.prepare(config.section(REQUEST_FILTERING));
    } catch (err) {
      // Whatever the rules could not become, it is this URL's configuration that is wrong:
      // 500.19 for its requests (an exception here would escape a uWS handler and end the process).
      if (!(err instanceof ConfigError) && !(err instanceof RangeError)) {
        console.error('w3core: request filtering rules could not be compiled:', err);
      }
      return { ...HTTP_ERROR.CONFIG_INVALID, detail: (err as Error).message, close: false, abort: false };
    }
  }
}

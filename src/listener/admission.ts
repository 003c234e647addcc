import type { SiteConfig } from '../config/application-host.js';
import type { EffectiveConfig, SectionReader } from '../config/config-hierarchy.js';
import { readUint } from '../config/attributes.js';
import { canonicalizePath } from '../config/url-mapping.js';
import { HTTP_ERROR, type HttpError } from '../errors.js';
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

const REQUEST_LIMITS: SectionReader<number> = {
  section: 'security/requestFiltering/requestLimits',
  read: (node) => readUint(node, 'maxAllowedContentLength', 30000000),
};

function reject(code: keyof typeof HTTP_ERROR, detail?: string, close = false): AdmissionResult {
  return { ok: false, rejection: { ...HTTP_ERROR[code], detail, close, abort: false } };
}

function countSegments(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return n;
}

/**
 * The HTTP.sys admission step on the listener thread: URL canonicalisation and the checks a
 * request must pass before it is queued for its application pool. Every request the listener
 * admits is later reported to {@link finished} exactly once (answered, failed or aborted).
 */
export class Admission {
  readonly #config: ConfigLookup;
  readonly #ip: IpGuard;

  constructor(config: ConfigLookup) {
    this.#config = config;
    this.#ip = new IpGuard(config);
  }

  admit(site: SiteConfig, request: AdmissionRequest): AdmissionResult {
    const canonical = canonicalizePath(request.rawPath);
    if (!canonical.ok) return reject(canonical.subStatus === 11 ? 'DOUBLE_ESCAPE' : 'BAD_REQUEST', canonical.reason);
    if (site.maxUrlSegments > 0 && countSegments(canonical.path) > site.maxUrlSegments) return reject('TOO_MANY_SEGMENTS');
    const refused = this.#ip.check(site, canonical.path, request.remoteAddress, request.headers);
    if (refused) return { ok: false, rejection: refused };
    const hasEntity = request.declaredLength > 0 || request.chunked;
    if (!hasEntity) return { ok: true, path: canonical.path, entityLimit: 0 };
    // The limit of this URL's configuration (a web.config may lower or raise it); a broken
    // web.config gets the default here and its 500.19 from the worker.
    let limit = 30000000;
    const config = this.#config(site, canonical.path);
    if (config) {
      try {
        limit = config.section(REQUEST_LIMITS);
      } catch {
        // reported as 500.19 by the worker
      }
    }
    if (request.declaredLength > limit) return reject('CONTENT_TOO_LARGE', undefined, true);
    return { ok: true, path: canonical.path, entityLimit: limit };
  }

  /** An admitted request is over (response sent, failed, or the client left). */
  finished(site: SiteConfig, remoteAddress: string): void {
    this.#ip.finished(site, remoteAddress);
  }
}

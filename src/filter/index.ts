/**
 * `w3core/filter`: IIS request filtering (`security/requestFiltering`) for any Node.js server,
 * run by the same Wasm filter as the w3core listener.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createRequestFilter } from 'w3core/filter';
 *
 * const filter = createRequestFilter(`
 *   <requestFiltering allowDoubleEscaping="false">
 *     <hiddenSegments><add segment="private"/></hiddenSegments>
 *     <denyQueryStringSequences><add sequence="&lt;script"/></denyQueryStringSequences>
 *   </requestFiltering>`);
 *
 * createServer((req, res) => {
 *   const denied = filter.check(req);           // null: allowed
 *   if (denied) {
 *     res.writeHead(denied.status).end(`${denied.status}.${denied.subStatus} ${denied.reason}`);
 *     return;
 *   }
 *   res.end('hello');
 * }).listen(8080);
 * ```
 * @module
 */
import { mergeElement } from '../config/config-node.js';
import { parseXml } from '../config/xml.js';
import { ConfigError } from '../errors.js';
import { FilterEngine, verdictError, type CompiledRules, type FilterEncoding } from '../wasm/engine.js';
import {
  DEFAULT_REQUEST_FILTERING, readRequestFiltering, type FilteringRule, type RequestFilteringRules,
} from '../wasm/request-filtering.js';

export type { FilterEncoding } from '../wasm/engine.js';
export type { FilteringRule, RequestFilteringRules } from '../wasm/request-filtering.js';
export { ConfigError };

/** What the filter needs of a request; a node:http `IncomingMessage` fits as it is. */
export interface RequestFilterRequest {
  readonly method?: string | undefined;
  /** The request target as received (`req.url`): path, then `?query`. */
  readonly url?: string | undefined;
  /** node:http's `req.headers` (lower-case names), or flat `[name, value, …]`. */
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>> | readonly string[];
  /** Accepted for the shape of the call; request filtering does not look at it (ipSecurity does). */
  readonly remoteAddress?: string | undefined;
  /** Declared entity length; taken from the `content-length` header when absent. */
  readonly contentLength?: number;
}

/** A refusal: the HTTP status, the IIS substatus (404.5, 413.1, …) and why. */
export interface RequestFilterVerdict {
  readonly status: number;
  readonly subStatus: number;
  /** Reason phrase of the status (`Not Found`). */
  readonly reason: string;
  /** Which rule refused, for logs (e.g. `the URL contains the hidden segment 'bin'`). */
  readonly detail: string | undefined;
}

export interface RequestFilter {
  /**
   * Checks a request: `null` when it is allowed, else the refusal. IIS answers every request
   * filtering refusal with its status (mostly 404) and logs the substatus.
   */
  check(request: RequestFilterRequest): RequestFilterVerdict | null;
  /**
   * The canonical path of a request target (decoded once, dot segments resolved), or `null`
   * when the filter would refuse the path itself (400, 404.11, 404.14).
   */
  canonicalPath(url: string): string | null;
  /** The rules in force (schema defaults filled in). */
  readonly rules: RequestFilteringRules;
}

/** Rules as a plain object: IIS attribute names; what is left out takes its schema default. */
export interface RequestFilteringOptions {
  readonly allowDoubleEscaping?: boolean;
  readonly allowHighBitCharacters?: boolean;
  readonly unescapeQueryString?: boolean;
  readonly fileExtensions?: {
    readonly allowUnlisted?: boolean;
    readonly entries?: readonly { readonly fileExtension: string; readonly allowed?: boolean }[];
  };
  readonly verbs?: {
    readonly allowUnlisted?: boolean;
    readonly entries?: readonly { readonly verb: string; readonly allowed: boolean }[];
  };
  readonly hiddenSegments?: readonly string[];
  readonly denyUrlSequences?: readonly string[];
  readonly alwaysAllowedUrls?: readonly string[];
  readonly denyQueryStringSequences?: readonly string[];
  readonly alwaysAllowedQueryStrings?: readonly string[];
  readonly requestLimits?: {
    readonly maxAllowedContentLength?: number;
    readonly maxUrl?: number;
    readonly maxQueryString?: number;
    readonly headerLimits?: readonly { readonly header: string; readonly sizeLimit: number }[];
  };
  readonly filteringRules?: readonly {
    readonly name: string;
    readonly scanUrl?: boolean;
    readonly scanQueryString?: boolean;
    readonly scanAllRaw?: boolean;
    readonly denyUnescapedPercent?: boolean;
    readonly scanHeaders?: readonly string[];
    readonly appliesTo?: readonly string[];
    readonly denyStrings?: readonly string[];
  }[];
}

export interface CreateRequestFilterOptions {
  /**
   * How request strings map to bytes: `latin1` (default) for node:http and frameworks on it
   * (one char per byte in `req.url` and header values), `utf8` for hosts that hand over
   * decoded text.
   */
  readonly encoding?: FilterEncoding;
  /** Names the XML fragment in ConfigError messages. */
  readonly file?: string;
}

// One engine per encoding and thread: an instance has its own 2.5 MiB fixed memory, and filters
// share its rule arena (equal rule sets share one table).
const engines = new Map<FilterEncoding, FilterEngine>();
function engineFor(encoding: FilterEncoding): FilterEngine {
  let engine = engines.get(encoding);
  if (!engine) engines.set(encoding, (engine = new FilterEngine({ encoding })));
  return engine;
}

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

const BAD_TARGET: RequestFilterVerdict = {
  status: 400, subStatus: 0, reason: 'Bad Request', detail: "a request target may not contain '#'",
};

/**
 * Builds a request filter from a `<requestFiltering>` XML fragment (as in web.config) or a
 * plain object.
 * @throws ConfigError (file, line, attribute) for a bad XML fragment; TypeError for a bad object.
 */
export function createRequestFilter(config: string | RequestFilteringOptions, options: CreateRequestFilterOptions = {}): RequestFilter {
  const rules = typeof config === 'string' ? rulesFromXml(config, options.file ?? '<requestFiltering>') : rulesFromObject(config);
  const engine = engineFor(options.encoding ?? 'latin1');
  const compiled = engine.prepare(rules);
  return new WasmRequestFilter(engine, compiled);
}

class WasmRequestFilter implements RequestFilter {
  readonly #engine: FilterEngine;
  readonly #compiled: CompiledRules;

  constructor(engine: FilterEngine, compiled: CompiledRules) {
    this.#engine = engine;
    this.#compiled = compiled;
  }

  get rules(): RequestFilteringRules {
    return this.#compiled.rules;
  }

  check(request: RequestFilterRequest): RequestFilterVerdict | null {
    const engine = this.#engine;
    let url = request.url ?? '/';
    if (url.charCodeAt(0) !== 47 && ABSOLUTE_FORM.test(url)) url = url.replace(ABSOLUTE_FORM, '') || '/';
    // A request target has no fragment (RFC 9112 §3.2); routers that cut at '#' would serve
    // another path than the one judged here, so a target carrying one is refused.
    if (url.includes('#')) return { ...BAD_TARGET };
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    let verdict = engine.canonicalize(path);
    if (verdict !== 0) return refusal(verdict, engine.reason);
    const headers = request.headers;
    const flat = this.#compiled.needsHeaders && headers !== undefined ? flatHeaders(headers) : null;
    const length = request.contentLength ?? contentLengthOf(headers);
    verdict = engine.check(this.#compiled, query, request.method ?? 'GET', flat, length);
    return verdict === 0 ? null : refusal(verdict, engine.describe(this.#compiled, verdict));
  }

  canonicalPath(url: string): string | null {
    if (url.includes('#')) return null;
    const q = url.indexOf('?');
    const engine = this.#engine;
    if (engine.canonicalize(q < 0 ? url : url.slice(0, q)) !== 0) return null;
    if (engine.doubleEscaped && !this.#compiled.rules.allowDoubleEscaping) return null;
    return engine.path;
  }
}

function refusal(verdict: number, detail: string | undefined): RequestFilterVerdict {
  const e = verdictError(verdict);
  return { status: e.status, subStatus: e.subStatus, reason: e.reason, detail };
}

function flatHeaders(headers: NonNullable<RequestFilterRequest['headers']>): readonly string[] {
  if (Array.isArray(headers)) return headers as readonly string[];
  const flat: string[] = [];
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  for (const key of Object.keys(record)) {
    const value = record[key];
    const name = key.toLowerCase();
    if (typeof value === 'string') flat.push(name, value);
    else if (value !== undefined) for (const v of value) flat.push(name, v);
  }
  return flat;
}

function contentLengthOf(headers: RequestFilterRequest['headers']): number {
  if (headers === undefined) return 0;
  let value: string | readonly string[] | undefined;
  if (Array.isArray(headers)) {
    const flat = headers as readonly string[];
    for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i]!.toLowerCase() === 'content-length') value = flat[i + 1];
  } else {
    value = (headers as Readonly<Record<string, string | readonly string[] | undefined>>)['content-length'];
  }
  const text = typeof value === 'string' ? value : value?.[0];
  return text !== undefined && /^\s*\d+\s*$/.test(text) ? Number(text) : 0;
}

function rulesFromXml(xml: string, file: string): RequestFilteringRules {
  const element = parseXml(xml, file);
  if (element.name !== 'requestFiltering') {
    throw new ConfigError(file, element.line, undefined, `the root element must be <requestFiltering>, not <${element.name}>`);
  }
  return readRequestFiltering(mergeElement(undefined, element, 'system.webServer/security/requestFiltering'));
}

function rulesFromObject(o: RequestFilteringOptions): RequestFilteringRules {
  const d = DEFAULT_REQUEST_FILTERING;
  const bool = (value: unknown, name: string, fallback: boolean): boolean => {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw new TypeError(`requestFiltering ${name} must be a boolean`);
    return value;
  };
  const uint = (value: unknown, name: string, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 4294967295) {
      throw new TypeError(`requestFiltering ${name} must be an integer between 0 and 4294967295`);
    }
    return value;
  };
  const text = (value: unknown, name: string): string => {
    if (typeof value !== 'string' || value === '') throw new TypeError(`requestFiltering ${name} must be a non-empty string`);
    return value;
  };
  const list = (value: readonly unknown[] | undefined, name: string): string[] => (value ?? []).map((v, i) => text(v, `${name}[${i}]`));
  const rules: RequestFilteringRules = {
    allowDoubleEscaping: bool(o.allowDoubleEscaping, 'allowDoubleEscaping', d.allowDoubleEscaping),
    allowHighBitCharacters: bool(o.allowHighBitCharacters, 'allowHighBitCharacters', d.allowHighBitCharacters),
    unescapeQueryString: bool(o.unescapeQueryString, 'unescapeQueryString', d.unescapeQueryString),
    removeServerHeader: false,
    fileExtensions: {
      allowUnlisted: bool(o.fileExtensions?.allowUnlisted, 'fileExtensions.allowUnlisted', true),
      applyToWebDAV: true,
      entries: (o.fileExtensions?.entries ?? []).map((e, i) => ({
        fileExtension: text(e.fileExtension, `fileExtensions.entries[${i}].fileExtension`),
        allowed: bool(e.allowed, `fileExtensions.entries[${i}].allowed`, true),
      })),
    },
    verbs: {
      allowUnlisted: bool(o.verbs?.allowUnlisted, 'verbs.allowUnlisted', true),
      applyToWebDAV: true,
      entries: (o.verbs?.entries ?? []).map((e, i) => ({
        verb: text(e.verb, `verbs.entries[${i}].verb`),
        allowed: bool(e.allowed, `verbs.entries[${i}].allowed`, true),
      })),
    },
    hiddenSegments: { applyToWebDAV: true, segments: list(o.hiddenSegments, 'hiddenSegments') },
    denyUrlSequences: list(o.denyUrlSequences, 'denyUrlSequences'),
    alwaysAllowedUrls: list(o.alwaysAllowedUrls, 'alwaysAllowedUrls'),
    denyQueryStringSequences: list(o.denyQueryStringSequences, 'denyQueryStringSequences'),
    alwaysAllowedQueryStrings: list(o.alwaysAllowedQueryStrings, 'alwaysAllowedQueryStrings'),
    requestLimits: {
      maxAllowedContentLength: uint(o.requestLimits?.maxAllowedContentLength, 'requestLimits.maxAllowedContentLength', d.requestLimits.maxAllowedContentLength),
      maxUrl: uint(o.requestLimits?.maxUrl, 'requestLimits.maxUrl', d.requestLimits.maxUrl),
      maxQueryString: uint(o.requestLimits?.maxQueryString, 'requestLimits.maxQueryString', d.requestLimits.maxQueryString),
      headerLimits: (o.requestLimits?.headerLimits ?? []).map((h, i) => ({
        header: text(h.header, `requestLimits.headerLimits[${i}].header`),
        sizeLimit: uint(h.sizeLimit, `requestLimits.headerLimits[${i}].sizeLimit`, 0),
      })),
    },
    filteringRules: (o.filteringRules ?? []).map((r, i): FilteringRule => ({
      name: text(r.name, `filteringRules[${i}].name`),
      scanUrl: bool(r.scanUrl, `filteringRules[${i}].scanUrl`, false),
      scanQueryString: bool(r.scanQueryString, `filteringRules[${i}].scanQueryString`, false),
      scanAllRaw: bool(r.scanAllRaw, `filteringRules[${i}].scanAllRaw`, false),
      denyUnescapedPercent: bool(r.denyUnescapedPercent, `filteringRules[${i}].denyUnescapedPercent`, true),
      scanHeaders: list(r.scanHeaders, `filteringRules[${i}].scanHeaders`),
      appliesTo: list(r.appliesTo, `filteringRules[${i}].appliesTo`),
      denyStrings: list(r.denyStrings, `filteringRules[${i}].denyStrings`),
    })),
  };
  return Object.freeze(rules);
}

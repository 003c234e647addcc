import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { basename, resolve, sep } from 'node:path';
import parseRange from 'range-parser';
import { readBool, readEnum, readRequired, readString, readTimeSpan } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import type { ConfigNode } from '../config/config-node.js';
import { mapUrlToPhysical } from '../config/url-mapping.js';
import { REQUEST_FILTERING, type RequestFilteringRules } from '../wasm/request-filtering.js';
import { readSmallFile, realpathCached } from './common/file-cache.js';
import {
  REQUEST_NOTIFICATION, REQUEST_NOTIFICATION_STATUS, type RequestNotificationStatus,
} from '../pipeline/events.js';
import type { HttpContext, HttpResponse } from '../pipeline/http-context.js';
import type { HttpModule } from '../pipeline/module.js';

/**
 * StaticFileModule (static.dll): serves files through the `StaticFile` handler with the
 * `staticContent` MIME map, validators, conditional requests and byte ranges
 * (iis-reference.md §3.10; RFC 9110 §8.8, §13, §14).
 */

const { CONTINUE, FINISH_REQUEST } = REQUEST_NOTIFICATION_STATUS;

/** `clientCache cacheControlMode` values (IIS_schema.xml order: 0–3). */
export const CACHE_CONTROL_MODES = ['NoControl', 'DisableCache', 'UseMaxAge', 'UseExpires'] as const;
export type CacheControlMode = (typeof CACHE_CONTROL_MODES)[number];

/** `staticContent/clientCache`: what the module says about caching in its responses. */
export interface ClientCacheConfig {
  readonly cacheControlMode: CacheControlMode;
  /** `cacheControlMaxAge` in milliseconds (schema default `1.00:00:00`). */
  readonly cacheControlMaxAgeMs: number;
  /** `httpExpires`: an RFC 1123 date sent verbatim as `Expires` in UseExpires mode. */
  readonly httpExpires: string;
  /** `cacheControlCustom`: extra directives appended to `Cache-Control`. */
  readonly cacheControlCustom: string;
  readonly setEtag: boolean;
}

/** The `staticContent` section as StaticFileModule uses it. */
export interface StaticContentConfig {
  /** Lower-cased file extension (with its dot, e.g. `.html`, `.` for none, `.*` wildcard) → MIME type. */
  readonly mimeMap: ReadonlyMap<string, string>;
  readonly clientCache: ClientCacheConfig;
}

const ONE_DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Reader for `system.webServer/staticContent`: the `mimeMap` collection (the key is compared
 * case-insensitively, as IIS does) and the `clientCache` child.
 *
 * @example
 * ```ts
 * const { mimeMap } = ctx.getSection(STATIC_CONTENT);
 * mimeMap.get('.css'); // 'text/css'
 * ```
 */
export const STATIC_CONTENT: SectionReader<StaticContentConfig> = {
  section: 'staticContent',
  read(node: ConfigNode | undefined): StaticContentConfig {
    const mimeMap = new Map<string, string>();
    for (const entry of node?.entries ?? []) {
      const ext = readRequired(entry, 'fileExtension', 'mimeMap').toLowerCase();
      mimeMap.set(ext, readRequired(entry, 'mimeType', 'mimeMap'));
    }
    const cc = node?.children.get('clientCache');
    return {
      mimeMap,
      clientCache: Object.freeze({
        cacheControlMode: readEnum(cc, 'cacheControlMode', CACHE_CONTROL_MODES, 'NoControl'),
        cacheControlMaxAgeMs: readTimeSpan(cc, 'cacheControlMaxAge', ONE_DAY_MS),
        httpExpires: readString(cc, 'httpExpires', '').trim(),
        cacheControlCustom: readString(cc, 'cacheControlCustom', '').trim(),
        setEtag: readBool(cc, 'setEtag', true),
      }),
    };
  },
};

/**
 * The hidden segments of a requestFiltering section, lower-cased: request filtering refuses
 * them on the listener for every request (404.8); the static handlers consult them again so
 * that a default document or a directory listing never exposes a hidden name
 * (iis-reference.md §3.6). One set per section read, not per request.
 */
const hiddenSets = new WeakMap<RequestFilteringRules, ReadonlySet<string>>();

function hiddenSegments(ctx: HttpContext): ReadonlySet<string> {
  const rules = ctx.getSection(REQUEST_FILTERING);
  let set = hiddenSets.get(rules);
  if (set === undefined) {
    set = new Set(rules.hiddenSegments.segments.map((s) => s.toLowerCase()));
    hiddenSets.set(rules, set);
  }
  return set;
}

/**
 * Windows opens `web.config.`, `web.config ` and `web.config::$DATA` as `web.config`, so a segment
 * is compared without trailing dots and spaces and without an NTFS stream suffix. On POSIX this
 * only hides a few near-names of hidden segments, which costs nothing worth keeping.
 */
function segmentKey(segment: string): string {
  const colon = segment.indexOf(':');
  const name = colon >= 0 ? segment.slice(0, colon) : segment;
  return name.replace(/[. ]+$/, '').toLowerCase();
}

/**
 * Is one segment of `urlPath` (or `urlPath` itself when it is a bare name) a hidden segment?
 * Case-insensitive, as IIS request filtering matches segments.
 *
 * @example
 * ```ts
 * isHiddenPath(ctx, '/app/Web.Config'); // true with the stock configuration
 * ```
 */
export function isHiddenPath(ctx: HttpContext, urlPath: string): boolean {
  const segments = hiddenSegments(ctx);
  if (segments.size === 0) return false;
  for (const segment of urlPath.split('/')) {
    if (segment && segments.has(segmentKey(segment))) return true;
  }
  return false;
}

/**
 * Percent-encodes a decoded URL path segment by segment, for `Location` headers and links.
 * Empty segments are dropped (keeping the leading and a trailing slash): they map to the same
 * physical path, and `//host` at the front would turn a link into a protocol-relative URL.
 */
export function encodeUrlPath(path: string): string {
  const segments = path.split('/').filter(Boolean).map(encodeURIComponent);
  const trailing = path.length > 1 && path.endsWith('/') && segments.length > 0;
  return '/' + segments.join('/') + (trailing ? '/' : '');
}

/**
 * The courtesy redirect IIS sends for a directory requested without its trailing slash: 301 to
 * the absolute URL with `/` appended and the query string kept. Without it, relative links in
 * the default document or the listing would resolve against the parent directory.
 */
export function redirectToDirectory(ctx: HttpContext): RequestNotificationStatus {
  const r = ctx.request;
  const header = r.getHeader('host');
  // A Host header that is not a plain host[:port] could smuggle a path or credentials into Location.
  const host = header && /^[A-Za-z0-9.\-_~]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/.test(header)
    ? header
    : `${r.localAddress.includes(':') ? `[${r.localAddress}]` : r.localAddress}:${r.localPort}`;
  const path = encodeUrlPath(r.path);
  const location = `${r.secure ? 'https' : 'http'}://${host}${path}${path.endsWith('/') ? '' : '/'}`;
  ctx.response.redirect(location, { status: 301, includeParameters: true });
  return FINISH_REQUEST;
}

function isInside(root: string, path: string): boolean {
  if (process.platform === 'win32') {
    root = root.toLowerCase();
    path = path.toLowerCase();
  }
  if (path === root) return true;
  return path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Builds a check for "does this physical path, after following symlinks, stay inside the
 * virtual directory of the request?". URL mapping keeps the lexical path inside the virtual
 * directory, but a symlink in the content tree could point anywhere on the disk.
 *
 * A path that is lexically outside the virtual directory was put there on purpose by a MapPath
 * module (trusted code); it is not second-guessed. Unresolvable paths (dangling links, no
 * permission) count as outside.
 */
export function virtualDirectoryGuard(ctx: HttpContext): (physicalPath: string) => boolean {
  const mapped = mapUrlToPhysical(ctx.siteConfig, ctx.request.path);
  if (!mapped) return () => false;
  const lexicalRoot = resolve(mapped.virtualDirectory.physicalPath);
  let realRoot: string | undefined;
  return (physicalPath) => {
    const target = resolve(physicalPath);
    if (!isInside(lexicalRoot, target)) return true;
    try {
      realRoot ??= realpathCached(lexicalRoot);
      return isInside(realRoot, realpathCached(target));
    } catch {
      return false;
    }
  };
}

/**
 * The extension IIS looks up in the MIME map. As Windows' `PathFindExtension`, everything from the
 * last dot of the file name (so `.htaccess` has the extension `.htaccess`); a name without a dot
 * looks up `.`, the entry IIS administrators add to serve extensionless files.
 */
function extensionOf(physicalPath: string): string {
  const name = basename(physicalPath);
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '.' : name.slice(dot).toLowerCase();
}

/** The MIME type for a file, with IIS's `.*` wildcard entry as the fallback; undefined → 404.3. */
export function mimeTypeFor(config: StaticContentConfig, physicalPath: string): string | undefined {
  return config.mimeMap.get(extensionOf(physicalPath)) ?? config.mimeMap.get('.*');
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const IMF_FIXDATE = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const RFC_850 = /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const ASCTIME = /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/**
 * Parses an HTTP-date in any of the three formats of RFC 9110 §5.6.7, always as UTC (`Date.parse`
 * would read asctime as local time). Returns milliseconds, or undefined when the value is not a
 * valid date, in which case the conditional header is ignored (RFC 9110 §13.1.3, §13.1.4).
 */
export function parseHttpDate(value: string): number | undefined {
  const v = value.trim();
  let parts: { day: string; mon: string; year: number; hh: string; mm: string; ss: string };
  let m: RegExpExecArray | null;
  if ((m = IMF_FIXDATE.exec(v))) {
    parts = { day: m[1]!, mon: m[2]!, year: Number(m[3]), hh: m[4]!, mm: m[5]!, ss: m[6]! };
  } else if ((m = RFC_850.exec(v))) {
    // Two-digit years more than 50 years in the future mean the past century (RFC 9110 §5.6.7).
    let year = 2000 + Number(m[3]);
    if (year > new Date().getUTCFullYear() + 50) year -= 100;
    parts = { day: m[1]!, mon: m[2]!, year, hh: m[4]!, mm: m[5]!, ss: m[6]! };
  } else if ((m = ASCTIME.exec(v))) {
    parts = { mon: m[1]!, day: m[2]!, hh: m[3]!, mm: m[4]!, ss: m[5]!, year: Number(m[6]) };
  } else {
    return undefined;
  }
  const month = MONTHS.indexOf(parts.mon.toLowerCase());
  const day = Number(parts.day.trim());
  const [hh, mm, ss] = [Number(parts.hh), Number(parts.mm), Number(parts.ss)];
  if (month < 0 || day < 1 || hh > 23 || mm > 59 || ss > 60) return undefined;
  // A leap second (:60) counts as :59; Feb 30 and the like are refused rather than rolled over.
  const ms = Date.UTC(parts.year, month, day, hh, mm, Math.min(ss, 59));
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}

/** Entity-tags of an `If-Match` / `If-None-Match` list; `*` is returned as the single tag `*`. */
function parseEntityTags(value: string): string[] {
  if (value.trim() === '*') return ['*'];
  return value.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** Weak comparison (RFC 9110 §8.8.3.2): opaque tags equal, W/ ignored. */
function weakMatch(tags: readonly string[], etag: string | undefined): boolean {
  if (tags.includes('*')) return true;
  if (etag === undefined) return false;
  const mine = opaque(etag);
  return tags.some((t) => opaque(t) === mine);
}

/** Strong comparison: neither tag weak, and equal. */
function strongMatch(tags: readonly string[], etag: string | undefined): boolean {
  if (tags.includes('*')) return true;
  if (etag === undefined || etag.startsWith('W/')) return false;
  return tags.includes(etag);
}

/** Sets `Cache-Control` / `Expires` per `clientCache` (iis-reference.md §3.10). */
function applyClientCache(res: HttpResponse, cc: ClientCacheConfig): void {
  const directives: string[] = [];
  if (cc.cacheControlMode === 'DisableCache') directives.push('no-cache');
  else if (cc.cacheControlMode === 'UseMaxAge') directives.push(`max-age=${Math.floor(cc.cacheControlMaxAgeMs / 1000)}`);
  else if (cc.cacheControlMode === 'UseExpires' && cc.httpExpires) res.setHeader('Expires', cc.httpExpires);
  if (cc.cacheControlCustom) directives.push(cc.cacheControlCustom);
  if (directives.length) res.setHeader('Cache-Control', directives.join(', '));
}

/**
 * More ranges than this and the Range header is ignored (a full 200 is sent): RFC 9110 §14.2
 * lets a server ignore a Range it finds abusive, and hundreds of tiny parts only cost CPU.
 */
const MAX_RANGES = 64;

/**
 * Serves one regular file as StaticFileModule does: checks the symlink target, the verb and the
 * MIME map, sets the validators and caching headers, evaluates the preconditions of RFC 9110 §13.2.2
 * and answers 200, 206, 304, 405, 404.3, 412 or 416. The entity is appended as file chunks, so the
 * listener streams it and the worker never reads the file.
 *
 * DefaultDocumentModule serves the default document through this same path.
 *
 * @param physicalPath the file, as mapped from the request URL (or the directory plus a default document)
 * @param stat `fs.statSync(physicalPath)`, already known to be a regular file
 * @returns CONTINUE with the request marked handled when the file (or a 304/206) is sent, so the
 *   later stages (PostExecuteRequestHandler … UpdateRequestCache) still run for it as in IIS;
 *   FINISH_REQUEST after an error status.
 *
 * @example
 * ```ts
 * const st = statSync(path, { throwIfNoEntry: false });
 * if (st?.isFile()) return serveFile(ctx, path, st);
 * ```
 */
export function serveFile(ctx: HttpContext, physicalPath: string, stat: Stats): RequestNotificationStatus {
  const res = ctx.response;
  const method = ctx.request.method;

  // A symlink leaving the virtual directory is reported as absent: 403 would confirm it exists.
  if (!virtualDirectoryGuard(ctx)(physicalPath)) {
    res.setError('NOT_FOUND');
    return FINISH_REQUEST;
  }
  if (method !== 'GET' && method !== 'HEAD') {
    res.setError('VERB_NOT_ALLOWED');
    res.setHeader('Allow', 'GET, HEAD, OPTIONS, TRACE');
    return FINISH_REQUEST;
  }
  const config = ctx.getSection(STATIC_CONTENT);
  const contentType = mimeTypeFor(config, physicalPath);
  if (contentType === undefined) {
    res.setError('MIME_MAP_DENIED');
    return FINISH_REQUEST;
  }

  const size = stat.size;
  // RFC 9110 §8.8.2.1: never announce a modification time later than the response itself.
  const lastModifiedMs = Math.min(Math.floor(stat.mtimeMs / 1000), Math.floor(Date.now() / 1000)) * 1000;
  const lastModified = new Date(lastModifiedMs).toUTCString();
  const etag = config.clientCache.setEtag ? `"${stat.mtimeMs.toString(16)}-${size.toString(16)}"` : undefined;

  res.clearBody();
  if (etag !== undefined) res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', lastModified);
  applyClientCache(res, config.clientCache);

  const header = (name: string): string | undefined => ctx.request.getHeader(name);

  // RFC 9110 §13.2.2 steps 1–2: a failed If-Match, or else a failed If-Unmodified-Since, is 412.
  const ifMatch = header('if-match');
  if (ifMatch !== undefined) {
    if (!strongMatch(parseEntityTags(ifMatch), etag)) return preconditionFailed(res);
  } else {
    const ius = header('if-unmodified-since');
    const since = ius === undefined ? undefined : parseHttpDate(ius);
    if (since !== undefined && lastModifiedMs > since) return preconditionFailed(res);
  }

  // Steps 3–4: If-None-Match (weak comparison), or else If-Modified-Since, → 304 for GET/HEAD.
  const ifNoneMatch = header('if-none-match');
  let notModified = false;
  if (ifNoneMatch !== undefined) {
    notModified = weakMatch(parseEntityTags(ifNoneMatch), etag);
  } else {
    const ims = header('if-modified-since');
    const since = ims === undefined ? undefined : parseHttpDate(ims);
    notModified = since !== undefined && lastModifiedMs <= since;
  }
  if (notModified) {
    // The answer depends on request headers: it must not be cached as the URL's response.
    res.disableKernelCache();
    res.setStatus(304);
    return handled(ctx);
  }

  // Step 5. Range handling is defined for GET only: HEAD and other methods ignore it (RFC 9110 §14.2).
  // Units other than bytes are ignored; the unit name is case-insensitive (RFC 9110 §14.1).
  const range = method === 'GET' ? header('range') : undefined;
  let ranges: parseRange.Ranges | undefined;
  const specs = range !== undefined && /^bytes=/i.test(range) ? byteRangeSpecs(range.slice(6)) : undefined;
  if (specs !== undefined && ifRangeHolds(header('if-range'), etag, lastModifiedMs)) {
    const parsed = parseRange(size, `bytes=${specs.join(',')}`, { combine: true });
    if (parsed === -1) {
      res.disableKernelCache();
      res.setError('RANGE_NOT_SATISFIABLE');
      res.setHeader('Content-Range', `bytes */${size}`);
      return FINISH_REQUEST;
    }
    // -2 (malformed): ignore Range and send the whole file.
    if (parsed !== -2 && parsed.length > 0 && parsed.length <= MAX_RANGES) ranges = parsed;
  }

  res.setHeader('Accept-Ranges', 'bytes');
  if (ranges === undefined) {
    res.setStatus(200);
    res.setHeader('Content-Type', contentType);
    const small = readSmallFile(physicalPath, stat);
    if (small) {
      res.write(small);
      // A whole file: the listener's cache may keep it until the file changes (in IIS the
      // static file handler makes its responses kernel-cacheable the same way).
      res.cachePolicy.setKernelCachePolicy('untilChange');
      res.cachePolicy.addInvalidator(physicalPath, stat);
    } else {
      res.writeFile(physicalPath, 0, size);
    }
    return handled(ctx);
  }
  res.disableKernelCache();
  res.setStatus(206);
  if (ranges.length === 1) {
    const { start, end } = ranges[0]!;
    res.setHeader('Content-Type', contentType);
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    res.writeFile(physicalPath, start, end - start + 1);
  } else {
    writeByteRanges(res, physicalPath, contentType, size, ranges);
  }
  return handled(ctx);
}

/**
 * A handler that produced the response: the other modules of the handler do not run
 * (`SetRequestHandled`), but the request goes on through the remaining stages.
 */
export function handled(ctx: HttpContext): RequestNotificationStatus {
  ctx.setRequestHandled();
  return CONTINUE;
}

function preconditionFailed(res: HttpResponse): RequestNotificationStatus {
  res.disableKernelCache();
  res.setError('PRECONDITION_FAILED');
  return FINISH_REQUEST;
}

const BYTE_RANGE_SPEC = /^[ \t]*(?:(\d+)-(\d*)|-\d+)[ \t]*$/;

/**
 * The range specs of a `bytes=` range set, or undefined when the set is invalid and the Range
 * header must be ignored (RFC 9110 §14.1.1: a spec whose last-pos is below its first-pos is
 * invalid, and so is the whole set). range-parser instead skips such a spec and answers from the
 * others (206, or 416 when none is left). Empty list elements are dropped (RFC 9110 §5.6.1.2).
 */
function byteRangeSpecs(set: string): string[] | undefined {
  const specs = set.split(',').filter((s) => s.trim() !== '');
  if (specs.length === 0) return undefined;
  for (const spec of specs) {
    const m = BYTE_RANGE_SPEC.exec(spec);
    if (!m || (m[1] !== undefined && m[2] !== '' && Number(m[1]) > Number(m[2]))) return undefined;
  }
  return specs;
}

/**
 * `If-Range` (RFC 9110 §13.1.5): with no header the Range applies; an entity-tag must match
 * strongly; a date must equal Last-Modified exactly. Otherwise the full representation is sent.
 */
function ifRangeHolds(ifRange: string | undefined, etag: string | undefined, lastModifiedMs: number): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return etag !== undefined && !v.startsWith('W/') && v === etag;
  const date = parseHttpDate(v);
  return date !== undefined && date === lastModifiedMs;
}

/**
 * A `multipart/byteranges` body (RFC 9110 §14.6): part headers as memory chunks interleaved with
 * file chunks, so the ranges still stream from disk.
 */
function writeByteRanges(
  res: HttpResponse, path: string, contentType: string, size: number, ranges: readonly parseRange.Range[],
): void {
  const boundary = randomBytes(12).toString('hex');
  res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
  ranges.forEach(({ start, end }, i) => {
    res.write(`${i ? '\r\n' : ''}--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: bytes ${start}-${end}/${size}\r\n\r\n`);
    res.writeFile(path, start, end - start + 1);
  });
  res.write(`\r\n--${boundary}--\r\n`);
}

/**
 * StaticFileModule: the file part of the `StaticFile` handler. Directory URLs are left to
 * DefaultDocumentModule and DirectoryListingModule; everything else is served by {@link serveFile}
 * or refused with the IIS status: 404.0 absent, 404.8 hidden segment, 405, 404.3, 412, 416.
 *
 * @example
 * ```xml
 * <handlers>
 *   <add name="StaticFile" path="*" verb="*" modules="StaticFileModule,DefaultDocumentModule,DirectoryListingModule"
 *        resourceType="Either" requireAccess="Read"/>
 * </handlers>
 * ```
 */
export const StaticFileModule: HttpModule = {
  notifications: REQUEST_NOTIFICATION.EXECUTE_REQUEST_HANDLER,

  onExecuteRequestHandler(ctx: HttpContext): RequestNotificationStatus {
    if (ctx.requestHandled) return CONTINUE;
    const urlPath = ctx.request.path;
    if (isHiddenPath(ctx, urlPath)) {
      ctx.response.setError('HIDDEN_SEGMENT');
      return FINISH_REQUEST;
    }
    const physicalPath = ctx.physicalPath;
    const stat = ctx.physicalStat;
    if (stat?.isDirectory()) return CONTINUE;
    // A trailing slash names a directory; a file (or nothing) there is 404, as in IIS. Sockets,
    // FIFOs and devices are never served: streaming a FIFO would hang the response.
    if (!stat?.isFile() || urlPath.endsWith('/')) {
      ctx.response.setError('NOT_FOUND');
      return FINISH_REQUEST;
    }
    return serveFile(ctx, physicalPath, stat);
  },
};

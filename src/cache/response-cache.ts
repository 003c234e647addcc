import { Buffer } from 'node:buffer';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { CACHE_OPERATION, type WireCachePolicy, type WireResponse } from '../activation/wire.js';

/** Counters of the kernel-style response cache. */
export interface ResponseCacheStats {
  /** Requests answered from the cache. */
  readonly hits: number;
  /** Cache-eligible requests that went to a worker. */
  readonly misses: number;
  readonly entries: number;
  /** Bytes held (entities and heads). */
  readonly bytes: number;
  /** Entries dropped to stay within `maxCacheSize`. */
  readonly evictions: number;
  /** Entries dropped because a file, the configuration or a flush said so. */
  readonly invalidations: number;
}

export interface ResponseCacheOptions {
  /** Upper bound of `bytes` (`caching maxCacheSize`, in bytes here). */
  readonly maxBytes: number;
  /** Largest entity kept (`caching maxResponseSize`). */
  readonly maxResponseSize: number;
  /** `serverRuntime frequentHitThreshold`: requests within the period before a URL is cached. */
  readonly frequentHitThreshold: number;
  readonly frequentHitTimePeriodMs: number;
}

/** A cached response, ready for the wire. */
export interface CachedResponse {
  /** Status line after `HTTP/1.1 ` and the header lines (see WireResponse.head). */
  readonly head: string;
  readonly body: Uint8Array;
}

interface Entry extends CachedResponse {
  readonly key: string;
  readonly siteId: number;
  /** Key of its URL in the site's map (host and path). */
  readonly urlKey: string;
  /** The files it depends on, as they were when the response was built. */
  readonly files: WireCachePolicy['files'];
  /** When the files were last compared with the disk. */
  checkedAt: number;
  readonly site: SiteEntries;
  readonly path: string;
  readonly variant: string;
  readonly expires: number;
  readonly bytes: number;
  /** Second-chance bit: set by a hit, cleared by the eviction sweep. */
  used: boolean;
}

/** The cached forms of one URL: how its variants are told apart, and the variants. */
interface UrlEntries {
  readonly path: string;
  readonly varyByHeaders: readonly string[];
  readonly varyByQueryString: readonly string[];
  readonly variants: Map<string, Entry>;
}

type SiteEntries = Map<string, UrlEntries>;

/** Request headers that make a response depend on more than the URL (iis-reference.md §6.1). */
const UNCACHEABLE_REQUEST_HEADERS = new Set([
  'authorization', 'range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since',
]);

/** Per-request cache context the listener keeps between lookup and response. */
export interface CacheProbe {
  readonly siteId: number;
  /** Arrived over TLS: http and https answers of one site are kept apart. */
  readonly secure: boolean;
  /**
   * The Host header as sent: part of the key, as HTTP.sys keys its cache by the full URL, so a
   * page that reflects the host name (absolute links) is never served to another host name.
   */
  readonly host: string;
  /** {@link ResponseCache.epoch} when the request was looked up: a flush since then voids its answer. */
  readonly epoch: number;
  readonly path: string;
  readonly queryString: string;
  readonly headers: readonly string[];
}

/** Frequent-hit bookkeeping for a URL not cached yet. */
interface Candidate {
  count: number;
  since: number;
}

const MAX_CANDIDATES = 65536;

/** How often expired entries are swept and `CacheCleanup` fires. */
export const CLEANUP_INTERVAL_MS = 60_000;

/**
 * The kernel-style response cache (HTTP.sys's URI cache): answered on the listener thread, so a
 * hit never reaches a worker. The worker says what may be kept and on what terms
 * ({@link WireCachePolicy}); this class adds what depends on the request: GET (HEAD is served
 * from a GET's entry), no entity, no `Authorization`, no `Range`/conditional headers, no
 * `Translate: f`, no `Expect` but `100-continue`, no query string unless the policy varies by
 * it, the frequent-hit rule (`frequentHitThreshold` requests within `frequentHitTimePeriod`),
 * `maxResponseSize`, and a byte bound with second-chance LRU eviction. Entries go when a file
 * they depend on changes (directory watches), when their time is up, on configuration change
 * and on flush.
 */
export class ResponseCache {
  readonly #options: ResponseCacheOptions;
  readonly #sites = new Map<number, SiteEntries>();
  /** Every entry in insertion order, for eviction. */
  readonly #all = new Map<string, Entry>();
  readonly #candidates = new Map<string, Candidate>();
  /** Watched directory → (file name → keys of entries depending on it). */
  readonly #watched = new Map<string, { watcher: FSWatcher; files: Map<string, Set<string>> }>();
  #bytes = 0;
  #epoch = 0;
  #closed = false;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #invalidations = 0;
  /** Called when an entry is added or dropped, or a prefix flushed (`CacheOperation`). */
  onOperation: ((operation: number, siteId: number, url: string) => void) | undefined;
  /** Called after each periodic sweep (`CacheCleanup`). */
  onCleanup: (() => void) | undefined;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: ResponseCacheOptions) {
    this.#options = options;
    this.#sweeper = setInterval(() => this.cleanup(), CLEANUP_INTERVAL_MS).unref();
  }

  /**
   * Drops entries whose time is up and frequent-hit counts older than the period; runs every
   * {@link CLEANUP_INTERVAL_MS} (HTTP.sys scavenges its cache on a timer too).
   */
  cleanup(): void {
    const now = Date.now();
    for (const e of [...this.#all.values()]) {
      if (e.expires !== 0 && e.expires <= now) {
        this.#drop(e);
        this.#invalidations++;
        this.onOperation?.(CACHE_OPERATION.DELETE, e.siteId, e.path);
      }
    }
    for (const [k, c] of this.#candidates) if (now - c.since > this.#options.frequentHitTimePeriodMs) this.#candidates.delete(k);
    this.onCleanup?.();
  }

  get options(): ResponseCacheOptions {
    return this.#options;
  }

  stats(): ResponseCacheStats {
    return {
      hits: this.#hits, misses: this.#misses, entries: this.#all.size, bytes: this.#bytes,
      evictions: this.#evictions, invalidations: this.#invalidations,
    };
  }

  /**
   * Whether a request may be answered from (or fill) the cache at all: the request-side rules.
   * `headers` is the flat lower-cased list the listener copied.
   */
  static eligible(method: string, headers: readonly string[], hasEntity: boolean): boolean {
    if ((method !== 'GET' && method !== 'HEAD') || hasEntity) return false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (UNCACHEABLE_REQUEST_HEADERS.has(name)) return false;
      if (name === 'translate' && headers[i + 1]!.trim().toLowerCase() === 'f') return false;
      if (name === 'expect' && headers[i + 1]!.trim().toLowerCase() !== '100-continue') return false;
    }
    return true;
  }

  /** Goes up with every flush: answers to requests looked up before it are not kept. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The cached response for an eligible request, or undefined (counted as a miss). */
  lookup(probe: CacheProbe): CachedResponse | undefined {
    const url = this.#sites.get(siteKey(probe))?.get(urlKeyOf(probe));
    if (url !== undefined) {
      const variant = variantKey(url, probe.queryString, probe.headers);
      const entry = variant === undefined ? undefined : url.variants.get(variant);
      if (entry !== undefined) {
        const now = Date.now();
        if ((entry.expires === 0 || entry.expires > now) && this.#stillCurrent(entry, now)) {
          entry.used = true;
          this.#hits++;
          return entry;
        }
        this.#drop(entry);
        this.#invalidations++;
        this.onOperation?.(CACHE_OPERATION.DELETE, entry.siteId, entry.path);
      }
    }
    this.#misses++;
    return undefined;
  }

  /**
   * Directory watches drop entries at once, but they miss a renamed parent directory or a
   * swapped symlink (the usual atomic deployments), and a watch may not be available at all:
   * so at most once per {@link RECHECK_MS} a hit also compares its files with the disk.
   */
  #stillCurrent(entry: Entry, now: number): boolean {
    if (entry.files.length === 0 || now - entry.checkedAt < RECHECK_MS) return true;
    entry.checkedAt = now;
    return filesUnchanged(entry.files);
  }

  /** A worker answered an eligible request that missed: keep the response if it qualifies. */
  offer(probe: CacheProbe, response: WireResponse): void {
    const policy = response.cache;
    if (policy === null || response.body === null || response.chunks !== null || response.disconnect) return;
    if (response.status !== 200 || response.subStatus !== 0) return;
    const size = response.body.byteLength;
    if (size === 0 || size > this.#options.maxResponseSize) return;
    if (probe.queryString !== '' && policy.varyByQueryString.length === 0) return;
    // A flush (configuration change, FlushKernelCache) since this request was looked up:
    // its answer may predate the change.
    if (probe.epoch !== this.#epoch || this.#closed) return;
    // Frequent hits are counted on cacheable responses, not on every lookup: URLs whose
    // responses can never be kept (most dynamic ones) then cost nothing here.
    const urlKey = urlKeyOf(probe);
    const candidateKey = `${siteKey(probe)}\0${urlKey}\0${probe.queryString}`;
    if (this.#countHit(candidateKey) < this.#options.frequentHitThreshold) return;
    const bytes = size + response.head.length;
    if (bytes > this.#options.maxBytes) return;
    // Misses that were in flight when the entry was stored bring the same response again.
    const known = this.#sites.get(siteKey(probe))?.get(urlKey);
    if (known !== undefined && sameVary(known, policy)) {
      const v = variantKey(known, probe.queryString, probe.headers);
      if (v !== undefined && known.variants.has(v)) return;
    }
    let site = this.#sites.get(siteKey(probe));
    if (!site) this.#sites.set(siteKey(probe), (site = new Map()));
    let url = site.get(urlKey);
    if (url === undefined || !sameVary(url, policy)) {
      if (url !== undefined) for (const e of [...url.variants.values()]) this.#drop(e);
      url = { path: probe.path, varyByHeaders: policy.varyByHeaders, varyByQueryString: policy.varyByQueryString, variants: new Map() };
    }
    const variant = variantKey(url, probe.queryString, probe.headers);
    if (variant === undefined) return;
    const key = `${siteKey(probe)}\0${urlKey}\0${variant}`;
    const old = this.#all.get(key);
    if (old) this.#drop(old);
    // The file may have changed between the worker reading it and now: watch first (after the
    // drops above, which may close a watch), then compare, so no change falls between the two.
    const files = policy.files;
    for (const f of files) this.#watch(f.path);
    if (!filesUnchanged(files)) {
      for (const f of files) this.#unwatch(f.path, '');
      return;
    }
    this.#candidates.delete(candidateKey);
    site.set(urlKey, url);
    // Head and body may be views into a worker's response ring or a batch's buffer: keep
    // copies of their own.
    const head = typeof response.head === 'string' ? response.head : Buffer.from(response.head).toString('utf8');
    const entry: Entry = {
      key, siteId: probe.siteId, urlKey, site, path: probe.path, variant, head,
      body: Uint8Array.prototype.slice.call(response.body), expires: policy.ttlMs > 0 ? Date.now() + policy.ttlMs : 0,
      files, checkedAt: Date.now(), bytes, used: false,
    };
    url.variants.set(variant, entry);
    this.#all.set(key, entry);
    this.#bytes += bytes;
    for (const f of files) this.#index(f.path, key);
    this.onOperation?.(CACHE_OPERATION.ADD, probe.siteId, probe.path);
    this.#evict();
  }

  /** Drops this site's entries whose URL starts with `urlPrefix` (`FlushKernelCache`). */
  flush(siteId: number, urlPrefix = '/'): number {
    this.#epoch++;
    let n = 0;
    for (const secure of [false, true]) {
      const site = this.#sites.get(siteKey({ siteId, secure }));
      if (!site) continue;
      for (const url of [...site.values()]) {
        if (!url.path.startsWith(urlPrefix)) continue;
        for (const e of [...url.variants.values()]) {
          this.#drop(e);
          n++;
        }
      }
    }
    this.#invalidations += n;
    if (n) this.onOperation?.(CACHE_OPERATION.FLUSH_PREFIX, siteId, urlPrefix);
    return n;
  }

  /** Drops everything (configuration change, shutdown). */
  flushAll(): number {
    this.#epoch++;
    const n = this.#all.size;
    for (const e of [...this.#all.values()]) this.#drop(e);
    this.#invalidations += n;
    this.#candidates.clear();
    return n;
  }

  /** Stops watching files; the cache is empty afterwards. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.flushAll();
    for (const w of this.#watched.values()) w.watcher.close();
    this.#watched.clear();
  }

  /** One more request of `key` within the frequent-hit period; returns the count. */
  #countHit(key: string): number {
    const now = Date.now();
    const c = this.#candidates.get(key);
    if (c === undefined || now - c.since > this.#options.frequentHitTimePeriodMs) {
      if (c === undefined && this.#candidates.size >= MAX_CANDIDATES) {
        // Bounded: forget the oldest half (URLs requested once long ago).
        let drop = MAX_CANDIDATES / 2;
        for (const k of this.#candidates.keys()) {
          this.#candidates.delete(k);
          if (--drop === 0) break;
        }
      }
      this.#candidates.set(key, { count: 1, since: now });
      return 1;
    }
    return ++c.count;
  }

  /** Second-chance LRU: the oldest entry not hit since the last sweep goes first. */
  #evict(): void {
    while (this.#bytes > this.#options.maxBytes && this.#all.size > 0) {
      for (const e of this.#all.values()) {
        if (e.used) {
          e.used = false;
          this.#all.delete(e.key);
          this.#all.set(e.key, e);
          continue;
        }
        this.#drop(e);
        this.#evictions++;
        break;
      }
    }
  }

  #drop(entry: Entry): void {
    if (this.#all.get(entry.key) !== entry) return;
    this.#all.delete(entry.key);
    this.#bytes -= entry.bytes;
    const url = entry.site.get(entry.urlKey);
    if (url) {
      url.variants.delete(entry.variant);
      if (url.variants.size === 0) entry.site.delete(entry.urlKey);
    }
    for (const f of entry.files) this.#unwatch(f.path, entry.key);
  }

  #watch(file: string): void {
    const dir = dirname(file);
    if (this.#watched.has(dir)) return;
    const files = new Map<string, Set<string>>();
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false }, (_event, name) => this.#changed(dir, name === null ? null : String(name)));
    } catch {
      return; // not watchable: entries depending on it are still stat-checked when offered
    }
    watcher.on('error', () => this.#changed(dir, null));
    this.#watched.set(dir, { watcher, files });
  }

  #index(file: string, key: string): void {
    const w = this.#watched.get(dirname(file));
    if (!w) return;
    const name = basename(file);
    let keys = w.files.get(name);
    if (!keys) w.files.set(name, (keys = new Set()));
    keys.add(key);
  }

  #unwatch(file: string, key: string): void {
    const dir = dirname(file);
    const w = this.#watched.get(dir);
    if (!w) return;
    const name = basename(file);
    const keys = w.files.get(name);
    if (keys) {
      keys.delete(key);
      if (keys.size === 0) w.files.delete(name);
    }
    if (w.files.size === 0) {
      w.watcher.close();
      this.#watched.delete(dir);
    }
  }

  /** A watched directory reported a change: drop the entries of that file (or of all its files). */
  #changed(dir: string, name: string | null): void {
    const w = this.#watched.get(dir);
    if (!w) return;
    const names = name === null ? [...w.files.keys()] : [name];
    for (const n of names) {
      for (const key of [...(w.files.get(n) ?? [])]) {
        const e = this.#all.get(key);
        if (!e) continue;
        this.#drop(e);
        this.#invalidations++;
        this.onOperation?.(CACHE_OPERATION.DELETE, e.siteId, e.path);
      }
    }
  }
}

/** How often a hit compares its files with the disk (besides the directory watches). */
const RECHECK_MS = 1000;

/** Do these files still have the size and modification time they had? */
function filesUnchanged(files: WireCachePolicy['files']): boolean {
  for (const f of files) {
    let now: { mtimeMs: number; size: number } | undefined;
    try {
      now = statSync(f.path, { throwIfNoEntry: false });
    } catch {
      now = undefined;
    }
    if (!now || now.mtimeMs !== f.mtimeMs || now.size !== f.size) return false;
  }
  return true;
}

/** A URL's key within its site: the Host header as sent, and the path. */
function urlKeyOf(probe: CacheProbe): string {
  return `${probe.host}\n${probe.path}`;
}

/** Sites' http and https entries live apart. */
function siteKey(probe: { readonly siteId: number; readonly secure: boolean }): number {
  return probe.siteId * 2 + (probe.secure ? 1 : 0);
}

function sameVary(url: UrlEntries, policy: WireCachePolicy): boolean {
  return url.varyByHeaders.join('\0') === policy.varyByHeaders.join('\0') &&
    url.varyByQueryString.join('\0') === policy.varyByQueryString.join('\0');
}

/** The variant of a URL a request selects ('' when nothing varies); undefined = not cacheable. */
function variantKey(url: UrlEntries, queryString: string, headers: readonly string[]): string | undefined {
  let key = '';
  if (queryString !== '') {
    if (url.varyByQueryString.length === 0) return undefined;
    if (url.varyByQueryString[0] === '*') key = queryString;
    else {
      const params = new URLSearchParams(queryString);
      for (const name of url.varyByQueryString) key += `${name}=${params.getAll(name).join(',')}&`;
    }
  }
  for (const name of url.varyByHeaders) {
    let value = '';
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) value += `${headers[i + 1]}\n`;
    key += `\0${value}`;
  }
  return key;
}

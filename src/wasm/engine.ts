import { Buffer } from 'node:buffer';
import { HTTP_ERROR, type HttpError } from '../errors.js';
import { CANONICAL_REASON, COMPILE_ERROR, instantiateFilter, type FilterExports } from './filter.js';
import type { RequestFilteringRules } from './request-filtering.js';
import { encodeRuleSource, type RuleSource } from './rule-source.js';

/** How request strings become bytes for the filter. */
export type FilterEncoding =
  /** Strings are text (uWebSockets.js decodes URLs and headers as UTF-8): encode as UTF-8. */
  | 'utf8'
  /**
   * Strings carry one byte per char (node:http's `req.url` and header values): write the bytes
   * as they are. A string with a char above U+00FF is not such a string and is UTF-8 encoded.
   */
  | 'latin1';

/** Verdicts of the filter (`status * 1000 + subStatus`) and the error they stand for. */
export const VERDICT_ERROR: ReadonlyMap<number, HttpError> = new Map<number, HttpError>([
  [400000, HTTP_ERROR.BAD_REQUEST],
  [404005, HTTP_ERROR.URL_SEQUENCE_DENIED],
  [404006, HTTP_ERROR.VERB_DENIED],
  [404007, HTTP_ERROR.FILE_EXTENSION_DENIED],
  [404008, HTTP_ERROR.HIDDEN_SEGMENT],
  [404011, HTTP_ERROR.DOUBLE_ESCAPE],
  [404012, HTTP_ERROR.HIGH_BIT_CHARACTERS],
  [404014, HTTP_ERROR.URL_TOO_LONG],
  [404015, HTTP_ERROR.QUERY_STRING_TOO_LONG],
  [404018, HTTP_ERROR.QUERY_STRING_SEQUENCE_DENIED],
  [404019, HTTP_ERROR.FILTERING_RULE_DENIED],
  [413001, HTTP_ERROR.CONTENT_TOO_LARGE],
  [431000, HTTP_ERROR.HEADER_TOO_LARGE],
  [500000, HTTP_ERROR.MODULE_ERROR],
]);

/** The error of a non-zero verdict. */
export function verdictError(verdict: number): HttpError {
  return VERDICT_ERROR.get(verdict) ?? HTTP_ERROR.MODULE_ERROR;
}

/**
 * One rule set, ready for an engine: its rule source (compiled into a table on first use, and
 * again after the arena was reclaimed) and what the host must hand over for it.
 */
export class CompiledRules {
  readonly rules: RequestFilteringRules;
  readonly source: RuleSource;
  /** Content key: equal rule sets share one table. */
  readonly key: string;
  /** Lower-cased header name → slot, for the headers this rule set looks at. */
  readonly headerSlots: ReadonlyMap<string, number>;
  /** Header values must be written for `check` (limits, scanned headers or scanAllRaw). */
  readonly needsHeaders: boolean;
  /** `requestLimits maxAllowedContentLength`: the listener reads at most this many entity bytes. */
  readonly maxAllowedContentLength: number;
  /** @internal Table address in the engine's arena, valid while `epoch` is the engine's. */
  table = 0;
  /** @internal */
  epoch = -1;

  constructor(rules: RequestFilteringRules) {
    this.rules = rules;
    this.source = encodeRuleSource(rules);
    this.key = Buffer.from(this.source.bytes.buffer, this.source.bytes.byteOffset, this.source.bytes.byteLength).toString('latin1');
    this.headerSlots = new Map(this.source.headerSlots.map((name, slot) => [name, slot]));
    this.needsHeaders = this.headerSlots.size > 0 || this.source.scanAllRaw;
    this.maxAllowedContentLength = rules.requestLimits.maxAllowedContentLength;
  }
}

// Buffer's internal single-encoding writers (present on Buffer.prototype in Node 20, ~40 ns
// cheaper than `write(s, off, len, enc)`), with the documented call as a fallback.
type Writer = (this: Buffer, s: string, offset: number, length: number) => number;
const proto = Buffer.prototype as unknown as { utf8Write?: Writer; latin1Write?: Writer };
const utf8Write: Writer = proto.utf8Write ?? function (this: Buffer, s, o, l) { return this.write(s, o, l, 'utf8'); };
const latin1Write: Writer = proto.latin1Write ?? function (this: Buffer, s, o, l) { return this.write(s, o, l, 'latin1'); };
const BEYOND_LATIN1 = /[^\x00-\xff]/;
const HIGH_LATIN1 = /[\x80-\xff]/;

/** Strings up to this length are copied with a char loop; longer ones with one native write. */
const LOOP_COPY_MAX = 32;
const METHOD_CAP = 1024;

/**
 * The Wasm request filter for one thread: canonicalises URL paths and checks requests against
 * compiled `security/requestFiltering` rule sets.
 *
 * Rule tables live in a fixed arena inside the instance. They are compiled once per distinct
 * rule set (cached by content) and never freed one by one: when the arena is full, every table
 * is dropped at once (the epoch goes up) and the rule sets in use are compiled again on their
 * next request. Memory stays fixed whatever the configuration does.
 *
 * Copying strings in is the cost that matters (a JS→Wasm call is ~4 ns): a char loop for short
 * strings (~3 ns/char), one native write for long ones (a flat ~100 ns), as measured in
 * shared/anchors/wasm-filter-prototype.md.
 *
 * @example
 * ```ts
 * const engine = new FilterEngine();
 * const rules = engine.prepare(readRequestFiltering(undefined));
 * if (engine.canonicalize('/a/%2e%2e/b.txt') === 0) {
 *   engine.path;                                      // '/b.txt'
 *   engine.check(rules, '', 'GET', null, 0);          // 0: allowed
 * }
 * ```
 */
export class FilterEngine {
  readonly #x: FilterExports;
  readonly #u8: Uint8Array;
  readonly #buf: Buffer;
  readonly #headers: Int32Array;
  readonly #in: number;
  readonly #inCap: number;
  readonly #urlCap: number;
  readonly #headersMax: number;
  readonly #latin1: boolean;
  readonly #charMax: number;
  readonly #tables = new Map<string, number>();
  #epoch = 0;
  #raw = '';
  #pathLen = 0;
  #code = 0;
  #path: string | undefined = undefined;
  #clobbered = false;

  constructor(options: { readonly encoding?: FilterEncoding; readonly module?: object } = {}) {
    const x = instantiateFilter(options.module);
    this.#x = x;
    // The memory never grows, so these views stay valid for the life of the instance.
    this.#buf = Buffer.from(x.memory.buffer);
    this.#u8 = new Uint8Array(x.memory.buffer);
    this.#headers = new Int32Array(x.memory.buffer, x.headersPtr(), x.headersMax() * 3);
    this.#in = x.inputPtr();
    this.#inCap = x.inputCap();
    this.#urlCap = x.urlCap();
    this.#headersMax = x.headersMax();
    this.#latin1 = options.encoding === 'latin1';
    this.#charMax = this.#latin1 ? 0xff : 0x7f;
  }

  /**
   * The rules as a {@link CompiledRules}, compiled into this engine's arena now (and again
   * whenever the arena was reclaimed since).
   * @throws RangeError when the rules do not fit the filter (more than 64 distinct headers, or
   *   a table larger than the arena).
   */
  prepare(rules: RequestFilteringRules): CompiledRules {
    const compiled = new CompiledRules(rules);
    this.#tableOf(compiled);
    return compiled;
  }

  /** Arena reclaims so far (each drops every table at once). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Bytes of the arena in use, and its size. */
  get arena(): { readonly used: number; readonly capacity: number } {
    return { used: this.#x.arenaUsed(), capacity: this.#x.arenaCap() };
  }

  /**
   * Canonicalises a raw URL path (percent-encoded, no query). Returns 0 when it may proceed,
   * or the refusal as a verdict (400000, 404011, 404014). Afterwards {@link path},
   * {@link segments} and {@link doubleEscaped} describe it; `check` uses it.
   */
  canonicalize(rawPath: string): number {
    this.#raw = rawPath;
    this.#path = undefined;
    this.#clobbered = false;
    const n = this.#put(rawPath, this.#in, this.#urlCap);
    if (n < 0) {
      this.#pathLen = 0;
      this.#code = -404014;
      return 404014;
    }
    this.#pathLen = n;
    const code = this.#x.canonicalize(n);
    this.#code = code;
    return code < 0 ? -code : 0;
  }

  /** The canonical path of the last successful {@link canonicalize}: decoded, no dot segments. */
  get path(): string {
    if (this.#path !== undefined) return this.#path;
    const code = this.#code;
    if ((code & 1) === 0 && !(this.#latin1 && HIGH_LATIN1.test(this.#raw))) {
      this.#path = this.#raw;
    } else {
      const p = this.#x.canonicalPtr();
      this.#path = this.#buf.toString('utf8', p, p + this.#x.canonicalLength());
    }
    return this.#path;
  }

  /** Number of '/' in the canonical path (for `limits maxUrlSegments`). */
  get segments(): number {
    return this.#code >= 0 ? this.#code >>> 2 : 0;
  }

  /** The decoded path still holds a `%XX` (refused unless allowDoubleEscaping). */
  get doubleEscaped(): boolean {
    return this.#code >= 0 && (this.#code & 2) !== 0;
  }

  /** Why the last {@link canonicalize} refused. */
  get reason(): string {
    if (this.#code === -404014 && this.#pathLen === 0) return CANONICAL_REASON[7]!;
    return CANONICAL_REASON[this.#x.canonicalReason()] ?? 'invalid path';
  }

  /**
   * Checks the request whose path was just canonicalised against `rules`. Returns 0 (allowed)
   * or the verdict (`status * 1000 + subStatus`, see {@link verdictError}).
   *
   * @param query the query string as sent, without '?'
   * @param headers flat `[name, value, …]` with lower-cased names; only read when the rules
   *   look at headers (null is fine otherwise)
   * @param contentLength the declared entity length (0 when none)
   */
  check(rules: CompiledRules, query: string, method: string, headers: readonly string[] | null, contentLength: number): number {
    const table = rules.epoch === this.#epoch ? rules.table : this.#tableOf(rules);
    if (this.#clobbered) {
      // compile() used the input area: put the path back where check expects it.
      this.#put(this.#raw, this.#in, this.#urlCap);
      this.#clobbered = false;
    }
    let at = this.#in + this.#pathLen;
    const queryLen = query.length === 0 ? 0 : this.#put(query, at, this.#urlCap);
    if (queryLen < 0) return 404015;
    at += queryLen;
    const methodLen = this.#put(method, at, METHOD_CAP);
    if (methodLen < 0) return 400000;
    at += methodLen;
    let count = 0;
    if (rules.needsHeaders && headers !== null && headers.length > 0) {
      count = this.#putHeaders(rules, headers, at);
      if (count < 0) return 431000;
    }
    return this.#x.check(table, this.#pathLen, queryLen, methodLen, count, contentLength);
  }

  /** The entry that refused the last {@link check} (its index in the rules' list), or -1. */
  get matched(): number {
    return this.#x.matchedIndex();
  }

  /** A sentence naming what refused the last {@link check} (for local clients' detail). */
  describe(rules: CompiledRules, verdict: number): string | undefined {
    const i = this.matched;
    const r = rules.rules;
    switch (verdict) {
      case 404005: return i >= 0 ? `the URL contains the denied sequence '${r.denyUrlSequences[i]}'` : undefined;
      case 404006: return i >= 0 ? `the verb '${r.verbs.entries[i]!.verb}' is denied` : 'the verb is not listed and verbs allowUnlisted is false';
      case 404007: return i >= 0 ? `the file extension '${r.fileExtensions.entries[i]!.fileExtension}' is denied` : 'the file extension is not listed and fileExtensions allowUnlisted is false';
      case 404008: return i >= 0 ? `the URL contains the hidden segment '${r.hiddenSegments.segments[i]}'` : undefined;
      case 404011: return 'double escape sequence in the path (allowDoubleEscaping is false)';
      case 404012: return 'high-bit characters in the URL (allowHighBitCharacters is false)';
      case 404014: return `the URL is longer than requestLimits maxUrl (${r.requestLimits.maxUrl})`;
      case 404015: return `the query string is longer than requestLimits maxQueryString (${r.requestLimits.maxQueryString})`;
      case 404018: return i >= 0 ? `the query string contains the denied sequence '${r.denyQueryStringSequences[i]}'` : undefined;
      case 404019: return i >= 0 ? `denied by the filtering rule '${r.filteringRules[i]!.name}'` : undefined;
      case 413001: return `the entity is larger than requestLimits maxAllowedContentLength (${r.requestLimits.maxAllowedContentLength})`;
      case 431000: return i >= 0 ? `the header '${rules.source.headerSlots[i]}' is larger than its headerLimits sizeLimit` : undefined;
      default: return undefined;
    }
  }

  #tableOf(rules: CompiledRules): number {
    let table = this.#tables.get(rules.key);
    if (table === undefined) {
      table = this.#compile(rules.source.bytes);
      this.#tables.set(rules.key, table);
    }
    rules.table = table;
    rules.epoch = this.#epoch;
    return table;
  }

  #compile(bytes: Uint8Array): number {
    if (bytes.length > this.#inCap) {
      throw new RangeError(`request filtering rules of ${bytes.length} bytes exceed the filter's input area (${this.#inCap} bytes)`);
    }
    this.#clobbered = true;
    this.#u8.set(bytes, this.#in);
    let table = this.#x.compile(bytes.length);
    if (table === COMPILE_ERROR.ARENA_FULL) {
      // Reclaim: every table goes; the rule sets still in use compile again on next use.
      this.#x.arenaReset();
      this.#tables.clear();
      this.#epoch++;
      table = this.#x.compile(bytes.length);
      if (table === COMPILE_ERROR.ARENA_FULL) {
        throw new RangeError(`request filtering rules too large for the filter's arena (${this.#x.arenaCap()} bytes)`);
      }
    }
    if (table <= 0) throw new Error(`w3core: the request filter refused a rule source (error ${table})`);
    return table;
  }

  /**
   * Writes the values of the headers the rules look at (and, for scanAllRaw, every header as a
   * `name: value` line) and their entries. Returns the entry count, or -1 when they do not fit.
   */
  #putHeaders(rules: CompiledRules, headers: readonly string[], at: number): number {
    const slots = rules.headerSlots;
    const raw = rules.source.scanAllRaw;
    const entries = this.#headers;
    const end = this.#in + this.#inCap;
    let count = 0;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      const slot = slots.get(name);
      if (slot !== undefined) {
        if (count === this.#headersMax) return -1;
        const n = this.#put(value, at, end - at);
        if (n < 0) return -1;
        entries[count * 3] = slot;
        entries[count * 3 + 1] = at - this.#in;
        entries[count * 3 + 2] = n;
        count++;
        at += n;
      }
      if (raw) {
        if (count === this.#headersMax) return -1;
        const n = this.#put(`${name}: ${value}`, at, end - at);
        if (n < 0) return -1;
        entries[count * 3] = -1;
        entries[count * 3 + 1] = at - this.#in;
        entries[count * 3 + 2] = n;
        count++;
        at += n;
      }
    }
    return count;
  }

  /** Writes `s` at `at`; the byte count, or -1 when it needs more than `cap` bytes. */
  #put(s: string, at: number, cap: number): number {
    const n = s.length;
    if (n <= LOOP_COPY_MAX && n <= cap) {
      const u8 = this.#u8;
      const max = this.#charMax;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > max) return this.#putSlow(s, at, cap);
        u8[at + i] = c;
      }
      return n;
    }
    return this.#putSlow(s, at, cap);
  }

  #putSlow(s: string, at: number, cap: number): number {
    if (this.#latin1 && !BEYOND_LATIN1.test(s)) {
      if (s.length > cap) return -1;
      return latin1Write.call(this.#buf, s, at, s.length);
    }
    if (s.length * 3 > cap && Buffer.byteLength(s, 'utf8') > cap) return -1;
    return utf8Write.call(this.#buf, s, at, cap);
  }
}

/**
 * A plain TypeScript reference of the request filter: canonicalisation and every
 * security/requestFiltering rule, written from native-notes.md ("Request filtering in
 * WebAssembly") with strings, regular expressions and `includes`, not from the Wasm code. The
 * differential tests hold the Wasm filter to it.
 *
 * Texts are handled as "byte strings" (one char per byte, what the filter sees); configured
 * strings are UTF-8 encoded to the same form. Case folding is ASCII only.
 */
import type { RequestFilteringRules } from '../../dist/wasm/request-filtering.js';

export type Encoding = 'utf8' | 'latin1';

export interface ReferenceRequest {
  readonly method: string;
  /** Raw path, percent-encoded, no query. */
  readonly path: string;
  /** Raw query string without '?'. */
  readonly query: string;
  /** Flat `[name, value, …]`, lower-case names. */
  readonly headers: readonly string[];
  readonly contentLength: number;
}

export interface ReferenceCanonical {
  /** 0 when the path may proceed, else status * 1000 + subStatus. */
  readonly verdict: number;
  readonly path?: string;
  readonly segments?: number;
  readonly doubleEscaped?: boolean;
  /** The decoded path before dot segments were resolved. */
  readonly decoded?: string;
}

const URL_CAP = 65536;
const METHOD_CAP = 1024;

/** The bytes the filter sees for a request string. */
export function bytesOf(s: string, encoding: Encoding): string {
  if (encoding === 'latin1' && !/[^\x00-\xff]/.test(s)) return s;
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** Configured text as bytes. */
function utf8(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** Decode, check, resolve dot segments: decodeURIComponent's verdicts plus segment rules. */
export function referenceCanonicalize(rawPath: string, encoding: Encoding): ReferenceCanonical {
  const bytes = bytesOf(rawPath, encoding);
  if (bytes.length > URL_CAP) return { verdict: 404014 };
  if (!bytes.startsWith('/')) return { verdict: 400000 };
  // Raw bytes above 0x7f become escapes, so decodeURIComponent judges them as UTF-8 too.
  const escaped = bytes.replace(/[\x80-\xff]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  let decoded: string;
  try {
    decoded = decodeURIComponent(escaped);
  } catch {
    return { verdict: 400000 };
  }
  const doubleEscaped = /%[0-9a-fA-F]{2}/.test(decoded);
  let invalid = decoded.includes('\0') || decoded.includes('\\');
  const kept: string[] = [];
  if (!invalid) {
    for (const segment of decoded.split('/').slice(1)) {
      if (segment === '.') continue;
      if (segment === '..') {
        if (kept.length === 0) {
          invalid = true;
          break;
        }
        kept.pop();
        continue;
      }
      kept.push(segment);
    }
  }
  if (invalid) return { verdict: doubleEscaped ? 404011 : 400000 };
  const path = '/' + kept.join('/');
  return { verdict: 0, path, segments: path.split('/').length - 1, doubleEscaped, decoded };
}

/** What Windows would open for a segment: up to ':' and without trailing dots and spaces. */
function segmentKey(segment: string): string {
  return segment.split(':')[0]!.replace(/[. ]+$/, '');
}

function unescapedPercent(text: string): boolean {
  return /%(?![0-9a-fA-F]{2})/.test(text);
}

/** The verdict for a request whose path canonicalised to `canonical` (verdict 0). */
export function referenceCheck(
  rules: RequestFilteringRules, request: ReferenceRequest, canonical: ReferenceCanonical, encoding: Encoding,
): number {
  const rawPath = bytesOf(request.path, encoding);
  const query = bytesOf(request.query, encoding);
  const method = bytesOf(request.method, encoding);
  const canon = utf8(canonical.path!);
  if (query.length > URL_CAP) return 404015;
  if (method.length > METHOD_CAP) return 400000;

  if (canonical.doubleEscaped && !rules.allowDoubleEscaping) return 404011;
  if (rawPath.length > rules.requestLimits.maxUrl) return 404014;
  if (query.length > rules.requestLimits.maxQueryString) return 404015;
  const unescaped = rules.unescapeQueryString
    ? query.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    : query;
  if (!rules.allowHighBitCharacters && /[\x80-\xff]/.test(rawPath + utf8(canonical.decoded!) + query + unescaped)) return 404012;

  const verb = rules.verbs.entries.find((e) => utf8(e.verb) === method);
  if (verb ? !verb.allowed : !rules.verbs.allowUnlisted) return 404006;

  const lowerCanon = asciiLower(canon);
  const alwaysUrl = rules.alwaysAllowedUrls.some((u) => asciiLower(utf8(u)) === lowerCanon);
  if (!alwaysUrl) {
    const sequences = rules.denyUrlSequences.filter((s) => s !== '').map((s) => asciiLower(utf8(s)));
    if (sequences.some((s) => asciiLower(rawPath).includes(s) || lowerCanon.includes(s))) return 404005;
  }

  const segments = canon.split('/').slice(1);
  const lastKey = segmentKey(segments[segments.length - 1]!);
  const dot = lastKey.lastIndexOf('.');
  const extension = asciiLower(dot >= 0 ? lastKey.slice(dot) : '.');
  const listed = rules.fileExtensions.entries.find((e) => asciiLower(utf8(e.fileExtension)) === extension);
  if (listed ? !listed.allowed : !rules.fileExtensions.allowUnlisted) return 404007;

  const hidden = new Set(rules.hiddenSegments.segments.map((s) => asciiLower(utf8(s))));
  if (segments.some((s) => segmentKey(s) !== '' && hidden.has(asciiLower(segmentKey(s))))) return 404008;

  if (query !== '') {
    const allowedQuery = rules.alwaysAllowedQueryStrings.some((q) =>
      asciiLower(utf8(q)) === asciiLower(query) || asciiLower(utf8(q)) === asciiLower(unescaped));
    const sequences = rules.denyQueryStringSequences.filter((s) => s !== '').map((s) => asciiLower(utf8(s)));
    if (!allowedQuery && sequences.some((s) => asciiLower(query).includes(s) || asciiLower(unescaped).includes(s))) return 404018;
  }

  const headers: { name: string; value: string }[] = [];
  for (let i = 0; i + 1 < request.headers.length; i += 2) {
    headers.push({ name: request.headers[i]!, value: bytesOf(request.headers[i + 1]!, encoding) });
  }
  for (const h of headers) {
    const limit = rules.requestLimits.headerLimits.find((l) => l.header.toLowerCase() === h.name);
    if (limit && h.value.length > limit.sizeLimit) return 431000;
  }

  for (const rule of rules.filteringRules) {
    if (rule.appliesTo.length > 0 && !rule.appliesTo.some((x) => asciiLower(utf8(x)) === extension)) continue;
    const deny = rule.denyStrings.filter((s) => s !== '').map((s) => asciiLower(utf8(s)));
    const contains = (text: string) => deny.some((d) => asciiLower(text).includes(d));
    if (rule.scanUrl && contains(canon)) return 404019;
    if (rule.scanQueryString) {
      if (rule.denyUnescapedPercent && unescapedPercent(query)) return 404019;
      if (contains(query) || contains(unescaped)) return 404019;
    }
    const scanned = new Set(rule.scanHeaders.map((h) => h.toLowerCase()));
    for (const h of headers) {
      const texts: string[] = [];
      if (scanned.has(h.name)) texts.push(h.value);
      if (rule.scanAllRaw) texts.push(`${bytesOf(h.name, encoding)}: ${h.value}`);
      for (const text of texts) {
        if (rule.denyUnescapedPercent && unescapedPercent(text)) return 404019;
        if (contains(text)) return 404019;
      }
    }
  }

  if (request.contentLength > rules.requestLimits.maxAllowedContentLength) return 413001;
  return 0;
}

/** Canonicalise, then check: the whole filter for one request. */
export function referenceFilter(
  rules: RequestFilteringRules, request: ReferenceRequest, encoding: Encoding,
): { readonly verdict: number; readonly path?: string } {
  const canonical = referenceCanonicalize(request.path, encoding);
  if (canonical.verdict !== 0) return { verdict: canonical.verdict };
  return { verdict: referenceCheck(rules, request, canonical, encoding), path: canonical.path };
}

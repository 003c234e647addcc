// The request check of security/requestFiltering (iis-reference.md §3.6) against one compiled
// table. Order (the first failure wins; native-notes.md, "Check order and verdicts"):
//
//   404.11 double escape      404.14 maxUrl            404.15 maxQueryString
//   404.12 high-bit bytes     404.6  verbs             404.5  denyUrlSequences
//   404.7  fileExtensions     404.8  hiddenSegments    404.18 denyQueryStringSequences
//   431    headerLimits       404.19 filteringRules    413.1  maxAllowedContentLength
//
// Input area: path bytes, then query bytes, then method bytes, from IN; header values anywhere
// in IN, described by the header entries. The canonical path is the one the last
// `canonicalize` produced.

import { canonLen, canonPtr, doubleEscaped, pathHighBit } from './canonical';
import { ARENA, ARENA_CAP, DOT, HEADERS, HEADER_ENTRY, HEADER_MAX, IN, IN_CAP, SCRATCH, URL_CAP } from './layout';
import {
  F_ALLOW_DOUBLE_ESCAPING, F_ALLOW_HIGH_BIT, F_EXTENSIONS_ALLOW_UNLISTED, F_NEEDS_EXTENSION,
  F_UNESCAPE_QUERY, F_VERBS_ALLOW_UNLISTED, RULE_DENY_UNESCAPED_PERCENT, RULE_SCAN_ALL_RAW,
  RULE_SCAN_QUERY, RULE_SCAN_URL, RULE_SIZE, R_APPLIES_TO, R_DENY, R_FLAGS, R_INDEX, R_MASK_HI, R_MASK_LO,
  TABLE_MAGIC, T_ALWAYS_QUERY, T_ALWAYS_URL, T_DENY_QUERY, T_DENY_URL, T_EXTENSIONS, T_FLAGS,
  T_GENERATION, T_HEADER_LIMITS, T_HIDDEN, T_MAGIC, T_MAX_CONTENT, T_MAX_QUERY, T_MAX_URL, T_RULES,
  T_RULE_COUNT, T_SLOTS, T_VERBS, T_VERB_COUNT, VERB_SIZE, findAny, generation, hashFind,
} from './tables';
import { equalsExact, hasHighBit, hasUnescapedPercent, unescapeLenient } from './text';

/** Which entry refused the last request (index in its list, header slot, or rule), or -1. */
export let matched: i32 = -1;

// The unescaped query string, made at most once per check and only when something reads it.
let unescapedReady = false;
let unescapedPtr: usize = 0;
let unescapedLen: i32 = 0;

function unescapeQuery(q: usize, n: i32): void {
  if (unescapedReady) return;
  unescapedReady = true;
  unescapedPtr = q;
  unescapedLen = n;
  for (let i = 0; i < n; i++) {
    if (load<u8>(q + <usize>i) == 0x25) {
      const m = unescapeLenient(SCRATCH, q, n);
      if (m != n) {
        unescapedPtr = SCRATCH;
        unescapedLen = m;
      }
      return;
    }
  }
}

// The key of a segment as Windows would open it: up to an NTFS stream (':'), without trailing
// dots and spaces ("web.config." and "web.config::$DATA" name web.config).
let keyLen: i32 = 0;
function segmentKey(p: usize, n: i32): void {
  let k = 0;
  while (k < n && load<u8>(p + <usize>k) != 0x3a) k++;
  while (k > 0) {
    const c = load<u8>(p + <usize>(k - 1));
    if (c != 0x2e && c != 0x20) break;
    k--;
  }
  keyLen = k;
}

/**
 * Checks the request against the table `t`. Returns 0 (allowed) or the verdict as
 * `status * 1000 + subStatus` (404005, 431000, 413001, ...); 500000 for a table that is not
 * one (stale after `arenaReset`, or not a table at all) or areas out of bounds.
 */
export function check(t: usize, pathLen: i32, queryLen: i32, methodLen: i32, headerCount: i32, contentLength: f64): i32 {
  matched = -1;
  unescapedReady = false;
  if (t < ARENA || t > ARENA + <usize>(ARENA_CAP - 128) || (t & 3) != 0) return 500000;
  if (load<u32>(t + T_MAGIC) != TABLE_MAGIC || load<u32>(t + T_GENERATION) != generation) return 500000;
  if (pathLen < 0 || queryLen < 0 || methodLen < 0 || headerCount < 0) return 500000;
  if (<i64>pathLen + <i64>queryLen + <i64>methodLen > <i64>IN_CAP) return 500000;
  // The unescaped query and the canonical path are written to URL_CAP-sized areas: longer
  // inputs than that are refused here, whatever maxUrl/maxQueryString allow.
  if (pathLen > URL_CAP) return 404014;
  if (queryLen > URL_CAP) return 404015;
  if (headerCount > HEADER_MAX) return 431000;
  for (let i = 0; i < headerCount; i++) {
    const h = HEADERS + <usize>(i * HEADER_ENTRY);
    const off = load<i32>(h + 4);
    const len = load<i32>(h + 8);
    if (off < 0 || len < 0 || <i64>off + <i64>len > <i64>IN_CAP) return 500000;
  }
  const flags = load<u32>(t + T_FLAGS);
  const q = IN + <usize>pathLen;
  const method = q + <usize>queryLen;

  if (doubleEscaped && !(flags & F_ALLOW_DOUBLE_ESCAPING)) return 404011;
  if (<u32>pathLen > load<u32>(t + T_MAX_URL)) return 404014;
  if (<u32>queryLen > load<u32>(t + T_MAX_QUERY)) return 404015;
  const unescape = (flags & F_UNESCAPE_QUERY) != 0;

  if (!(flags & F_ALLOW_HIGH_BIT)) {
    if (pathHighBit || hasHighBit(q, queryLen)) return 404012;
    if (unescape) {
      unescapeQuery(q, queryLen);
      if (unescapedPtr != q && hasHighBit(unescapedPtr, unescapedLen)) return 404012;
    }
  }

  // verbs (case-sensitive)
  const verbCount = load<i32>(t + T_VERB_COUNT);
  let verbAllowed = (flags & F_VERBS_ALLOW_UNLISTED) != 0;
  if (verbCount > 0) {
    const verbs = <usize>load<u32>(t + T_VERBS);
    for (let i = 0; i < verbCount; i++) {
      const e = verbs + <usize>(i * VERB_SIZE);
      if (load<i32>(e + 4) == methodLen && equalsExact(method, <usize>load<u32>(e), methodLen)) {
        verbAllowed = load<u32>(e + 8) != 0;
        matched = i;
        break;
      }
    }
  }
  if (!verbAllowed) return 404006;
  matched = -1;

  // denyUrlSequences, on the path as sent and as canonicalised, unless alwaysAllowedUrls
  // names the canonical path
  const denyUrl = <usize>load<u32>(t + T_DENY_URL);
  if (denyUrl != 0 && hashFind(<usize>load<u32>(t + T_ALWAYS_URL), canonPtr, canonLen) == 0) {
    let hit = findAny(denyUrl, IN, pathLen);
    if (hit < 0 && canonPtr != IN) hit = findAny(denyUrl, canonPtr, canonLen);
    if (hit >= 0) {
      matched = hit;
      return 404005;
    }
  }

  // fileExtensions: the extension of the last segment ("." when it has none)
  let extPtr: usize = DOT;
  let extLen: i32 = 1;
  if (flags & F_NEEDS_EXTENSION) {
    let s = canonLen;
    while (s > 0 && load<u8>(canonPtr + <usize>(s - 1)) != 0x2f) s--;
    segmentKey(canonPtr + <usize>s, canonLen - s);
    for (let k = keyLen - 1; k >= 0; k--) {
      if (load<u8>(canonPtr + <usize>(s + k)) == 0x2e) {
        extPtr = canonPtr + <usize>(s + k);
        extLen = keyLen - k;
        break;
      }
    }
    const e = hashFind(<usize>load<u32>(t + T_EXTENSIONS), extPtr, extLen);
    if (e != 0) {
      if (load<u32>(e + 12) == 0) {
        matched = load<i32>(e + 16);
        return 404007;
      }
    } else if (!(flags & F_EXTENSIONS_ALLOW_UNLISTED)) {
      return 404007;
    }
  }

  // hiddenSegments: any segment
  const hidden = <usize>load<u32>(t + T_HIDDEN);
  if (hidden != 0) {
    let s = 1;
    while (s <= canonLen) {
      // One pass finds the segment's end and its first ':' (an NTFS stream suffix).
      let e = s;
      let colon = -1;
      while (e < canonLen) {
        const c = load<u8>(canonPtr + <usize>e);
        if (c == 0x2f) break;
        if (c == 0x3a && colon < 0) colon = e;
        e++;
      }
      let k = (colon < 0 ? e : colon) - s;
      while (k > 0) {
        const c = load<u8>(canonPtr + <usize>(s + k - 1));
        if (c != 0x2e && c != 0x20) break;
        k--;
      }
      if (k > 0) {
        const found = hashFind(hidden, canonPtr + <usize>s, k);
        if (found != 0) {
          matched = load<i32>(found + 16);
          return 404008;
        }
      }
      s = e + 1;
    }
  }

  // denyQueryStringSequences, raw and unescaped, unless alwaysAllowedQueryStrings names it
  const denyQuery = <usize>load<u32>(t + T_DENY_QUERY);
  if (denyQuery != 0 && queryLen > 0) {
    const always = <usize>load<u32>(t + T_ALWAYS_QUERY);
    if (unescape) unescapeQuery(q, queryLen);
    const differs = unescape && unescapedPtr != q;
    const allowed = always != 0
      && (hashFind(always, q, queryLen) != 0 || (differs && hashFind(always, unescapedPtr, unescapedLen) != 0));
    if (!allowed) {
      let hit = findAny(denyQuery, q, queryLen);
      if (hit < 0 && differs) hit = findAny(denyQuery, unescapedPtr, unescapedLen);
      if (hit >= 0) {
        matched = hit;
        return 404018;
      }
    }
  }

  // headerLimits: each occurrence of a header against its size limit
  const slots = load<u32>(t + T_SLOTS);
  if (slots > 0) {
    const limits = <usize>load<u32>(t + T_HEADER_LIMITS);
    for (let i = 0; i < headerCount; i++) {
      const h = HEADERS + <usize>(i * HEADER_ENTRY);
      const slot = load<i32>(h);
      const len = load<i32>(h + 8);
      if (slot >= 0 && <u32>slot < slots && <u32>len > load<u32>(limits + <usize>(slot << 2))) {
        matched = slot;
        return 431000;
      }
    }
  }

  // filteringRules
  const ruleCount = load<i32>(t + T_RULE_COUNT);
  if (ruleCount > 0) {
    const rules = <usize>load<u32>(t + T_RULES);
    for (let k = 0; k < ruleCount; k++) {
      const r = rules + <usize>(k * RULE_SIZE);
      const appliesTo = <usize>load<u32>(r + R_APPLIES_TO);
      if (appliesTo != 0 && hashFind(appliesTo, extPtr, extLen) == 0) continue;
      if (ruleDenies(r, q, queryLen, headerCount, unescape)) {
        matched = load<i32>(r + R_INDEX);
        return 404019;
      }
    }
  }

  if (contentLength > <f64>load<u32>(t + T_MAX_CONTENT)) return 413001;
  return 0;
}

function ruleDenies(r: usize, q: usize, queryLen: i32, headerCount: i32, unescape: bool): bool {
  const flags = load<u32>(r + R_FLAGS);
  const deny = <usize>load<u32>(r + R_DENY);
  const percent = (flags & RULE_DENY_UNESCAPED_PERCENT) != 0;
  if (flags & RULE_SCAN_URL) {
    if (deny != 0 && findAny(deny, canonPtr, canonLen) >= 0) return true;
  }
  if (flags & RULE_SCAN_QUERY) {
    if (percent && hasUnescapedPercent(q, queryLen)) return true;
    if (deny != 0 && queryLen > 0) {
      if (findAny(deny, q, queryLen) >= 0) return true;
      if (unescape) {
        unescapeQuery(q, queryLen);
        if (unescapedPtr != q && findAny(deny, unescapedPtr, unescapedLen) >= 0) return true;
      }
    }
  }
  const lo = load<u32>(r + R_MASK_LO);
  const hi = load<u32>(r + R_MASK_HI);
  const allRaw = (flags & RULE_SCAN_ALL_RAW) != 0;
  if ((lo | hi) != 0 || allRaw) {
    for (let i = 0; i < headerCount; i++) {
      const h = HEADERS + <usize>(i * HEADER_ENTRY);
      const slot = load<i32>(h);
      let scanned = false;
      if (slot < 0) scanned = allRaw;
      else if (slot < 32) scanned = ((lo >> <u32>slot) & 1) != 0;
      else if (slot < 64) scanned = ((hi >> <u32>(slot - 32)) & 1) != 0;
      if (!scanned) continue;
      const p = IN + <usize>load<i32>(h + 4);
      const n = load<i32>(h + 8);
      if (percent && hasUnescapedPercent(p, n)) return true;
      if (deny != 0 && findAny(deny, p, n) >= 0) return true;
    }
  }
  return false;
}

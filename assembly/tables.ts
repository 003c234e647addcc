// Rule tables: `compile` turns a rule source (records the host writes into the input area,
// native-notes.md, "Rule source") into one table in the arena. Lookups at request time are
// then hash probes and bucketed substring scans over lower-cased bytes; nothing is parsed twice.
//
// The arena is a bump allocator. Tables are never freed one by one: when it is full the host
// calls `arenaReset` (every table is gone, the generation goes up) and compiles the rule sets
// it still needs again. Memory stays bounded by ARENA_CAP whatever the configuration does.

import { ARENA, ARENA_CAP, CURSORS, IN, IN_CAP } from './layout';
import { copyLower, equalsLower, hashLower } from './text';

// Rule source: magic, then records { op u8, pad u8 x3, a u32, b u32, len u32, bytes[len] }.
export const SOURCE_MAGIC: u32 = 0x31465257; // "WRF1"
export const OP_ALLOW_DOUBLE_ESCAPING: u32 = 1;
export const OP_ALLOW_HIGH_BIT_CHARACTERS: u32 = 2;
export const OP_UNESCAPE_QUERY_STRING: u32 = 3;
export const OP_MAX_ALLOWED_CONTENT_LENGTH: u32 = 4;
export const OP_MAX_URL: u32 = 5;
export const OP_MAX_QUERY_STRING: u32 = 6;
export const OP_FILE_EXTENSIONS_ALLOW_UNLISTED: u32 = 7;
export const OP_FILE_EXTENSION: u32 = 8;
export const OP_VERBS_ALLOW_UNLISTED: u32 = 9;
export const OP_VERB: u32 = 10;
export const OP_HIDDEN_SEGMENT: u32 = 11;
export const OP_DENY_URL_SEQUENCE: u32 = 12;
export const OP_ALWAYS_ALLOWED_URL: u32 = 13;
export const OP_DENY_QUERY_STRING_SEQUENCE: u32 = 14;
export const OP_ALWAYS_ALLOWED_QUERY_STRING: u32 = 15;
export const OP_HEADER_LIMIT: u32 = 16;
export const OP_RULE: u32 = 17;
export const OP_RULE_SCAN_HEADER: u32 = 18;
export const OP_RULE_APPLIES_TO: u32 = 19;
export const OP_RULE_DENY_STRING: u32 = 20;
const OP_LAST: u32 = 20;
const RECORD_HEADER: i32 = 16;

// compile() errors.
export const ERR_MAGIC = -1;
export const ERR_MALFORMED = -2;
export const ERR_UNKNOWN_OP = -3;
export const ERR_ARENA_FULL = -4;
export const ERR_SLOT = -5;
export const ERR_RULE_CHILD = -6;
export const ERR_TOO_MANY = -7;
export const ERR_TOO_BIG = -8;

/** Header slots (distinct header names a table looks at): 64, one bit each in a rule's mask. */
export const MAX_SLOTS: u32 = 64;
const MAX_SET_ENTRIES: i32 = 65535;

// Table header, offsets from the table's address.
export const TABLE_MAGIC: u32 = 0x31544652; // "RFT1"
export const T_MAGIC = 0;
export const T_GENERATION = 4;
export const T_FLAGS = 8;
export const T_MAX_URL = 12;
export const T_MAX_QUERY = 16;
export const T_MAX_CONTENT = 20;
export const T_VERBS = 24;
export const T_VERB_COUNT = 28;
export const T_EXTENSIONS = 32;
export const T_HIDDEN = 36;
export const T_DENY_URL = 40;
export const T_ALWAYS_URL = 44;
export const T_DENY_QUERY = 48;
export const T_ALWAYS_QUERY = 52;
export const T_SLOTS = 56;
export const T_HEADER_LIMITS = 60;
export const T_RULE_COUNT = 64;
export const T_RULES = 68;
export const T_SIZE_BYTES = 72;
const T_SIZE = 80;

// T_FLAGS bits.
export const F_ALLOW_DOUBLE_ESCAPING: u32 = 1;
export const F_ALLOW_HIGH_BIT: u32 = 2;
export const F_UNESCAPE_QUERY: u32 = 4;
export const F_EXTENSIONS_ALLOW_UNLISTED: u32 = 8;
export const F_VERBS_ALLOW_UNLISTED: u32 = 16;
/** The extension of the last segment is needed (fileExtensions or a rule's appliesTo). */
export const F_NEEDS_EXTENSION: u32 = 32;
/** Something reads the query string (sequences, always-allowed, rules). */
export const F_NEEDS_QUERY_SCAN: u32 = 64;

// Filtering rule, 24 bytes: flags, appliesTo (hash set), denyStrings (string set), slot mask
// (lo, hi), index.
export const R_FLAGS = 0;
export const R_APPLIES_TO = 4;
export const R_DENY = 8;
export const R_MASK_LO = 12;
export const R_MASK_HI = 16;
export const R_INDEX = 20;
export const RULE_SIZE = 24;
export const RULE_SCAN_URL: u32 = 1;
export const RULE_SCAN_QUERY: u32 = 2;
export const RULE_SCAN_ALL_RAW: u32 = 4;
export const RULE_DENY_UNESCAPED_PERCENT: u32 = 8;

// Verb entry, 16 bytes: ptr, len, allowed, index (verbs compare exactly: case-sensitive).
export const VERB_SIZE = 16;

// Hash set: cap, count, length mask lo, hi; then cap entries of { hash, ptr, len, value, index }.
export const HS_CAP = 0;
export const HS_MASK_LO = 8;
export const HS_MASK_HI = 12;
export const HS_ENTRIES = 16;
export const HS_ENTRY = 20;

// String set: count, minLen, 257 u16 bucket starts (by lower-cased first byte), then count
// entries of { ptr, len, index } sorted by first byte.
export const SS_COUNT = 0;
export const SS_MIN = 4;
export const SS_BUCKETS = 8;
export const SS_ENTRIES = 8 + 520;
export const SS_ENTRY = 12;

let bump: usize = ARENA;
let outOfSpace = false;
export let generation: u32 = 1;

export function arenaUsed(): i32 {
  return <i32>(bump - ARENA);
}

/** Drops every table at once; tables compiled before no longer pass `check`. */
export function arenaReset(): void {
  bump = ARENA;
  generation++;
}

function alloc(n: i32): usize {
  const p = (bump + 3) & ~(<usize>3);
  if (outOfSpace || p + <usize>n > ARENA + <usize>ARENA_CAP) {
    outOfSpace = true;
    return 0;
  }
  bump = p + <usize>n;
  return p;
}

function zero(p: usize, n: i32): void {
  memory.fill(p, 0, <usize>n);
}

function recOp(r: usize): u32 {
  return <u32>load<u8>(r);
}
function recA(r: usize): u32 {
  return load<u32>(r + 4);
}
function recB(r: usize): u32 {
  return load<u32>(r + 8);
}
function recLen(r: usize): i32 {
  return load<i32>(r + 12);
}
function recNext(r: usize): usize {
  return r + <usize>RECORD_HEADER + <usize>recLen(r);
}

/**
 * Compiles the rule source of `len` bytes at IN into a table. Returns the table's address
 * (> 0), or a negative error (ERR_*): ERR_ARENA_FULL means "reset the arena and retry".
 */
export function compile(len: i32): i32 {
  if (len < 4 || len > IN_CAP) return ERR_TOO_BIG;
  if (load<u32>(IN) != SOURCE_MAGIC) return ERR_MAGIC;
  const end = IN + <usize>len;
  const first = IN + 4;
  // Pass 1: validate records and read the settings.
  let flags: u32 = F_ALLOW_HIGH_BIT | F_UNESCAPE_QUERY | F_EXTENSIONS_ALLOW_UNLISTED | F_VERBS_ALLOW_UNLISTED;
  let maxUrl: u32 = 4096;
  let maxQuery: u32 = 2048;
  let maxContent: u32 = 30000000;
  let verbs = 0;
  let slots: u32 = 0;
  let rules = 0;
  let r = first;
  while (r < end) {
    if (end - r < <usize>RECORD_HEADER) return ERR_MALFORMED;
    const n = recLen(r);
    if (n < 0 || <usize>n > end - r - <usize>RECORD_HEADER) return ERR_MALFORMED;
    if (n > 65535) return ERR_TOO_MANY;
    const op = recOp(r);
    const a = recA(r);
    if (op == 0 || op > OP_LAST) return ERR_UNKNOWN_OP;
    if (op == OP_ALLOW_DOUBLE_ESCAPING) flags = a ? flags | F_ALLOW_DOUBLE_ESCAPING : flags & ~F_ALLOW_DOUBLE_ESCAPING;
    else if (op == OP_ALLOW_HIGH_BIT_CHARACTERS) flags = a ? flags | F_ALLOW_HIGH_BIT : flags & ~F_ALLOW_HIGH_BIT;
    else if (op == OP_UNESCAPE_QUERY_STRING) flags = a ? flags | F_UNESCAPE_QUERY : flags & ~F_UNESCAPE_QUERY;
    else if (op == OP_FILE_EXTENSIONS_ALLOW_UNLISTED) flags = a ? flags | F_EXTENSIONS_ALLOW_UNLISTED : flags & ~F_EXTENSIONS_ALLOW_UNLISTED;
    else if (op == OP_VERBS_ALLOW_UNLISTED) flags = a ? flags | F_VERBS_ALLOW_UNLISTED : flags & ~F_VERBS_ALLOW_UNLISTED;
    else if (op == OP_MAX_ALLOWED_CONTENT_LENGTH) maxContent = a;
    else if (op == OP_MAX_URL) maxUrl = a;
    else if (op == OP_MAX_QUERY_STRING) maxQuery = a;
    else if (op == OP_VERB) verbs++;
    else if (op == OP_HEADER_LIMIT || op == OP_RULE_SCAN_HEADER) {
      if (op == OP_RULE_SCAN_HEADER && rules == 0) return ERR_RULE_CHILD;
      if (a >= MAX_SLOTS) return ERR_SLOT;
      if (a + 1 > slots) slots = a + 1;
    } else if (op == OP_RULE) rules++;
    else if ((op == OP_RULE_APPLIES_TO || op == OP_RULE_DENY_STRING) && rules == 0) return ERR_RULE_CHILD;
    if (op == OP_DENY_QUERY_STRING_SEQUENCE || op == OP_ALWAYS_ALLOWED_QUERY_STRING) flags |= F_NEEDS_QUERY_SCAN;
    if (op == OP_RULE && (a & RULE_SCAN_QUERY)) flags |= F_NEEDS_QUERY_SCAN;
    if (op == OP_FILE_EXTENSION || op == OP_RULE_APPLIES_TO) flags |= F_NEEDS_EXTENSION;
    r = recNext(r);
  }
  if (!(flags & F_EXTENSIONS_ALLOW_UNLISTED)) flags |= F_NEEDS_EXTENSION;

  // Pass 2: lay the table out in the arena.
  const start = bump;
  outOfSpace = false;
  const t = alloc(T_SIZE);
  if (t == 0) return fail(start);
  zero(t, T_SIZE);
  store<u32>(t + T_MAGIC, TABLE_MAGIC);
  store<u32>(t + T_GENERATION, generation);
  store<u32>(t + T_FLAGS, flags);
  store<u32>(t + T_MAX_URL, maxUrl);
  store<u32>(t + T_MAX_QUERY, maxQuery);
  store<u32>(t + T_MAX_CONTENT, maxContent);

  if (verbs > 0) {
    const v = alloc(verbs * VERB_SIZE);
    if (v == 0) return fail(start);
    let i = 0;
    for (r = first; r < end; r = recNext(r)) {
      if (recOp(r) != OP_VERB) continue;
      const n = recLen(r);
      const s = alloc(n);
      if (s == 0 && n > 0) return fail(start);
      memory.copy(s, r + <usize>RECORD_HEADER, <usize>n);
      const e = v + <usize>(i * VERB_SIZE);
      store<u32>(e, <u32>s);
      store<i32>(e + 4, n);
      store<u32>(e + 8, recA(r) ? 1 : 0);
      store<i32>(e + 12, i);
      i++;
    }
    store<u32>(t + T_VERBS, <u32>v);
    store<i32>(t + T_VERB_COUNT, verbs);
  }

  if (slots > 0) {
    const h = alloc(<i32>slots * 4);
    if (h == 0) return fail(start);
    memory.fill(h, 0xff, <usize>(slots * 4));
    for (r = first; r < end; r = recNext(r)) {
      if (recOp(r) == OP_HEADER_LIMIT) store<u32>(h + <usize>(recA(r) * 4), recB(r));
    }
    store<u32>(t + T_SLOTS, slots);
    store<u32>(t + T_HEADER_LIMITS, <u32>h);
  }

  store<u32>(t + T_EXTENSIONS, <u32>hashSet(OP_FILE_EXTENSION, first, end));
  store<u32>(t + T_HIDDEN, <u32>hashSet(OP_HIDDEN_SEGMENT, first, end));
  store<u32>(t + T_DENY_URL, <u32>stringSet(OP_DENY_URL_SEQUENCE, first, end));
  store<u32>(t + T_ALWAYS_URL, <u32>hashSet(OP_ALWAYS_ALLOWED_URL, first, end));
  store<u32>(t + T_DENY_QUERY, <u32>stringSet(OP_DENY_QUERY_STRING_SEQUENCE, first, end));
  store<u32>(t + T_ALWAYS_QUERY, <u32>hashSet(OP_ALWAYS_ALLOWED_QUERY_STRING, first, end));
  if (outOfSpace) return fail(start);

  if (rules > 0) {
    const rt = alloc(rules * RULE_SIZE);
    if (rt == 0) return fail(start);
    zero(rt, rules * RULE_SIZE);
    let k = 0;
    r = first;
    while (r < end) {
      if (recOp(r) != OP_RULE) {
        r = recNext(r);
        continue;
      }
      // The rule's children run up to the next rule.
      const from = recNext(r);
      let to = from;
      let lo: u32 = 0;
      let hi: u32 = 0;
      while (to < end && recOp(to) != OP_RULE) {
        if (recOp(to) == OP_RULE_SCAN_HEADER) {
          const slot = recA(to);
          if (slot < 32) lo |= (<u32>1) << slot;
          else hi |= (<u32>1) << (slot - 32);
        }
        to = recNext(to);
      }
      const e = rt + <usize>(k * RULE_SIZE);
      store<u32>(e + R_FLAGS, recA(r));
      store<u32>(e + R_APPLIES_TO, <u32>hashSet(OP_RULE_APPLIES_TO, from, to));
      store<u32>(e + R_DENY, <u32>stringSet(OP_RULE_DENY_STRING, from, to));
      store<u32>(e + R_MASK_LO, lo);
      store<u32>(e + R_MASK_HI, hi);
      store<i32>(e + R_INDEX, k);
      if (outOfSpace) return fail(start);
      k++;
      r = to;
    }
    store<i32>(t + T_RULE_COUNT, rules);
    store<u32>(t + T_RULES, <u32>rt);
  }
  store<u32>(t + T_SIZE_BYTES, <u32>(bump - t));
  return <i32>t;
}

function fail(start: usize): i32 {
  bump = start;
  outOfSpace = false;
  return ERR_ARENA_FULL;
}

function nextPow2(n: i32): i32 {
  let c = 4;
  while (c < n) c <<= 1;
  return c;
}

/** A hash set of the lower-cased values of `op` records in [from, to); 0 when there are none. */
function hashSet(op: u32, from: usize, to: usize): usize {
  let count = 0;
  let bytes = 0;
  for (let r = from; r < to; r = recNext(r)) {
    if (recOp(r) != op) continue;
    count++;
    bytes += recLen(r);
  }
  if (count == 0) return 0;
  if (count > MAX_SET_ENTRIES) {
    outOfSpace = true;
    return 0;
  }
  const cap = nextPow2(count * 2);
  const set = alloc(HS_ENTRIES + cap * HS_ENTRY);
  const pool = alloc(bytes > 0 ? bytes : 1);
  if (set == 0 || pool == 0) return 0;
  zero(set, HS_ENTRIES + cap * HS_ENTRY);
  store<i32>(set + HS_CAP, cap);
  let lo: u32 = 0;
  let hi: u32 = 0;
  let used = 0;
  let index = 0;
  let p = pool;
  for (let r = from; r < to; r = recNext(r)) {
    if (recOp(r) != op) continue;
    const n = recLen(r);
    copyLower(p, r + <usize>RECORD_HEADER, n);
    const h = hashLower(p, n);
    let i = <i32>(h & <u32>(cap - 1));
    let duplicate = false;
    while (true) {
      const e = set + <usize>(HS_ENTRIES + i * HS_ENTRY);
      const ep = <usize>load<u32>(e + 4);
      if (ep == 0) {
        store<u32>(e, h);
        store<u32>(e + 4, <u32>p);
        store<i32>(e + 8, n);
        store<u32>(e + 12, recA(r));
        store<i32>(e + 16, index);
        break;
      }
      // The first of two equal values wins (the configuration layer refuses duplicates).
      if (load<u32>(e) == h && load<i32>(e + 8) == n && equalsLower(p, ep, n)) {
        duplicate = true;
        break;
      }
      i = (i + 1) & (cap - 1);
    }
    if (!duplicate) {
      used++;
      const bit = n < 63 ? n : 63;
      if (bit < 32) lo |= (<u32>1) << bit;
      else hi |= (<u32>1) << (bit - 32);
    }
    p += <usize>n;
    index++;
  }
  store<i32>(set + 4, used);
  store<u32>(set + HS_MASK_LO, lo);
  store<u32>(set + HS_MASK_HI, hi);
  return set;
}

/**
 * A string set for "does the text contain any of these" of the lower-cased values of `op`
 * records in [from, to); 0 when there are none. Entries are bucketed by first byte, so a scan
 * looks at each text position once and compares only the patterns that start with its byte.
 */
function stringSet(op: u32, from: usize, to: usize): usize {
  let count = 0;
  let bytes = 0;
  let minLen = 0x7fffffff;
  for (let r = from; r < to; r = recNext(r)) {
    if (recOp(r) != op) continue;
    const n = recLen(r);
    if (n == 0) continue; // an empty pattern would match everything: the host refuses it
    count++;
    bytes += n;
    if (n < minLen) minLen = n;
  }
  if (count == 0) return 0;
  if (count > MAX_SET_ENTRIES) {
    outOfSpace = true;
    return 0;
  }
  const set = alloc(SS_ENTRIES + count * SS_ENTRY);
  const pool = alloc(bytes);
  const temp = alloc(count * SS_ENTRY);
  if (set == 0 || pool == 0 || temp == 0) return 0;
  zero(set, SS_ENTRIES);
  store<i32>(set + SS_COUNT, count);
  store<i32>(set + SS_MIN, minLen);
  // Unsorted entries into temp, counting per first byte.
  zero(CURSORS, 1024);
  let p = pool;
  let i = 0;
  let index = 0;
  for (let r = from; r < to; r = recNext(r)) {
    if (recOp(r) != op) continue;
    const n = recLen(r);
    if (n == 0) {
      index++;
      continue;
    }
    copyLower(p, r + <usize>RECORD_HEADER, n);
    const e = temp + <usize>(i * SS_ENTRY);
    store<u32>(e, <u32>p);
    store<i32>(e + 4, n);
    store<i32>(e + 8, index);
    const b = <usize>load<u8>(p);
    store<u32>(CURSORS + (b << 2), load<u32>(CURSORS + (b << 2)) + 1);
    p += <usize>n;
    i++;
    index++;
  }
  // Bucket starts (prefix sums), then scatter (a stable counting sort).
  let at: u32 = 0;
  for (let b = 0; b < 256; b++) {
    const c = load<u32>(CURSORS + <usize>(b << 2));
    store<u16>(set + SS_BUCKETS + <usize>(b << 1), <u16>at);
    store<u32>(CURSORS + <usize>(b << 2), at);
    at += c;
  }
  store<u16>(set + SS_BUCKETS + 512, <u16>at);
  for (let k = 0; k < count; k++) {
    const e = temp + <usize>(k * SS_ENTRY);
    const b = <usize>load<u8>(<usize>load<u32>(e));
    const slot = load<u32>(CURSORS + (b << 2));
    store<u32>(CURSORS + (b << 2), slot + 1);
    memory.copy(set + SS_ENTRIES + <usize>(slot * SS_ENTRY), e, SS_ENTRY);
  }
  bump = temp; // the temporary entries were the last allocation
  return set;
}

/** The entry of a hash set equal (ignoring ASCII case) to `n` bytes at `p`, or 0. */
export function hashFind(set: usize, p: usize, n: i32): usize {
  if (set == 0) return 0;
  const bit = n < 63 ? n : 63;
  const mask = bit < 32 ? load<u32>(set + HS_MASK_LO) >> <u32>bit : load<u32>(set + HS_MASK_HI) >> <u32>(bit - 32);
  if (!(mask & 1)) return 0;
  const h = hashLower(p, n);
  const cap = load<i32>(set + HS_CAP);
  let i = <i32>(h & <u32>(cap - 1));
  while (true) {
    const e = set + <usize>(HS_ENTRIES + i * HS_ENTRY);
    const ep = <usize>load<u32>(e + 4);
    if (ep == 0) return 0;
    if (load<u32>(e) == h && load<i32>(e + 8) == n && equalsLower(p, ep, n)) return e;
    i = (i + 1) & (cap - 1);
  }
}

/** Index of a pattern of the string set found in `n` bytes at `p` (ignoring ASCII case), or -1. */
export function findAny(set: usize, p: usize, n: i32): i32 {
  if (set == 0) return -1;
  const last = n - load<i32>(set + SS_MIN);
  for (let i = 0; i <= last; i++) {
    let c = <u32>load<u8>(p + <usize>i);
    if (c - 0x41 < 26) c |= 0x20;
    const bucket = set + SS_BUCKETS + <usize>(c << 1);
    let k = <i32>load<u16>(bucket);
    const stop = <i32>load<u16>(bucket + 2);
    for (; k < stop; k++) {
      const e = set + SS_ENTRIES + <usize>(k * SS_ENTRY);
      const len = load<i32>(e + 4);
      if (len <= n - i && equalsLower(p + <usize>i, <usize>load<u32>(e), len)) return load<i32>(e + 8);
    }
  }
  return -1;
}

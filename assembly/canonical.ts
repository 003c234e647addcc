// URL canonicalisation: the path is decoded once and dot segments are resolved, on the
// listener, before the configuration of the URL is looked up. The verdicts are those of
// `decodeURIComponent` plus segment resolution (src/config/url-mapping.ts#canonicalizePath):
//
//   1. no leading '/'                                        -> 400
//   2. a '%' without two hex digits, or bytes that are not
//      strict UTF-8 once decoded (overlong, surrogate, ...)   -> 400
//   3. a "%XX" left in the decoded path (a double escape)     -> flagged; 404.11 when the
//      path is also invalid below, else `check` decides with allowDoubleEscaping
//   4. NUL, backslash (raw or decoded), ".." above the root   -> 400
//
// Decoding errors come first so that a request is judged on what it really says.

import { IN, OUT, URL_CAP } from './layout';
import { hexValue, validUtf8 } from './text';

/** Why the last canonicalisation refused (for the host's detail text). */
export const REASON_NO_LEADING_SLASH = 1;
export const REASON_BAD_ESCAPE = 2;
export const REASON_BAD_UTF8 = 3;
export const REASON_NUL = 4;
export const REASON_BACKSLASH = 5;
export const REASON_ABOVE_ROOT = 6;
export const REASON_TOO_LONG = 7;
export const REASON_DOUBLE_ESCAPE = 8;

/** Where the canonical path of the last `canonicalize` is: IN (unchanged) or OUT. */
export let canonPtr: usize = 0;
export let canonLen: i32 = 0;
/** The decoded path still holds a `%XX` (double escaping). */
export let doubleEscaped: bool = false;
/** The raw or decoded path holds a byte >= 0x80. */
export let pathHighBit: bool = false;
export let reason: i32 = 0;

/**
 * Canonicalises `len` path bytes at IN. Returns `segments << 2 | flags` (>= 0) when the path is
 * acceptable — flags bit 0: the canonical path differs from the input and is at OUT, bit 1: it
 * holds a double escape — or `-verdict` (-400000, -404011, -404014) when it is refused.
 */
export function canonicalize(len: i32): i32 {
  canonPtr = IN;
  canonLen = len;
  doubleEscaped = false;
  pathHighBit = false;
  reason = 0;
  if (len <= 0 || load<u8>(IN) != 0x2f) {
    reason = REASON_NO_LEADING_SLASH;
    return -400000;
  }
  if (len > URL_CAP) {
    reason = REASON_TOO_LONG;
    return -404014;
  }
  // Most paths need nothing: no escape, no dot segment, no backslash, no NUL. One scan proves
  // it and counts the segments on the way.
  let slashes = 0;
  let high = false;
  for (let i = 0; i < len; i++) {
    const c = load<u8>(IN + <usize>i);
    if (c == 0x2f) {
      slashes++;
      if (i + 1 < len && load<u8>(IN + <usize>(i + 1)) == 0x2e) {
        const j = i + 2;
        if (j == len || load<u8>(IN + <usize>j) == 0x2f) return decode(len);
        if (load<u8>(IN + <usize>j) == 0x2e && (j + 1 == len || load<u8>(IN + <usize>(j + 1)) == 0x2f)) return decode(len);
      }
    } else if (c == 0x25 || c == 0x5c || c == 0) {
      return decode(len);
    } else if (c >= 0x80) {
      high = true;
    }
  }
  if (high) {
    pathHighBit = true;
    if (!validUtf8(IN, len)) {
      reason = REASON_BAD_UTF8;
      return -400000;
    }
  }
  return slashes << 2;
}

function decode(len: i32): i32 {
  let o = 0;
  let i = 0;
  let percent = false;
  let nul = false;
  let backslash = false;
  let high = false;
  let dots = false;
  let slashes = 0;
  let segment = 0; // where the current decoded segment starts
  while (i < len) {
    let c = <u32>load<u8>(IN + <usize>i);
    if (c == 0x25) {
      if (len - i < 3) {
        reason = REASON_BAD_ESCAPE;
        return -400000;
      }
      const h = hexValue(<u32>load<u8>(IN + <usize>(i + 1)));
      const l = hexValue(<u32>load<u8>(IN + <usize>(i + 2)));
      if ((h | l) < 0) {
        reason = REASON_BAD_ESCAPE;
        return -400000;
      }
      c = <u32>((h << 4) | l);
      i += 3;
    } else {
      i++;
    }
    if (c == 0x2f) {
      // A '/' (raw or %2F) ends a segment: note "." and ".." on the way, so that paths without
      // dot segments skip the resolution pass.
      if (!dots) dots = isDotSegment(segment, o);
      slashes++;
      segment = o + 1;
    } else if (c == 0x25) percent = true;
    else if (c == 0) nul = true;
    else if (c == 0x5c) backslash = true;
    else if (c >= 0x80) high = true;
    store<u8>(OUT + <usize>o, <u8>c);
    o++;
  }
  if (!dots) dots = isDotSegment(segment, o);
  if (high && !validUtf8(OUT, o)) {
    reason = REASON_BAD_UTF8;
    return -400000;
  }
  pathHighBit = high;
  let double = false;
  if (percent) {
    for (let k = 0; k + 2 < o; k++) {
      if (load<u8>(OUT + <usize>k) == 0x25
        && hexValue(<u32>load<u8>(OUT + <usize>(k + 1))) >= 0
        && hexValue(<u32>load<u8>(OUT + <usize>(k + 2))) >= 0) {
        double = true;
        break;
      }
    }
  }
  if (nul || backslash) {
    reason = double ? REASON_DOUBLE_ESCAPE : nul ? REASON_NUL : REASON_BACKSLASH;
    return double ? -404011 : -400000;
  }
  let w = o;
  if (dots) {
    w = resolveDotSegments(o);
    if (w < 0) {
      reason = double ? REASON_DOUBLE_ESCAPE : REASON_ABOVE_ROOT;
      return double ? -404011 : -400000;
    }
    slashes = 0;
    for (let k = 0; k < w; k++) if (load<u8>(OUT + <usize>k) == 0x2f) slashes++;
  }
  canonPtr = OUT;
  canonLen = w;
  doubleEscaped = double;
  return (slashes << 2) | 1 | (double ? 2 : 0);
}

/** Is OUT[start, end) "." or ".."? */
function isDotSegment(start: i32, end: i32): bool {
  const n = end - start;
  if (n == 1) return load<u8>(OUT + <usize>start) == 0x2e;
  if (n == 2) return load<u8>(OUT + <usize>start) == 0x2e && load<u8>(OUT + <usize>(start + 1)) == 0x2e;
  return false;
}

/**
 * Resolves "." and ".." segments of the `n` decoded bytes at OUT in place (the output never
 * outgrows what was read). Every kept segment is written as "/seg", so popping one is a scan
 * back to its slash. Empty segments are kept ("/a//b"), and so is an empty last segment
 * ("/dir/" asks for a directory). Returns the new length, or -1 for ".." above the root.
 */
function resolveDotSegments(n: i32): i32 {
  let w = 0;
  let p = 0;
  while (p < n) {
    const s = p + 1;
    let e = s;
    while (e < n && load<u8>(OUT + <usize>e) != 0x2f) e++;
    const segLen = e - s;
    if (segLen == 1 && load<u8>(OUT + <usize>s) == 0x2e) {
      // "." : nothing
    } else if (segLen == 2 && load<u8>(OUT + <usize>s) == 0x2e && load<u8>(OUT + <usize>(s + 1)) == 0x2e) {
      if (w == 0) return -1;
      w--;
      while (load<u8>(OUT + <usize>w) != 0x2f) w--;
    } else {
      store<u8>(OUT + <usize>w, 0x2f);
      for (let k = 0; k < segLen; k++) store<u8>(OUT + <usize>(w + 1 + k), load<u8>(OUT + <usize>(s + k)));
      w += 1 + segLen;
    }
    p = e;
  }
  if (w == 0) {
    store<u8>(OUT, 0x2f);
    w = 1;
  }
  return w;
}

// The Wasm request filter of the HTTP.sys role: URL canonicalisation and
// security/requestFiltering (iis-reference.md §3.6). Bytes in at fixed areas of linear memory,
// integers out; no imports, no allocation at request time, a memory that never grows, so any
// host can embed it with `WebAssembly.instantiate(bytes, {})` (native-notes.md).

import { canonLen, canonPtr, reason } from './canonical';
import { matched } from './check';
import { ARENA_CAP, HEADERS, HEADER_MAX, IN, IN_CAP, URL_CAP } from './layout';

export { canonicalize } from './canonical';
export { check } from './check';
export { arenaReset, arenaUsed, compile } from './tables';

/** ABI version; a host checks it before anything else. */
export function abiVersion(): i32 {
  return 1;
}

/** Address and size of the input area. */
export function inputPtr(): usize {
  return IN;
}
export function inputCap(): i32 {
  return IN_CAP;
}
/** Most bytes of a path, and of a query string. */
export function urlCap(): i32 {
  return URL_CAP;
}
/** Address of the header entries ({ slot, offset, length } as three i32) and how many fit. */
export function headersPtr(): usize {
  return HEADERS;
}
export function headersMax(): i32 {
  return HEADER_MAX;
}
export function arenaCap(): i32 {
  return ARENA_CAP;
}
/** The canonical path of the last `canonicalize` (the input area itself when unchanged). */
export function canonicalPtr(): usize {
  return canonPtr;
}
export function canonicalLength(): i32 {
  return canonLen;
}
/** Why the last `canonicalize` refused (REASON_* in canonical.ts). */
export function canonicalReason(): i32 {
  return reason;
}
/** The entry that refused the last `check`, or -1 (native-notes.md, "Check order and verdicts"). */
export function matchedIndex(): i32 {
  return matched;
}

// The Wasm request filter of the HTTP.sys role. This issue ships the build and the loader; the
// rules (requestFiltering, ipSecurity) arrive with the "HTTP.sys role" issue. The ABI is fixed
// now: bytes in a fixed input area of linear memory, an integer verdict out, zero imports.

/** Offset of the input area in linear memory. */
export const INPUT_OFFSET: i32 = 1024;
/** Size of the input area in bytes. */
export const INPUT_SIZE: i32 = 16384;

/** ABI version the host checks before using the module. */
export function abiVersion(): i32 {
  return 1;
}

/**
 * Verdict for `len` bytes of URL path at INPUT_OFFSET: 0 = allow, 400 = a NUL byte or a
 * backslash (refused before any decoding).
 */
export function checkPath(len: i32): i32 {
  if (len < 0 || len > INPUT_SIZE) return 400;
  for (let i = 0; i < len; i++) {
    const c = load<u8>(INPUT_OFFSET + i);
    if (c == 0 || c == 0x5c) return 400;
  }
  return 0;
}

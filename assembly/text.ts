// Byte helpers shared by canonicalisation, compilation and checks. Case folding is ASCII only
// (A-Z), as URL matching in request filtering is byte-wise; it never changes a length.

/** ASCII lower case of one byte. */
// @ts-ignore: decorator
@inline
export function lower(c: u32): u32 {
  return c - 0x41 < 26 ? c | 0x20 : c;
}

/** Value of a hex digit, or -1. */
// @ts-ignore: decorator
@inline
export function hexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

/** FNV-1a over the ASCII-lower-cased bytes. */
export function hashLower(p: usize, n: i32): u32 {
  let h: u32 = 2166136261;
  for (let i = 0; i < n; i++) h = (h ^ lower(<u32>load<u8>(p + <usize>i))) * 16777619;
  return h;
}

/** Do `n` bytes of text equal the (already lower-cased) pattern, ignoring ASCII case? */
export function equalsLower(text: usize, pattern: usize, n: i32): bool {
  for (let i = 0; i < n; i++) {
    if (lower(<u32>load<u8>(text + <usize>i)) != <u32>load<u8>(pattern + <usize>i)) return false;
  }
  return true;
}

/** Are the bytes exactly equal? */
export function equalsExact(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) {
    if (load<u8>(a + <usize>i) != load<u8>(b + <usize>i)) return false;
  }
  return true;
}

/** Copies `n` bytes, lower-casing ASCII letters. */
export function copyLower(dst: usize, src: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u8>(dst + <usize>i, <u8>lower(<u32>load<u8>(src + <usize>i)));
}

/** Is any byte >= 0x80? */
export function hasHighBit(p: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(p + <usize>i) >= 0x80) return true;
  return false;
}

/** Is there a '%' that does not start a `%XX` escape? */
export function hasUnescapedPercent(p: usize, n: i32): bool {
  for (let i = 0; i < n; i++) {
    if (load<u8>(p + <usize>i) != 0x25) continue;
    if (n - i < 3) return true;
    if (hexValue(<u32>load<u8>(p + <usize>(i + 1))) < 0 || hexValue(<u32>load<u8>(p + <usize>(i + 2))) < 0) return true;
  }
  return false;
}

/**
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF, no
 * truncated sequences. The same set `decodeURIComponent` refuses.
 */
export function validUtf8(p: usize, n: i32): bool {
  let i = 0;
  while (i < n) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: i32;
    let cp: u32;
    let min: u32;
    if ((c & 0xe0) == 0xc0) {
      need = 1; cp = c & 0x1f; min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      need = 2; cp = c & 0x0f; min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      need = 3; cp = c & 0x07; min = 0x10000;
    } else {
      return false;
    }
    if (n - i <= need) return false;
    for (let k = 1; k <= need; k++) {
      const cc = <u32>load<u8>(p + <usize>(i + k));
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

/**
 * Decodes valid `%XX` escapes of `n` bytes at `src` into `dst` (which may equal `src`); a '%'
 * without two hex digits stays as it is, and '+' stays '+'. Returns the decoded length.
 */
export function unescapeLenient(dst: usize, src: usize, n: i32): i32 {
  let o = 0;
  let i = 0;
  while (i < n) {
    let c = <u32>load<u8>(src + <usize>i);
    if (c == 0x25 && n - i >= 3) {
      const h = hexValue(<u32>load<u8>(src + <usize>(i + 1)));
      const l = hexValue(<u32>load<u8>(src + <usize>(i + 2)));
      if ((h | l) >= 0) {
        c = <u32>((h << 4) | l);
        i += 3;
        store<u8>(dst + <usize>o, <u8>c);
        o++;
        continue;
      }
    }
    store<u8>(dst + <usize>o, <u8>c);
    o++;
    i++;
  }
  return o;
}

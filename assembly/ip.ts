// ip-filter.wasm: the address matching of security/ipSecurity (IpRestrictionModule), run on the
// listener thread for every client address it has not seen under a rule set yet.
//
// ABI v1 (native-notes.md, "IP restrictions", has the full table):
// * zero imports, one fixed memory that never grows, no GC (`--runtime stub`, nothing allocates);
// * the host writes bytes into the input area (`inputPtr()`, `inputCap()` bytes) and gets an
//   integer back: no strings or objects cross the boundary;
// * rule sets are compiled once into tables in a bump arena that fills the rest of memory;
//   `reset()` empties the arena (every handle becomes invalid) and is how the host reclaims it.
//
// Addresses live in one 128-bit space: IPv4 a.b.c.d is ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), so an
// IPv4 rule matches a client whether its socket reported 127.0.0.2 or ::ffff:127.0.0.2, and the
// verdict does not depend on the family of the listening socket.

/** Size of the input area (text addresses, or rule records for `ruleSetAppend`). */
const INPUT_CAP: i32 = 16384;
const INPUT: usize = memory.data(16384, 16);
/** The 16 bytes (network order, IPv4 mapped) of the last address `parse` or `check` read. */
const OUTPUT: usize = memory.data(16, 16);

/** A rule as the host writes it: 16 address bytes, 16 mask bytes, u32 flags (bit 0: allowed). */
const RULE_INPUT_SIZE: usize = 36;
/** A rule in a table: u64×2 address already ANDed with the mask, u64×2 mask, u32 allowed, pad. */
const RULE_SIZE: usize = 40;
/** Table header: u32 magic, u32 rule count, u32 allowUnlisted, u32 reserved. */
const HEADER_SIZE: usize = 16;
const MAGIC: u32 = 0x31535049; // "IPS1"

const ARENA_START: usize = (__heap_base + 15) & ~(<usize>15);
let arenaTop: usize = ARENA_START;
/** The table `ruleSetAppend` may still grow: the last one begun (bump allocation). */
let openSet: usize = 0;

// The address being matched, as two little-endian loads of its 16 bytes. AND and equality
// are bytewise, so the load order does not matter as long as tables use the same one.
let addrHi: u64 = 0;
let addrLo: u64 = 0;

/** ABI version the host checks before using the module. */
export function abiVersion(): i32 {
  return 1;
}

export function inputPtr(): usize {
  return INPUT;
}

export function inputCap(): i32 {
  return INPUT_CAP;
}

export function outputPtr(): usize {
  return OUTPUT;
}

function arenaEnd(): usize {
  return (<usize>memory.size()) << 16;
}

/** Bytes of the arena in use by tables. */
export function arenaUsed(): i32 {
  return <i32>(arenaTop - ARENA_START);
}

/** Bytes the arena can hold in all. */
export function arenaCap(): i32 {
  return <i32>(arenaEnd() - ARENA_START);
}

/** Empties the arena: every handle given out so far is invalid afterwards. */
export function reset(): void {
  // Zero the old magics so a stale handle fails the check instead of reading new rules.
  memory.fill(ARENA_START, 0, arenaTop - ARENA_START);
  arenaTop = ARENA_START;
  openSet = 0;
}

/**
 * Starts a table: returns its handle (> 0), or 0 when the arena cannot hold even the header
 * (the host then calls `reset` and starts over). Closes the table begun before it.
 */
export function ruleSetBegin(allowUnlisted: i32): i32 {
  if (arenaTop + HEADER_SIZE > arenaEnd()) return 0;
  const h = arenaTop;
  store<u32>(h, MAGIC);
  store<u32>(h, 0, 4);
  store<u32>(h, allowUnlisted != 0 ? 1 : 0, 8);
  store<u32>(h, 0, 12);
  arenaTop += HEADER_SIZE;
  openSet = h;
  return <i32>h;
}

/**
 * Appends `count` rule records from the input area to the open table `handle`, in order
 * (the order is the evaluation order). Returns the table's rule count, -1 when the arena is
 * full, -2 when `handle` is not the open table, -3 when `count` does not fit the input area.
 */
export function ruleSetAppend(handle: i32, count: i32): i32 {
  const h = <usize>handle;
  if (h == 0 || h != openSet) return -2;
  if (count < 0 || <usize>count * RULE_INPUT_SIZE > <usize>INPUT_CAP) return -3;
  if (arenaTop + <usize>count * RULE_SIZE > arenaEnd()) return -1;
  let src = INPUT;
  let dst = arenaTop;
  for (let i = 0; i < count; i++) {
    const m0 = load<u64>(src, 16);
    const m1 = load<u64>(src, 24);
    store<u64>(dst, load<u64>(src) & m0);
    store<u64>(dst, load<u64>(src, 8) & m1, 8);
    store<u64>(dst, m0, 16);
    store<u64>(dst, m1, 24);
    store<u32>(dst, load<u32>(src, 32) & 1, 32);
    store<u32>(dst, 0, 36);
    src += RULE_INPUT_SIZE;
    dst += RULE_SIZE;
  }
  arenaTop = dst;
  const n = load<u32>(h, 4) + <u32>count;
  store<u32>(h, n, 4);
  return <i32>n;
}

/** A table header inside the used arena whose rules are inside it too (no arithmetic wraps). */
function validHandle(h: usize): bool {
  if (h < ARENA_START || h >= arenaTop || arenaTop - h < HEADER_SIZE) return false;
  if (load<u32>(h) != MAGIC) return false;
  return <u64>load<u32>(h, 4) * <u64>RULE_SIZE <= <u64>(arenaTop - h - HEADER_SIZE);
}

/**
 * First match wins (IIS evaluates `<add>` entries top-down); no match falls to allowUnlisted.
 * Verdict: bit 0 = allowed, the bits above = index of the matching rule + 1 (0: no rule matched).
 */
function match(h: usize): i32 {
  const n = load<u32>(h, 4);
  let p = h + HEADER_SIZE;
  for (let i: u32 = 0; i < n; i++) {
    if ((addrHi & load<u64>(p, 16)) == load<u64>(p) && (addrLo & load<u64>(p, 24)) == load<u64>(p, 8)) {
      return <i32>(((i + 1) << 1) | load<u32>(p, 32));
    }
    p += RULE_SIZE;
  }
  return <i32>load<u32>(h, 8);
}

/**
 * Verdict for the address text of `len` bytes in the input area under table `handle`:
 * >= 0 as `match` describes, -1 when the text is not an address, -2 for a bad handle.
 */
export function check(handle: i32, len: i32): i32 {
  const h = <usize>handle;
  if (!validHandle(h)) return -2;
  if (parse(len) == 0) return -1;
  return match(h);
}

/** Verdict for 16 address bytes (network order, IPv4 mapped) at the start of the input area. */
export function checkIp16(handle: i32): i32 {
  const h = <usize>handle;
  if (!validHandle(h)) return -2;
  addrHi = load<u64>(INPUT);
  addrLo = load<u64>(INPUT, 8);
  memory.copy(OUTPUT, INPUT, 16);
  return match(h);
}

/**
 * Parses `len` bytes of address text in the input area: dotted IPv4 (four decimal octets, no
 * leading zeros), or IPv6 (RFC 4291 §2.2: hex groups, one `::`, an IPv4 tail, a `%zone` that is
 * ignored). Writes the 16 bytes to the output area; returns 4 or 6, or 0 when it is not an
 * address.
 */
export function parse(len: i32): i32 {
  if (len <= 0 || len > INPUT_CAP) return 0;
  const start = INPUT;
  let end = INPUT + <usize>len;
  let colon = false;
  for (let p = start; p < end; p++) {
    if (load<u8>(p) == 0x3a) {
      colon = true;
      break;
    }
  }
  let family = 0;
  if (!colon) {
    if (!parseV4(start, end, OUTPUT + 12)) return 0;
    store<u64>(OUTPUT, 0);
    store<u32>(OUTPUT, 0, 8);
    store<u16>(OUTPUT, 0xffff, 10);
    family = 4;
  } else {
    for (let p = start; p < end; p++) {
      if (load<u8>(p) == 0x25) {
        // `%zone`: only the scope of a link-local address, not part of it; it may not be empty.
        if (p + 1 == end) return 0;
        end = p;
        break;
      }
    }
    if (!parseV6(start, end, OUTPUT)) return 0;
    family = 6;
  }
  addrHi = load<u64>(OUTPUT);
  addrLo = load<u64>(OUTPUT, 8);
  return family;
}

function parseV4(start: usize, end: usize, out: usize): bool {
  let p = start;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (p >= end || load<u8>(p) != 0x2e) return false;
      p++;
    }
    if (p >= end) return false;
    let c = <u32>load<u8>(p);
    if (c < 0x30 || c > 0x39) return false;
    let v = c - 0x30;
    p++;
    while (p < end) {
      c = <u32>load<u8>(p);
      if (c < 0x30 || c > 0x39) break;
      // A leading zero is refused: 010 is octal to inet_aton and decimal to others.
      if (v == 0) return false;
      v = v * 10 + (c - 0x30);
      if (v > 255) return false;
      p++;
    }
    store<u8>(out + <usize>part, <u8>v);
  }
  return p == end;
}

function hexValue(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return <i32>(l - 0x61 + 10);
  return -1;
}

function parseV6(start: usize, end: usize, out: usize): bool {
  let p = start;
  let words = 0;
  let gap = -1;
  if (p < end && load<u8>(p) == 0x3a) {
    if (p + 1 >= end || load<u8>(p + 1) != 0x3a) return false;
    p += 2;
    gap = 0;
  }
  while (p < end) {
    if (words == 8) return false;
    let q = p;
    let v: u32 = 0;
    let digits = 0;
    while (q < end) {
      const h = hexValue(<u32>load<u8>(q));
      if (h < 0) break;
      if (++digits > 4) return false;
      v = (v << 4) | <u32>h;
      q++;
    }
    if (q < end && load<u8>(q) == 0x2e) {
      // An IPv4 tail fills the last two words.
      if (words > 6) return false;
      if (!parseV4(p, end, out + <usize>(words * 2))) return false;
      words += 2;
      p = end;
      break;
    }
    if (digits == 0) return false;
    store<u8>(out + <usize>(words * 2), <u8>(v >> 8));
    store<u8>(out + <usize>(words * 2 + 1), <u8>v);
    words++;
    p = q;
    if (p == end) break;
    if (load<u8>(p) != 0x3a) return false;
    p++;
    if (p < end && load<u8>(p) == 0x3a) {
      if (gap >= 0) return false;
      gap = words;
      p++;
    } else if (p == end) {
      return false;
    }
  }
  if (gap < 0) return words == 8;
  if (words > 7) return false;
  // Move the words after `::` to the end and zero the gap.
  const tail = words - gap;
  const shift = 8 - words;
  for (let i = tail - 1; i >= 0; i--) {
    store<u16>(out + <usize>((gap + shift + i) * 2), load<u16>(out + <usize>((gap + i) * 2)));
  }
  for (let i = 0; i < shift; i++) store<u16>(out + <usize>((gap + i) * 2), 0);
  return true;
}

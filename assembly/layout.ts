// Fixed memory layout of the request filter. Every area is a static `memory.data` region, so
// the addresses are constants, the memory never grows, and a host may keep typed-array views
// over `memory.buffer` for the life of the instance (native-notes.md, "Memory layout").

/** Most bytes of a URL path, and of a query string, the filter accepts (64 KiB each). */
export const URL_CAP: i32 = 65536;
/** Size of the input area: request bytes for `check`, a rule source for `compile`. */
export const IN_CAP: i32 = 262144;
/** Most header entries one `check` looks at. */
export const HEADER_MAX: i32 = 1024;
/** Bytes of one header entry: slot (i32), offset into the input area (i32), length (i32). */
export const HEADER_ENTRY: i32 = 12;
/** Size of the arena that holds compiled rule tables. */
export const ARENA_CAP: i32 = 2097152;

/** Input area: the host writes request bytes (or a rule source) here. */
export const IN: usize = memory.data(IN_CAP, 16);
/** The canonical path, when it differs from the raw path. */
export const OUT: usize = memory.data(URL_CAP, 16);
/** The unescaped query string, when it differs from the raw one. */
export const SCRATCH: usize = memory.data(URL_CAP, 16);
/** Header entries of the request being checked. */
export const HEADERS: usize = memory.data(HEADER_MAX * HEADER_ENTRY, 16);
/** Compiled rule tables, bump-allocated; reclaimed all at once by `arenaReset`. */
export const ARENA: usize = memory.data(ARENA_CAP, 16);
/** Per-bucket cursors while a string set is sorted by first byte (compile time only). */
export const CURSORS: usize = memory.data(1024, 16);
/** The extension of a name without a dot: "." (IIS lists extensionless URLs as "."). */
export const DOT: usize = memory.data<u8>([0x2e]);

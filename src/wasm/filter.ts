import { readFileSync } from 'node:fs';

/**
 * The exports of `build/filter.wasm` (ABI version 1; native-notes.md). Numbers only: bytes
 * go in through the input area, verdicts come out as integers.
 */
export interface FilterExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  abiVersion(): number;
  inputPtr(): number;
  inputCap(): number;
  urlCap(): number;
  headersPtr(): number;
  headersMax(): number;
  arenaCap(): number;
  arenaUsed(): number;
  arenaReset(): void;
  /** Compiles a rule source of `length` bytes at the input area; a table address or an error (< 0). */
  compile(length: number): number;
  /** `segments << 2 | flags` (>= 0) or `-verdict`. */
  canonicalize(pathLength: number): number;
  canonicalPtr(): number;
  canonicalLength(): number;
  canonicalReason(): number;
  check(table: number, pathLength: number, queryLength: number, methodLength: number, headerCount: number, contentLength: number): number;
  matchedIndex(): number;
}

/** `compile` errors (assembly/tables.ts). */
export const COMPILE_ERROR = {
  BAD_MAGIC: -1,
  MALFORMED: -2,
  UNKNOWN_OP: -3,
  ARENA_FULL: -4,
  BAD_SLOT: -5,
  RULE_CHILD_FIRST: -6,
  TOO_MANY_ENTRIES: -7,
  TOO_BIG: -8,
} as const;

/** Why `canonicalize` refused (assembly/canonical.ts REASON_*). */
export const CANONICAL_REASON: Readonly<Record<number, string>> = {
  1: 'the path must start with /',
  2: 'invalid percent-encoding in the path',
  3: 'the decoded path is not valid UTF-8',
  4: 'NUL byte in the path',
  5: 'backslash in the path',
  6: 'the path climbs above the site root',
  7: 'the path is longer than the filter accepts',
  8: 'double escape sequence in the path',
};

// Node's WebAssembly global, typed narrowly (the DOM lib is not part of this build).
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Where the filter module lives (shipped with the package next to `dist/`). */
export const FILTER_WASM_URL = new URL('../../build/filter.wasm', import.meta.url);

let compiled: object | undefined;

/** The compiled module, once per thread (0.5–1 ms of synchronous compile). */
export function filterModule(): object {
  compiled ??= new wasm.Module(readFileSync(FILTER_WASM_URL));
  return compiled;
}

/**
 * Instantiates the filter with no imports, as any host can (each instance has its own fixed
 * memory, 40 pages; an instance is not reentrant, so use one per thread).
 */
export function instantiateFilter(module: object = filterModule()): FilterExports {
  const exports = new wasm.Instance(module, {}).exports as FilterExports;
  if (exports.abiVersion() !== 1) {
    throw new Error(`w3core: ${FILTER_WASM_URL.pathname} has ABI ${exports.abiVersion()}, expected 1`);
  }
  return exports;
}

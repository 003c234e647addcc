import { readFileSync } from 'node:fs';

/** The exports of `build/filter.wasm` (ABI version 1). */
export interface FilterExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  readonly INPUT_OFFSET: { readonly value: number };
  readonly INPUT_SIZE: { readonly value: number };
  abiVersion(): number;
  checkPath(len: number): number;
}

// Node's WebAssembly global, typed narrowly (the DOM lib is not part of this build).
const wasm = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: unknown };
  };
}).WebAssembly;

const WASM_FILE = new URL('../../build/filter.wasm', import.meta.url);

/** Instantiates the filter with no imports (any host can embed it the same way). */
export function loadFilter(): FilterExports {
  const module = new wasm.Module(readFileSync(WASM_FILE));
  const exports = new wasm.Instance(module, {}).exports as FilterExports;
  if (exports.abiVersion() !== 1) throw new Error(`w3core: ${WASM_FILE.pathname} has ABI ${exports.abiVersion()}, expected 1`);
  return exports;
}

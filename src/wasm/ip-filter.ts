import { readFileSync } from 'node:fs';

/**
 * The exports of `build/ip-filter.wasm` (ABI version 1, source `assembly/ip.ts`). Numbers only
 * cross the boundary: address text or rule records go into the input area, verdicts come back
 * as integers. native-notes.md ("IP restrictions") describes the memory layout and the table
 * format.
 */
export interface IpFilterExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  abiVersion(): number;
  inputPtr(): number;
  inputCap(): number;
  outputPtr(): number;
  arenaUsed(): number;
  arenaCap(): number;
  reset(): void;
  ruleSetBegin(allowUnlisted: number): number;
  ruleSetAppend(handle: number, count: number): number;
  parse(len: number): number;
  check(handle: number, len: number): number;
  checkIp16(handle: number): number;
}

export const IP_FILTER_ABI_VERSION = 1;
/** Bytes of one rule record in the input area: address[16], mask[16], u32 flags (bit 0: allowed). */
export const IP_RULE_RECORD_SIZE = 36;
/** Verdict: the text is not an IPv4 or IPv6 address. */
export const IP_UNPARSABLE = -1;
/** Verdict: the handle is not a table of the current arena (a host bug). */
export const IP_BAD_HANDLE = -2;

/** Is the client allowed? (`verdict` from {@link IpRuleSet.verdict}.) */
export function isAllowed(verdict: number): boolean {
  return verdict >= 0 && (verdict & 1) === 1;
}

/** Index of the rule that decided, or -1 when none matched (allowUnlisted decided) or unparsable. */
export function matchedRule(verdict: number): number {
  return verdict >= 0 ? (verdict >> 1) - 1 : -1;
}

/**
 * One `<add>` entry of ipSecurity as bytes. Both arrays are 16 bytes in network order in one
 * IPv6 space where IPv4 a.b.c.d is ::ffff:a.b.c.d; an IPv4 mask therefore starts with 96 one bits.
 */
export interface IpRule {
  readonly address: Uint8Array;
  readonly mask: Uint8Array;
  readonly allowed: boolean;
}

/** A parsed address: its family as written and its 16 bytes (IPv4 mapped into IPv6). */
export interface ParsedAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

// Node's WebAssembly global, typed narrowly (the DOM lib is not part of this build).
const wasm = (globalThis as unknown as {
  WebAssembly: {
    Module: new (bytes: Uint8Array) => object;
    Instance: new (module: object, imports: object) => { exports: unknown };
  };
}).WebAssembly;

const WASM_FILE = new URL('../../build/ip-filter.wasm', import.meta.url);

let compiled: object | undefined;

/** A fresh instance of ip-filter.wasm with no imports (any host can embed it the same way). */
export function instantiateIpFilter(): IpFilterExports {
  compiled ??= new wasm.Module(readFileSync(WASM_FILE));
  const exports = new wasm.Instance(compiled, {}).exports as IpFilterExports;
  if (exports.abiVersion() !== IP_FILTER_ABI_VERSION) {
    throw new Error(`w3core: ${WASM_FILE.pathname} has ABI ${exports.abiVersion()}, expected ${IP_FILTER_ABI_VERSION}`);
  }
  return exports;
}

/** Distinct rule sets kept compiled (least recently compiled-for first out). */
const MAX_RULE_SETS = 32;
/** Client addresses whose verdict one rule set remembers. */
const MAX_CACHED_ADDRESSES = 4096;
/** Longest text tried as an address (a scoped IPv6 address with a long zone name fits). */
const MAX_ADDRESS_TEXT = 128;

/**
 * A compiled ipSecurity rule list: the `<add>` entries in evaluation order and allowUnlisted.
 * Obtain one with {@link IpFilterEngine.compile}; equal content gives the same object.
 */
export class IpRuleSet {
  readonly rules: readonly IpRule[];
  readonly allowUnlisted: boolean;
  /** The content the set is cached by. */
  readonly key: string;
  /** @internal Wasm table handle, valid while `generation` equals the engine's. */
  handle = 0;
  /** @internal */
  generation = -1;
  readonly #engine: IpFilterEngine;
  // Two generations instead of one Map with oldest-first eviction: deleting a Map's first key
  // leaves holes that `keys().next()` walks on every later eviction (~1 µs per miss measured).
  #verdicts = new Map<string, number>();
  #older = new Map<string, number>();

  /** @internal */
  constructor(engine: IpFilterEngine, rules: readonly IpRule[], allowUnlisted: boolean, key: string) {
    this.#engine = engine;
    this.rules = rules;
    this.allowUnlisted = allowUnlisted;
    this.key = key;
  }

  /**
   * The verdict for a client address (text as the socket reports it), remembered per address:
   * the common case is one Map lookup; a new address costs one Wasm parse and match.
   * Read it with {@link isAllowed} and {@link matchedRule}.
   */
  verdict(address: string): number {
    const hit = this.#verdicts.get(address);
    if (hit !== undefined) return hit;
    const v = this.#older.get(address) ?? this.#engine.evaluate(this, address);
    // Bounded memory for a client population that may not be: when the young generation is
    // full it becomes the old one, and what was only in the old one is forgotten.
    if (this.#verdicts.size >= MAX_CACHED_ADDRESSES / 2) {
      this.#older = this.#verdicts;
      this.#verdicts = new Map();
    }
    this.#verdicts.set(address, v);
    return v;
  }
}

/**
 * The IP matching engine of one thread over one ip-filter.wasm instance: parses addresses,
 * compiles rule lists into Wasm tables once per distinct content, and evaluates addresses.
 *
 * The arena is a bump allocator. When a new table does not fit, the whole arena is reset and
 * every rule set is recompiled lazily on its next cache miss (verdicts already cached stay
 * valid: they depend on the content only). Rule sets evicted from the LRU are reclaimed at the
 * next reset.
 *
 * @example
 * ```ts
 * import { parseIpRule } from './ip-security-config.js';
 * const deny = parseIpRule('10.0.0.0/8', '', false) as IpRule;
 * const set = ipFilter().compile([deny], true);
 * isAllowed(set.verdict('10.1.2.3')); // false
 * isAllowed(set.verdict('::ffff:192.0.2.1')); // true (unlisted)
 * matchedRule(set.verdict('10.1.2.3')); // 0
 * ```
 */
export class IpFilterEngine {
  readonly #wasm: IpFilterExports;
  readonly #memory: Uint8Array;
  readonly #input: number;
  readonly #inputCap: number;
  readonly #output: number;
  readonly #sets = new Map<string, IpRuleSet>();
  #generation = 0;

  constructor(exports: IpFilterExports = instantiateIpFilter()) {
    this.#wasm = exports;
    // The memory never grows (fixed in the module), so one view serves for the lifetime.
    this.#memory = new Uint8Array(exports.memory.buffer);
    this.#input = exports.inputPtr();
    this.#inputCap = exports.inputCap();
    this.#output = exports.outputPtr();
  }

  /** The instance, for embedding hosts and tests. */
  get exports(): IpFilterExports {
    return this.#wasm;
  }

  /** Parses IPv4 or IPv6 text (with the Wasm parser, the one that matching uses). */
  parse(text: string): ParsedAddress | null {
    const len = this.#write(text);
    if (len < 0) return null;
    const family = this.#wasm.parse(len);
    if (family === 0) return null;
    return { family: family as 4 | 6, bytes: this.#memory.slice(this.#output, this.#output + 16) };
  }

  /** The rule set for this content, compiled into Wasm tables on first use. */
  compile(rules: readonly IpRule[], allowUnlisted: boolean): IpRuleSet {
    let key = allowUnlisted ? '+' : '-';
    for (const r of rules) key += `${hex(r.address)}/${hex(r.mask)}${r.allowed ? '+' : '-'}`;
    let set = this.#sets.get(key);
    if (set) {
      this.#sets.delete(key);
      this.#sets.set(key, set);
      return set;
    }
    set = new IpRuleSet(this, Object.freeze([...rules]), allowUnlisted, key);
    if (this.#sets.size >= MAX_RULE_SETS) this.#sets.delete(this.#sets.keys().next().value!);
    this.#sets.set(key, set);
    return set;
  }

  /** The verdict for `address` under `set`, computed in Wasm (no verdict cache). */
  evaluate(set: IpRuleSet, address: string): number {
    if (set.generation !== this.#generation) this.#load(set);
    const len = this.#write(address);
    if (len < 0) return IP_UNPARSABLE;
    return this.#wasm.check(set.handle, len);
  }

  /** Writes latin1 text to the input area; -1 when it cannot be an address. */
  #write(text: string): number {
    const n = text.length;
    if (n === 0 || n > MAX_ADDRESS_TEXT) return -1;
    // A charCodeAt loop: for short strings it beats the C++ copy routes
    // (shared/anchors/wasm-filter-prototype.md: ~3 ns per char against a fixed 75–135 ns).
    const mem = this.#memory;
    const base = this.#input;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) return -1;
      mem[base + i] = c;
    }
    return n;
  }

  #load(set: IpRuleSet): void {
    if (this.#tryLoad(set)) return;
    this.#wasm.reset();
    this.#generation++;
    if (!this.#tryLoad(set)) {
      throw new Error(`w3core: an ipSecurity rule set of ${set.rules.length} entries does not fit ip-filter.wasm's arena`);
    }
  }

  #tryLoad(set: IpRuleSet): boolean {
    const w = this.#wasm;
    const handle = w.ruleSetBegin(set.allowUnlisted ? 1 : 0);
    if (handle === 0) return false;
    const perChunk = Math.floor(this.#inputCap / IP_RULE_RECORD_SIZE);
    const mem = this.#memory;
    const view = new DataView(mem.buffer);
    for (let start = 0; start < set.rules.length; start += perChunk) {
      const chunk = set.rules.slice(start, start + perChunk);
      let at = this.#input;
      for (const r of chunk) {
        mem.set(r.address, at);
        mem.set(r.mask, at + 16);
        view.setUint32(at + 32, r.allowed ? 1 : 0, true);
        at += IP_RULE_RECORD_SIZE;
      }
      const count = w.ruleSetAppend(handle, chunk.length);
      if (count === -1) return false;
      if (count < 0) throw new Error(`w3core: ip-filter.wasm refused a rule chunk (${count})`);
    }
    set.handle = handle;
    set.generation = this.#generation;
    return true;
  }
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

let shared: IpFilterEngine | undefined;

/** The engine of this thread (instantiated on first use; one instance per thread). */
export function ipFilter(): IpFilterEngine {
  return (shared ??= new IpFilterEngine());
}

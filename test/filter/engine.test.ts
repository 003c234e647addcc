/**
 * The filter's ABI and the engine around it: no imports, a memory that never grows, rule tables
 * cached by content in a bounded arena that is reclaimed all at once, and malformed input
 * answered, never trapped on.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FilterEngine } from '../../dist/wasm/engine.js';
import { COMPILE_ERROR, FILTER_WASM_URL, instantiateFilter } from '../../dist/wasm/filter.js';
import { DEFAULT_REQUEST_FILTERING, type RequestFilteringRules } from '../../dist/wasm/request-filtering.js';
import { encodeRuleSource } from '../../dist/wasm/rule-source.js';

const bytes = readFileSync(FILTER_WASM_URL);

function rules(overrides: Partial<RequestFilteringRules>): RequestFilteringRules {
  return { ...DEFAULT_REQUEST_FILTERING, ...overrides };
}

describe('filter.wasm ABI', () => {
  it('has no imports and exports only numbers-in, numbers-out functions and its memory', () => {
    const module = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    const exports = WebAssembly.Module.exports(module);
    expect(exports.filter((e) => e.kind !== 'function').map((e) => e.name)).toEqual(['memory']);
    expect(exports.map((e) => e.name)).toEqual(expect.arrayContaining([
      'abiVersion', 'inputPtr', 'inputCap', 'urlCap', 'headersPtr', 'headersMax', 'arenaCap', 'arenaUsed', 'arenaReset',
      'compile', 'canonicalize', 'canonicalPtr', 'canonicalLength', 'canonicalReason', 'check', 'matchedIndex',
    ]));
    expect(exports.some((e) => e.name.startsWith('__'))).toBe(false);
  });

  it('works with a bare WebAssembly.instantiate(bytes, {})', async () => {
    const { instance } = await WebAssembly.instantiate(bytes, {});
    expect((instance.exports.abiVersion as () => number)()).toBe(1);
  });

  it('never grows its memory, whatever it is asked', () => {
    const x = instantiateFilter();
    const size = x.memory.buffer.byteLength;
    const engine = new FilterEngine();
    const compiled = engine.prepare(rules({ denyUrlSequences: ['..'], hiddenSegments: { applyToWebDAV: true, segments: ['bin'] } }));
    for (let i = 0; i < 2000; i++) {
      engine.canonicalize(`/${'a/'.repeat(i % 50)}%2e%2e/${'%41'.repeat(i % 30)}`);
      engine.check(compiled, 'x'.repeat(i), 'GET', ['user-agent', 'y'.repeat(i)], i);
    }
    expect(x.memory.buffer.byteLength).toBe(size);
    expect(readFileSync(new URL('../../build/filter.wat', import.meta.url), 'utf8')).not.toContain('memory.grow');
  });

  it('refuses a malformed rule source with an error code instead of trapping', () => {
    const x = instantiateFilter();
    const u8 = new Uint8Array(x.memory.buffer);
    const source = encodeRuleSource(rules({ denyUrlSequences: ['..'] })).bytes;
    const compile = (b: Uint8Array, length = b.length) => {
      u8.set(b, x.inputPtr());
      return x.compile(length);
    };
    expect(compile(source)).toBeGreaterThan(0);
    expect(compile(Uint8Array.from([1, 2, 3, 4]))).toBe(COMPILE_ERROR.BAD_MAGIC);
    expect(compile(source, source.length - 1)).toBe(COMPILE_ERROR.MALFORMED);
    const unknown = source.slice();
    unknown[4] = 99;
    expect(compile(unknown)).toBe(COMPILE_ERROR.UNKNOWN_OP);
    expect(x.compile(x.inputCap() + 1)).toBe(COMPILE_ERROR.TOO_BIG);
  });

  it('answers 500000 for a table pointer that is not a live table, and never traps on bad lengths', () => {
    const x = instantiateFilter();
    const u8 = new Uint8Array(x.memory.buffer);
    const source = encodeRuleSource(DEFAULT_REQUEST_FILTERING).bytes;
    u8.set(source, x.inputPtr());
    const table = x.compile(source.length);
    u8.set([0x2f], x.inputPtr());
    expect(x.canonicalize(1)).toBeGreaterThanOrEqual(0);
    expect(x.check(table, 1, 0, 0, 0, 0)).toBe(0);
    expect(x.check(12, 1, 0, 0, 0, 0)).toBe(500000);
    expect(x.check(table + 4, 1, 0, 0, 0, 0)).toBe(500000);
    expect(x.check(table, -1, 0, 0, 0, 0)).toBe(500000);
    expect(x.check(table, 1, x.inputCap(), 0, 0, 0)).toBe(500000);
    expect(x.check(table, 1, 0, 0, x.headersMax() + 1, 0)).toBe(431000);
    x.arenaReset();
    expect(x.check(table, 1, 0, 0, 0, 0)).toBe(500000); // stale: the arena was reclaimed
    expect(x.canonicalize(-5)).toBe(-400000);
    expect(x.canonicalize(x.inputCap())).toBeLessThan(0);
  });
});

describe('FilterEngine rule tables', () => {
  it('compiles equal rule sets once (cached by content)', () => {
    const engine = new FilterEngine();
    const a = engine.prepare(rules({ hiddenSegments: { applyToWebDAV: true, segments: ['bin'] } }));
    const used = engine.arena.used;
    const b = engine.prepare(rules({ hiddenSegments: { applyToWebDAV: true, segments: ['bin'] } }));
    expect(b.table).toBe(a.table);
    expect(engine.arena.used).toBe(used);
    const c = engine.prepare(rules({ hiddenSegments: { applyToWebDAV: true, segments: ['obj'] } }));
    expect(c.table).not.toBe(a.table);
  });

  it('reclaims the whole arena when it is full, and recompiles a rule set still in use on its next request', () => {
    const engine = new FilterEngine();
    const kept = engine.prepare(rules({ hiddenSegments: { applyToWebDAV: true, segments: ['kept'] } }));
    const many = Array.from({ length: 300 }, (_, i) => `deny-${i}-${'x'.repeat(i % 17)}`);
    let i = 0;
    while (engine.epoch === 0) {
      engine.prepare(rules({ denyUrlSequences: [...many, `unique-${i++}`] }));
      expect(engine.arena.used).toBeLessThanOrEqual(engine.arena.capacity);
    }
    expect(i).toBeGreaterThan(10);
    // The old handle is stale; the engine compiles it again and it still works.
    expect(engine.canonicalize('/a/KEPT/b')).toBe(0);
    expect(engine.check(kept, '', 'GET', null, 0)).toBe(404008);
    expect(kept.epoch).toBe(engine.epoch);
    expect(engine.canonicalize('/a/other/b')).toBe(0);
    expect(engine.check(kept, '', 'GET', null, 0)).toBe(0);
  });

  it('keeps the canonical path right when a compile used the input area in between', () => {
    const engine = new FilterEngine();
    expect(engine.canonicalize('/a/web.config')).toBe(0);
    // A rule set seen for the first time compiles now, through the input area.
    const compiled = engine.prepare(rules({ hiddenSegments: { applyToWebDAV: true, segments: ['web.config'] } }));
    expect(engine.check(compiled, '', 'GET', null, 0)).toBe(404008);
  });

  it('refuses rules naming more than 64 distinct headers', () => {
    const engine = new FilterEngine();
    const headerLimits = Array.from({ length: 65 }, (_, i) => ({ header: `x-h${i}`, sizeLimit: 10 }));
    expect(() => engine.prepare(rules({ requestLimits: { ...DEFAULT_REQUEST_FILTERING.requestLimits, headerLimits } }))).toThrow(RangeError);
  });

  it('refuses URLs and queries beyond 64 KiB, and headers beyond the input area, with their limits', () => {
    const engine = new FilterEngine();
    const compiled = engine.prepare(rules({ requestLimits: { ...DEFAULT_REQUEST_FILTERING.requestLimits, maxUrl: 4294967295, maxQueryString: 4294967295, headerLimits: [{ header: 'x-big', sizeLimit: 4294967295 }] } }));
    expect(engine.canonicalize('/' + 'a'.repeat(65536))).toBe(404014);
    expect(engine.canonicalize('/' + 'a'.repeat(65535))).toBe(0);
    expect(engine.check(compiled, 'q'.repeat(65537), 'GET', null, 0)).toBe(404015);
    expect(engine.check(compiled, 'q'.repeat(65536), 'GET', null, 0)).toBe(0);
    expect(engine.canonicalize('/a')).toBe(0);
    expect(engine.check(compiled, '', 'GET', ['x-big', 'v'.repeat(300_000)], 0)).toBe(431000);
    expect(engine.check(compiled, '', 'GET', ['x-big', 'v'.repeat(100_000)], 0)).toBe(0);
  });

  it('tells which entry refused', () => {
    const engine = new FilterEngine();
    const compiled = engine.prepare(rules({
      denyUrlSequences: ['zz', '..'],
      filteringRules: [
        { name: 'first', scanUrl: true, scanQueryString: false, scanAllRaw: false, denyUnescapedPercent: false, scanHeaders: [], appliesTo: [], denyStrings: ['nope'] },
        { name: 'second', scanUrl: false, scanQueryString: true, scanAllRaw: false, denyUnescapedPercent: false, scanHeaders: [], appliesTo: [], denyStrings: ['evil'] },
      ],
    }));
    engine.canonicalize('/a..b');
    expect(engine.check(compiled, '', 'GET', null, 0)).toBe(404005);
    expect(engine.describe(compiled, 404005)).toBe("the URL contains the denied sequence '..'");
    engine.canonicalize('/a');
    expect(engine.check(compiled, 'x=EVIL', 'GET', null, 0)).toBe(404019);
    expect(engine.describe(compiled, 404019)).toBe("denied by the filtering rule 'second'");
  });
});

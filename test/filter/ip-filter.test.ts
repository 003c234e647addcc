/**
 * ip-filter.wasm through its ABI (native-notes.md, "IP restrictions"): zero imports, a fixed
 * memory that never grows, the verdict encoding, handles that go stale on reset, the arena
 * reclaimed and rule sets recompiled lazily, and a bare host that uses nothing but the exports.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  IP_BAD_HANDLE, IP_UNPARSABLE, IpFilterEngine, instantiateIpFilter, isAllowed, matchedRule, type IpRule,
} from '../../dist/wasm/ip-filter.js';
import { referenceMask, referenceParse } from './ip-reference.js';

const WASM = new URL('../../build/ip-filter.wasm', import.meta.url);

function rule(address: string, bits: number, allowed: boolean): IpRule {
  const parsed = referenceParse(address)!;
  return { address: parsed.bytes, mask: referenceMask(parsed.family === 4 ? 96 + bits : bits), allowed };
}

describe('ip-filter.wasm ABI', () => {
  it('has no imports, a fixed memory and only numeric exports', () => {
    const module = new WebAssembly.Module(readFileSync(WASM));
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    const exports = WebAssembly.Module.exports(module).map((e) => `${e.name}:${e.kind}`).sort();
    expect(exports).toEqual([
      'abiVersion:function', 'arenaCap:function', 'arenaUsed:function', 'check:function', 'checkIp16:function',
      'inputCap:function', 'inputPtr:function', 'memory:memory', 'outputPtr:function', 'parse:function',
      'reset:function', 'ruleSetAppend:function', 'ruleSetBegin:function',
    ]);
    const text = readFileSync(new URL('../../build/ip-filter.wat', import.meta.url), 'utf8');
    expect(text).toMatch(/\(memory \$0 (\d+) \1\)/);
    expect(text).not.toContain('memory.grow');
  });

  it('encodes verdicts: allowed bit, deciding rule, unparsable', () => {
    const engine = new IpFilterEngine();
    const set = engine.compile([rule('10.0.0.0', 8, false), rule('10.1.0.0', 16, true), rule('2001:db8::', 32, true)], false);
    const v = (a: string) => engine.evaluate(set, a);
    expect([isAllowed(v('10.1.2.3')), matchedRule(v('10.1.2.3'))]).toEqual([false, 0]);
    expect([isAllowed(v('2001:db8::7')), matchedRule(v('2001:db8::7'))]).toEqual([true, 2]);
    expect([isAllowed(v('192.0.2.1')), matchedRule(v('192.0.2.1'))]).toEqual([false, -1]);
    expect(v('::ffff:10.9.9.9')).toBe(v('10.9.9.9'));
    expect(v('0000:0000:0000:0000:0000:ffff:0a09:0909')).toBe(v('10.9.9.9'));
    expect(v('10.0.0.256')).toBe(IP_UNPARSABLE);
    expect(v('')).toBe(IP_UNPARSABLE);
    expect(v('10.0.0.1\u00e9')).toBe(IP_UNPARSABLE);
    // An IPv4 rule does not match an IPv6 address that merely ends in the same bits.
    expect(matchedRule(v('::10.1.2.3'))).toBe(-1);
  });

  it('refuses handles that are not the open table, or that a reset made stale', () => {
    const w = instantiateIpFilter();
    const a = w.ruleSetBegin(1);
    expect(a).toBeGreaterThan(0);
    expect(w.ruleSetAppend(a, 0)).toBe(0);
    const b = w.ruleSetBegin(0);
    expect(w.ruleSetAppend(a, 1)).toBe(-2);
    expect(w.ruleSetAppend(b, 1_000_000)).toBe(-3);
    const u8 = new Uint8Array(w.memory.buffer);
    u8.set(Buffer.from('127.0.0.1'), w.inputPtr());
    expect(w.check(a, 9)).toBe(1);
    expect(w.check(b, 9)).toBe(0);
    expect(w.check(a + 4, 9)).toBe(IP_BAD_HANDLE);
    expect(w.check(0, 9)).toBe(IP_BAD_HANDLE);
    // Far out of range: refused, not a trap.
    expect(w.check(-8, 9)).toBe(IP_BAD_HANDLE);
    expect(w.check(0x7ffffff8, 9)).toBe(IP_BAD_HANDLE);
    expect(w.checkIp16(-8)).toBe(IP_BAD_HANDLE);
    w.reset();
    expect(w.arenaUsed()).toBe(0);
    expect(w.check(a, 9)).toBe(IP_BAD_HANDLE);
    expect(w.check(b, 9)).toBe(IP_BAD_HANDLE);
  });

  it('reclaims the arena by reset and recompiles rule sets on their next miss', () => {
    const engine = new IpFilterEngine();
    const w = engine.exports;
    const bytes = w.memory.buffer.byteLength;
    // Each set holds 12,000 rules (480 KB of tables); the arena holds about four.
    const sets = Array.from({ length: 10 }, (_, n) =>
      engine.compile(Array.from({ length: 12_000 }, (_, i) => rule(`10.${n}.${i >> 8}.${i & 255}`, 32, i % 2 === 0)), false));
    for (let round = 0; round < 2; round++) {
      for (const [n, set] of sets.entries()) {
        expect(engine.evaluate(set, `10.${n}.0.4`)).toBe(((4 + 1) << 1) | 1);
        expect(engine.evaluate(set, `10.${n}.0.5`)).toBe((5 + 1) << 1);
        expect(engine.evaluate(set, `10.${n + 1}.0.4`)).toBe(0);
        expect(w.arenaUsed()).toBeLessThanOrEqual(w.arenaCap());
      }
    }
    expect(w.memory.buffer.byteLength).toBe(bytes);
  });

  it('caches verdicts per address, bounded, and per rule set content', () => {
    const engine = new IpFilterEngine();
    const a = engine.compile([rule('127.0.0.2', 32, false)], true);
    const b = engine.compile([rule('127.0.0.2', 32, false)], true);
    expect(b).toBe(a);
    expect(isAllowed(a.verdict('127.0.0.2'))).toBe(false);
    for (let i = 0; i < 10_000; i++) a.verdict(`10.0.${i >> 8}.${i & 255}`);
    expect(isAllowed(a.verdict('127.0.0.2'))).toBe(false);
    expect(isAllowed(a.verdict('127.0.0.1'))).toBe(true);
    const c = engine.compile([rule('127.0.0.2', 32, false)], false);
    expect(c).not.toBe(a);
    expect(isAllowed(c.verdict('127.0.0.1'))).toBe(false);
  });

  it('can be embedded by a bare host through the exports alone', async () => {
    const { instance } = await WebAssembly.instantiate(readFileSync(WASM), {});
    const x = instance.exports as unknown as {
      memory: WebAssembly.Memory; abiVersion(): number; inputPtr(): number; ruleSetBegin(u: number): number;
      ruleSetAppend(h: number, n: number): number; check(h: number, len: number): number; checkIp16(h: number): number;
    };
    expect(x.abiVersion()).toBe(1);
    const mem = new Uint8Array(x.memory.buffer);
    const input = x.inputPtr();
    // One rule record: fe80::/10, denied.
    mem.fill(0, input, input + 36);
    mem.set([0xfe, 0x80], input);
    mem.set([0xff, 0xc0], input + 16);
    const h = x.ruleSetBegin(1);
    expect(x.ruleSetAppend(h, 1)).toBe(1);
    const text = Buffer.from('FE80::1%eth0');
    mem.set(text, input);
    expect(x.check(h, text.length)).toBe(2);
    mem.fill(0, input, input + 16);
    mem.set([0xfe, 0xbf, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9], input);
    expect(x.checkIp16(h)).toBe(2);
    mem.set([0xfe, 0xc0], input);
    expect(x.checkIp16(h)).toBe(1);
  });
});

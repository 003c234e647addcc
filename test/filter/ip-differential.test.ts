/**
 * ip-filter.wasm against the plain-TS reference (test/filter/ip-reference.ts): random rule lists
 * over IPv4, IPv6 and IPv4-mapped addresses, and addresses written in every text form a socket,
 * a proxy or a configuration uses (dotted, ::ffff:dotted, uWS's long form, compressed, IPv4
 * tails, zones, mixed case), plus mutated texts for the parser's error paths. 3,000 rule lists
 * × 100 addresses = 300,000 inputs; zero differences allowed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpFilterEngine, type IpRule } from '../../dist/wasm/ip-filter.js';
import { referenceMask, referenceParse, referenceVerdict } from './ip-reference.js';

const engine = new IpFilterEngine();

const byte = fc.integer({ min: 0, max: 255 });

function mapped(a: number, b: number, c: number, d: number): Uint8Array {
  return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]);
}

/** A dense universe, so that rules and addresses meet often. */
const v4Bytes = fc.tuple(fc.constantFrom(10, 127, 192, 0, 255), fc.constantFrom(0, 1, 255), fc.constantFrom(0, 1, 2), byte)
  .map(([a, b, c, d]) => mapped(a, b, c, d));
const V6_PREFIXES = [
  [0x20, 0x01, 0x0d, 0xb8], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1], [0xfe, 0x80], [], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
];
const v6Bytes = fc.tuple(fc.constantFrom(...V6_PREFIXES), byte, byte, fc.option(fc.tuple(fc.integer({ min: 0, max: 15 }), byte), { freq: 3 }))
  .map(([prefix, x, y, poke]) => {
    const b = new Uint8Array(16);
    b.set(prefix);
    b[14] = x;
    b[15] = y;
    if (poke) b[poke[0]] = poke[1];
    return b;
  });
const anyBytes = fc.uint8Array({ minLength: 16, maxLength: 16 });
const addressBytes = fc.oneof({ weight: 4, arbitrary: v4Bytes }, { weight: 4, arbitrary: v6Bytes }, { weight: 1, arbitrary: anyBytes });

function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function groups(b: Uint8Array): number[] {
  return Array.from({ length: 8 }, (_, i) => (b[i * 2]! << 8) | b[i * 2 + 1]!);
}

/** `g` with its longest (or first) run of zero groups written as `::`. */
function compress(g: readonly string[], first: boolean): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < g.length;) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < g.length && g[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
      if (first) break;
    }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

function dotted(b: Uint8Array): string {
  return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
}

function format(b: Uint8Array, form: number, upper: boolean): string {
  const hex = groups(b).map((w) => w.toString(16));
  let text: string;
  switch (form) {
    case 0: text = isMapped(b) ? dotted(b) : hex.join(':'); break;
    case 1: text = isMapped(b) ? `::ffff:${dotted(b)}` : compress(hex, false); break;
    case 2: text = groups(b).map((w) => w.toString(16).padStart(4, '0')).join(':'); break; // uWS
    case 3: text = hex.join(':'); break;
    case 4: text = compress(hex, true); break;
    case 5: text = compress(hex, false); break;
    case 6: {
      const head = compress(hex.slice(0, 6), false);
      text = head.endsWith('::') ? `${head}${dotted(b)}` : `${head}:${dotted(b)}`;
      break;
    }
    default: text = `${compress(hex, false)}%eth0`;
  }
  return upper ? text.toUpperCase() : text;
}

const MUTATION_CHARS = [':', '.', '%', '0', '1', '9', 'a', 'f', 'g', 'F', '/', ' ', '::'];
/** One text in six gets a character inserted, deleted or replaced. */
const mutation = fc.oneof(
  { weight: 5, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('insert', 'delete', 'replace'), fc.nat(), fc.constantFrom(...MUTATION_CHARS)) },
);

function mutate(text: string, m: readonly [string, number, string] | null): string {
  if (!m) return text;
  const [kind, n, c] = m;
  const at = n % (text.length + 1);
  if (kind === 'insert') return text.slice(0, at) + c + text.slice(at);
  if (kind === 'delete') return text.slice(0, at) + text.slice(at + 1);
  return text.slice(0, at) + c + text.slice(at + 1);
}

const addressText = fc.tuple(addressBytes, fc.integer({ min: 0, max: 7 }), fc.boolean(), mutation)
  .map(([b, form, upper, m]) => mutate(format(b, form, upper), m));

const rule: fc.Arbitrary<IpRule> = fc.tuple(
  addressBytes,
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 128 }).map((bits) => ({ bits, random: null as Uint8Array | null })) },
    // Prefixes that cover the dense universe often.
    {
      weight: 4,
      arbitrary: fc.constantFrom(0, 16, 32, 64, 96, 104, 112, 116, 120, 124).map((bits) => ({ bits, random: null as Uint8Array | null })),
    },
    { weight: 1, arbitrary: anyBytes.map((random) => ({ bits: 0, random: random as Uint8Array | null })) },
  ),
  fc.boolean(),
).map(([address, m, allowed]) => {
  // IPv4 rules keep the 96 mapped bits, as the config reader builds them.
  const bits = isMapped(address) && m.bits < 96 && m.random === null ? 96 + (m.bits % 33) : m.bits;
  return { address, mask: m.random ?? referenceMask(bits), allowed };
});

describe('ip-filter.wasm against the TS reference', () => {
  it('gives the same verdicts and parses on 300,000 random inputs', () => {
    let inputs = 0;
    let ruleMatched = 0;
    let unparsable = 0;
    let mapped4 = 0;
    fc.assert(
      fc.property(
        fc.array(rule, { maxLength: 40 }), fc.boolean(), fc.array(addressText, { minLength: 100, maxLength: 100 }),
        (rules, allowUnlisted, texts) => {
          const set = engine.compile(rules, allowUnlisted);
          for (const text of texts) {
            inputs++;
            const expected = referenceVerdict(rules, allowUnlisted, text);
            const actual = engine.evaluate(set, text);
            if (actual !== expected) {
              throw new Error(`verdict ${actual} (wasm) vs ${expected} (reference) for '${text}'`);
            }
            if (set.verdict(text) !== expected) throw new Error(`cached verdict differs for '${text}'`);
            const ref = referenceParse(text);
            const parsed = engine.parse(text);
            if ((ref === null) !== (parsed === null) || (ref && parsed && (ref.family !== parsed.family ||
              Buffer.compare(Buffer.from(ref.bytes), Buffer.from(parsed.bytes)) !== 0))) {
              throw new Error(`parse of '${text}' differs: ${JSON.stringify(parsed)} vs ${JSON.stringify(ref)}`);
            }
            if (expected === -1) unparsable++;
            else if (expected >> 1 > 0) ruleMatched++;
            if (ref && ref.family === 6 && isMapped(ref.bytes)) mapped4++;
          }
        },
      ),
      { numRuns: 3000 },
    );
    expect(inputs).toBeGreaterThanOrEqual(300_000);
    // The corpus exercises every path: rule matches, allowUnlisted, parse errors, mapped forms.
    expect(ruleMatched).toBeGreaterThan(inputs * 0.15);
    expect(inputs - ruleMatched - unparsable).toBeGreaterThan(inputs * 0.15);
    expect(unparsable).toBeGreaterThan(inputs * 0.03);
    expect(mapped4).toBeGreaterThan(inputs * 0.03);
  });
});

/**
 * `npm run fuzz`: the differential test at scale. Random requests under random rule sets, both
 * encodings, Wasm filter against the TS reference; 10,000,000 requests unless a count is given
 * (`node --import tsx test/filter/fuzz.ts 1000000`). Stops at the first difference and prints
 * it (fast-check shrinks it first). Needs `dist/` and `build/filter.wasm` (npm run build).
 */
import fc from 'fast-check';
import { FilterEngine } from '../../dist/wasm/engine.js';
import { requestArbitrary, rulesArbitrary } from './generators.js';
import { referenceFilter, type Encoding } from './reference.js';

const total = Number(process.argv[2] ?? 10_000_000);
const PER_RULE_SET = 20;
const BATCH = 5_000; // rule sets per fc.assert call, each with its own seed

const engines: Record<Encoding, FilterEngine> = {
  utf8: new FilterEngine({ encoding: 'utf8' }),
  latin1: new FilterEngine({ encoding: 'latin1' }),
};

const started = Date.now();
let done = 0;
const verdicts = new Map<number, number>();
while (done < total) {
  const runs = Math.min(BATCH, Math.ceil((total - done) / PER_RULE_SET));
  const seed = (Math.random() * 2 ** 31) | 0;
  fc.assert(fc.property(
    rulesArbitrary, fc.array(requestArbitrary, { minLength: PER_RULE_SET, maxLength: PER_RULE_SET }), fc.constantFrom<Encoding>('utf8', 'latin1'),
    (rules, requests, encoding) => {
      const engine = engines[encoding];
      const compiled = engine.prepare(rules);
      for (const r of requests) {
        let verdict = engine.canonicalize(r.path);
        let path: string | undefined;
        if (verdict === 0) {
          path = engine.path;
          verdict = engine.check(compiled, r.query, r.method, r.headers, r.contentLength);
        }
        const expected = referenceFilter(rules, r, encoding);
        if (verdict !== expected.verdict || path !== expected.path) {
          throw new Error(`difference (${encoding}): ${JSON.stringify(r)}\n  wasm ${verdict} ${JSON.stringify(path)}\n  reference ${expected.verdict} ${JSON.stringify(expected.path)}`);
        }
        verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
      }
    },
  ), { numRuns: runs, seed });
  done += runs * PER_RULE_SET;
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`\r${done.toLocaleString('en')} requests, 0 differences, ${seconds.toFixed(0)} s   `);
}
console.log(`\nverdicts: ${[...verdicts].sort((a, b) => a[0] - b[0]).map(([v, n]) => `${v}: ${n}`).join(', ')}`);
console.log(`arena reclaims: utf8 ${engines.utf8.epoch}, latin1 ${engines.latin1.epoch}`);

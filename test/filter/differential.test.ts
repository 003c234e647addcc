/**
 * The Wasm request filter against the plain-TS reference (test/filter/reference.ts): a corpus of
 * attacks and ordinary URLs under several rule sets, the Autobahn/Kuhn UTF-8 sequences as
 * escapes, and 100,000+ random requests with random rule sets (fast-check), in both encodings
 * (uWS hands over UTF-8 text, node:http one char per byte). Zero differences allowed: verdict
 * and canonical path.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FilterEngine, type CompiledRules } from '../../dist/wasm/engine.js';
import { DEFAULT_REQUEST_FILTERING, type RequestFilteringRules } from '../../dist/wasm/request-filtering.js';
import { pathArbitrary, requestArbitrary, rulesArbitrary } from './generators.js';
import { referenceCanonicalize, referenceFilter, type Encoding, type ReferenceRequest } from './reference.js';

const engines: Record<Encoding, FilterEngine> = {
  utf8: new FilterEngine({ encoding: 'utf8' }),
  latin1: new FilterEngine({ encoding: 'latin1' }),
};

function wasmFilter(engine: FilterEngine, rules: CompiledRules, r: ReferenceRequest): { verdict: number; path?: string } {
  const canonical = engine.canonicalize(r.path);
  if (canonical !== 0) return { verdict: canonical };
  const path = engine.path;
  return { verdict: engine.check(rules, r.query, r.method, r.headers, r.contentLength), path };
}

function request(path: string, query = '', extra: Partial<ReferenceRequest> = {}): ReferenceRequest {
  return { method: 'GET', path, query, headers: [], contentLength: 0, ...extra };
}

function rules(overrides: Partial<RequestFilteringRules>): RequestFilteringRules {
  return { ...DEFAULT_REQUEST_FILTERING, ...overrides };
}

const STOCK = rules({ hiddenSegments: { applyToWebDAV: true, segments: ['web.config'] } });
const STRICT = rules({
  allowHighBitCharacters: false,
  fileExtensions: {
    allowUnlisted: false, applyToWebDAV: true,
    entries: [{ fileExtension: '.html', allowed: true }, { fileExtension: '.txt', allowed: true }, { fileExtension: '.', allowed: true }, { fileExtension: '.cs', allowed: false }],
  },
  verbs: { allowUnlisted: false, applyToWebDAV: true, entries: [{ verb: 'GET', allowed: true }, { verb: 'HEAD', allowed: true }] },
  hiddenSegments: { applyToWebDAV: true, segments: ['web.config', 'bin', 'App_Data'] },
  denyUrlSequences: ['..', './', ':', '%'],
  alwaysAllowedUrls: ['/allowed:here.txt'],
  denyQueryStringSequences: ['<script', 'select '],
  alwaysAllowedQueryStrings: ['q=<script'],
  requestLimits: {
    maxAllowedContentLength: 100, maxUrl: 64, maxQueryString: 40,
    headerLimits: [{ header: 'User-Agent', sizeLimit: 20 }],
  },
  filteringRules: [
    { name: 'no-bots', scanUrl: false, scanQueryString: false, scanAllRaw: false, denyUnescapedPercent: false, scanHeaders: ['user-agent'], appliesTo: [], denyStrings: ['bot'] },
    { name: 'sql', scanUrl: true, scanQueryString: true, scanAllRaw: false, denyUnescapedPercent: true, scanHeaders: [], appliesTo: ['.html'], denyStrings: ['union'] },
    { name: 'raw', scanUrl: false, scanQueryString: false, scanAllRaw: true, denyUnescapedPercent: false, scanHeaders: [], appliesTo: [], denyStrings: ['x-evil'] },
  ],
});
const PERMISSIVE = rules({ allowDoubleEscaping: true, unescapeQueryString: false });

/** Attacks and ordinary URLs (traversal, encoded dots, overlong UTF-8, NUL, double escapes, …). */
const CORPUS: ReferenceRequest[] = [
  request('/'), request('/index.html'), request('/a/b/c.txt'), request('/dir/'), request('/a//b'), request('/api/v1/users/42', 'x=1&y=2'),
  request('/../secret.txt'), request('/%2e%2e/secret.txt'), request('/%2E%2E/secret.txt'), request('/.%2e/secret.txt'),
  request('/%2e%2e%2fsecret.txt'), request('/..%2fsecret.txt'), request('/a/../../secret.txt'), request('/./../secret.txt'),
  request('/sub/..%2f..%2fsecret.txt'), request('/..'), request('/a/..'), request('/a/.'), request('/a/./'), request('//../x'), request('/.'),
  request('/%252e%252e/secret.txt'), request('/%2541'), request('/%25'), request('/%25zz'), request('/%2525'), request('/a%25%34%31'),
  request('/..%5csecret.txt'), request('/%5c..%5csecret.txt'), request('/..\\secret.txt'), request('/sub\\..\\..\\secret.txt'),
  request('/%00'), request('/%00secret.txt'), request('/real.txt%00.html'), request('/../secret.txt%00.txt'), request('/a\u0000b'),
  request('/%c0%ae%c0%ae/secret.txt'), request('/%e0%80%ae%e0%80%ae/secret.txt'), request('/%2'), request('/%zz/secret.txt'),
  request('/%c3%a9t%c3%a9.txt'), request('/été.txt'), request('/caf\u00c3\u00a9'), request('/caf\u00e9'), request('/%ed%a0%80'), request('/%f4%90%80%80'),
  request('/%f0%9f%98%80.txt'), request('/😀'), request('/%ff'), request('/%80'),
  request('/web.config'), request('/Web.Config'), request('/sub/../web.config'), request('/%77eb.config'), request('/sub/WEB.CONFIG'),
  request('/web.config.'), request('/web.config::$DATA'), request('/web.config%20'), request('/bin/x.dll'), request('/BIN'), request('/binx/a'),
  request('/app_data/db.mdf'), request('/file.cs'), request('/FILE.CS'), request('/file.cs.'), request('/file.txt'), request('/noext'), request('/.htaccess'),
  request('/a:b.txt'), request('/allowed:here.txt'), request('/ALLOWED:HERE.TXT'), request('/a..b.html'), request('/a/./b'),
  request('/index.html', 'q=<script>'), request('/index.html', 'q=%3Cscript%3E'), request('/index.html', 'q=%3cSCRIPT'), request('/index.html', 'q=<script'),
  request('/index.html', 'q=select%20*'), request('/index.html', 'q=select+*'), request('/index.html', '100%'), request('/index.html', 'a=%zz'),
  request('/index.html', 'union=1'), request('/union.html'), request('/x.txt', 'union=1'), request('/index.html', 'é=1'), request('/index.html', '%c3%a9'),
  request('/' + 'a'.repeat(70)), request('/x', 'q=' + 'b'.repeat(50)), request('/' + 'a/'.repeat(40) + 'x.txt'),
  request('/x.txt', '', { method: 'POST' }), request('/x.txt', '', { method: 'get' }), request('/x.txt', '', { method: 'HEAD' }), request('/x.txt', '', { method: 'PROPFIND' }),
  request('/x.txt', '', { headers: ['user-agent', 'Mozilla/5.0'] }), request('/x.txt', '', { headers: ['user-agent', 'Googlebot/2.1'] }),
  request('/x.txt', '', { headers: ['user-agent', 'a'.repeat(21)] }), request('/x.txt', '', { headers: ['user-agent', 'a'.repeat(20)] }),
  request('/x.txt', '', { headers: ['x-evil', '1'] }), request('/x.txt', '', { headers: ['referer', 'x-evil'] }),
  request('/x.txt', '', { contentLength: 100 }), request('/x.txt', '', { contentLength: 101 }), request('/x.txt', '', { method: 'POST', contentLength: 30000001 }),
  request(''), request('a/b'), request('*'), request('/' + 'é'.repeat(40)),
];

describe('request filter: Wasm against the TS reference', () => {
  for (const encoding of ['utf8', 'latin1'] as const) {
    it.each([['stock', STOCK], ['strict', STRICT], ['permissive', PERMISSIVE]] as const)(
      `gives the reference's verdict and path for every corpus request (${encoding}, %s rules)`, (_name, set) => {
        const engine = engines[encoding];
        const compiled = engine.prepare(set);
        for (const r of CORPUS) {
          expect(wasmFilter(engine, compiled, r), JSON.stringify(r)).toEqual(referenceFilter(set, r, encoding));
        }
      });
  }

  it('pins down the verdicts the listener tests rely on', () => {
    const engine = engines.utf8;
    const stock = engine.prepare(STOCK);
    const verdict = (path: string) => wasmFilter(engine, stock, request(path)).verdict;
    expect(verdict('/../secret.txt')).toBe(400000);
    expect(verdict('/%252e%252e/secret.txt')).toBe(404011);
    expect(verdict('/%c0%ae%c0%ae/secret.txt')).toBe(400000);
    expect(verdict('/%00')).toBe(400000);
    expect(verdict('/..%5csecret.txt')).toBe(400000);
    expect(verdict('/sub/WEB.CONFIG')).toBe(404008);
    expect(verdict('/%77eb.config')).toBe(404008);
    expect(verdict('/web.config::$DATA')).toBe(404008);
    expect(verdict('/a/b/c.txt')).toBe(0);
    expect(wasmFilter(engine, stock, request('/a/%2e%2e/b%20c.txt')).path).toBe('/b c.txt');
  });

  it('judges every Autobahn/Kuhn UTF-8 test sequence, as an escape, as decodeURIComponent does', () => {
    const corpus = JSON.parse(readFileSync('/work/shared/corpora/autobahn-websocket-cases.json', 'utf8')) as {
      utf8_sequences: { hex: string; valid: boolean }[];
    };
    expect(corpus.utf8_sequences.length).toBeGreaterThan(100);
    for (const encoding of ['utf8', 'latin1'] as const) {
      const engine = engines[encoding];
      const stock = engine.prepare(STOCK);
      for (const seq of corpus.utf8_sequences) {
        const escaped = '/' + (seq.hex.match(/../g) ?? []).map((h) => `%${h}`).join('');
        const raw = '/' + Buffer.from(seq.hex, 'hex').toString('latin1');
        for (const path of [escaped, encoding === 'latin1' ? raw : escaped]) {
          const ours = wasmFilter(engine, stock, request(path));
          expect(ours, `${encoding} ${path}`).toEqual(referenceFilter(STOCK, request(path), encoding));
        }
      }
    }
  });

  it('canonicalises 100,000 random paths like the reference (both encodings)', () => {
    fc.assert(fc.property(pathArbitrary, fc.constantFrom<Encoding>('utf8', 'latin1'), (path, encoding) => {
      const engine = engines[encoding];
      const expected = referenceCanonicalize(path, encoding);
      const verdict = engine.canonicalize(path);
      expect(verdict).toBe(expected.verdict);
      if (verdict === 0) {
        expect(engine.path).toBe(expected.path);
        expect(engine.segments).toBe(expected.segments);
        expect(engine.doubleEscaped).toBe(expected.doubleEscaped);
      }
    }), { numRuns: 100_000 });
  });

  it('checks 100,000 random requests under random rule sets like the reference (both encodings)', () => {
    let inputs = 0;
    const seen = new Map<number, number>();
    fc.assert(fc.property(
      rulesArbitrary, fc.array(requestArbitrary, { minLength: 10, maxLength: 10 }), fc.constantFrom<Encoding>('utf8', 'latin1'),
      (set, requests, encoding) => {
        const engine = engines[encoding];
        const compiled = engine.prepare(set);
        for (const r of requests) {
          inputs++;
          const ours = wasmFilter(engine, compiled, r);
          expect(ours).toEqual(referenceFilter(set, r, encoding));
          seen.set(ours.verdict, (seen.get(ours.verdict) ?? 0) + 1);
        }
      },
    ), { numRuns: 10_000 });
    expect(inputs).toBeGreaterThanOrEqual(100_000);
    // The generators reach every verdict often, so a difference in any rule would show.
    for (const verdict of [0, 400000, 404005, 404006, 404007, 404008, 404011, 404012, 404014, 404015, 404018, 404019, 413001, 431000]) {
      expect(seen.get(verdict) ?? 0, `verdict ${verdict}`).toBeGreaterThan(100);
    }
  });
});

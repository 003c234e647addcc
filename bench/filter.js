// `npm run bench:filter`: the request filter alone, in ns per request — the Wasm filter (string
// copy into linear memory included, canonical path read back) against the plain-TS reference
// of test/filter/reference.ts — on a mixed URL corpus, under two rule sets. CPU only, one
// process; variants are timed round-robin and the ratio is the median of paired per-round
// ratios, which is what stays stable on a shared machine (shared/anchors/wasm-filter-prototype.md).
//
//   npm run build && npm run bench:filter            (node --import tsx bench/filter.js [--rounds N])
import { FilterEngine } from '../dist/wasm/engine.js';
import { DEFAULT_REQUEST_FILTERING } from '../dist/wasm/request-filtering.js';
import { referenceFilter } from '../test/filter/reference.ts';

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1]) || 60;
const TARGET = 0.6;

// --- Corpus: ~55 % short, ~15 % API with queries, ~15 % long with escapes, ~10 % attacks, ~5 % near misses.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = (list) => list[Math.floor(rand() * list.length)];
const word = () => pick(['users', 'orders', 'assets', 'img', 'docs', 'api', 'v1', 'v2', 'search', 'blog', 'news', 'static', 'js', 'css']);
const SHORT = ['/', '/index.html', '/favicon.ico', '/about', '/css/site.css', '/js/app.js', '/img/logo.png', '/api/health', '/login', '/robots.txt'];
const ATTACKS = [
  '/../../etc/passwd', '/a/%2e%2e/%2e%2e/web.config', '/%252e%252e/secret', '/bin/app.dll', '/App_Data/db.mdf', '/Web.Config.',
  '/x.aspx::$DATA', '/scripts/..%5c..%5cwinnt/system32/cmd.exe', '/search?q=<script>alert(1)</script>', '/%c0%ae%c0%ae/x',
  '/a.cs', '/x?id=1%20union%20select%20password', '/index.php?page=../../../../etc/passwd%00',
];
const NEAR = ['/binary/file.txt', '/web.configuration/x', '/a..b/c.html', '/docs/csharp.cshtml', '/search?q=scripting'];
function target() {
  const r = rand();
  if (r < 0.55) return pick(SHORT) + (rand() < 0.2 ? `?x=${Math.floor(rand() * 100)}` : '');
  if (r < 0.70) return `/api/${word()}/${Math.floor(rand() * 10000)}/${word()}?limit=${Math.floor(rand() * 100)}&sort=${word()}&q=${word()}`;
  if (r < 0.85) {
    let s = '';
    while (s.length < 260) s += `/${word()}%20${word()}-${Math.floor(rand() * 1e6)}`;
    return `${s}.html?ref=${word()}%2F${word()}&utm_source=${word()}`;
  }
  if (r < 0.95) return pick(ATTACKS);
  return pick(NEAR);
}
const HEADERS = ['host', 'example.com', 'user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 'accept', '*/*', 'accept-encoding', 'gzip, br'];
function request(t) {
  const q = t.indexOf('?');
  // Flat strings, as uWS hands them over (a rope would slow the char loop down).
  const flat = (s) => Buffer.from(s, 'latin1').toString('latin1');
  return { method: 'GET', path: flat(q < 0 ? t : t.slice(0, q)), query: flat(q < 0 ? '' : t.slice(q + 1)), headers: HEADERS, contentLength: 0 };
}
const mix = Array.from({ length: 1000 }, () => request(target()));
const CORPORA = {
  mix,
  short: mix.filter((r) => r.path.length + r.query.length <= 40),
  long: mix.filter((r) => r.path.length + r.query.length > 120),
};

// --- Rule sets: stock (web.config hidden), and an ASP.NET-style server (iis-reference.md §3.6).
const STOCK = { ...DEFAULT_REQUEST_FILTERING, hiddenSegments: { applyToWebDAV: true, segments: ['web.config'] } };
const ASPNET_EXTENSIONS = '.asax .ascx .master .skin .browser .sitemap .config .cs .csproj .vb .vbproj .webinfo .licx .resx .resources .mdb .vjsproj .java .jsl .ldb .dsdgm .ssdgm .lsad .ssmap .cd .dsprototype .lsaprototype .sdm .sdmDocument .mdf .ldf .ad .dd .ldd .sd .adprototype .lddprototype .exclude .refresh .compiled .msgx .vsdisco .rules'.split(' ');
const ASPNET = {
  ...DEFAULT_REQUEST_FILTERING,
  fileExtensions: { allowUnlisted: true, applyToWebDAV: true, entries: ASPNET_EXTENSIONS.map((fileExtension) => ({ fileExtension, allowed: false })) },
  hiddenSegments: { applyToWebDAV: true, segments: ['web.config', 'bin', 'App_code', 'App_GlobalResources', 'App_LocalResources', 'App_WebReferences', 'App_Data', 'App_Browsers'] },
  denyUrlSequences: ['..', './', '\\', ':'],
  denyQueryStringSequences: ['<script', 'union select'],
  filteringRules: [{ name: 'sql', scanUrl: false, scanQueryString: true, scanAllRaw: false, denyUnescapedPercent: false, scanHeaders: [], appliesTo: [], denyStrings: ['xp_cmdshell', 'drop table'] }],
};
const RULE_SETS = { stock: STOCK, aspnet: ASPNET };

// --- Variants
const engine = new FilterEngine({ encoding: 'utf8' });
let sink = 0;
function wasmPass(compiled, corpus) {
  for (let i = 0; i < corpus.length; i++) {
    const r = corpus[i];
    let v = engine.canonicalize(r.path);
    if (v === 0) {
      sink += engine.path.length; // the listener needs the canonical path as a string
      v = engine.check(compiled, r.query, r.method, r.headers, r.contentLength);
    }
    sink += v;
  }
}
function referencePass(rules, corpus) {
  for (let i = 0; i < corpus.length; i++) {
    const out = referenceFilter(rules, corpus[i], 'utf8');
    sink += out.verdict + (out.path?.length ?? 0);
  }
}

function timePass(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const rows = [];
for (const [setName, rules] of Object.entries(RULE_SETS)) {
  const compiled = engine.prepare(rules);
  for (const [corpusName, corpus] of Object.entries(CORPORA)) {
    // Warm up both (Liftoff → TurboFan for Wasm, tier-up for JS).
    for (let i = 0; i < 30; i++) {
      wasmPass(compiled, corpus);
      referencePass(rules, corpus);
    }
    const wasm = [];
    const ref = [];
    const ratios = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so neither variant always runs second.
      const a = round % 2 === 0 ? timePass(() => wasmPass(compiled, corpus)) : undefined;
      const b = timePass(() => referencePass(rules, corpus));
      const w = a ?? timePass(() => wasmPass(compiled, corpus));
      wasm.push(w / corpus.length);
      ref.push(b / corpus.length);
      ratios.push(w / b);
    }
    rows.push({ setName, corpusName, n: corpus.length, wasm: median(wasm), ref: median(ref), ratio: median(ratios) });
  }
}

console.log(`request filter, ns per request (median of ${ROUNDS} interleaved rounds; Node ${process.version})\n`);
console.log('| rules | corpus | requests | Wasm + copy ns | TS reference ns | Wasm / TS |');
console.log('|---|---|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.setName} | ${r.corpusName} | ${r.n} | ${r.wasm.toFixed(0)} | ${r.ref.toFixed(0)} | ${r.ratio.toFixed(2)} |`);
}
const mixed = rows.filter((r) => r.corpusName === 'mix');
const worst = Math.max(...mixed.map((r) => r.ratio));
console.log(`\nmixed corpus: Wasm at ${worst.toFixed(2)}x the TS reference at worst (target ≤ ${TARGET}x): ${worst <= TARGET ? 'met' : 'NOT met'}`);
if (sink === 0.5) console.log(sink);

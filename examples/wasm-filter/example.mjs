// The w3core request filter from any host, with nothing but the .wasm file:
// `WebAssembly.instantiate(bytes, {})`, a rule source written by hand, bytes in, verdicts out.
// Layout and formats: native-notes.md ("Request filtering in WebAssembly").
//
//   npm run build:wasm && node examples/wasm-filter/example.mjs [path/to/filter.wasm]
import { readFile } from 'node:fs/promises';

const file = process.argv[2] ?? new URL('../../build/filter.wasm', import.meta.url);
const { instance } = await WebAssembly.instantiate(await readFile(file), {});
const x = instance.exports;
if (x.abiVersion() !== 1) throw new Error(`unexpected ABI ${x.abiVersion()}`);

const mem = new Uint8Array(x.memory.buffer); // the memory never grows: one view is enough
const IN = x.inputPtr();
const utf8 = new TextEncoder();

// --- Rule source: "WRF1", then records { op u8, pad u8×3, a u32, b u32, len u32, bytes } ---
const OP = {
  ALLOW_HIGH_BIT_CHARACTERS: 2, MAX_URL: 5, MAX_QUERY_STRING: 6, FILE_EXTENSION: 8, VERB: 10, VERBS_ALLOW_UNLISTED: 9,
  HIDDEN_SEGMENT: 11, DENY_URL_SEQUENCE: 12, DENY_QUERY_STRING_SEQUENCE: 14, HEADER_LIMIT: 16,
  RULE: 17, RULE_SCAN_HEADER: 18, RULE_DENY_STRING: 20,
};
const RULE_SCAN_URL = 1, RULE_SCAN_QUERY_STRING = 2;

function ruleSource(records) {
  const parts = [Uint8Array.of(0x57, 0x52, 0x46, 0x31)]; // "WRF1"
  for (const [op, a = 0, b = 0, text = ''] of records) {
    const bytes = utf8.encode(text);
    const head = new DataView(new ArrayBuffer(16));
    head.setUint8(0, op);
    head.setUint32(4, a, true);
    head.setUint32(8, b, true);
    head.setUint32(12, bytes.length, true);
    parts.push(new Uint8Array(head.buffer), bytes);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const source = ruleSource([
  [OP.MAX_URL, 200],
  [OP.MAX_QUERY_STRING, 100],
  [OP.ALLOW_HIGH_BIT_CHARACTERS, 0],
  [OP.VERBS_ALLOW_UNLISTED, 0], [OP.VERB, 1, 0, 'GET'], [OP.VERB, 1, 0, 'HEAD'],
  [OP.FILE_EXTENSION, 0, 0, '.config'],
  [OP.HIDDEN_SEGMENT, 0, 0, 'bin'],
  [OP.DENY_URL_SEQUENCE, 0, 0, '~'],
  [OP.DENY_QUERY_STRING_SEQUENCE, 0, 0, '<script'],
  [OP.HEADER_LIMIT, 0, 64, 'user-agent'],             // slot 0 = user-agent
  [OP.RULE, RULE_SCAN_URL | RULE_SCAN_QUERY_STRING],  // a filtering rule…
  [OP.RULE_SCAN_HEADER, 0],                            // …that also scans slot 0
  [OP.RULE_DENY_STRING, 0, 0, 'union select'],
]);
mem.set(source, IN);
const table = x.compile(source.length);
if (table <= 0) throw new Error(`compile failed: ${table}`);
console.log(`rule table at ${table}, arena ${x.arenaUsed()} of ${x.arenaCap()} bytes`);

// --- One request: path, then query, then method, back to back in the input area ---
function filter(method, target, headers = {}) {
  const q = target.indexOf('?');
  const path = utf8.encode(q < 0 ? target : target.slice(0, q));
  const query = utf8.encode(q < 0 ? '' : target.slice(q + 1));
  const verb = utf8.encode(method);
  mem.set(path, IN);
  const c = x.canonicalize(path.length);
  if (c < 0) return { verdict: -c };
  const canonical = new TextDecoder().decode(mem.subarray(x.canonicalPtr(), x.canonicalPtr() + x.canonicalLength()));
  mem.set(query, IN + path.length);
  mem.set(verb, IN + path.length + query.length);
  // Header entries { slot, offset from IN, length } for the headers the rules name.
  const entries = new Int32Array(x.memory.buffer, x.headersPtr(), x.headersMax() * 3);
  let at = path.length + query.length + verb.length;
  let count = 0;
  const ua = headers['user-agent'];
  if (ua !== undefined) {
    const value = utf8.encode(ua);
    mem.set(value, IN + at);
    entries.set([0, at, value.length], count * 3);
    count++;
    at += value.length;
  }
  const verdict = x.check(table, path.length, query.length, verb.length, count, 0);
  return { verdict, canonical };
}

const show = (v) => (v === 0 ? 'allowed' : `${Math.floor(v / 1000)}.${v % 1000}`);
for (const [method, target, headers] of [
  ['GET', '/index.html'],
  ['GET', '/a/./b/%2e%2e/c%20d.txt'],
  ['GET', '/../etc/passwd'],
  ['GET', '/%252e%252e/web.config'],
  ['GET', '/BIN/app.dll'],
  ['GET', '/site/web.config'],
  ['GET', '/~admin/'],
  ['POST', '/form'],
  ['GET', '/search?q=<script>alert(1)</script>'],
  ['GET', '/search?q=union%20select%20*'],
  ['GET', '/caf%C3%A9'],
  ['GET', '/', { 'user-agent': 'x'.repeat(65) }],
  ['GET', '/', { 'user-agent': 'curl UNION SELECT' }],
]) {
  const { verdict, canonical } = filter(method, target, headers);
  console.log(`${method.padEnd(4)} ${target.padEnd(40)} ${show(verdict).padEnd(8)} ${canonical ?? ''}`);
}

/**
 * fast-check arbitraries for the request filter's differential tests: paths, queries, methods
 * and headers built from tokens that matter to a URL filter (escapes of dots, slashes and
 * percents, overlong and invalid UTF-8, NUL, backslashes, high-bit text, hidden names), and
 * rule sets drawn from the same vocabulary so that rules and requests meet often.
 */
import fc from 'fast-check';
import type { FilteringRule, RequestFilteringRules } from '../../dist/wasm/request-filtering.js';
import type { ReferenceRequest } from './reference.js';

/** Tokens of ordinary paths (most of what is generated) and of attacks (some of it). */
const PATH_TOKENS = ['/', '/', '/', '/', 'a', 'b', 'A', 'Z', 'x.txt', 'index.html', 'file.cs', 'web.config', 'bin', '.', '..', '%41', '%20', '%2e', '%c3%a9', 'é', '-', '_', ':'];
const ATTACK_TOKENS = [
  'Web.Config', 'App_Data', '...', '.config', '::$DATA', ' ', '~', '+', '=', ';', ',', '@', '!',
  '%', '%2', '%2E', '%2f', '%2F', '%25', '%252e', '%2541', '%5c', '%5C', '%00', '%7e', '%zz',
  '%c0%ae', '%c0', '%ae', '%C3%A9', '%c3', '%e2%82%ac', '%e2%82', '%f0%9f%98%80', '%ed%a0%80', '%f4%90%80%80', '%ff', '%80',
  '\\', '\u0000', '€', '😀', '\u00ff', '\u0080', '<', '>', '"', "'",
];
const QUERY_TOKENS = [
  'a', 'b', '=', '&', '1', 'Q', '<script', '<SCRIPT', '%3c', '%3Cscript', '%', '%2', '%25', '%zz', '%41', 'select',
  'SELECT', '+', ' ', 'é', '%c3%a9', '%ff', '..', '/', '?', 'x=1', 'id=42', '€',
];
const VALUE_TOKENS = ['a', 'b', 'Mozilla', 'evil', 'EVIL', 'bot', '%', '%41', '%zz', ' ', ';', '=', 'é', '€', '<script', '0', '9'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PROPFIND', 'get', 'Get', 'TRACE', 'X-CUSTOM', 'ÉTÉ'];
const HEADER_NAMES = ['user-agent', 'referer', 'cookie', 'x-a', 'x-b', 'accept', 'host'];

function tokens(list: readonly string[], max: number): fc.Arbitrary<string> {
  return fc.array(fc.constantFrom(...list), { maxLength: max }).map((t) => t.join(''));
}

const pathToken = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...PATH_TOKENS) }, { weight: 1, arbitrary: fc.constantFrom(...ATTACK_TOKENS) });

/** Mostly absolute paths; sometimes not (the filter must refuse them). */
export const pathArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 16, arbitrary: fc.array(pathToken, { maxLength: 12 }).map((t) => '/' + t.join('')) },
  { weight: 1, arbitrary: tokens(PATH_TOKENS, 6) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => '/' + s) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((s) => '/' + s) },
);

export const queryArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 6, arbitrary: tokens(QUERY_TOKENS, 10) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
);

export const headersArbitrary: fc.Arbitrary<string[]> = fc
  .array(fc.tuple(fc.constantFrom(...HEADER_NAMES), tokens(VALUE_TOKENS, 8)), { maxLength: 5 })
  .map((pairs) => pairs.flat());

export const requestArbitrary: fc.Arbitrary<ReferenceRequest> = fc.record({
  method: fc.constantFrom(...METHODS),
  path: pathArbitrary,
  query: queryArbitrary,
  headers: headersArbitrary,
  contentLength: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200 }), fc.constant(30000001)),
});

const SEQUENCES = ['..', './', '%', ':', 'a', 'bin', '%2e', '\\', '//', 'é', 'A.T', '~'];
const QUERY_SEQUENCES = ['<script', 'select', '%', '..', '=1', 'é', 'A&', '%3c'];
const EXTENSIONS = ['.cs', '.config', '.', '.txt', '.TXT', '.a', '.data', '.é'];
const SEGMENTS = ['bin', 'web.config', 'a', 'B', 'App_Data', 'x.txt', 'é'];
const VERBS = ['GET', 'POST', 'HEAD', 'PUT', 'get', 'PROPFIND', 'ÉTÉ'];
const DENY_STRINGS = ['<script', 'evil', 'bot', 'a', '%', 'select', '..', 'é', 'x.t'];
const ALWAYS_URLS = ['/a', '/A', '/bin', '/a/b', '/x.txt', '/'];
const ALWAYS_QUERIES = ['a=1', 'select', '<script', 'x=1', 'a'];

/** Usually the schema default, sometimes the other value. */
function mostly(value: boolean): fc.Arbitrary<boolean> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(value) }, { weight: 1, arbitrary: fc.constant(!value) });
}

function subset(list: readonly string[], max = 3): fc.Arbitrary<string[]> {
  return fc.uniqueArray(fc.constantFrom(...list), { maxLength: max });
}

const ruleArbitrary: fc.Arbitrary<FilteringRule> = fc.record({
  name: fc.constantFrom('r1', 'r2', 'r3', 'r4'),
  scanUrl: fc.boolean(),
  scanQueryString: fc.boolean(),
  scanAllRaw: fc.boolean(),
  denyUnescapedPercent: fc.boolean(),
  scanHeaders: subset(HEADER_NAMES, 2),
  appliesTo: subset(EXTENSIONS, 2),
  denyStrings: subset(DENY_STRINGS, 3),
});

/** A rule set; each field is either its schema default or something that often bites. */
export const rulesArbitrary: fc.Arbitrary<RequestFilteringRules> = fc.record({
  allowDoubleEscaping: mostly(false),
  allowHighBitCharacters: mostly(true),
  unescapeQueryString: mostly(true),
  removeServerHeader: fc.constant(false),
  fileExtensions: fc.record({
    allowUnlisted: mostly(true),
    applyToWebDAV: fc.constant(true),
    entries: fc.uniqueArray(fc.record({ fileExtension: fc.constantFrom(...EXTENSIONS), allowed: mostly(true) }), {
      maxLength: 3, selector: (e) => e.fileExtension.toLowerCase(),
    }),
  }),
  verbs: fc.record({
    allowUnlisted: mostly(true),
    applyToWebDAV: fc.constant(true),
    entries: fc.uniqueArray(fc.record({ verb: fc.constantFrom(...VERBS), allowed: mostly(true) }), { maxLength: 3, selector: (e) => e.verb }),
  }),
  hiddenSegments: fc.record({ applyToWebDAV: fc.constant(true), segments: subset(SEGMENTS) }),
  denyUrlSequences: subset(SEQUENCES),
  alwaysAllowedUrls: subset(ALWAYS_URLS, 2),
  denyQueryStringSequences: subset(QUERY_SEQUENCES),
  alwaysAllowedQueryStrings: subset(ALWAYS_QUERIES, 2),
  requestLimits: fc.record({
    maxAllowedContentLength: fc.oneof({ weight: 3, arbitrary: fc.constant(30000000) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 100 }) }),
    maxUrl: fc.oneof({ weight: 3, arbitrary: fc.constant(4096) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) }),
    maxQueryString: fc.oneof({ weight: 3, arbitrary: fc.constant(2048) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 }) }),
    headerLimits: fc.uniqueArray(fc.record({ header: fc.constantFrom(...HEADER_NAMES, 'User-Agent', 'X-A'), sizeLimit: fc.integer({ min: 0, max: 20 }) }), {
      maxLength: 2, selector: (h) => h.header.toLowerCase(),
    }),
  }),
  filteringRules: fc.uniqueArray(ruleArbitrary, { maxLength: 3, selector: (r) => r.name }),
});

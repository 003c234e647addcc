/**
 * Hostile and malformed HTTP/1.x requests from two parsers' own test tables, replayed over raw
 * TCP against the real server and judged as a strict origin server should answer them (issue 3).
 *
 * Corpora (`shared/corpora/README.md`): llhttp's request vectors (`llhttp-request-vectors.jsonl`,
 * each with the verdict a strict server should give in `server_expectation`) and Apache
 * httpd-tests' strictness tables (`httpd-tests-vectors.json`: `http_strict`, `chunkinput`,
 * `contentlength`, `teclchunk`, `byterange`, each with what Apache 2.4 in strict mode answers).
 * Apache strict answers all of them as expected: that is the target. Lenient-mode llhttp
 * vectors are replayed for the report only.
 *
 * How a vector is replayed: one fresh connection; the bytes as given (llhttp vectors with the
 * `Host: localhost` line the corpus inserts, as the reference run did); read until the server
 * closes, or goes quiet (SETTLE_MS after the responses the vector expects, ANSWER_MS otherwise);
 * then half-close and wait HALF_CLOSE_MS for the close. The reference run half-closed at once,
 * but uWebSockets.js closes a connection as soon as the client half-closes, dropping any
 * response still being produced (every pipeline response is asynchronous), so the half-close
 * comes only after the server had its chance to answer.
 *
 * How it is judged (`judge*` below), per the corpus README and each record:
 * - llhttp: `server_expectation` (should_accept: exactly N responses, none 400 nor 5xx other
 *   than 501; must_reject: no 2xx/3xx, then one of 400/413/414/431/501/505 or a plain close,
 *   and nothing after it; must_wait: the complete messages answered, nothing for the unfinished
 *   one until the half-close, then 400 or a close; …), or else the answer Apache strict gave in
 *   `reference-verdicts.json` (same number of responses, each of the same kind), since Apache is
 *   right on all of them and sometimes stricter than llhttp (400 for `Host: 0.0.0.0=5000`) or
 *   more tolerant (it unfolds obs-fold);
 * - httpd-tests: `expect` (1 = 200-399, 0 = >= 400, null = dropped without a response, else
 *   that status; any 4xx where Apache gives 400/413 in chunkinput/contentlength); the CGI cases
 *   through a module that sets the header line (500 for an invalid one); byte ranges by status,
 *   Content-Range, part order and bytes.
 *
 * A verdict must come while the client still holds the connection open: a server that neither
 * answers nor closes a complete but invalid request has given none, even though it closes once
 * the client gives up. Only where the bytes never finish a message head (and llhttp's
 * `must_wait`) is the half-close part of the input, as in the httpd recipe "half-close, read
 * to EOF". The report also gives each verdict with the half-close always counted as input (the
 * reference run's method).
 *
 * Every vector w3core does not answer as Apache strict does is listed in KNOWN_EXCEPTIONS with
 * the reason. The suite fails when a vector outside the table is misjudged, and when a listed
 * one starts passing (remove it then). `CORPORA_REPORT=<file>` writes every vector's answer,
 * verdict and the reference servers' answers as JSON (native-notes.md, "Conformance corpora").
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerOf, mapLimit, rawExchange, type RawExchange, type RawResponse } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Quiet time that ends the wait once the expected responses are in. */
const SETTLE_MS = 150;
/** Quiet time that ends the wait while responses are still missing (the server may be slow). */
const ANSWER_MS = 1500;
/** How long the server has to close after the client half-closes. */
const HALF_CLOSE_MS = 1000;
/** Connections in flight at once (the machine has 2 cores shared with other work). */
const PARALLEL = 16;

const CORPORA_DIR = [
  process.env.CORPORA_DIR,
  fileURLToPath(new URL('../fixtures/corpora', import.meta.url)),
  '/work/shared/corpora',
].find((d): d is string => d !== undefined && existsSync(join(d, 'llhttp-request-vectors.jsonl')));

const ENTITY_ECHO = fileURLToPath(new URL('../fixtures/modules/entity-echo.ts', import.meta.url));
const CGI_HEADER = fileURLToPath(new URL('../fixtures/modules/cgi-header.ts', import.meta.url));

/** `byteranges.txt` of httpd-tests' byterange5/7.t: `"%04d" % n` for n in 1..10000 (40000 bytes). */
const BYTERANGES = Buffer.from(Array.from({ length: 10000 }, (_, i) => String(i + 1).padStart(4, '0')).join(''), 'latin1');

// Why uWebSockets.js v20.30 (the listener's parser; not ours to change) misjudges a vector.
const UWS_WAITS = 'uWS: no 400; treats the bytes as an unfinished request and waits (the connection stays open until its 4 KiB header buffer fills or its ~10 s idle timeout)';
const uwsWaits = (what: string) => `${UWS_WAITS}: ${what}`;
const UWS_HTTP_1_1_ONLY = 'uWS: parses only request lines ending in " HTTP/1.1", so an HTTP/1.0 request (or 0.9, 1.2, 2.0, RTSP, ICE…) is never delivered and never answered (the connection stays open until its 4 KiB header buffer fills or its ~10 s idle timeout)';
const UWS_TARGET_FORM = 'uWS: parses only origin-form targets ("/…"); absolute-form (http://host/…, RFC 9112 §3.2.2 says a server MUST accept it), authority-form (CONNECT host:port) and asterisk-form (*) requests are never delivered and never answered';
const UWS_METHOD = 'uWS: routes only GET, POST, PUT, DELETE, PATCH, OPTIONS, HEAD, CONNECT and TRACE; any other method (REPORT, PURGE, SEARCH, QUERY, WebDAV…) is closed without a response (no 405/501), before w3core sees it';
const UWS_LEADING_CRLF = 'uWS: does not skip the empty line (CRLF) before a request line (RFC 9112 §2.2 SHOULD), so the request is never delivered';
const uwsChunked = (what: string) => `uWS: its chunked decoder accepts ${what}, and the request is processed (a strict server answers 400)`;

/**
 * Vectors w3core does not answer as Apache strict does, with the reason. Keep it true: the
 * suite fails for a listed vector that passes. "w3core bug" entries are ours to fix
 * (native-notes.md, "Conformance corpora"), "w3core choice" ones a decision to revisit; the
 * others come from uWebSockets.js's parser: w3core never sees the request, or sees it
 * already parsed leniently.
 */
const KNOWN_EXCEPTIONS: Readonly<Record<string, string>> = {
  // llhttp, strict mode
  'connection.md:37': 'uWS with asynchronous responses: a pipelined request arriving while a response is pending makes uWS close the connection (uNetworking/uWebSockets.js#277); every w3core pool response is asynchronous (native-notes, test/listener/pipelining.test.ts)',
  'connection.md:84': UWS_HTTP_1_1_ONLY,
  'connection.md:211': uwsWaits('bare CR inside a field value'),
  'connection.md:614': uwsWaits('whitespace between field name and colon'),
  'content-length.md:162': uwsWaits('whitespace between field name and colon'),
  'content-length.md:264': UWS_HTTP_1_1_ONLY,
  'content-length.md:424': uwsWaits('bare CR inside a field name'),
  'invalid.md:7': UWS_HTTP_1_1_ONLY,
  'invalid.md:28': UWS_HTTP_1_1_ONLY,
  'invalid.md:48': UWS_HTTP_1_1_ONLY,
  'invalid.md:69': UWS_HTTP_1_1_ONLY,
  'invalid.md:90': uwsWaits('bare CR inside a field value'),
  'invalid.md:116': uwsWaits('bare LF ending a field line'),
  'invalid.md:219': uwsWaits('bare CR inside a field value'),
  'invalid.md:257': uwsWaits('bare LF ending a field line'),
  'invalid.md:290': uwsWaits('"@" in a field name'),
  'invalid.md:313': uwsWaits('control character in a field name'),
  'invalid.md:336': 'uWS: accepts a field line with an empty name and ends the header list there (every later field is invisible, to w3core too), so the request is processed (200)',
  'invalid.md:375': uwsWaits('field line without a colon, then obs-fold'),
  'invalid.md:399': uwsWaits('bare CR inside a field name'),
  'invalid.md:428': uwsWaits('bare CR inside a field name'),
  'invalid.md:458': uwsWaits('bare LF ending a field line'),
  'invalid.md:534': uwsWaits('bare LF line endings'),
  'invalid.md:654': uwsWaits('obs-fold (a field line starting with SP); Apache unfolds it and answers both requests'),
  'lenient-header-value-relaxed.md:43': uwsWaits('form feed (CTL) inside a field value'),
  'lenient-headers.md:85': uwsWaits('form feed (CTL) as a field value'),
  'method.md:7': UWS_METHOD,
  'method.md:30': UWS_TARGET_FORM,
  'method.md:65': UWS_TARGET_FORM,
  'method.md:99': UWS_TARGET_FORM,
  'method.md:138': UWS_TARGET_FORM,
  'method.md:220': UWS_METHOD,
  'method.md:248': UWS_METHOD,
  'method.md:276': UWS_METHOD,
  'method.md:314': UWS_METHOD,
  'method.md:347': UWS_METHOD,
  'method.md:375': UWS_HTTP_1_1_ONLY,
  'method.md:405': UWS_HTTP_1_1_ONLY,
  'method.md:433': UWS_HTTP_1_1_ONLY,
  'method.md:461': UWS_TARGET_FORM,
  'method.md:485': UWS_METHOD,
  'pipelining.md:7': `${UWS_LEADING_CRLF}: the CRLF after the first body hides the second request`,
  'sample.md:253': UWS_HTTP_1_1_ONLY,
  'sample.md:294': UWS_LEADING_CRLF,
  'sample.md:317': UWS_HTTP_1_1_ONLY,
  'sample.md:398': uwsWaits('bare LF line endings and obs-fold'),
  'sample.md:481': UWS_LEADING_CRLF,
  'transfer-encoding.md:294': uwsChunked('junk after the chunk size ("2 erfrferferf")'),
  'transfer-encoding.md:331': 'uWS: delivers the head, then its chunked decoder stalls on an empty chunk-extension name ("2;") without an error; the body never completes and nothing is answered',
  'transfer-encoding.md:880': uwsChunked('an empty line where the last chunk ("0") must be'),
  'transfer-encoding.md:980': uwsChunked('a chunk-size line ended by a bare CR'),
  'transfer-encoding.md:1101': uwsChunked('chunk data not followed by CRLF'),
  'uri.md:55': UWS_TARGET_FORM,
  'uri.md:78': UWS_TARGET_FORM,
  'uri.md:128': UWS_TARGET_FORM,
  'uri.md:191': UWS_TARGET_FORM,
  'uri.md:225': UWS_TARGET_FORM,
  'uri.md:248': uwsWaits('SP inside the request target'),
  // httpd-tests http_strict: every request is HTTP/1.0 (or another version)
  ...Object.fromEntries([
    '01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19',
    '20', '21', '22', '23', '24', '25', '26', '27', '28', '29', '30', '31', '32', '33', '34', '35', '36', '37', '38',
    '39', '42', '43', '44', '45', '46', '47', '48', '49', '50', '51', '52', '53', '54', '55', '56', '57', '58', '59',
    '60', '61', '62', '63', '64', '65', '66', '67', '68', '69', '70', '71', '72', '73', '74', '75', '76', '77', '78',
    '79',
  ].map((n) => [`http_strict-${n}`, UWS_HTTP_1_1_ONLY])),
  // httpd-tests chunkinput and contentlength: every request is HTTP/1.0
  ...Object.fromEntries([
    ...Array.from({ length: 16 }, (_, i) => `chunkinput-${String(i + 1).padStart(2, '0')}`),
    ...Array.from({ length: 12 }, (_, i) => `contentlength-${String(i + 1).padStart(2, '0')}`),
  ].map((id) => [id, UWS_HTTP_1_1_ONLY])),
  'teclchunk-01': 'uWS: closes the connection without a response when Content-Length and Transfer-Encoding are both present (a strict server answers 400, or serves the chunked request and closes), before w3core sees it',
  // httpd-tests byterange (StaticFileModule)
  'byterange-05': 'w3core choice, not a bug: StaticFileModule ignores a Range of more than MAX_RANGES = 64 ranges (RFC 9110 §14.2 allows it) and sends 200; this one has 100, Apache\'s MaxRanges default is 200',
};

// ---------------------------------------------------------------------------------------------
// The corpora

interface LlhttpRecord {
  readonly id: string;
  readonly llhttp_mode: string;
  readonly raw_b64: string;
  readonly raw_with_host_b64: string | null;
  readonly raw_escaped: string;
  readonly llhttp_outcome: string;
  readonly messages_complete: number;
  readonly server_expectation: string;
}

interface HttpdRecord {
  readonly id: string;
  readonly kind: string;
  readonly raw_b64?: string;
  readonly raw_escaped?: string;
  readonly expect: number | string | null;
  readonly expect_meaning?: string;
  readonly cgi_emits_header_b64?: string;
  readonly cgi_emits_header_escaped?: string;
}

interface ByteRangeCase {
  readonly range: string;
  readonly expect: number;
  readonly check: string;
}

interface HttpdCorpus {
  readonly http_strict: readonly HttpdRecord[];
  readonly chunkinput: readonly HttpdRecord[];
  readonly contentlength: readonly HttpdRecord[];
  readonly teclchunk: readonly HttpdRecord[];
  readonly byterange: { readonly cases: readonly ByteRangeCase[] };
}

interface ReferenceCase {
  readonly nginx: readonly (number | null)[];
  readonly nginx_end: string;
  readonly apache: readonly (number | null)[];
  readonly apache_end: string;
}

interface Verdict {
  readonly pass: boolean;
  /** What was wrong, or what was right. */
  readonly why: string;
}

/** One request (or pipeline) to replay, with its judge. */
interface Vector {
  readonly id: string;
  /** False for llhttp's lenient-mode vectors and the HTTP/1.1 copies of httpd's: replayed for the report only. */
  readonly judged: boolean;
  readonly request: Buffer;
  /** What a strict server should do, as the corpus says it. */
  readonly expectation: string;
  /** Complete responses after which the wait ends early (after SETTLE_MS of quiet). */
  readonly expectResponses: number;
  /** The bytes end mid-message: the client's half-close is part of the input. */
  readonly halfCloseIsInput: boolean;
  readonly judge: (seen: Seen) => Verdict;
}

/** What the server did, as far as the vector's judge may count it. */
interface Seen {
  readonly responses: readonly RawResponse[];
  /** The server closed the connection (on its own, or after the half-close when that is input). */
  readonly closed: boolean;
}

const pass = (why: string): Verdict => ({ pass: true, why });
const fail = (why: string): Verdict => ({ pass: false, why });

const statuses = (rs: readonly RawResponse[]) => rs.map((r) => r.status ?? 'none');
const isNormal = (s: number | null) => s !== null && s >= 100 && s < 400;
/** How a strict server refuses a message it cannot or will not parse (llhttp corpus: "a 4xx (400/413/414/431/501/505)"). */
const REJECTIONS: ReadonlySet<number | null> = new Set([400, 413, 414, 431, 501, 505]);
/** Acceptable for a valid request: anything but 400 and server failures (404/405/501 are fine for odd methods or paths). */
const isAcceptance = (s: number | null) => s !== null && s !== 400 && (s < 500 || s === 501);

/**
 * What kind of answer a status is, to compare with Apache's: processed (< 400), refused as
 * malformed (400/413/414/431/505), or another error about the resource or method (404, 405, 501…).
 */
function answerKind(status: number | null): string {
  if (status === null) return 'http09';
  if (status < 400) return 'processed';
  return [400, 413, 414, 431, 505].includes(status) ? 'malformed' : 'error';
}

/**
 * Apache strict is right on every vector (the target), so its measured answer is an accepted
 * alternative to the llhttp-derived expectation: the same number of responses, each of the same
 * kind (a 404 where Apache said 405 is fine; a 200 where it said 400 is not).
 */
function sameAsApache(s: Seen, apache: ReferenceCase | undefined): boolean {
  if (!apache) return false;
  if (apache.apache.length === 0) return s.responses.length === 0 && s.closed;
  return s.responses.length === apache.apache.length &&
    s.responses.every((r, i) => answerKind(r.status) === answerKind(apache.apache[i] ?? null));
}

function loadCorpora() {
  if (!CORPORA_DIR) throw new Error('corpora not found: set CORPORA_DIR to the directory holding llhttp-request-vectors.jsonl');
  const llhttp = readFileSync(join(CORPORA_DIR, 'llhttp-request-vectors.jsonl'), 'utf8')
    .split('\n').filter(Boolean).map((l) => JSON.parse(l) as LlhttpRecord);
  const httpd = JSON.parse(readFileSync(join(CORPORA_DIR, 'httpd-tests-vectors.json'), 'utf8')) as HttpdCorpus;
  const reference = (JSON.parse(readFileSync(join(CORPORA_DIR, 'reference-verdicts.json'), 'utf8')) as {
    cases: Record<string, ReferenceCase>;
  }).cases;
  return { llhttp, httpd, reference };
}

/** Request methods in order (to frame responses to HEAD). */
function methodsOf(request: Buffer): string[] {
  return [...request.toString('latin1').matchAll(/(?:^|\n)([A-Z][A-Z-]*) \S+ [A-Z]+\/\d/g)].map((m) => m[1]!);
}

/** Has the byte string a complete message head (CRLF CRLF, or a bare-LF blank line)? */
function hasEndOfHead(request: Buffer): boolean {
  return request.includes('\r\n\r\n') || request.includes('\n\n');
}

// ---------------------------------------------------------------------------------------------
// Judges for llhttp's server_expectation kinds

function llhttpVector(r: LlhttpRecord, apache: ReferenceCase | undefined): Vector {
  const v = llhttpVectorAsSpecified(r);
  return {
    ...v,
    judge: (s) => {
      const verdict = v.judge(s);
      if (verdict.pass || !sameAsApache(s, apache)) return verdict;
      return pass(`${verdict.why}; but answered as Apache strict did [${apache!.apache.join(',')}]`);
    },
  };
}

/** The vector judged by llhttp's `server_expectation` alone. */
function llhttpVectorAsSpecified(r: LlhttpRecord): Vector {
  const request = Buffer.from(r.raw_with_host_b64 ?? r.raw_b64, 'base64');
  const e = r.server_expectation;
  const n = Number(/(\d+) response|respond (\d+) time/.exec(e)?.slice(1).find(Boolean) ?? r.messages_complete);
  const base = {
    id: r.id, judged: r.llhttp_mode === 'request', request, expectation: e,
    // An unfinished message (or bytes that never finish a head) is completed by the half-close.
    halfCloseIsInput: e.startsWith('must_wait') || !hasEndOfHead(request),
  };
  if (e.startsWith('should_accept')) return { ...base, expectResponses: n, judge: (s) => judgeAccept(s, n) };
  if (e.startsWith('respond')) {
    return {
      ...base, expectResponses: n,
      judge: (s) => {
        const accepted = judgeAccept(s, n);
        if (!accepted.pass) return accepted;
        return s.closed ? pass(`${n} response(s), then closed`) : fail(`${n} response(s) but the connection stayed open (later bytes may be processed)`);
      },
    };
  }
  if (e.startsWith('must_reject')) return { ...base, expectResponses: 1, judge: judgeReject };
  if (e.startsWith('must_wait')) {
    const complete = r.messages_complete;
    return { ...base, expectResponses: complete, judge: (s) => judgeWait(s, complete) };
  }
  if (e.startsWith('upgrade')) return { ...base, expectResponses: 1, judge: judgeUpgrade };
  if (e.startsWith('non_http_protocol')) return { ...base, expectResponses: 1, judge: judgeNonHttp };
  if (e.startsWith('http09')) return { ...base, expectResponses: 1, judge: judgeHttp09 };
  throw new Error(`${r.id}: unknown server_expectation '${e}'`);
}

function judgeAccept(s: Seen, n: number): Verdict {
  const complete = s.responses.filter((r) => r.complete);
  if (complete.length !== n) {
    return fail(`expected exactly ${n} response(s), got ${complete.length} [${statuses(s.responses).join(',')}]${s.closed ? ', closed' : ', no answer'}`);
  }
  const bad = complete.find((r) => !isAcceptance(r.status));
  if (bad) return fail(`answered ${bad.status} to a valid request`);
  return pass(`answered [${statuses(complete).join(',')}]`);
}

function judgeReject(s: Seen): Verdict {
  const normal = s.responses.find((r) => isNormal(r.status));
  if (normal) return fail(`processed the invalid request: ${normal.status}`);
  if (s.responses.length > 1) return fail(`processed bytes after the invalid request: [${statuses(s.responses).join(',')}]`);
  const first = s.responses[0];
  if (first) return REJECTIONS.has(first.status) ? pass(`rejected with ${first.status}`) : fail(`answered ${first.status ?? 'a non-HTTP body'} instead of refusing`);
  return s.closed ? pass('closed without a response') : fail('no verdict: neither answered nor closed (waits for more bytes)');
}

function judgeWait(s: Seen, complete: number): Verdict {
  const early = s.responses.slice(0, complete);
  if (early.length < complete) return fail(`the ${complete} complete message(s) got ${early.length} response(s) [${statuses(s.responses).join(',')}]`);
  const bad = early.find((r) => !isAcceptance(r.status));
  if (bad) return fail(`answered ${bad.status} to a complete valid message`);
  const late = s.responses.slice(complete);
  if (late.length > 1) return fail(`more than one response for the unfinished message: [${statuses(late).join(',')}]`);
  if (late[0] && !REJECTIONS.has(late[0].status)) return fail(`answered the unfinished message with ${late[0].status}`);
  if (!s.closed) return fail('still open after the client half-closed');
  return pass(late[0] ? `rejected the unfinished message with ${late[0].status}` : 'waited, then closed');
}

/** IIS-style: 400/405/501; 101 only for a valid WebSocket handshake (none in the corpus is one). */
function judgeUpgrade(s: Seen): Verdict {
  const first = s.responses[0];
  if (!first) return s.closed ? pass('closed without a response') : fail('no verdict: neither answered nor closed');
  if (first.status === 101) return fail('switched protocols without a valid WebSocket handshake');
  return [400, 405, 501].includes(first.status ?? 0) ? pass(`answered ${first.status}`) : fail(`answered ${first.status}, expected 400/405/501`);
}

function judgeNonHttp(s: Seen): Verdict {
  const normal = s.responses.find((r) => isNormal(r.status));
  if (normal) return fail(`answered a non-HTTP protocol with ${normal.status}`);
  const first = s.responses[0];
  if (first) return first.status === 400 || first.status === 505 ? pass(`refused with ${first.status}`) : fail(`answered ${first.status}, expected 400/505`);
  return s.closed ? pass('closed without a response') : fail('no verdict: neither answered nor closed');
}

function judgeHttp09(s: Seen): Verdict {
  const first = s.responses[0];
  if (first?.status === null) return pass('answered with an HTTP/0.9 body');
  if (first) return REJECTIONS.has(first.status) ? pass(`refused with ${first.status}`) : fail(`answered ${first.status}`);
  return s.closed ? pass('closed without a response') : fail('no verdict: neither answered nor closed');
}

// ---------------------------------------------------------------------------------------------
// Judges for httpd-tests

/** `expect` of http_strict / chunkinput / contentlength: 1 = 200-399, 0 = >= 400, null = dropped, else exact. */
function judgeHttpdStatus(s: Seen, expect: number | null, anyClientErrorFor: readonly number[]): Verdict {
  const got = statuses(s.responses).join(',');
  if (expect === null) {
    if (s.responses.length) return fail(`expected the connection dropped without a response, got [${got}]`);
    return s.closed ? pass('dropped without a response') : fail('no verdict: neither answered nor closed');
  }
  if (s.responses.length !== 1) return fail(`expected one response, got [${got}]${s.closed ? ', closed' : ', no answer'}`);
  const status = s.responses[0]!.status;
  if (status === null) return fail('answered with a non-HTTP body');
  const ok = expect === 1 ? status >= 200 && status < 400
    : expect === 0 ? status >= 400
      : anyClientErrorFor.includes(expect) ? status >= 400 && status < 500
        : status === expect;
  return ok ? pass(`answered ${status}`) : fail(`expected ${expect === 1 ? '200-399' : expect === 0 ? '>= 400' : expect}, got ${status}`);
}

function httpdRequestVector(r: HttpdRecord, anyClientErrorFor: readonly number[]): Vector {
  const request = Buffer.from(r.raw_b64!, 'base64');
  return {
    id: r.id, judged: true, request, expectation: r.expect_meaning ?? String(r.expect),
    expectResponses: 1,
    // Recipe: "send raw bytes, half-close, read to EOF"; for bytes without an end of head the
    // half-close is what completes (or breaks) the request.
    halfCloseIsInput: !hasEndOfHead(request),
    judge: (s) => judgeHttpdStatus(s, r.expect as number | null, anyClientErrorFor),
  };
}

/**
 * The same httpd request as HTTP/1.1 with a Host line (when it had none), for the report only:
 * the httpd tables are HTTP/1.0, which uWS never parses, so this shows how the rest of each
 * vector (header syntax, chunked and Content-Length bodies) would fare.
 */
function http11Variant(v: Vector): Vector | undefined {
  const text = v.request.toString('latin1');
  const lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0 || !text.slice(0, lineEnd).endsWith(' HTTP/1.0')) return undefined;
  const head = text.slice(0, text.search(/\r\n\r\n|$/));
  const host = /\r\nhost:/i.test(head) ? '' : 'Host: localhost\r\n';
  const request = Buffer.from(`${text.slice(0, lineEnd - 3)}1.1\r\n${host}${text.slice(lineEnd + 2)}`, 'latin1');
  return { ...v, id: `${v.id}+1.1`, judged: false, request, halfCloseIsInput: !hasEndOfHead(request) };
}

function cgiVector(r: HttpdRecord): Vector {
  const line = Buffer.from(r.cgi_emits_header_b64!, 'base64').toString('base64url');
  const request = Buffer.from(`GET /cgi-header?line=${line} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, 'latin1');
  return {
    id: r.id, judged: true, request,
    expectation: `a module sets the response header ${JSON.stringify(r.cgi_emits_header_escaped)}: ${r.expect_meaning}`,
    expectResponses: 1, halfCloseIsInput: false,
    judge: (s) => {
      const v = judgeHttpdStatus(s, r.expect as number, []);
      if (!v.pass || r.expect !== 200) return v;
      // A valid header must reach the client as set.
      const line = Buffer.from(r.cgi_emits_header_b64!, 'base64').toString('latin1');
      const name = line.slice(0, line.indexOf(':'));
      const value = line.slice(line.indexOf(':') + 1).replace(/^[ \t]+/, '');
      const sent = headerOf(s.responses[0]!, name);
      return sent === value ? v : fail(`answered 200 but sent ${name}: ${JSON.stringify(sent)}`);
    },
  };
}

function teclchunkVector(r: HttpdRecord): Vector {
  const request = Buffer.from(r.raw_escaped!.replace(/\\r/g, '\r').replace(/\\n/g, '\n'), 'latin1');
  return {
    id: r.id, judged: true, request, expectation: String(r.expect), expectResponses: 1, halfCloseIsInput: false,
    judge: (s) => {
      const got = statuses(s.responses);
      if (got.length === 0) return s.closed ? fail('closed without a response') : fail('no verdict: neither answered nor closed');
      if (got.length > 1) return fail(`the pipelined GET was answered: [${got.join(',')}]`);
      if (got[0] === 400) return pass('rejected CL+TE with 400');
      if (got[0] !== 200 && got[0] !== 404) return fail(`answered ${got[0]}`);
      return s.closed ? pass(`answered ${got[0]}, then closed`) : fail(`answered ${got[0]} but kept the connection open`);
    },
  };
}

/** The parts a 206 must carry for a Range header: satisfiable specs in request order, ends clipped. */
function expectedParts(range: string, size: number): { start: number; end: number }[] {
  const parts: { start: number; end: number }[] = [];
  for (const spec of range.slice('bytes='.length).split(',')) {
    const m = /^\s*(\d*)-(\d*)\s*$/.exec(spec)!;
    if (m[1] === '') {
      const n = Number(m[2]);
      if (n > 0) parts.push({ start: Math.max(0, size - n), end: size - 1 });
    } else if (Number(m[1]) < size) {
      parts.push({ start: Number(m[1]), end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) });
    }
  }
  return parts;
}

/** Splits a multipart/byteranges body into parts (headers + bytes). */
function multipartParts(body: Buffer, boundary: string): { contentRange: string | undefined; data: Buffer }[] {
  const parts: { contentRange: string | undefined; data: Buffer }[] = [];
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const after = at + delimiter.byteLength;
    if (body.subarray(after, after + 2).toString('latin1') === '--') break;
    const headEnd = body.indexOf('\r\n\r\n', after);
    if (headEnd < 0) break;
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`, 'latin1'), headEnd + 4);
    if (next < 0) break;
    const head = body.subarray(after, headEnd).toString('latin1');
    parts.push({ contentRange: /content-range:\s*(.*)/i.exec(head)?.[1]?.trim(), data: body.subarray(headEnd + 4, next) });
    at = next + 2;
  }
  return parts;
}

function byteRangeVector(c: ByteRangeCase, index: number): Vector {
  const request = Buffer.from(
    `GET /byteranges.txt HTTP/1.1\r\nHost: localhost\r\nRange: ${c.range}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n`,
    'latin1',
  );
  const size = BYTERANGES.byteLength;
  return {
    id: `byterange-${String(index + 1).padStart(2, '0')}`, judged: true, request,
    expectation: `Range: ${c.range.length > 60 ? `${c.range.slice(0, 60)}…` : c.range} → ${c.expect} (${c.check})`,
    expectResponses: 1, halfCloseIsInput: false,
    judge: (s) => {
      const r = s.responses[0];
      if (!r || s.responses.length !== 1) return fail(`expected one response, got [${statuses(s.responses).join(',')}]`);
      if (r.status !== c.expect) return fail(`expected ${c.expect}, got ${r.status}`);
      if (!r.complete) return fail('incomplete response');
      if (Number(headerOf(r, 'content-length')) !== r.body.byteLength) return fail('Content-Length differs from the body length');
      if (c.expect === 200) return r.body.equals(BYTERANGES) ? pass('full 200 body') : fail('200 body is not the file');
      if (c.expect === 416) {
        return headerOf(r, 'content-range') === `bytes */${size}` ? pass('416 with Content-Range: bytes */size')
          : fail(`416 with Content-Range ${headerOf(r, 'content-range')}`);
      }
      const want = expectedParts(c.range, size);
      if (r.body.byteLength >= size) return fail('206 body is not shorter than the file');
      const type = headerOf(r, 'content-type') ?? '';
      if (want.length === 1) {
        const { start, end } = want[0]!;
        if (headerOf(r, 'content-range') !== `bytes ${start}-${end}/${size}`) return fail(`Content-Range ${headerOf(r, 'content-range')}, expected bytes ${start}-${end}/${size}`);
        return r.body.equals(BYTERANGES.subarray(start, end + 1)) ? pass('206 single range') : fail('206 body differs from the range');
      }
      const boundary = /^multipart\/byteranges;\s*boundary=("?)([^";]+)\1/i.exec(type)?.[2];
      if (!boundary) return fail(`expected multipart/byteranges, got ${type}`);
      const parts = multipartParts(r.body, boundary);
      if (parts.length !== want.length) return fail(`expected ${want.length} parts, got ${parts.length}`);
      for (let i = 0; i < want.length; i++) {
        const { start, end } = want[i]!;
        if (parts[i]!.contentRange !== `bytes ${start}-${end}/${size}`) return fail(`part ${i + 1}: Content-Range ${parts[i]!.contentRange}, expected bytes ${start}-${end}/${size}`);
        if (!parts[i]!.data.equals(BYTERANGES.subarray(start, end + 1))) return fail(`part ${i + 1}: bytes differ`);
      }
      return pass(`206 multipart/byteranges, ${want.length} parts in request order`);
    },
  };
}

function buildVectors(corpora: ReturnType<typeof loadCorpora>): Vector[] {
  const { llhttp, httpd } = corpora;
  const httpdRequests = [
    ...httpd.http_strict.filter((r) => r.kind === 'request').map((r) => httpdRequestVector(r, [])),
    ...httpd.chunkinput.map((r) => httpdRequestVector(r, [400, 413])),
    ...httpd.contentlength.map((r) => httpdRequestVector(r, [400, 413])),
  ];
  return [
    ...llhttp.map((r) => llhttpVector(r, corpora.reference[r.id])),
    ...httpdRequests,
    ...httpd.http_strict.filter((r) => r.kind === 'cgi_response_header').map(cgiVector),
    ...httpd.teclchunk.map(teclchunkVector),
    ...httpd.byterange.cases.map(byteRangeVector),
    ...httpdRequests.map(http11Variant).filter((v): v is Vector => v !== undefined),
  ];
}

// ---------------------------------------------------------------------------------------------
// Replay

interface Outcome {
  readonly vector: Vector;
  readonly exchange: RawExchange;
  readonly verdict: Verdict;
  /**
   * The verdict when the client's half-close always counts as input, as in the reference run
   * (which half-closed at once): then a server that only closes once the client gives up passes
   * as "a plain close". For the report.
   */
  readonly referenceMethod: Verdict;
}

/** Restricts an exchange to what the judge may count (see the file comment). */
function seenBy(vector: Vector, x: RawExchange): Seen {
  if (vector.halfCloseIsInput) return { responses: x.responses, closed: x.end !== 'open' };
  return { responses: x.responses.slice(0, x.responsesBeforeHalfClose), closed: x.end === 'closed' };
}

const corpora = loadCorpora();
const vectors = buildVectors(corpora);
const outcomes = new Map<string, Outcome>();
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    files: {
      'index.html': '<!DOCTYPE html><title>corpora</title>home',
      'byteranges.txt': BYTERANGES,
    },
    webServer: `
      <modules>
        <add name="EntityEcho" type="${ENTITY_ECHO}#EntityEcho"/>
        <add name="CgiHeader" type="${CGI_HEADER}#CgiHeader"/>
      </modules>
      <handlers>
        <add name="EchoPost" path="echo_post*" verb="*" modules="EntityEcho"/>
        <add name="CgiHeader" path="cgi-header" verb="GET" modules="CgiHeader"/>
      </handlers>`,
  });
  const port = Number(new URL(t.url).port);
  // Start the pool's worker before timing anything.
  expect((await fetch(`${t.url}/`)).status).toBe(200);
  const results = await mapLimit(vectors, PARALLEL, async (vector) => {
    const exchange = await rawExchange({
      port, request: vector.request, methods: methodsOf(vector.request),
      expectResponses: vector.expectResponses, settleMs: SETTLE_MS, answerMs: ANSWER_MS, halfCloseMs: HALF_CLOSE_MS,
    });
    return {
      vector, exchange,
      verdict: vector.judge(seenBy(vector, exchange)),
      referenceMethod: vector.judge(seenBy({ ...vector, halfCloseIsInput: true }, exchange)),
    };
  });
  for (const o of results) outcomes.set(o.vector.id, o);
  if (process.env.CORPORA_REPORT) writeReport(process.env.CORPORA_REPORT, results);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

function writeReport(file: string, results: readonly Outcome[]): void {
  const rows = results.map(({ vector, exchange, verdict, referenceMethod }) => ({
    id: vector.id,
    judged: vector.judged,
    pass: verdict.pass,
    why: verdict.why,
    passReferenceMethod: referenceMethod.pass,
    known: KNOWN_EXCEPTIONS[vector.id],
    expectation: vector.expectation,
    request: vector.request.toString('latin1').slice(0, 300),
    statuses: exchange.responses.map((r) => r.status),
    beforeHalfClose: exchange.responsesBeforeHalfClose,
    end: exchange.end,
    reference: corpora.reference[vector.id.replace(/\+1\.1$/, '')],
  }));
  writeFileSync(file, JSON.stringify(rows, null, 1));
}

// ---------------------------------------------------------------------------------------------
// Verdicts

const judged = vectors.filter((v) => v.judged);

describe('corpora replay against the real server', () => {
  it('covers every vector of the corpora', () => {
    expect(corpora.llhttp.length).toBe(149);
    expect(judged.length).toBe(120 + 87 + 16 + 12 + 1 + 29);
    expect(outcomes.size).toBe(vectors.length);
  });

  it('lists only corpus vectors as known exceptions', () => {
    const ids = new Set(judged.map((v) => v.id));
    expect(Object.keys(KNOWN_EXCEPTIONS).filter((id) => !ids.has(id))).toEqual([]);
  });

  it.each(judged.map((v) => [v.id, v] as const))('%s', (id, vector) => {
    const { verdict, exchange } = outcomes.get(id)!;
    const seen = `${vector.expectation}\n  sent ${JSON.stringify(vector.request.toString('latin1').slice(0, 200))}\n  got [${statuses(exchange.responses).join(',')}], ${exchange.end}: ${verdict.why}`;
    const known = KNOWN_EXCEPTIONS[id];
    if (known) expect(verdict.pass, `listed as a known exception (${known}) but now passes: remove it\n  ${seen}`).toBe(false);
    else expect(verdict.pass, seen).toBe(true);
  });
});

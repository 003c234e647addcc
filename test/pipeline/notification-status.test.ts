/**
 * What a handler's return value does to the request (iis-reference.md §1.5): CONTINUE moves
 * on to the next module, FINISH_REQUEST skips to the end of the request (SendResponse,
 * LogRequest and EndRequest still run), PENDING waits for `indicateCompletion` and a promise
 * resumes at the saved point. Also custom request notifications, ReadEntity, and the
 * request entity limit (requestLimits maxAllowedContentLength → 413).
 *
 * Modules, in configuration order: RecA (Recorder), Probe (StatusProbe), RecB (Recorder).
 * The two recorders show which notifications ran before and after the probe.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const RECORDER = fileURLToPath(new URL('../fixtures/modules/recorder.ts', import.meta.url));
const STATUS_PROBE = fileURLToPath(new URL('../fixtures/modules/status-probe.ts', import.meta.url));

const END_OF_REQUEST = [
  'RecA:LogRequest', 'RecB:LogRequest', 'RecA:PostLogRequest', 'RecB:PostLogRequest',
  'RecA:EndRequest', 'RecB:EndRequest', 'RecA:PostEndRequest', 'RecB:PostEndRequest',
];

let t: TestServer;
let tagCounter = 0;

beforeAll(async () => {
  t = await startTestServer({
    files: { 'page.txt': 'static page' },
    webServer: `
      <modules>
        <add name="RecA" type="${RECORDER}#Recorder"/>
        <add name="Probe" type="${STATUS_PROBE}#StatusProbe"/>
        <add name="RecB" type="${RECORDER}#Recorder"/>
      </modules>
      <handlers>
        <add name="Echo" path="*.echo" verb="*" modules="Probe"/>
      </handlers>
      <security><requestFiltering><requestLimits maxAllowedContentLength="100"/></requestFiltering></security>
      <!-- Every request must reach the modules: no answers from the kernel-style cache. -->
      <caching enableKernelCache="false"/>`,
  });
});

afterAll(async () => {
  await t?.stop();
});

/** A request recorded under a fresh tag: its response and, read afterwards, the recorders' log. */
async function probe(path: string, probeSpec: string | undefined, init: RequestInit = {}) {
  const tag = `status-${process.pid}-${++tagCounter}`;
  const headers: Record<string, string> = { 'x-rec-tag': tag, ...(init.headers as Record<string, string> | undefined) };
  if (probeSpec) headers['x-probe'] = probeSpec;
  const res = await fetch(`${t.url}${path}`, { ...init, headers });
  const body = await res.text();
  const logRes = await fetch(`${t.url}/__log?tag=${tag}`);
  expect(logRes.status).toBe(200);
  const log = ((await logRes.json()) as string[] | null) ?? [];
  return { res, body, log };
}

const count = (log: readonly string[], entry: string) => log.filter((e) => e === entry).length;

describe('CONTINUE', () => {
  it('lets the next module in the same notification run, and the request go on', async () => {
    const { res, body, log } = await probe('/page.txt', 'BeginRequest=continue');
    expect(res.status).toBe(200);
    expect(body).toBe('static page');
    expect(log.slice(0, 4)).toEqual(['RecA:BeginRequest', 'RecB:BeginRequest', 'RecA:PostBeginRequest', 'RecB:PostBeginRequest']);
    expect(log).toContain('RecB:PreExecuteRequestHandler');
    expect(log.slice(-8)).toEqual(END_OF_REQUEST);
  });
});

describe('FINISH_REQUEST', () => {
  it('skips the later modules and stages, the handler included; SendResponse, Log and End still run', async () => {
    const { res, body, log } = await probe('/page.txt', 'BeginRequest=finish');
    expect(res.status).toBe(200);
    // StaticFile's ExecuteRequestHandler did not run: the file was not served.
    expect(body).toBe('finished by Probe');
    expect(log[0]).toBe('RecA:BeginRequest');
    expect(new Set(log.slice(1, 3))).toEqual(new Set(['RecA:SendResponse', 'RecB:SendResponse']));
    expect(log.slice(3)).toEqual(END_OF_REQUEST);
  });

  it('from a later stage keeps what ran before and skips the rest of that stage', async () => {
    const { res, body, log } = await probe('/page.txt', 'AuthorizeRequest=finish');
    expect(res.status).toBe(200);
    expect(body).toBe('finished by Probe');
    expect(log.slice(0, 9)).toEqual([
      'RecA:BeginRequest', 'RecB:BeginRequest', 'RecA:PostBeginRequest', 'RecB:PostBeginRequest',
      'RecA:AuthenticateRequest', 'RecB:AuthenticateRequest', 'RecA:PostAuthenticateRequest', 'RecB:PostAuthenticateRequest',
      'RecA:AuthorizeRequest',
    ]);
    expect(log).not.toContain('RecB:AuthorizeRequest');
    expect(log).not.toContain('RecA:PostAuthorizeRequest');
    expect(log).not.toContain('RecA:MapRequestHandler');
    expect(log.slice(-8)).toEqual(END_OF_REQUEST);
  });
});

describe('PENDING and promises', () => {
  it('PENDING waits for indicateCompletion and resumes with the next module, not from the start', async () => {
    const { res, body, log } = await probe('/page.txt', 'BeginRequest=pending');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-probe')).toBe('resumed');
    expect(body).toBe('static page');
    expect(log.slice(0, 3)).toEqual(['RecA:BeginRequest', 'RecB:BeginRequest', 'RecA:PostBeginRequest']);
    expect(count(log, 'RecA:BeginRequest')).toBe(1);
    expect(count(log, 'RecB:BeginRequest')).toBe(1);
    expect(log.slice(-8)).toEqual(END_OF_REQUEST);
  });

  it('indicateCompletion(FINISH_REQUEST) ends the request: no handler, but Log and End', async () => {
    const { res, body, log } = await probe('/page.txt', 'BeginRequest=pending-finish');
    expect(res.status).toBe(200);
    expect(body).toBe('finished late by Probe');
    expect(log).not.toContain('RecB:BeginRequest');
    expect(log).not.toContain('RecA:PostBeginRequest');
    expect(log.slice(-8)).toEqual(END_OF_REQUEST);
  });

  it('an async handler resumes the pipeline at the saved point when its promise resolves', async () => {
    const { res, body, log } = await probe('/page.txt', 'BeginRequest=async');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-probe')).toBe('awaited');
    expect(body).toBe('static page');
    expect(log.slice(0, 3)).toEqual(['RecA:BeginRequest', 'RecB:BeginRequest', 'RecA:PostBeginRequest']);
    expect(count(log, 'RecA:BeginRequest')).toBe(1);
    expect(log.slice(-8)).toEqual(END_OF_REQUEST);
  });

  it('a promise resolving to FINISH_REQUEST finishes the request', async () => {
    const { res, body, log } = await probe('/page.txt', 'BeginRequest=async-finish');
    expect(res.status).toBe(200);
    expect(body).toBe('finished after await by Probe');
    expect(log).not.toContain('RecB:BeginRequest');
    expect(log.slice(-8)).toEqual(END_OF_REQUEST);
  });

  it('pending requests do not hold up the others sent at the same time', async () => {
    const results = await Promise.all([
      probe('/page.txt', 'BeginRequest=pending'),
      probe('/page.txt', undefined),
      probe('/page.txt', 'BeginRequest=async'),
      probe('/page.txt', 'BeginRequest=pending-finish'),
    ]);
    expect(results.map((r) => r.body)).toEqual(['static page', 'static page', 'static page', 'finished late by Probe']);
    for (const r of results) expect(r.log.slice(-8)).toEqual(END_OF_REQUEST);
  });
});

describe('CustomRequestNotification', () => {
  it('reaches every module implementing onCustomRequestNotification, with name and data', async () => {
    const { res, body, log } = await probe('/page.txt', 'BeginRequest=custom');
    expect(res.status).toBe(200);
    expect(body).toBe('static page');
    expect(res.headers.get('x-custom')).toBe('x={"n":42}');
    // Raised from inside Probe's BeginRequest: after RecA's, before RecB's.
    expect(log.slice(0, 3)).toEqual([
      'RecA:BeginRequest',
      'RecA:CustomRequestNotification(x={"n":42})',
      'RecB:CustomRequestNotification(x={"n":42})',
    ]);
    expect(log[3]).toBe('RecB:BeginRequest');
  });

  it('is not raised unless a module asks for it', async () => {
    const { res, log } = await probe('/page.txt', undefined);
    expect(res.headers.get('x-custom')).toBeNull();
    expect(log.some((e) => e.includes('CustomRequestNotification'))).toBe(false);
  });
});

describe('ReadEntity', () => {
  it('gives a module the POSTed body; READ_ENTITY fires exactly once for two reads', async () => {
    const { res, body, log } = await probe('/form.echo', undefined, { method: 'POST', body: 'name=w3core&x=1' });
    expect(res.status).toBe(200);
    expect(body).toBe('name=w3core&x=1|name=w3core&x=1');
    expect(count(log, 'RecA:ReadEntity')).toBe(1);
    expect(count(log, 'RecB:ReadEntity')).toBe(1);
    // Raised while the handler ran.
    expect(log.indexOf('RecA:ReadEntity')).toBeGreaterThan(log.indexOf('RecB:PostPreExecuteRequestHandler'));
    expect(log.indexOf('RecA:ReadEntity')).toBeLessThan(log.indexOf('RecA:PostExecuteRequestHandler'));
  });

  it('does not fire when nobody reads the entity', async () => {
    const { res, body, log } = await probe('/form.echo', 'ExecuteRequestHandler=length', { method: 'POST', body: 'abc' });
    expect(res.status).toBe(200);
    expect(body).toBe('length=3');
    expect(log.some((e) => e.endsWith(':ReadEntity'))).toBe(false);
  });

  it('accepts a body of exactly maxAllowedContentLength bytes', async () => {
    const payload = 'b'.repeat(100);
    const { res, body } = await probe('/form.echo', undefined, { method: 'POST', body: payload });
    expect(res.status).toBe(200);
    expect(body).toBe(`${payload}|${payload}`);
  });

  it('answers 413 for a Content-Length over requestLimits maxAllowedContentLength, without the pipeline', async () => {
    const { res, log } = await probe('/form.echo', undefined, { method: 'POST', body: 'a'.repeat(101) });
    expect(res.status).toBe(413);
    expect(log).toEqual([]);
  });

  it('answers 413 when a chunked body grows over the limit', async () => {
    const chunk = new TextEncoder().encode('c'.repeat(60));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetch(`${t.url}/form.echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    await res.arrayBuffer();
    // The server is fine afterwards.
    const ok = await fetch(`${t.url}/page.txt`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('static page');
  });
});

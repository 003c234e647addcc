/**
 * Global notifications (`CGlobalModule`, iis-reference.md §1.3) of a module listed in
 * applicationHost's `<globalModules>`: ApplicationStart before the first request of an
 * application, PreBeginRequest before each request enters the pipeline, ConfigurationChange
 * when a web.config changes, StopListening and ApplicationStop when the server stops.
 *
 * The module runs in the pool's worker; it appends lines to the file named by
 * W3CORE_TEST_LOG, which the workers inherit from this process's environment.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer } from '../helpers/server.js';

const GLOBAL_RECORDER = fileURLToPath(new URL('../fixtures/modules/global-recorder.ts', import.meta.url));

let t: TestServer;
let logDir: string;
let logFile: string;
let stopped = false;

beforeAll(async () => {
  logDir = mkdtempSync(join(tmpdir(), 'w3core-global-'));
  logFile = join(logDir, 'global.log');
  process.env.W3CORE_TEST_LOG = logFile;
  t = await startTestServer({
    files: { 'a.txt': 'alpha', 'b.txt': 'beta', 'sub/c.txt': 'gamma' },
    webServer: `<globalModules><add name="G" image="${GLOBAL_RECORDER}#GlobalRecorder"/></globalModules>`,
  });
});

afterAll(async () => {
  if (!stopped) await t?.stop();
  delete process.env.W3CORE_TEST_LOG;
  rmSync(logDir, { recursive: true, force: true });
});

function lines(): string[] {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
}

async function get(path: string) {
  const res = await fetch(`${t.url}${path}`);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('global notifications', () => {
  it('fires ApplicationStart once, before the first request\'s PreBeginRequest', async () => {
    expect((await get('/a.txt')).body).toBe('alpha');
    const log = lines();
    const start = log.indexOf('G ApplicationStart Test/ DefaultAppPool');
    const pre = log.indexOf('G PreBeginRequest /a.txt');
    expect(start).toBeGreaterThanOrEqual(0);
    expect(pre).toBeGreaterThanOrEqual(0);
    expect(start).toBeLessThan(pre);
    expect(log.filter((l) => l.startsWith('G ApplicationStart'))).toHaveLength(1);
  });

  it('fires PreBeginRequest for every request, in order', async () => {
    const before = lines().length;
    expect((await get('/b.txt')).body).toBe('beta');
    expect((await get('/a.txt')).body).toBe('alpha');
    expect((await get('/missing.txt')).status).toBe(404);
    expect(lines().slice(before)).toEqual(['G PreBeginRequest /b.txt', 'G PreBeginRequest /a.txt', 'G PreBeginRequest /missing.txt']);
  });

  it('fires ConfigurationChange when a web.config of the site changes', async () => {
    expect((await get('/sub/c.txt')).headers.get('x-from-web-config')).toBeNull();
    writeFileSync(join(t.root, 'web.config'), `<?xml version="1.0" encoding="UTF-8"?>
<configuration><system.webServer>
  <httpProtocol><customHeaders><add name="X-From-Web-Config" value="yes"/></customHeaders></httpProtocol>
</system.webServer></configuration>`);
    // Files are revalidated at most once per revalidateMs (50 ms in the test server).
    await sleep(200);
    const r = await get('/sub/c.txt');
    expect(r.body).toBe('gamma');
    expect(r.headers.get('x-from-web-config')).toBe('yes');
    // The change recycles the pool: the old worker hears ConfigurationChange while it stops.
    for (let i = 0; i < 100 && !lines().some((l) => /^G ConfigurationChange \//.test(l)); i++) await sleep(20);
    expect(lines().some((l) => /^G ConfigurationChange \//.test(l))).toBe(true);
  });

  it('refuses <globalModules> in a web.config (AppHostOnly): 500.19', async () => {
    writeFileSync(join(t.root, 'sub', 'web.config'), `<?xml version="1.0" encoding="UTF-8"?>
<configuration><system.webServer>
  <globalModules><add name="Sneaky" image="${GLOBAL_RECORDER}#GlobalRecorder"/></globalModules>
</system.webServer></configuration>`);
    await sleep(200);
    const r = await get('/sub/c.txt');
    expect(r.status).toBe(500);
    expect(subStatusOf(r.body)).toBe('500.19');
    expect(lines().some((l) => l.startsWith('Sneaky'))).toBe(false);
  });

  it('fires StopListening and ApplicationStop when the server stops, after the requests', async () => {
    const before = lines().length;
    stopped = true;
    await t.stop();
    const after = lines().slice(before);
    const stopListening = after.indexOf('G StopListening DefaultAppPool');
    const appStop = after.lastIndexOf('G ApplicationStop Test/');
    expect(stopListening).toBeGreaterThanOrEqual(0);
    expect(appStop).toBeGreaterThan(stopListening);
    expect(after.some((l) => l.startsWith('G PreBeginRequest'))).toBe(false);
  });
});

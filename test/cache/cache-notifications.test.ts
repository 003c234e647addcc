/**
 * The response cache's global notifications: `CacheOperation` (ADD, DELETE, FLUSH_PREFIX) and
 * `CacheCleanup` reach the global modules of the pools' workers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const RECORDER = fileURLToPath(new URL('../fixtures/modules/cache-recorder.ts', import.meta.url));
const COUNTER = fileURLToPath(new URL('../fixtures/modules/cache-counter.ts', import.meta.url));
const logFile = join(tmpdir(), `w3core-cache-notes-${process.pid}.log`);
let t: TestServer;

beforeAll(async () => {
  writeFileSync(logFile, '');
  process.env.W3CORE_TEST_LOG = logFile;
  t = await startTestServer({
    files: { 'a.html': 'a' },
    webServer: `<globalModules><add name="CacheRecorder" image="${RECORDER}#CacheRecorder"/></globalModules>
      <modules><add name="CacheCounter" type="${COUNTER}#CacheCounter"/></modules>`,
  });
});

afterAll(async () => {
  delete process.env.W3CORE_TEST_LOG;
  await t?.stop();
});

async function logged(pattern: RegExp): Promise<string[]> {
  for (let i = 0; i < 80; i++) {
    const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
    if (lines.some((l) => pattern.test(l))) return lines;
    await new Promise((r) => setTimeout(r, 25));
  }
  return readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
}

describe('CacheOperation and CacheCleanup', () => {
  it('reports an entry added, the file change that drops it, a flush, and the periodic cleanup', async () => {
    for (let i = 0; i < 3; i++) await (await fetch(`${t.url}/a.html`)).text();
    expect(await logged(/ADD/)).toContain('CacheOperation ADD Test /a.html');

    writeFileSync(join(t.root, 'a.html'), 'a, changed');
    expect(await logged(/DELETE/)).toContain('CacheOperation DELETE Test /a.html');

    for (let i = 0; i < 3; i++) await (await fetch(`${t.url}/dyn/until`)).text();
    await (await fetch(`${t.url}/dyn/flush`)).text();
    expect(await logged(/FLUSH_PREFIX/)).toContain('CacheOperation FLUSH_PREFIX Test /dyn/');

    t.server.cache!.cleanup();
    expect(await logged(/CacheCleanup/)).toContain('CacheCleanup kernel');
  });
});

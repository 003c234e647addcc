/**
 * The request queue of an application pool: a client that leaves while its request waits in
 * the listener's queue (every worker busy) takes the request out of the queue; the worker
 * never runs it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BLOCKER = fileURLToPath(new URL('../fixtures/modules/blocker.ts', import.meta.url));
const logFile = join(tmpdir(), `w3core-queue-${process.pid}.log`);
let t: TestServer;

beforeAll(async () => {
  writeFileSync(logFile, '');
  process.env.W3CORE_TEST_LOG = logFile;
  t = await startTestServer({
    pools: '<add name="DefaultAppPool" startMode="AlwaysRunning"/>',
    webServer: `<modules><add name="Blocker" type="${BLOCKER}#Blocker"/></modules>`,
  });
});

afterAll(async () => {
  delete process.env.W3CORE_TEST_LOG;
  await t?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('request queue', () => {
  it('drops a queued request whose client left before a worker took it', async () => {
    // The application's first request loads its modules (asynchronously); after it, a request
    // to the blocker holds the worker's thread.
    expect(await (await fetch(`${t.url}/block?ms=0&id=W`)).text()).toBe('W');
    const a = fetch(`${t.url}/block?ms=1200&id=A`).then((r) => r.text());
    await sleep(150);
    const b = fetch(`${t.url}/block?ms=0&id=B`).then((r) => r.text());
    await sleep(150);
    // The worker is busy with A and holds B: C waits in the listener's queue. Its client leaves.
    const c = request(`${t.url}/block?ms=0&id=C`);
    c.on('error', () => { /* destroyed on purpose */ });
    c.end();
    await sleep(200);
    c.destroy();
    expect(await a).toBe('A');
    expect(await b).toBe('B');
    expect(await (await fetch(`${t.url}/block?ms=0&id=D`)).text()).toBe('D');
    const ran = readFileSync(logFile, 'utf8').trim().split('\n');
    expect(ran).toEqual(['ran W', 'ran A', 'ran B', 'ran D']);
  });
});

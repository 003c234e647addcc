/**
 * Application pools that start, recycle, fail and recover as IIS pools do (iis-reference.md
 * §2.5): on-demand and AlwaysRunning start, idle timeout, recycling on demand, by requests, time,
 * schedule, memory and web.config change, overlapped or not; crashed and stuck workers replaced
 * with their requests answered; rapid-fail protection; graceful stop with requests in flight.
 * The worker's thread id plays the w3wp process id: a new one means new workers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LIFECYCLE = fileURLToPath(new URL('../fixtures/modules/lifecycle.ts', import.meta.url));
const HEALTH = fileURLToPath(new URL('../fixtures/modules/health-recorder.ts', import.meta.url));
const MODULES = `<modules><add name="Lifecycle" type="${LIFECYCLE}#Lifecycle"/></modules>`;

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(poolXml: string, extra = '', sites?: Parameters<typeof startTestServer>[0]['sites']): Promise<TestServer> {
  return startTestServer({ pools: `<add name="DefaultAppPool" ${poolXml}</add><add name="Other"/>`, webServer: MODULES + extra, sites });
}

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${t!.url}${path}`);
  return { status: res.status, body: await res.text() };
}

async function wp(): Promise<string> {
  const r = await get('/wp');
  expect(r.status).toBe(200);
  return r.body;
}

function pool() {
  return t!.server.pools.get('defaultapppool')!;
}

/** Polls until `check` holds (or the time is up), returning its last value. */
async function until<T>(check: () => Promise<T> | T, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  let v = await check();
  while (!ok(v) && Date.now() < end) {
    await sleep(50);
    v = await check();
  }
  return v;
}

describe('activation', () => {
  it('starts an OnDemand pool on its first request, which waits rather than fails', async () => {
    t = await start('>');
    expect(pool().workerCount).toBe(0);
    expect((await get('/wp')).status).toBe(200);
    expect(pool().workerCount).toBe(1);
  });

  it('starts an AlwaysRunning pool with the server, with maxProcesses workers', async () => {
    t = await start('startMode="AlwaysRunning"><processModel maxProcesses="2"/>');
    expect(pool().workerCount).toBe(2);
    expect(pool().workers.map((w) => w.state)).toEqual(['Running', 'Running']);
  });

  it('stops idle workers after idleTimeout and starts them again on demand', async () => {
    t = await start('><processModel idleTimeout="00:00:01"/>');
    const first = await wp();
    expect(await until(() => pool().workerCount, (n) => n === 0, 4000)).toBe(0);
    const second = await wp();
    expect(second).not.toBe(first);
  });
});

describe('recycling', () => {
  it('recycles on demand: new workers, the old ones gone, counted', async () => {
    t = await start('>');
    const before = await wp();
    await pool().recycle();
    expect(await wp()).not.toBe(before);
    expect(pool().stats().recycles).toBe(1);
    expect(pool().workers.every((w) => w.state === 'Running')).toBe(true);
  });

  it('overlaps: new requests go to the new workers while a request in flight finishes on the old', async () => {
    t = await start('>');
    const old = await wp();
    const inFlight = get('/wait?ms=1000');
    await sleep(100);
    const recycled = pool().recycle();
    const startedAt = Date.now();
    const fresh = await wp();
    expect(fresh).not.toBe(old);
    expect(Date.now() - startedAt).toBeLessThan(900);
    expect(await inFlight).toEqual({ status: 200, body: 'waited' });
    await recycled;
  });

  it('with disallowOverlappingRotation, new requests wait for the old workers to finish', async () => {
    t = await start('><recycling disallowOverlappingRotation="true"/>');
    const old = await wp();
    const inFlight = get('/wait?ms=600').then((r) => ({ ...r, at: Date.now() }));
    await sleep(100);
    void pool().recycle();
    const next = await fetch(`${t.url}/wp`).then(async (r) => ({ body: await r.text(), at: Date.now() }));
    const done = await inFlight;
    expect(done.body).toBe('waited');
    expect(next.body).not.toBe(old);
    expect(next.at).toBeGreaterThanOrEqual(done.at);
  });

  it('recycles after periodicRestart requests', async () => {
    t = await start('><recycling><periodicRestart requests="3"/></recycling>');
    const ids = [await wp(), await wp(), await wp()];
    expect(new Set(ids).size).toBe(1);
    expect(await until(wp, (id) => id !== ids[0])).not.toBe(ids[0]);
    expect(pool().stats().recycles).toBeGreaterThanOrEqual(1);
  });

  it('recycles after periodicRestart time', async () => {
    t = await start('><recycling><periodicRestart time="00:00:01"/></recycling>');
    const first = await wp();
    await sleep(1300);
    expect(await until(wp, (id) => id !== first)).not.toBe(first);
  });

  it('recycles at a periodicRestart schedule time', async () => {
    const now = new Date();
    const hhmm = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:00`;
    const next = new Date(now.getTime() + 60_000);
    t = await start(`startMode="AlwaysRunning"><recycling><periodicRestart>
      <schedule><add value="${hhmm(now)}"/><add value="${hhmm(next)}"/></schedule></periodicRestart></recycling>`);
    expect(await until(() => pool().stats().recycles, (n) => n >= 1, 3000)).toBeGreaterThanOrEqual(1);
    expect((await get('/wp')).status).toBe(200);
  });

  it('recycles when a worker heap passes periodicRestart privateMemory', async () => {
    t = await start('><recycling><periodicRestart privateMemory="200000"/></recycling>');
    const first = await wp();
    expect((await get('/grow?mb=250')).status).toBe(200);
    expect(await until(wp, (id) => id !== first)).not.toBe(first);
    expect(pool().stats().recycles).toBeGreaterThanOrEqual(1);
  });

  it('recycles when a web.config of the application changes', async () => {
    t = await start('>');
    const first = await wp();
    writeFileSync(join(t.root, 'web.config'), '<configuration><system.webServer/></configuration>');
    expect(await until(wp, (id) => id !== first)).not.toBe(first);
    expect(pool().stats().recycles).toBe(1);
  });
});

describe('failures', () => {
  it('replaces a worker that crashes outside any request; other pools never notice', async () => {
    t = await start('><failure rapidFailProtection="false"/>', '', [
      { name: 'Test', id: 1, files: { 'a.txt': 'a' } },
      { name: 'Calm', id: 2, files: { 'b.txt': 'b' }, applicationPool: 'Other' },
    ]);
    const calm = async () => (await fetch(`${t!.urlOf('Calm')}/b.txt`)).text();
    expect(await calm()).toBe('b');
    const calmWp = t.server.pools.get('other')!.workers[0]!.id;
    const first = await wp();
    expect((await get('/crash-later')).body).toBe('ok');
    expect(await until(() => pool().stats().crashes, (n) => n === 1)).toBe(1);
    expect(await until(wp, (id) => id !== first)).not.toBe(first);
    expect(await calm()).toBe('b');
    expect(t.server.pools.get('other')!.workers[0]!.id).toBe(calmWp);
  });

  it('answers 503 for a request whose worker calls process.exit, and serves the next one', async () => {
    t = await start('><failure rapidFailProtection="false"/>');
    await wp();
    expect((await get('/exit')).status).toBe(503);
    expect((await get('/wp')).status).toBe(200);
    expect(pool().stats().crashes).toBe(1);
  });

  it('answers 503 for a request whose worker runs out of its memoryLimit, and serves the next one', async () => {
    t = await start('><processModel memoryLimit="64"/><failure rapidFailProtection="false"/>');
    await wp();
    expect((await get('/oom')).status).toBe(503);
    expect((await get('/wp')).status).toBe(200);
  });

  it('terminates a worker stuck in a busy loop once it misses pings, and replaces it', async () => {
    t = await start('><processModel pingInterval="00:00:01" pingResponseTime="00:00:01"/><failure rapidFailProtection="false"/>');
    const first = await wp();
    const startedAt = Date.now();
    const stuck = await get('/spin?ms=20000');
    expect(stuck.status).toBe(503);
    expect(Date.now() - startedAt).toBeLessThan(6000);
    expect(await wp()).not.toBe(first);
  });

  it('rapid-fail protection stops the pool after maxCrashes; start brings it back', async () => {
    t = await start('><failure rapidFailProtectionMaxCrashes="2" rapidFailProtectionInterval="00:01:00"/>');
    expect((await get('/exit')).status).toBe(503);
    expect((await get('/exit')).status).toBe(503);
    expect(await until(() => pool().state, (s) => s === 'Stopped')).toBe('Stopped');
    const refused = await get('/wp');
    expect(refused.status).toBe(503);
    pool().start();
    expect(pool().state).toBe('Started');
    expect((await get('/wp')).status).toBe(200);
  });
});

describe('stopping', () => {
  it('stops gracefully: a request in flight finishes, then the server is down', async () => {
    t = await start('>');
    await wp();
    const inFlight = get('/wait?ms=500');
    await sleep(100);
    const server = t;
    t = undefined;
    await server.stop();
    expect(await inFlight).toEqual({ status: 200, body: 'waited' });
    await expect(fetch(`${server.url}/wp`)).rejects.toThrow();
  });
});

describe('stopping during a recycle', () => {
  it('stops once: no worker thread outlives the pool', async () => {
    t = await start('>');
    await wp();
    const p = pool();
    await Promise.all([p.recycle(), p.stop()]);
    expect(p.state).toBe('Stopped');
    await sleep(300);
    expect(p.workers).toEqual([]);
  });
});

describe('HealthCheck and ThreadCleanup', () => {
  it('fires HealthCheck at each ping and ThreadCleanup after each batch', async () => {
    const log = join(tmpdir(), `w3core-health-${process.pid}.log`);
    writeFileSync(log, '');
    process.env.W3CORE_TEST_LOG = log;
    try {
      t = await startTestServer({
        pools: '<add name="DefaultAppPool" startMode="AlwaysRunning"><processModel pingInterval="00:00:01"/></add>',
        webServer: `<globalModules><add name="Health" image="${HEALTH}#HealthRecorder"/></globalModules>${MODULES}`,
      });
      await wp();
      const lines = await until(() => readFileSync(log, 'utf8').split('\n'), (l) => l.includes('HealthCheck') && l.includes('ThreadCleanup'), 4000);
      expect(lines).toContain('HealthCheck');
      expect(lines).toContain('ThreadCleanup');
    } finally {
      delete process.env.W3CORE_TEST_LOG;
    }
  });
});

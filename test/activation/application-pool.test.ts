/**
 * Application pools: requests wait in the pool's queue up to `queueLength` (past it, 503 at
 * once, as HTTP.sys answers when a pool's queue is full); a request waiting on I/O in a module
 * does not hold up the others of its batch; pools are isolated from each other.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SLOW = fileURLToPath(new URL('../fixtures/modules/slow.ts', import.meta.url));

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    pools: '<add name="DefaultAppPool" queueLength="10"/><add name="Other"/>',
    sites: [
      { name: 'Busy', id: 1, files: { 'a.txt': 'a' } },
      { name: 'Calm', id: 2, files: { 'b.txt': 'b' }, applicationPool: 'Other' },
    ],
    webServer: `<modules><add name="Slow" type="${SLOW}#SlowModule"/></modules>`,
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('application pools', () => {
  it('answers 503 at once past queueLength, and serves the requests it queued', async () => {
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 25 }, () => fetch(`${t.url}/slow?ms=400`).then(async (r) => {
        await r.text();
        return { status: r.status, at: Date.now() - started };
      })),
    );
    const ok = statuses.filter((s) => s.status === 200);
    const rejected = statuses.filter((s) => s.status === 503);
    expect(ok.length).toBe(10);
    expect(rejected.length).toBe(15);
    // Rejections come before the queued requests finish: they never waited on the module.
    expect(Math.max(...rejected.map((s) => s.at))).toBeLessThan(Math.min(...ok.map((s) => s.at)));
  });

  it('keeps a fast request of the same batch from waiting on a slow one', async () => {
    const slow = fetch(`${t.url}/slow?ms=1500`).then(async (r) => ({ body: await r.text(), at: Date.now() }));
    const fast = fetch(`${t.url}/a.txt`).then(async (r) => ({ body: await r.text(), at: Date.now() }));
    const [s, f] = await Promise.all([slow, fast]);
    expect(f.body).toBe('a');
    expect(s.body).toBe('done');
    expect(f.at).toBeLessThan(s.at);
  });

  it('serves another pool while this one is saturated', async () => {
    const busy = Array.from({ length: 10 }, () => fetch(`${t.url}/slow?ms=800`).then((r) => r.text()));
    const calm = await fetch(`${t.urlOf('Calm')}/b.txt`);
    expect(calm.status).toBe(200);
    expect(await calm.text()).toBe('b');
    await Promise.all(busy);
  });
});

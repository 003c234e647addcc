/**
 * `w3core appcmd` (the real command line, spawned) against a real server's admin endpoint: each
 * list verb in appcmd's line format and as `--json`, start/stop/recycle of a pool, start/stop of
 * a site, a slow request seen in flight, and the exit codes and messages of failures.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SLOW, TOKEN, adminFetch, appcmd, get, startAdminServer, type AdminTestServer,
} from './admin-fixture.js';

let t: AdminTestServer;
let env: Record<string, string>;

beforeAll(async () => {
  t = await startAdminServer({
    pools: '<add name="DefaultAppPool" startMode="AlwaysRunning"/><add name="Classic Pool" managedPipelineMode="Classic"/>',
    sites: [
      { name: 'Default Web Site', id: 1, files: { 'a.txt': 'a' } },
      { name: 'Legacy', id: 2, pool: 'Classic Pool', files: { 'b.txt': 'b' } },
    ],
    webServer: `<modules><add name="Slow" type="${SLOW}#SlowModule"/></modules>`,
  });
  env = { W3CORE_ADMIN_URL: t.adminUrl, W3CORE_ADMIN_TOKEN: TOKEN };
});

afterAll(async () => {
  await t?.stop();
});

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('w3core appcmd list', () => {
  it('list sites: SITE "name" (id:N,bindings:protocol/ip:port:host,state:S)', async () => {
    const r = await appcmd(['list', 'sites'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const p1 = new URL(t.urlOf('Default Web Site')).port;
    const p2 = new URL(t.urlOf('Legacy')).port;
    expect(lines(r.stdout)).toEqual([
      `SITE "Default Web Site" (id:1,bindings:http/127.0.0.1:${p1}:,state:Started)`,
      `SITE "Legacy" (id:2,bindings:http/127.0.0.1:${p2}:,state:Started)`,
    ]);
    const one = await appcmd(['list', 'site', '/site.name:legacy'], env);
    expect(lines(one.stdout)).toEqual([`SITE "Legacy" (id:2,bindings:http/127.0.0.1:${p2}:,state:Started)`]);
  });

  it('list sites --json prints the endpoint\'s objects', async () => {
    const r = await appcmd(['list', 'sites', '--json'], env);
    expect(r.code).toBe(0);
    const sites = JSON.parse(r.stdout);
    expect(sites.map((s: { name: string; id: number; state: string }) => [s.name, s.id, s.state]))
      .toEqual([['Default Web Site', 1, 'Started'], ['Legacy', 2, 'Started']]);
  });

  it('list apppools: APPPOOL "name" (MgdVersion:,MgdMode:Integrated|Classic,state:S), and --json', async () => {
    const r = await appcmd(['list', 'apppools'], env);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      'APPPOOL "DefaultAppPool" (MgdVersion:,MgdMode:Integrated,state:Started)',
      'APPPOOL "Classic Pool" (MgdVersion:,MgdMode:Classic,state:Started)',
    ]);
    const json = JSON.parse((await appcmd(['list', 'apppool', 'Classic Pool', '--json'], env)).stdout);
    expect(json).toEqual([expect.objectContaining({ name: 'Classic Pool', managedPipelineMode: 'Classic', state: 'Started' })]);
  });

  it('list wp: WP "id" (apppool:name) for each live worker, filtered by /apppool.name, and --json', async () => {
    const ids = t.server.pools.get('defaultapppool')!.workers.map((w) => w.id);
    expect(ids).toHaveLength(1);
    const r = await appcmd(['list', 'wp'], env);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([`WP "${ids[0]}" (apppool:DefaultAppPool)`]);
    expect((await appcmd(['list', 'wps', '/apppool.name:Classic Pool'], env)).stdout).toBe('');
    const json = JSON.parse((await appcmd(['list', 'wp', '--json'], env)).stdout);
    expect(json).toEqual([expect.objectContaining({ id: ids[0], appPoolName: 'DefaultAppPool', state: 'Running' })]);
  });

  it('list requests: a slow request in flight with its url, verb, client, elapsed time, stage and module', async () => {
    const site = t.urlOf('Default Web Site');
    // Long enough for every command below to run while the request is still in its worker.
    const slow = get(`${site}/slow?ms=6000`);
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, 700));
    const filters = [['/elapsed:100000'], ['/apppool.name:Classic Pool'], ['/site.id:2'], ['/elapsed:500', '/site.id:1', '/wp.name:' + String(t.server.pools.get('defaultapppool')!.workers[0]!.id)]];
    const [r, jsonRun, ...filtered] = await Promise.all([
      appcmd(['list', 'requests'], env),
      appcmd(['list', 'requests', '--json', '/apppool.name:DefaultAppPool'], env),
      ...filters.map((f) => appcmd(['list', 'requests', ...f], env)),
    ]);
    const waited = Date.now() - startedAt;
    expect(r!.stderr).toBe('');
    expect(r!.code).toBe(0);
    const out = lines(r!.stdout);
    expect(out).toHaveLength(1);
    const m = /^REQUEST "([0-9a-f]+)" \(url:GET \/slow\?ms=6000,time:(\d+) msec,client:127\.0\.0\.1,stage:([A-Za-z]*),module:([^,)]*)\)$/.exec(out[0]!);
    expect(m, out[0]).not.toBeNull();
    const elapsed = Number(m![2]);
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThanOrEqual(waited);
    expect(m![3]).toBe('BeginRequest');
    expect(m![4]).toBe('Slow');

    const json = JSON.parse(jsonRun!.stdout);
    expect(json).toEqual([expect.objectContaining({
      requestId: m![1], verb: 'GET', url: '/slow?ms=6000', clientIpAddress: '127.0.0.1', siteId: 1, siteName: 'Default Web Site',
      applicationPool: 'DefaultAppPool', stage: 'BeginRequest', module: 'Slow',
      workerId: t.server.pools.get('defaultapppool')!.workers[0]!.id,
    })]);
    expect(json[0].timeElapsedMs).toBeGreaterThanOrEqual(600);
    // Filters: not that old yet; another pool; another site; then all that match.
    filtered.forEach((f, i) => {
      expect(f.code, filters[i]!.join(' ')).toBe(0);
      expect(lines(f.stdout), filters[i]!.join(' ')).toHaveLength(i === 3 ? 1 : 0);
    });
    expect(Date.now() - startedAt, 'the commands ran while the request was in flight').toBeLessThan(6000);
    expect(await slow).toEqual({ status: 200, body: 'done' });
    expect((await appcmd(['list', 'requests'], env)).stdout).toBe('');
  });
});

describe('w3core appcmd actions', () => {
  it('stop apppool /apppool.name:X, then start apppool "X": 503 while stopped, 200 after', async () => {
    const site = t.urlOf('Default Web Site');
    const stop = await appcmd(['stop', 'apppool', '/apppool.name:DefaultAppPool'], env);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe('"DefaultAppPool" successfully stopped\n');
    expect((await get(`${site}/a.txt`)).status).toBe(503);
    expect(lines((await appcmd(['list', 'apppools', '/state:Stopped'], env)).stdout))
      .toEqual(['APPPOOL "DefaultAppPool" (MgdVersion:,MgdMode:Integrated,state:Stopped)']);
    expect((await appcmd(['list', 'wp', '/apppool.name:DefaultAppPool'], env)).stdout).toBe('');

    const again = await appcmd(['stop', 'apppool', 'DefaultAppPool'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('ERROR ( message:Cannot stop APPPOOL "DefaultAppPool": it is already stopped. )\n');

    const start = await appcmd(['start', 'apppool', 'DefaultAppPool'], env);
    expect(start.code).toBe(0);
    expect(start.stdout).toBe('"DefaultAppPool" successfully started\n');
    expect(await get(`${site}/a.txt`)).toEqual({ status: 200, body: 'a' });
  });

  it('recycle apppool: a new WP id afterwards, and requests served by it', async () => {
    const site = t.urlOf('Default Web Site');
    expect((await get(`${site}/a.txt`)).status).toBe(200);
    const before = lines((await appcmd(['list', 'wp'], env)).stdout);
    expect(before).toHaveLength(1);
    const r = await appcmd(['recycle', 'apppool', '/apppool.name:DefaultAppPool'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('"DefaultAppPool" successfully recycled\n');
    const after = lines((await appcmd(['list', 'wp'], env)).stdout);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatch(/^WP "\d+" \(apppool:DefaultAppPool\)$/);
    expect(after[0]).not.toBe(before[0]);
    expect(await get(`${site}/a.txt`)).toEqual({ status: 200, body: 'a' });
    const pool = JSON.parse((await appcmd(['list', 'apppool', 'DefaultAppPool', '--json'], env)).stdout)[0];
    expect(pool.recycles).toBe(1);
  });

  it('stop site "X" and start site /site.name:X (and --json)', async () => {
    const site = t.urlOf('Legacy');
    expect((await get(`${site}/b.txt`)).status).toBe(200);
    const stop = await appcmd(['stop', 'site', 'Legacy'], env);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe('"Legacy" successfully stopped\n');
    expect((await get(`${site}/b.txt`)).status).toBe(404);
    expect(lines((await appcmd(['list', 'sites', '/state:Stopped'], env)).stdout)[0]).toMatch(/^SITE "Legacy" \(id:2,.*,state:Stopped\)$/);
    const start = await appcmd(['start', 'site', '/site.name:Legacy', '--json'], env);
    expect(start.code).toBe(0);
    expect(JSON.parse(start.stdout)).toEqual({
      object: 'SITE', name: 'Legacy', action: 'start', state: 'Started', message: '"Legacy" successfully started',
    });
    expect(await get(`${site}/b.txt`)).toEqual({ status: 200, body: 'b' });
  });
});

describe('w3core appcmd failures', () => {
  it('an unknown pool or site: exit 1 and appcmd\'s message', async () => {
    const pool = await appcmd(['recycle', 'apppool', 'NoSuchPool'], env);
    expect(pool.code).toBe(1);
    expect(pool.stderr).toBe('ERROR ( message:Cannot find APPPOOL object with identifier "NoSuchPool". )\n');
    const site = await appcmd(['start', 'site', '/site.name:Nowhere'], env);
    expect(site.code).toBe(1);
    expect(site.stderr).toBe('ERROR ( message:Cannot find SITE object with identifier "Nowhere". )\n');
    const listed = await appcmd(['list', 'site', 'Nowhere'], env);
    expect([listed.code, listed.stdout]).toEqual([1, '']);
  });

  it('a wrong token: exit 4; no token at all: exit 4 without asking', async () => {
    const wrong = await appcmd(['list', 'sites'], { ...env, W3CORE_ADMIN_TOKEN: 'not-the-token-at-all' });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/refused the token \(401 Unauthorized\)/);
    expect(wrong.stdout).toBe('');
    const flag = await appcmd(['list', 'sites', '--token', TOKEN], { W3CORE_ADMIN_URL: t.adminUrl });
    expect(flag.code).toBe(0);
    const none = await appcmd(['list', 'sites'], { W3CORE_ADMIN_URL: t.adminUrl });
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/No admin token: pass --token or set W3CORE_ADMIN_TOKEN/);
  });

  it('an endpoint nobody listens on: exit 3 with the address', async () => {
    // A port that was free a moment ago.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = await appcmd(['list', 'apppools', '--endpoint', `http://127.0.0.1:${port}`], { W3CORE_ADMIN_TOKEN: TOKEN });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`Cannot reach the w3core admin endpoint at http://127.0.0.1:${port}: connect ECONNREFUSED`);
  });

  it('usage errors: exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate', 'sites'], /Command 'FROBNICATE' is not supported on object 'SITE'/],
      [['list', 'vdirs'], /Object 'VDIRS' is not supported/],
      [['recycle', 'site', 'Legacy'], /Command 'RECYCLE' is not supported on object 'SITE'/],
      [['stop', 'apppool'], /Must specify the APPPOOL object with identifier/],
      [['list', 'wp', '/elapsed:5'], /parameter \/elapsed does not apply to list wp/],
      [['list', 'sites', '--verbose'], /unknown option --verbose/],
      [[], /Usage: w3core appcmd/],
    ];
    for (const [args, message] of cases) {
      const r = await appcmd(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr + r.stdout, args.join(' ')).toMatch(message);
    }
    // Nothing was stopped by any of them.
    expect((await adminFetch(t.adminUrl, '/sites?state=Stopped').then((x) => x.json()))).toEqual([]);
  });
});

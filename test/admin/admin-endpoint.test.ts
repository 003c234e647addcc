/**
 * The admin endpoint (`<w3coreAdmin>`): off by default, loopback only, a bearer token on every
 * request (from the configuration, `%VAR%`, or W3CORE_ADMIN_TOKEN), start-up refused without
 * one, and the JSON routes behind `w3core appcmd`.
 */
import { readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../dist/index.js';
import { checkConfigError } from '../helpers/config-error.js';
import { startTestServer } from '../helpers/server.js';
import {
  TOKEN, adminFetch, get, startAdminServer, writeAdminConfig, type AdminTestServer,
} from './admin-fixture.js';

/** The endpoint's error body. */
interface ErrorBody {
  readonly error?: { readonly status: number; readonly message: string };
}

function adminLine(configFile: string): number {
  return readFileSync(configFile, 'utf8').split('\n').findIndex((l) => l.includes('<w3coreAdmin')) + 1;
}

/** Starts this configuration; returns the error, the file and the line of `<w3coreAdmin>`. */
async function startFails(admin: string): Promise<{ err: unknown; configFile: string; line: number }> {
  const { dir, configFile } = writeAdminConfig({ admin });
  const line = adminLine(configFile);
  try {
    const server = await startServer({ configFile });
    await server.stop();
    return { err: undefined, configFile, line };
  } catch (err) {
    return { err, configFile, line };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('admin endpoint configuration', () => {
  const savedEnv = process.env.W3CORE_ADMIN_TOKEN;
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.W3CORE_ADMIN_TOKEN;
    else process.env.W3CORE_ADMIN_TOKEN = savedEnv;
    delete process.env.W3CORE_TEST_ADMIN_SECRET;
  });

  it('is off by default', async () => {
    const t = await startTestServer({ files: { 'a.txt': 'a' } });
    try {
      expect(t.server.admin).toBeUndefined();
    } finally {
      await t.stop();
    }
  });

  it('refuses to start when enabled without any token, naming the element and attribute token', async () => {
    delete process.env.W3CORE_ADMIN_TOKEN;
    const { err, configFile, line } = await startFails('enabled="true" port="0"');
    expect(line).toBeGreaterThan(1);
    checkConfigError(err, configFile, line, 'token', /without a token.*W3CORE_ADMIN_TOKEN/);
  });

  it('refuses a %VAR% token whose variable is not set, and a short token', async () => {
    delete process.env.W3CORE_ADMIN_TOKEN;
    const unset = await startFails('enabled="true" port="0" token="%W3CORE_TEST_ADMIN_SECRET%"');
    checkConfigError(unset.err, unset.configFile, unset.line, 'token', /W3CORE_TEST_ADMIN_SECRET is not set/);
    const short = await startFails('enabled="true" port="0" token="abc"');
    checkConfigError(short.err, short.configFile, short.line, 'token', /at least 16 characters/);
  });

  it('refuses to start when its port is taken, naming the attribute port', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (taken.address() as AddressInfo).port;
      const { err, configFile, line } = await startFails(`enabled="true" port="${port}" token="${TOKEN}"`);
      checkConfigError(err, configFile, line, 'port', new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('takes the token from W3CORE_ADMIN_TOKEN when the configuration has none', async () => {
    process.env.W3CORE_ADMIN_TOKEN = 'from-the-environment-0123456789';
    const t = await startAdminServer({ admin: 'enabled="true" port="0"' });
    try {
      expect((await adminFetch(t.adminUrl, '/sites')).status).toBe(401);
      const ok = await adminFetch(t.adminUrl, '/sites', { authorization: 'Bearer from-the-environment-0123456789' });
      expect(ok.status).toBe(200);
    } finally {
      await t.stop();
    }
  });

  it('expands a %VAR% token from the environment', async () => {
    process.env.W3CORE_TEST_ADMIN_SECRET = 'expanded-secret-0123456789';
    const t = await startAdminServer({ admin: 'enabled="true" port="0" token="%W3CORE_TEST_ADMIN_SECRET%"' });
    try {
      expect((await adminFetch(t.adminUrl, '/sites', { authorization: 'Bearer %W3CORE_TEST_ADMIN_SECRET%' })).status).toBe(401);
      expect((await adminFetch(t.adminUrl, '/sites', { authorization: 'Bearer expanded-secret-0123456789' })).status).toBe(200);
    } finally {
      await t.stop();
    }
  });
});

describe('admin endpoint', () => {
  let t: AdminTestServer;

  beforeAll(async () => {
    t = await startAdminServer({
      pools: '<add name="DefaultAppPool" startMode="AlwaysRunning"/><add name="Classic Pool" managedPipelineMode="Classic"/>',
      sites: [
        { name: 'Default Web Site', id: 1, files: { 'a.txt': 'a' } },
        { name: 'Second', id: 7, pool: 'Classic Pool', files: { 'b.txt': 'b' } },
      ],
    });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('answers 401 without a token, with a wrong one, or with another scheme, and tells nothing more', async () => {
    for (const authorization of [null, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, 'Bearer']) {
      for (const path of ['/sites', '/metrics', '/apppools/DefaultAppPool/stop', '/no-such-route']) {
        const res = await adminFetch(t.adminUrl, path, { authorization, method: path.endsWith('/stop') ? 'POST' : 'GET' });
        expect(res.status, `${authorization} ${path}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="w3core"');
        expect(await res.json()).toEqual({ error: { status: 401, message: 'unauthorized' } });
      }
    }
    // Nothing was stopped by the refused requests.
    expect(t.server.pools.get('defaultapppool')!.state).toBe('Started');
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    expect((await adminFetch(t.adminUrl, '/sites', { authorization: `bearer ${TOKEN}` })).status).toBe(200);
  });

  it('listens on 127.0.0.1 only', async () => {
    const port = t.server.admin!.port;
    const external = Object.values(networkInterfaces()).flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    expect(external, 'this test needs a non-loopback IPv4 address').toBeDefined();
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(port, external!.address);
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(outcome).toBe('ECONNREFUSED');
  });

  it('GET /sites lists every site with its bound port and state', async () => {
    const res = await adminFetch(t.adminUrl, '/sites');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const port1 = new URL(t.urlOf('Default Web Site')).port;
    const port7 = new URL(t.urlOf('Second')).port;
    expect(await res.json()).toEqual([
      { name: 'Default Web Site', id: 1, bindings: [`http/127.0.0.1:${port1}:`], state: 'Started', serverAutoStart: true },
      { name: 'Second', id: 7, bindings: [`http/127.0.0.1:${port7}:`], state: 'Started', serverAutoStart: true },
    ]);
    const one = await (await adminFetch(t.adminUrl, '/sites?name=second')).json() as { name: string }[];
    expect(one.map((s) => s.name)).toEqual(['Second']);
  });

  it('GET /apppools lists pools with pipeline mode, state and workers', async () => {
    const pools = await (await adminFetch(t.adminUrl, '/apppools')).json() as { workers: number[] }[];
    expect(pools).toHaveLength(2);
    expect(pools[0]).toMatchObject({
      name: 'DefaultAppPool', state: 'Started', managedRuntimeVersion: '', managedPipelineMode: 'Integrated',
      startMode: 'AlwaysRunning', queueLength: 1000,
    });
    expect(pools[0].workers).toHaveLength(1);
    expect(pools[1]).toMatchObject({ name: 'Classic Pool', managedPipelineMode: 'Classic', startMode: 'OnDemand', workers: [] });
  });

  it('GET /wp lists the workers of running pools', async () => {
    const wps = await (await adminFetch(t.adminUrl, '/wp')).json() as { id: number }[];
    expect(wps).toEqual([expect.objectContaining({ appPoolName: 'DefaultAppPool', state: 'Running', generation: expect.any(Number) })]);
    expect(wps[0].id).toBe(t.server.pools.get('defaultapppool')!.workers[0]!.id);
    expect(await (await adminFetch(t.adminUrl, '/wp?apppool=Classic%20Pool')).json()).toEqual([]);
  });

  it('answers 404 for unknown routes and objects, 405 for a wrong method, 409 for a wrong state, 400 for bad numbers', async () => {
    const cases: [string, string, number, RegExp][] = [
      ['GET', '/nothing', 404, /no such route/],
      ['GET', '/sites/Default%20Web%20Site', 404, /no such route/],
      ['POST', '/apppools/NoSuchPool/stop', 404, /^Cannot find APPPOOL object with identifier "NoSuchPool"\.$/],
      ['POST', '/sites/No%20Such%20Site/start', 404, /^Cannot find SITE object with identifier "No Such Site"\.$/],
      ['GET', '/wp?apppool=NoSuchPool', 404, /APPPOOL object with identifier "NoSuchPool"/],
      ['GET', '/apppools/DefaultAppPool/recycle', 405, /GET is not allowed/],
      ['POST', '/sites', 405, /POST is not allowed/],
      ['POST', '/apppools/DefaultAppPool/start', 409, /already started/],
      ['POST', '/sites/Second/start', 409, /already started/],
      ['POST', '/apppools/Classic%20Pool/recycle', 200, /"Classic Pool" successfully recycled/],
      ['GET', '/requests?elapsed=soon', 400, /'elapsed' must be a non-negative integer/],
    ];
    for (const [method, path, status, message] of cases) {
      const res = await adminFetch(t.adminUrl, path, { method });
      expect(res.status, `${method} ${path}`).toBe(status);
      const body = await res.json() as ErrorBody & { message?: string };
      expect(body.error?.message ?? body.message, `${method} ${path}`).toMatch(message);
      if (status === 405) expect(res.headers.get('allow')).toBe(path === '/sites' ? 'GET' : 'POST');
    }
  });

  it('POST /apppools/<name>/stop and /start: 503 while stopped, served again after start', async () => {
    const site = t.urlOf('Default Web Site');
    expect((await get(`${site}/a.txt`)).status).toBe(200);
    const stopped = await adminFetch(t.adminUrl, '/apppools/defaultapppool/stop', { method: 'POST' });
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toEqual({
      object: 'APPPOOL', name: 'DefaultAppPool', action: 'stop', state: 'Stopped', message: '"DefaultAppPool" successfully stopped',
    });
    expect((await get(`${site}/a.txt`)).status).toBe(503);
    // The other pool's site does not notice.
    expect((await get(`${t.urlOf('Second')}/b.txt`)).body).toBe('b');
    const again = await adminFetch(t.adminUrl, '/apppools/DefaultAppPool/stop', { method: 'POST' });
    expect(again.status).toBe(409);
    expect((await again.json() as ErrorBody).error?.message).toBe('Cannot stop APPPOOL "DefaultAppPool": it is already stopped.');
    const recycle = await adminFetch(t.adminUrl, '/apppools/DefaultAppPool/recycle', { method: 'POST' });
    expect(recycle.status).toBe(409);
    const started = await adminFetch(t.adminUrl, '/apppools/DefaultAppPool/start', { method: 'POST' });
    expect(await started.json()).toMatchObject({ state: 'Started', message: '"DefaultAppPool" successfully started' });
    const res = await get(`${site}/a.txt`);
    expect(res).toEqual({ status: 200, body: 'a' });
  });

  it('POST /sites/<name>/stop and /start: the site stops answering, then serves again', async () => {
    const site = t.urlOf('Second');
    const stopped = await (await adminFetch(t.adminUrl, '/sites/Second/stop', { method: 'POST' })).json();
    expect(stopped).toEqual({ object: 'SITE', name: 'Second', action: 'stop', state: 'Stopped', message: '"Second" successfully stopped' });
    expect((await get(`${site}/b.txt`)).status).toBe(404);
    expect((await (await adminFetch(t.adminUrl, '/sites?state=Stopped')).json() as { name: string }[]).map((s) => s.name)).toEqual(['Second']);
    expect((await adminFetch(t.adminUrl, '/sites/second/stop', { method: 'POST' })).status).toBe(409);
    // The other site keeps serving.
    expect((await get(`${t.urlOf('Default Web Site')}/a.txt`)).status).toBe(200);
    const started = await (await adminFetch(t.adminUrl, '/sites/Second/start', { method: 'POST' })).json();
    expect(started).toMatchObject({ state: 'Started', message: '"Second" successfully started' });
    expect(await get(`${site}/b.txt`)).toEqual({ status: 200, body: 'b' });
  });
});

/**
 * `/metrics` on the admin endpoint: Prometheus text that a strict parser accepts, the metric
 * families documented in native-notes.md ("Admin endpoint, appcmd, counters"), request counts, bytes and durations per site that match
 * what the test sent, cache and pool numbers, and one registry per server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SLOW, adminFetch, get, parsePrometheusText, sampleValue, startAdminServer, type AdminTestServer, type Family,
} from './admin-fixture.js';

const FAMILIES: Record<string, Family['type']> = {
  w3core_requests_total: 'counter',
  w3core_sent_bytes_total: 'counter',
  w3core_received_bytes_total: 'counter',
  w3core_request_duration_seconds: 'histogram',
  w3core_requests_in_flight: 'gauge',
  w3core_site_state: 'gauge',
  w3core_app_pool_state: 'gauge',
  w3core_app_pool_queue_length: 'gauge',
  w3core_app_pool_workers: 'gauge',
  w3core_app_pool_requests_total: 'counter',
  w3core_app_pool_worker_restarts_total: 'counter',
  w3core_app_pool_recycles_total: 'counter',
  w3core_app_pool_worker_crashes_total: 'counter',
  w3core_cache_hits_total: 'counter',
  w3core_cache_misses_total: 'counter',
  w3core_cache_entries: 'gauge',
  w3core_cache_bytes: 'gauge',
  w3core_cache_evictions_total: 'counter',
  w3core_cache_invalidations_total: 'counter',
};

const A_TXT = 'alpha body\n';
const B_TXT = 'bravo body, a little longer\n';

let t: AdminTestServer;

async function scrape(server: AdminTestServer = t): Promise<Map<string, Family>> {
  const res = await adminFetch(server.adminUrl, '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(await res.text());
}

beforeAll(async () => {
  t = await startAdminServer({
    pools: '<add name="DefaultAppPool" startMode="AlwaysRunning"/><add name="Idle Pool"/>',
    sites: [
      { name: 'Default Web Site', id: 1, files: { 'a.txt': A_TXT } },
      { name: 'Other "quoted" Site', id: 2, files: { 'b.txt': B_TXT } },
    ],
    webServer: `<modules><add name="Slow" type="${SLOW}#SlowModule"/></modules>`,
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('/metrics', () => {
  it('is valid Prometheus text with the documented families, all zero before any request', async () => {
    const m = await scrape();
    const present = Object.fromEntries([...m.values()].map((f) => [f.name, f.type]));
    // No connection counter in this server yet: w3core_current_connections only appears when it counts them.
    const { w3core_current_connections: connections, ...rest } = present;
    expect(rest).toEqual(FAMILIES);
    if (connections !== undefined) expect(connections).toBe('gauge');
    for (const f of m.values()) expect(f.help, f.name).not.toBe('');
    for (const site of ['Default Web Site', 'Other "quoted" Site']) {
      for (const cls of ['1xx', '2xx', '3xx', '4xx', '5xx']) {
        expect(sampleValue(m, 'w3core_requests_total', { site, status_class: cls })).toBe(0);
      }
      expect(sampleValue(m, 'w3core_sent_bytes_total', { site })).toBe(0);
      expect(sampleValue(m, 'w3core_request_duration_seconds_count', { site })).toBe(0);
    }
    expect(sampleValue(m, 'w3core_app_pool_state', { app_pool: 'DefaultAppPool', state: 'Started' })).toBe(1);
    expect(sampleValue(m, 'w3core_app_pool_state', { app_pool: 'DefaultAppPool', state: 'Stopped' })).toBe(0);
    expect(sampleValue(m, 'w3core_app_pool_workers', { app_pool: 'DefaultAppPool' })).toBe(1);
    expect(sampleValue(m, 'w3core_app_pool_workers', { app_pool: 'Idle Pool' })).toBe(0);
  });

  it('counts requests, bytes and durations per site as sent, and the cache and pool numbers behind them', async () => {
    const site1 = t.urlOf('Default Web Site');
    const site2 = t.urlOf('Other "quoted" Site');
    // One after the other, so the response cache sees them in order: the first two a.txt go to
    // the worker (the second stores it), the other three are hits.
    for (let i = 0; i < 5; i++) expect(await get(`${site1}/a.txt`)).toEqual({ status: 200, body: A_TXT });
    for (let i = 0; i < 3; i++) expect((await get(`${site1}/missing-${i}.txt`)).status).toBe(404);
    for (let i = 0; i < 2; i++) expect(await get(`${site2}/b.txt`)).toEqual({ status: 200, body: B_TXT });

    const m = await scrape();
    const s1 = { site: 'Default Web Site' };
    const s2 = { site: 'Other "quoted" Site' };
    expect(sampleValue(m, 'w3core_requests_total', { ...s1, status_class: '2xx' })).toBe(5);
    expect(sampleValue(m, 'w3core_requests_total', { ...s1, status_class: '4xx' })).toBe(3);
    expect(sampleValue(m, 'w3core_requests_total', { ...s1, status_class: '5xx' })).toBe(0);
    expect(sampleValue(m, 'w3core_requests_total', { ...s2, status_class: '2xx' })).toBe(2);
    expect(sampleValue(m, 'w3core_requests_total', { ...s2, status_class: '4xx' })).toBe(0);

    // Bytes: at least the entities (plus status lines and headers); received: at least the request lines.
    const sent1 = sampleValue(m, 'w3core_sent_bytes_total', s1);
    const sent2 = sampleValue(m, 'w3core_sent_bytes_total', s2);
    expect(sent1).toBeGreaterThan(5 * (A_TXT.length + 'HTTP/1.1 200 OK\r\n'.length));
    expect(sent2).toBeGreaterThan(2 * (B_TXT.length + 'HTTP/1.1 200 OK\r\n'.length));
    expect(sampleValue(m, 'w3core_received_bytes_total', s1)).toBeGreaterThanOrEqual(5 * 'GET /a.txt HTTP/1.1\r\n'.length);
    expect(sampleValue(m, 'w3core_received_bytes_total', s2)).toBeGreaterThanOrEqual(2 * 'GET /b.txt HTTP/1.1\r\n'.length);

    // Histogram: cumulative buckets, +Inf = count = requests, a plausible sum.
    for (const [labels, n] of [[s1, 8], [s2, 2]] as const) {
      const buckets = m.get('w3core_request_duration_seconds')!.samples
        .filter((s) => s.name === 'w3core_request_duration_seconds_bucket' && s.labels.site === labels.site);
      const bounds = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
      expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
      expect(bounds.at(-1)).toBe(Infinity);
      const counts = buckets.map((b) => b.value);
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
      expect(counts.at(-1)).toBe(n);
      expect(sampleValue(m, 'w3core_request_duration_seconds_count', labels)).toBe(n);
      const sum = sampleValue(m, 'w3core_request_duration_seconds_sum', labels);
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThan(n * 5);
    }

    expect(sampleValue(m, 'w3core_cache_hits_total')).toBe(3);
    expect(sampleValue(m, 'w3core_cache_misses_total')).toBe(7);
    expect(sampleValue(m, 'w3core_cache_entries')).toBe(2);
    expect(sampleValue(m, 'w3core_cache_bytes')).toBeGreaterThan(A_TXT.length + B_TXT.length);
    expect(sampleValue(m, 'w3core_app_pool_requests_total', { app_pool: 'DefaultAppPool' })).toBe(7);
    expect(sampleValue(m, 'w3core_app_pool_requests_total', { app_pool: 'Idle Pool' })).toBe(0);
    expect(sampleValue(m, 'w3core_app_pool_queue_length', { app_pool: 'DefaultAppPool' })).toBe(0);
    expect(sampleValue(m, 'w3core_requests_in_flight')).toBe(0);
  });

  it('follows pool and site state, recycles, and requests in flight', async () => {
    const pool = t.server.pools.get('defaultapppool')!;
    const site1 = t.urlOf('Default Web Site');
    expect((await adminFetch(t.adminUrl, '/apppools/DefaultAppPool/recycle', { method: 'POST' })).status).toBe(200);
    expect((await adminFetch(t.adminUrl, '/sites/Default%20Web%20Site/stop', { method: 'POST' })).status).toBe(200);
    let m = await scrape();
    expect(sampleValue(m, 'w3core_app_pool_recycles_total', { app_pool: 'DefaultAppPool' })).toBe(1);
    expect(sampleValue(m, 'w3core_site_state', { site: 'Default Web Site', state: 'Stopped' })).toBe(1);
    expect(sampleValue(m, 'w3core_site_state', { site: 'Default Web Site', state: 'Started' })).toBe(0);
    expect(sampleValue(m, 'w3core_site_state', { site: 'Other "quoted" Site', state: 'Started' })).toBe(1);
    expect((await adminFetch(t.adminUrl, '/sites/Default%20Web%20Site/start', { method: 'POST' })).status).toBe(200);

    const slow = get(`${site1}/slow?ms=1500`);
    await new Promise((r) => setTimeout(r, 400));
    m = await scrape();
    expect(sampleValue(m, 'w3core_requests_in_flight')).toBe(1);
    expect(sampleValue(m, 'w3core_app_pool_queue_length', { app_pool: 'DefaultAppPool' })).toBe(1);
    expect((await slow).body).toBe('done');

    expect((await adminFetch(t.adminUrl, '/apppools/DefaultAppPool/stop', { method: 'POST' })).status).toBe(200);
    expect((await get(`${site1}/never-cached.txt`)).status).toBe(503);
    m = await scrape();
    expect(sampleValue(m, 'w3core_app_pool_state', { app_pool: 'DefaultAppPool', state: 'Stopped' })).toBe(1);
    expect(sampleValue(m, 'w3core_app_pool_state', { app_pool: 'DefaultAppPool', state: 'Started' })).toBe(0);
    expect(sampleValue(m, 'w3core_app_pool_workers', { app_pool: 'DefaultAppPool' })).toBe(0);
    expect(sampleValue(m, 'w3core_requests_total', { site: 'Default Web Site', status_class: '5xx' })).toBe(1);
    expect((await adminFetch(t.adminUrl, '/apppools/DefaultAppPool/start', { method: 'POST' })).status).toBe(200);
    expect(pool.state).toBe('Started');
  });

  it('keeps one registry per server: a second server counts only its own requests', async () => {
    const other = await startAdminServer({ sites: [{ name: 'Default Web Site', id: 1, files: { 'a.txt': A_TXT } }] });
    try {
      const before = sampleValue(await scrape(), 'w3core_requests_total', { site: 'Default Web Site', status_class: '2xx' });
      expect((await get(`${other.urlOf('Default Web Site')}/a.txt`)).status).toBe(200);
      const mine = await scrape(other);
      expect(sampleValue(mine, 'w3core_requests_total', { site: 'Default Web Site', status_class: '2xx' })).toBe(1);
      expect(mine.has('w3core_app_pool_state')).toBe(true);
      expect(mine.get('w3core_app_pool_state')!.samples.every((s) => s.labels.app_pool === 'DefaultAppPool')).toBe(true);
      const after = sampleValue(await scrape(), 'w3core_requests_total', { site: 'Default Web Site', status_class: '2xx' });
      expect(after).toBe(before);
    } finally {
      await other.stop();
    }
  });

  it('needs the token', async () => {
    const res = await adminFetch(t.adminUrl, '/metrics', { authorization: null });
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain('w3core_');
  });
});

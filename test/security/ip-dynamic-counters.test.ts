/**
 * The dynamicIpSecurity counters with a clock the test controls: the sliding rate window, the
 * in-progress count, bounded memory under client churn, proxy-mode release, logging-only reports.
 */
import { describe, expect, it } from 'vitest';
import { DynamicIpRestriction, type DynamicIpLogEntry } from '../../dist/listener/dynamic-ip.js';
import { DYNAMIC_IP_SECURITY } from '../../dist/wasm/ip-security-config.js';

type Section = ReturnType<typeof DYNAMIC_IP_SECURITY.read>;

function policy(overrides: {
  concurrent?: number; rate?: [number, number]; loggingOnly?: boolean; proxy?: boolean;
}): Section {
  return {
    denyAction: 'Forbidden',
    enableProxyMode: overrides.proxy ?? false,
    enableLoggingOnlyMode: overrides.loggingOnly ?? false,
    denyByConcurrentRequests: { enabled: overrides.concurrent !== undefined, maxConcurrentRequests: overrides.concurrent ?? 5 },
    denyByRequestRate: {
      enabled: overrides.rate !== undefined, maxRequests: overrides.rate?.[0] ?? 20, requestIntervalInMilliseconds: overrides.rate?.[1] ?? 200,
    },
  };
}

describe('dynamicIpSecurity counters', () => {
  it('limits the rate with a sliding window over two intervals', () => {
    const d = new DynamicIpRestriction();
    const p = policy({ rate: [4, 1000] });
    const at = (now: number) => d.admit(1, 'S', p, 'a', 'a', now);
    expect([at(0), at(100), at(200), at(300)]).toEqual([null, null, null, null]);
    expect(at(400)).toBe('rate');
    // At 1500 half of the first window (5 requests) still weighs: ceil(2.5) + 1 = 4 ≤ 4.
    expect(at(1500)).toBe(null);
    // ceil(5 × 0.4) + 2 = 4 at 1600; at 1700 ceil(1.5) + 3 = 5 > 4.
    expect(at(1600)).toBe(null);
    expect(at(1700)).toBe('rate');
    // Two intervals later nothing weighs any more.
    expect(at(4000)).toBe(null);
    // Another client is counted on its own.
    expect(d.admit(1, 'S', p, 'b', 'b', 400)).toBe(null);
    // The clock going back starts the window over instead of refusing.
    expect(at(10)).toBe(null);
  });

  it('counts requests in progress until released', () => {
    const d = new DynamicIpRestriction();
    const p = policy({ concurrent: 2 });
    expect(d.admit(1, 'S', p, 'a', 'a', 0)).toBe(null);
    expect(d.admit(1, 'S', p, 'a', 'a', 0)).toBe(null);
    expect(d.admit(1, 'S', p, 'a', 'a', 0)).toBe('concurrent');
    expect(d.inFlight(1, 'a')).toBe(2);
    d.release(1, 'a');
    expect(d.admit(1, 'S', p, 'a', 'a', 0)).toBe(null);
    d.release(1, 'a');
    d.release(1, 'a');
    d.release(1, 'a');
    expect(d.inFlight(1, 'a')).toBe(0);
    expect(d.inFlight(2, 'a')).toBe(0);
  });

  it('keeps memory bounded under churn, and keeps clients with requests in progress', () => {
    const d = new DynamicIpRestriction({ maxClients: 1000 });
    const p = policy({ concurrent: 1, rate: [1_000_000, 100] });
    expect(d.admit(1, 'S', p, 'busy', 'busy', 0)).toBe(null);
    for (let i = 0; i < 50_000; i++) {
      d.admit(1, 'S', p, `c${i}`, `c${i}`, i >> 4);
      d.release(1, `c${i}`);
      expect(d.trackedClients(1)).toBeLessThanOrEqual(1001);
    }
    expect(d.inFlight(1, 'busy')).toBe(1);
    expect(d.admit(1, 'S', p, 'busy', 'busy', 5000)).toBe('concurrent');
    // Idle clients are forgotten after the turnovers.
    const quiet = new DynamicIpRestriction();
    const rateOnly = policy({ rate: [10, 100] });
    for (let i = 0; i < 100; i++) quiet.admit(1, 'S', rateOnly, `q${i}`, `q${i}`, 0);
    expect(quiet.trackedClients(1)).toBe(100);
    quiet.admit(1, 'S', rateOnly, 'late', 'late', 1500);
    quiet.admit(1, 'S', rateOnly, 'late', 'late', 3000);
    expect(quiet.trackedClients(1)).toBe(1);
  });

  it('in proxy mode releases the named client, or else the latest one through that address', () => {
    const d = new DynamicIpRestriction();
    const p = policy({ concurrent: 1, proxy: true });
    expect(d.admit(1, 'S', p, 'slow', 'proxy', 0)).toBe(null);
    expect(d.admit(1, 'S', p, 'fast', 'proxy', 0)).toBe(null);
    d.release(1, 'proxy');
    expect([d.inFlight(1, 'slow'), d.inFlight(1, 'fast')]).toEqual([1, 0]);
    expect(d.admit(1, 'S', p, 'fast', 'proxy', 0)).toBe(null);
    expect(d.admit(1, 'S', p, 'other', 'proxy', 0)).toBe(null);
    d.release(1, 'proxy', 'fast');
    expect([d.inFlight(1, 'slow'), d.inFlight(1, 'fast'), d.inFlight(1, 'other')]).toEqual([1, 0, 1]);
    d.release(1, 'proxy');
    d.release(1, 'proxy');
    expect([d.inFlight(1, 'slow'), d.inFlight(1, 'other')]).toEqual([0, 0]);
  });

  it('in logging-only mode never refuses, and reports once a second per client and limit', () => {
    const log: DynamicIpLogEntry[] = [];
    const d = new DynamicIpRestriction({ log: (e) => log.push(e) });
    const p = policy({ concurrent: 1, rate: [2, 10_000], loggingOnly: true });
    for (let i = 0; i < 10; i++) expect(d.admit(1, 'S', p, 'a', 'a', i)).toBe(null);
    expect(d.inFlight(1, 'a')).toBe(10);
    expect(log.map((e) => [e.limit, e.inFlight, e.rate])).toEqual([['concurrent', 2, 2], ['rate', 3, 3]]);
    d.admit(1, 'S', p, 'a', 'a', 1500);
    expect(log.map((e) => e.limit)).toEqual(['concurrent', 'rate', 'rate']);
  });
});

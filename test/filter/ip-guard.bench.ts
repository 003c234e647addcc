/**
 * What the IP guard costs per request on the listener thread (`npx vitest bench --run
 * test/filter/ip-guard.bench.ts`). The configuration lookup is measured alone as the baseline:
 * the admission step pays it anyway for request filtering.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, describe } from 'vitest';
import { parseApplicationHost } from '../../dist/config/application-host.js';
import { ConfigHierarchy } from '../../dist/config/config-hierarchy.js';
import { IpGuard } from '../../dist/listener/ip-guard.js';
import { ipFilter } from '../../dist/wasm/ip-filter.js';
import { referenceMask, referenceParse } from './ip-reference.js';

const ROOT = mkdtempSync(join(tmpdir(), 'w3core-ip-bench-'));

function setup(webServer: string) {
  const config = parseApplicationHost(`<configuration>
    <system.applicationHost>
      <applicationPools><add name="DefaultAppPool"/></applicationPools>
      <sites><site name="S" id="1">
        <bindings><binding protocol="http" bindingInformation="127.0.0.1:0:"/></bindings>
        <application path="/"><virtualDirectory path="/" physicalPath="${ROOT}"/></application>
      </site></sites>
    </system.applicationHost>
    <system.webServer>${webServer}</system.webServer>
  </configuration>`, '/bench/applicationHost.config');
  const hierarchy = new ConfigHierarchy(config, 1000);
  const site = config.sites[0]!;
  const lookup = (s: typeof site, p: string) => hierarchy.effective(s, p);
  return { site, hierarchy, guard: new IpGuard(lookup) };
}

const TEN_RULES = `<security><ipSecurity>${Array.from({ length: 10 }, (_, i) => `<add ipAddress="10.${i}.0.0/16"/>`).join('')}</ipSecurity></security>`;
const RATE = '<security><dynamicIpSecurity><denyByRequestRate enabled="true" maxRequests="1000000000" requestIntervalInMilliseconds="1000"/></dynamicIpSecurity></security>';
const CONCURRENT = '<security><dynamicIpSecurity><denyByConcurrentRequests enabled="true" maxConcurrentRequests="1000"/></dynamicIpSecurity></security>';

const stock = setup('');
const listed = setup(TEN_RULES);
const limited = setup(TEN_RULES + RATE);
const counted = setup(CONCURRENT);
const HEADERS = ['host', 'localhost', 'user-agent', 'bench'];
const PATH = '/index.html';
const CLIENTS = Array.from({ length: 20_000 }, (_, i) => `192.168.${i >> 8}.${i & 255}`);
let n = 0;

const set = ipFilter().compile(
  Array.from({ length: 10 }, (_, i) => ({ address: referenceParse(`10.${i}.0.0`)!.bytes, mask: referenceMask(96 + 16), allowed: false })), true);

describe('IpGuard.check per request', () => {
  bench('baseline: configuration lookup only', () => {
    stock.hierarchy.effective(stock.site, PATH);
  }, { time: 400 });
  bench('stock config (no rules, no dynamic limits)', () => {
    stock.guard.check(stock.site, PATH, '127.0.0.1', HEADERS);
  }, { time: 400 });
  bench('10 rules, known client (cached verdict)', () => {
    listed.guard.check(listed.site, PATH, '127.0.0.1', HEADERS);
  }, { time: 400 });
  bench('10 rules, a new client each time (Wasm parse + match)', () => {
    listed.guard.check(listed.site, PATH, CLIENTS[n++ % CLIENTS.length]!, HEADERS);
  }, { time: 400 });
  bench('10 rules + request rate limit, known client', () => {
    limited.guard.check(limited.site, PATH, '127.0.0.1', HEADERS);
  }, { time: 400 });
  bench('concurrency limit: check + finished', () => {
    counted.guard.check(counted.site, PATH, '127.0.0.1', HEADERS);
    counted.guard.finished(counted.site, '127.0.0.1');
  }, { time: 400 });
});

describe('engine', () => {
  bench('IpRuleSet.verdict, cached', () => {
    set.verdict('127.0.0.1');
  }, { time: 300 });
  bench('IpFilterEngine.evaluate (copy + Wasm parse + 10-rule match)', () => {
    ipFilter().evaluate(set, '192.168.1.77');
  }, { time: 300 });
  bench('evaluate, uWS long IPv6 form', () => {
    ipFilter().evaluate(set, '0000:0000:0000:0000:0000:ffff:c0a8:014d');
  }, { time: 300 });
});

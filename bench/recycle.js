// `npm run bench:recycle`: reliability under load (issue "WAS role").
//
// Phase 1: autocannon at full load on the dynamic module (/hello) while the pool is recycled
//          10 times, overlapped. Target: zero non-2xx responses and zero errors.
// Phase 2: the same load with one worker crash per second (`/crash` → process.exit in a
//          worker, web garden of 2). Reports how many requests failed: only those in flight on
//          the crashed worker may.
//
// The server runs in this process (it is what is measured for correctness, not speed);
// autocannon runs in its own process so the load does not share our event loop.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServer } from '../dist/index.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const AUTOCANNON = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');

const { values } = parseArgs({
  options: {
    dur: { type: 'string', default: '20' },
    recycles: { type: 'string', default: '10' },
    connections: { type: 'string', default: '100' },
  },
});
const seconds = Number(values.dur);
const recycles = Number(values.recycles);

function config(dir) {
  const hello = join(BENCH_DIR, 'fixtures', 'hello-module.ts');
  const crash = join(BENCH_DIR, 'fixtures', 'crash-module.ts');
  return `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>
      <add name="BenchPool" startMode="AlwaysRunning">
        <processModel maxProcesses="2" shutdownTimeLimit="00:00:30"/>
        <failure rapidFailProtection="false"/>
      </add>
    </applicationPools>
    <sites>
      <site name="Bench" id="1">
        <bindings><binding protocol="http" bindingInformation="127.0.0.1:0:"/></bindings>
        <application path="/" applicationPool="BenchPool"><virtualDirectory path="/" physicalPath="${dir}"/></application>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
    <modules>
      <add name="Hello" type="${hello}#HelloModule"/>
      <add name="Crash" type="${crash}#CrashModule"/>
    </modules>
  </system.webServer>
</configuration>`;
}

function autocannon(url, dur) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AUTOCANNON, '-c', values.connections, '-d', String(dur), '-j', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.resume();
    child.on('error', reject);
    child.on('exit', (code) => {
      const json = out.split('\n').filter((l) => l.startsWith('{')).pop();
      if (code !== 0 || !json) reject(new Error(`autocannon exited with ${code}`));
      else resolve(JSON.parse(json));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function phase(name, server, during) {
  const url = `${server.url('Bench')}/hello`;
  const load = autocannon(url, seconds);
  const extra = await during();
  const r = await load;
  return {
    phase: name,
    requests: r.requests.total,
    reqPerSec: Math.round(r.requests.average),
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    ...extra,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'w3core-recycle-'));
const configFile = join(dir, 'applicationHost.config');
writeFileSync(configFile, config(dir));
const server = await startServer({ configFile });
server.pools.get('benchpool').onEvent = () => {};
const pool = server.pools.get('benchpool');
const results = [];
try {
  await fetch(`${server.url('Bench')}/hello`).then((r) => r.text());
  results.push(await phase(`${recycles} overlapped recycles`, server, async () => {
    const gap = (seconds * 1000) / (recycles + 1);
    let done = 0;
    for (let i = 0; i < recycles; i++) {
      await sleep(gap);
      await pool.recycle('OnDemand');
      done++;
    }
    return { recycled: done, workerGenerations: Math.max(...pool.workers.map((w) => w.generation)) };
  }));
  await sleep(1000);
  results.push(await phase('1 crash per second', server, async () => {
    const before = pool.stats().crashes;
    const until = Date.now() + (seconds - 1) * 1000;
    let injected = 0;
    while (Date.now() < until) {
      await sleep(1000);
      const r = await fetch(`${server.url('Bench')}/crash`).catch(() => null);
      await r?.text();
      injected++;
    }
    await sleep(300);
    return { crashesInjected: injected, crashesSeen: pool.stats().crashes - before };
  }));
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

console.log('| phase | requests | req/s | non-2xx | errors | notes |');
console.log('|---|---:|---:|---:|---:|---|');
for (const r of results) {
  const notes = r.recycled !== undefined
    ? `${r.recycled} recycles, worker generation ${r.workerGenerations}`
    : `${r.crashesInjected} crashes injected, ${r.crashesSeen} seen; failed requests per crash: ${(r.non2xx / Math.max(1, r.crashesSeen)).toFixed(1)}`;
  console.log(`| ${r.phase} | ${r.requests} | ${r.reqPerSec} | ${r.non2xx} | ${r.errors} | ${notes} |`);
}
const clean = results[0].non2xx === 0 && results[0].errors === 0;
console.log(`\nTarget: zero non-2xx and zero errors across ${recycles} overlapped recycles: ${clean ? 'MET' : 'NOT MET'}`);

process.exit(clean ? 0 : 1);

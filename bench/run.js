#!/usr/bin/env node
// w3core HTTP benchmark (STYLE.md practice 13): every target is measured against raw uWS hello
// world in the same round, with autocannon, and with the server's CPU per request.
//
//   node bench/run.js [--dur 5] [--warm 1] [--rounds 3] [--connections 100]
//                     [--only uws-hello,w3core-dynamic] [--workers 1] [--layout both|pinned|unpinned]
//
// Method (shared/anchors/perf-anchors.md): interleaved rounds (A B C D, A B C D, ...), each
// target in its own freshly started server process on 127.0.0.1, a warm-up run, then one
// measured autocannon run in its own process. Ratios are taken within a round and the median
// over rounds is reported, so drift on this shared 2-core VM hits numerator and denominator
// alike. Every round runs in two CPU layouts: pinned (server on CPU 0, autocannon on CPU 1, the
// anchors' layout, where the issue's targets are judged) and unpinned (both float over the two
// CPUs). See bench/README.md for how to read the output.

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, release } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const RESULTS_DIR = join(BENCH_DIR, 'results');
const AUTOCANNON = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');
const LOADER_CPU_HOOK = join(BENCH_DIR, 'lib', 'report-cpu-on-exit.cjs');

const HELLO = 'Hello World!';
const ONE_K = readFileSync(join(BENCH_DIR, 'fixtures', 'site', '1k.txt'));

/** What runs, in round order. `body` is what the sanity request must get back. */
const TARGETS = [
  { name: 'uws-hello', what: "raw uWS res.end('Hello World!')", path: '/hello', body: Buffer.from(HELLO), uws: true },
  { name: 'fastify-hello', what: 'fastify 5 GET /hello, logger off', path: '/hello', body: Buffer.from(HELLO), uws: false },
  { name: 'w3core-static-1k', what: 'w3core StaticFileModule in the worker, 1 KiB file, kernel cache off', path: '/1k.txt', body: ONE_K, uws: true },
  { name: 'w3core-cache-1k', what: 'w3core kernel-style cache hit on the listener, 1 KiB file', path: '/1k.txt', body: ONE_K, uws: true },
  { name: 'w3core-dynamic', what: 'w3core TS module answers /hello in BeginRequest', path: '/hello', body: Buffer.from(HELLO), uws: true },
  { name: 'w3core-filter-reject', what: 'w3core request filtering refuses the URL on the listener (404.5)', path: '/deny/x.txt', status: 404, body: null, uws: true },
];
const BASELINE = 'uws-hello';
const FRAMEWORK = 'fastify-hello';
const DYNAMIC = 'w3core-dynamic';
/** The issue's target for the dynamic path. */
const DYNAMIC_TARGET_X_FASTIFY = 1.0;
const CACHE = 'w3core-cache-1k';
/** The issue's target for a kernel-cache hit. */
const CACHE_TARGET_X_UWS = 0.85;
/**
 * CPU layouts, in round order. Pinned is the anchors' layout (shared/anchors/perf-anchors.md:
 * "the pinned numbers are the anchors"): the server, all its threads, on one CPU and autocannon
 * on the other, so a multi-threaded server and a single-threaded one each get one core and the
 * ratio follows what each spends per request. Unpinned, on two CPUs, the ratio also measures
 * how the scheduler spreads the server's threads next to a load generator that needs a whole
 * core: a single-threaded server keeps a core to itself, w3core's listener and worker share
 * theirs with autocannon.
 */
const LAYOUTS = ['pinned', 'unpinned'];
/** Where the issue's targets are judged. */
const JUDGED_LAYOUT = 'pinned';
/** A process at or above this share of one core was (probably) the bottleneck. */
const SATURATED_CPU = 0.95;
/** Before a measurement, wait until everything else uses less than this share of one core. */
const QUIET_CPU = 0.1;
/** A measurement during which everything else used more than this share of a core is repeated once. */
const NOISY_CPU = 0.25;

// ---------------------------------------------------------------------------------------------
// Options

function usage(exitCode) {
  console.log(`usage: node bench/run.js [options]
  --dur S            seconds per measurement (default 5)
  --warm S           warm-up seconds before each measurement (default 1; 0 = none)
  --rounds N         interleaved rounds (default 3)
  --connections N    autocannon connections (default 100)
  --only a,b         targets to run (default all: ${TARGETS.map((t) => t.name).join(', ')})
  --workers N        w3core pool worker threads (processModel maxProcesses, default 1)
  --layout L         both (default), pinned (server on CPU 0, autocannon on CPU 1, with taskset;
                     the targets are judged here) or unpinned (both float over all CPUs)
  --pin              the same as --layout pinned
  --quiet-wait S     before each measurement wait up to S s for other processes to use < ${QUIET_CPU * 100}%
                     of a core (default 30; 0 = don't wait); a measurement disturbed by > ${NOISY_CPU * 100}% is repeated once
Pipelining is always 1 (-p 1): w3core cannot serve pipelined requests on pipeline-served URLs.`);
  process.exit(exitCode);
}

function parseOptions(argv) {
  const o = { dur: 5, warm: 1, rounds: 3, connections: 100, only: null, workers: 1, layouts: [...LAYOUTS], quietWait: 30 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const number = (min, integer) => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
        throw new Error(`${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min}`);
      }
      return v;
    };
    switch (flag) {
      case '--dur': o.dur = number(1, true); break;
      case '--warm': o.warm = number(0, true); break;
      case '--rounds': o.rounds = number(1, true); break;
      case '--connections': o.connections = number(1, true); break;
      case '--workers': o.workers = number(1, true); break;
      case '--pin': o.layouts = ['pinned']; break;
      case '--layout': {
        const v = value();
        if (v === 'both') o.layouts = [...LAYOUTS];
        else if (LAYOUTS.includes(v)) o.layouts = [v];
        else throw new Error(`--layout must be both, pinned or unpinned (got ${v})`);
        break;
      }
      case '--quiet-wait': o.quietWait = number(0, false); break;
      case '--only': {
        const names = value().split(',').map((s) => s.trim()).filter(Boolean);
        const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
        if (unknown.length || names.length === 0) {
          throw new Error(`--only: unknown target(s) ${unknown.join(', ') || '(none given)'}; known: ${TARGETS.map((t) => t.name).join(', ')}`);
        }
        o.only = names;
        break;
      }
      case '--help': case '-h': usage(0); break;
      default: throw new Error(`unknown option ${arg}`);
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Child processes: every one we start is tracked and killed when we leave, however we leave.

const children = new Set();

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

process.on('exit', killAll);
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(signal, () => {
    console.error(`\nbench: ${signal}, stopping ${children.size} child process(es)`);
    killAll();
    process.exit(code);
  });
}
process.on('uncaughtException', (err) => {
  console.error('bench: fatal:', err);
  killAll();
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  console.error('bench: fatal (unhandled rejection):', err);
  killAll();
  process.exit(1);
});

function withPin(cpu, pin, cmd, args) {
  // taskset execs the command, so the child's pid is still node's pid (for /proc/<pid>/stat).
  return pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopServer(server) {
  if (server.exitCode !== null || server.signalCode !== null) return;
  server.kill('SIGTERM');
  if (!(await waitExit(server, 3000))) {
    server.kill('SIGKILL');
    await waitExit(server, 3000);
  }
}

/** Starts `node bench/servers/<name>.js 0` and resolves with its port once it prints READY. */
function startServer(target, options, pin) {
  const script = join(BENCH_DIR, 'servers', `${target.name}.js`);
  const [cmd, args] = withPin(0, pin, process.execPath, [script, '0']);
  const child = track(spawn(cmd, args, {
    cwd: ROOT,
    // stdin stays an open pipe: the server exits when it closes (i.e. when we die).
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, W3CORE_BENCH_WORKERS: String(options.workers) },
  }));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20000) stderr = stderr.slice(-20000);
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error('no READY line within 30 s')), 30000);
    const fail = (err) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${target.name}: ${err.message}${stderr ? `\n${stderr.trim()}` : ''}`));
    };
    const earlyExit = (code, signal) => fail(new Error(`server exited before READY (code ${code}, signal ${signal})`));
    child.once('error', fail);
    child.once('exit', earlyExit);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', function onData(d) {
      stdout += d;
      const m = /^READY (\d+)(.*)$/m.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      child.off('exit', earlyExit);
      child.stdout.off('data', onData);
      child.stdout.on('data', () => {}); // keep draining: a full pipe would block the server
      child.once('exit', (code, signal) => {
        child.unexpectedExit = `server exited during the run (code ${code}, signal ${signal})${stderr ? `: ${stderr.trim().slice(-2000)}` : ''}`;
      });
      resolve({ child, port: Number(m[1]), info: m[2].trim(), stderr: () => stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** One GET with Connection: close; checks status, body and (for uWS-based targets) that uWS answered. */
function sanityCheck(target, port) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: target.path, agent: false, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const status = target.status ?? 200;
        if (res.statusCode !== status) return reject(new Error(`${target.name}: GET ${target.path} gave ${res.statusCode}, expected ${status}: ${body.toString().slice(0, 300)}`));
        if (target.body !== null && !body.equals(target.body)) return reject(new Error(`${target.name}: GET ${target.path} returned ${body.length} unexpected bytes`));
        // The uWS package falls back to node:http + ws when its binary does not load; the
        // native listener stamps every response with this header.
        if (target.uws && res.headers.uwebsockets === undefined) return reject(new Error(`${target.name}: no 'uWebSockets' response header; not the native uWS listener?`));
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${target.name}: sanity request timed out`)));
    req.on('error', reject);
    req.end();
  });
}

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 on every Linux we run on
}

/** utime + stime of a whole process (all its threads, live and exited), in µs. */
function processCpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces; count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / clockTicks;
}

/** Machine-wide busy and steal time from /proc/stat, in µs of CPU. */
function systemCpuUs() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const tick = 1e6 / clockTicks;
  return { busy: (user + nice + system + irq + softirq) * tick, idle: (idle + iowait) * tick, steal: (steal ?? 0) * tick };
}

/** Runs autocannon in its own process and returns its JSON result plus its own CPU use. */
function runAutocannon(url, seconds, options, pin) {
  const [cmd, args] = withPin(1, pin, process.execPath, [
    '-r', LOADER_CPU_HOOK, AUTOCANNON,
    '-c', String(options.connections), '-d', String(seconds), '-p', '1', '-j', url,
  ]);
  const child = track(spawn(cmd, args, {
    cwd: ROOT,
    // stdin is a pipe the loader hook watches, so autocannon also stops if we die.
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, W3CORE_BENCH_CHILD: '1' },
  }));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`autocannon did not finish within ${seconds + 30} s`));
    }, (seconds + 30) * 1000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      const json = stdout.split('\n').filter((l) => l.startsWith('{')).pop();
      const cpu = /__BENCH_LOADER_CPU__ (\{.*\})/.exec(stderr);
      if (code !== 0 || !json) {
        reject(new Error(`autocannon exited with ${code}: ${stderr.replace(/__BENCH_LOADER_CPU__.*/, '').trim().slice(0, 2000)}`));
        return;
      }
      resolve({ result: JSON.parse(json), loader: cpu ? JSON.parse(cpu[1]) : null });
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * This VM is shared: waits (up to `maxMs`) until processes other than the idle server use less
 * than QUIET_CPU of a core over a 500 ms sample. Returns how long it waited and the last share.
 */
async function waitForQuiet(pid, maxMs) {
  const t0 = Date.now();
  let share = 0;
  for (;;) {
    const sys0 = systemCpuUs();
    const srv0 = processCpuUs(pid);
    const s0 = process.hrtime.bigint();
    await sleep(500);
    const wallUs = Number(process.hrtime.bigint() - s0) / 1000;
    share = Math.max(0, (systemCpuUs().busy - sys0.busy - (processCpuUs(pid) - srv0)) / wallUs);
    if (share < QUIET_CPU || Date.now() - t0 >= maxMs) return { waitedMs: Date.now() - t0, otherCpuShare: share, quiet: share < QUIET_CPU };
  }
}

async function measure(target, round, layout, options) {
  const started = new Date().toISOString();
  const pin = layout === 'pinned';
  const server = await startServer(target, options, pin);
  try {
    await sanityCheck(target, server.port);
    const url = `http://127.0.0.1:${server.port}${target.path}`;
    const gate = options.quietWait > 0 ? await waitForQuiet(server.child.pid, options.quietWait * 1000) : null;
    if (options.warm > 0) await runAutocannon(url, options.warm, options, pin);
    if (server.child.unexpectedExit) throw new Error(server.child.unexpectedExit);

    const pid = server.child.pid;
    const sys0 = systemCpuUs();
    const srv0 = processCpuUs(pid);
    const t0 = process.hrtime.bigint();
    const { result, loader } = await runAutocannon(url, options.dur, options, pin);
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
    if (server.child.unexpectedExit) throw new Error(server.child.unexpectedExit);
    const srv1 = processCpuUs(pid);
    const sys1 = systemCpuUs();

    const serverCpuUs = srv1 - srv0;
    const loaderCpuUs = loader ? loader.userUs + loader.systemUs : null;
    const responses = result.requests.total;
    const busyUs = sys1.busy - sys0.busy;
    return {
      target: target.name,
      round,
      layout,
      started,
      url,
      serverInfo: server.info || undefined,
      reqPerSec: result.requests.average,
      responses,
      sent: result.requests.sent,
      durationS: result.duration,
      latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
      throughputBytesPerSec: result.throughput.average,
      status2xx: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      resets: result.resets,
      statusCodeStats: result.statusCodeStats,
      serverCpuUs,
      serverUsPerReq: responses > 0 ? serverCpuUs / responses : null,
      // Shares of one core over the measured window (autocannon start to exit).
      serverCpuShare: serverCpuUs / wallUs,
      loaderCpuShare: loader ? loaderCpuUs / loader.wallUs : null,
      // Everything else busy on the machine (other tenants, this harness, kernel) and the
      // hypervisor's steal, as shares of one core.
      otherCpuShare: loaderCpuUs === null ? null : Math.max(0, (busyUs - serverCpuUs - loaderCpuUs) / wallUs),
      stealShare: (sys1.steal - sys0.steal) / wallUs,
      quietGate: gate,
    };
  } finally {
    await stopServer(server.child);
  }
}

// ---------------------------------------------------------------------------------------------
// Summaries

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function summarize(targets, measurements) {
  const byRound = new Map();
  for (const m of measurements) {
    if (!byRound.has(m.round)) byRound.set(m.round, new Map());
    byRound.get(m.round).set(m.target, m);
  }
  const ratioTo = (m, base) => {
    const b = byRound.get(m.round).get(base);
    return b && !b.error && b.reqPerSec > 0 && !m.error ? m.reqPerSec / b.reqPerSec : null;
  };
  // Fastify's server CPU per request over this target's, same round: above 1 = cheaper than Fastify.
  const cpuRatioTo = (m, base) => {
    const b = byRound.get(m.round).get(base);
    return b && !b.error && b.serverUsPerReq > 0 && !m.error && m.serverUsPerReq > 0 ? b.serverUsPerReq / m.serverUsPerReq : null;
  };
  return targets.map((t) => {
    const all = measurements.filter((m) => m.target === t.name);
    const ok = all.filter((m) => !m.error);
    return {
      target: t.name,
      what: t.what,
      rounds: ok.length,
      failedRounds: all.length - ok.length,
      reqPerSec: median(ok.map((m) => m.reqPerSec)),
      reqPerSecMin: ok.length ? Math.min(...ok.map((m) => m.reqPerSec)) : null,
      reqPerSecMax: ok.length ? Math.max(...ok.map((m) => m.reqPerSec)) : null,
      p99Ms: median(ok.map((m) => m.latencyMs.p99)),
      xUws: median(ok.map((m) => ratioTo(m, BASELINE))),
      xFastify: median(ok.map((m) => ratioTo(m, FRAMEWORK))),
      cpuXFastify: median(ok.map((m) => cpuRatioTo(m, FRAMEWORK))),
      serverUsPerReq: median(ok.map((m) => m.serverUsPerReq)),
      serverCpuShare: median(ok.map((m) => m.serverCpuShare)),
      loaderCpuShare: median(ok.map((m) => m.loaderCpuShare)),
      otherCpuShareMax: ok.length ? Math.max(...ok.map((m) => m.otherCpuShare ?? 0)) : null,
      errors: ok.reduce((s, m) => s + m.errors + m.timeouts, 0),
      non2xx: ok.reduce((s, m) => s + m.non2xx, 0),
    };
  });
}

function verdictFor(summary) {
  const dyn = summary.find((s) => s.target === DYNAMIC);
  const fst = summary.find((s) => s.target === FRAMEWORK);
  if (!dyn || !fst || dyn.xFastify === null) {
    return { met: null, text: `not evaluated: needs both ${DYNAMIC} and ${FRAMEWORK} measured in the same run` };
  }
  const clean = dyn.errors === 0 && dyn.non2xx === 0;
  const met = clean && dyn.xFastify >= DYNAMIC_TARGET_X_FASTIFY;
  const why = !clean
    ? ` (invalid: ${dyn.errors} errors, ${dyn.non2xx} non-2xx)`
    : '';
  return {
    met,
    xFastify: dyn.xFastify,
    cpuXFastify: dyn.cpuXFastify,
    text: `${DYNAMIC} is ${dyn.xFastify.toFixed(2)}× ${FRAMEWORK} req/s (median of same-round ratios; ` +
      `server CPU per request ${fixed(dyn.cpuXFastify, 2)}× as efficient) → ` +
      `target ≥ ${DYNAMIC_TARGET_X_FASTIFY.toFixed(1)}× Fastify: ${met ? 'MET' : 'NOT MET'}${why}`,
  };
}

/** The kernel-cache hit against raw uWS (target ≥ CACHE_TARGET_X_UWS). */
function cacheVerdictFor(summary) {
  const hit = summary.find((s) => s.target === CACHE);
  if (!hit || hit.xUws === null) return { met: null, text: `not evaluated: needs both ${CACHE} and ${BASELINE} measured in the same run` };
  const clean = hit.errors === 0 && hit.non2xx === 0;
  const met = clean && hit.xUws >= CACHE_TARGET_X_UWS;
  return {
    met,
    xUws: hit.xUws,
    text: `${CACHE} is ${hit.xUws.toFixed(2)}× ${BASELINE} → target ≥ ${CACHE_TARGET_X_UWS}× raw uWS: ${met ? 'MET' : 'NOT MET'}` +
      `${clean ? '' : ` (invalid: ${hit.errors} errors, ${hit.non2xx} non-2xx)`}`,
  };
}

const int = (x) => (x === null ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fixed = (x, d) => (x === null ? 'n/a' : x.toFixed(d));
const pct = (x) => (x === null ? 'n/a' : `${Math.round(x * 100)}%`);

function table(summary) {
  const lines = [
    '| target | req/s | p99 ms | ×uWS | ×Fastify | srv µs/req | CPU ×Fastify | errors/non-2xx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of summary) {
    lines.push(`| ${s.target} | ${int(s.reqPerSec)} | ${fixed(s.p99Ms, 0)} | ${fixed(s.xUws, 2)} | ${fixed(s.xFastify, 2)} | ` +
      `${fixed(s.serverUsPerReq, 1)} | ${fixed(s.cpuXFastify, 2)} | ` +
      `${s.errors}/${s.non2xx}${s.failedRounds ? ` (${s.failedRounds} round(s) failed)` : ''} |`);
  }
  return lines.join('\n');
}

function loadTable(summary) {
  const lines = [
    '| target | server CPU | autocannon CPU | other CPU (max) | req/s min–max |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const s of summary) {
    lines.push(`| ${s.target} | ${pct(s.serverCpuShare)} | ${pct(s.loaderCpuShare)} | ${pct(s.otherCpuShareMax)} | ` +
      `${int(s.reqPerSecMin)}–${int(s.reqPerSecMax)} |`);
  }
  return lines.join('\n');
}

function versions() {
  // Read the files directly: some packages (piscina) do not export ./package.json.
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return 'n/a';
    }
  };
  return {
    node: process.version,
    'uWebSockets.js': pkg('uWebSockets.js'),
    fastify: pkg('fastify'),
    autocannon: pkg('autocannon'),
    piscina: pkg('piscina'),
    w3core: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
  };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err.message}`);
    usage(2);
  }
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
    console.error('bench: dist/ is missing; run `npm run bench` (it builds first) or `npm run build`');
    process.exit(2);
  }
  if (options.layouts.includes('pinned') && cpus().length < 2) {
    if (options.layouts.length === 1) {
      console.error('bench: --layout pinned needs at least 2 CPUs');
      process.exit(2);
    }
    console.log('bench: 1 CPU, so no pinned layout; the targets are judged unpinned');
    options.layouts = ['unpinned'];
  }
  const targets = options.only ? TARGETS.filter((t) => options.only.includes(t.name)) : TARGETS;
  const startedAt = new Date();
  const perMeasurement = options.dur + options.warm + 2;
  const layoutText = { pinned: 'pinned (server CPU 0, autocannon CPU 1)', unpinned: 'unpinned' };
  console.log(`w3core bench: ${targets.map((t) => t.name).join(', ')}; ${options.rounds} round(s) × ` +
    `${options.layouts.map((l) => layoutText[l]).join(' and ')}, ` +
    `${options.dur} s + ${options.warm} s warm-up each, autocannon -c ${options.connections} -p 1, ` +
    `w3core workers ${options.workers} ` +
    `(about ${Math.ceil((targets.length * options.rounds * options.layouts.length * perMeasurement) / 60)} min)`);

  const measurements = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const layout of options.layouts) {
      for (const target of targets) {
        process.stdout.write(`  round ${round}/${options.rounds} ${layout.padEnd(8)} ${target.name.padEnd(20)} `);
        try {
          let m = await measure(target, round, layout, options);
          if (options.quietWait > 0 && m.otherCpuShare !== null && m.otherCpuShare > NOISY_CPU) {
            process.stdout.write(`(other processes took ${pct(m.otherCpuShare)} of a core; repeating) `);
            const again = await measure(target, round, layout, options);
            const disturbed = { reqPerSec: m.reqPerSec, otherCpuShare: m.otherCpuShare };
            m = again.otherCpuShare <= m.otherCpuShare ? { ...again, repeated: true, discarded: disturbed } : { ...m, repeated: true, discarded: { reqPerSec: again.reqPerSec, otherCpuShare: again.otherCpuShare } };
          }
          measurements.push(m);
          console.log(`${int(m.reqPerSec).padStart(8)} req/s  p99 ${m.latencyMs.p99} ms  ` +
            `srv ${fixed(m.serverUsPerReq, 1)} µs/req  srv CPU ${pct(m.serverCpuShare)}  ac CPU ${pct(m.loaderCpuShare)}` +
            `${m.errors || m.non2xx || m.timeouts ? `  errors ${m.errors} timeouts ${m.timeouts} non-2xx ${m.non2xx}` : ''}`);
        } catch (err) {
          measurements.push({ target: target.name, round, layout, error: err.message });
          console.log(`FAILED: ${err.message}`);
        }
      }
    }
  }

  const judged = options.layouts.includes(JUDGED_LAYOUT) ? JUDGED_LAYOUT : options.layouts[0];
  const layouts = {};
  for (const layout of options.layouts) {
    const summary = summarize(targets, measurements.filter((m) => m.layout === layout));
    const notes = [];
    for (const s of summary) {
      if (s.loaderCpuShare !== null && s.loaderCpuShare >= SATURATED_CPU) {
        notes.push(`${s.target}: autocannon at ${pct(s.loaderCpuShare)} of a core, so its req/s understates the server ` +
          '(ratios against it are squeezed toward 1); compare srv µs/req.');
      }
      if (s.otherCpuShareMax !== null && s.otherCpuShareMax > 0.25) {
        notes.push(`${s.target}: other processes used up to ${pct(s.otherCpuShareMax)} of a core during a measurement (shared VM); treat with care.`);
      }
    }
    if (layout === 'unpinned' && cpus().length <= 2) {
      notes.push(`only ${cpus().length} CPUs: server (incl. its worker threads) and autocannon share them.`);
    }
    layouts[layout] = { summary, verdict: verdictFor(summary), cacheVerdict: cacheVerdictFor(summary), notes };
  }

  console.log('');
  console.log(`Median over ${options.rounds} interleaved round(s); ×uWS/×Fastify = median of same-round req/s ratios; ` +
    'srv µs/req = server process CPU (all threads) ÷ responses; CPU ×Fastify = Fastify\'s srv µs/req ÷ this ' +
    'target\'s, same round (above 1: cheaper per request than Fastify); autocannon -p 1.');
  for (const layout of options.layouts) {
    const l = layouts[layout];
    console.log('');
    console.log(`### ${layoutText[layout]}${layout === judged ? ' — the targets are judged here' : ''}`);
    console.log('');
    console.log(table(l.summary));
    console.log('');
    console.log(loadTable(l.summary));
    console.log('');
    const label = layout === judged ? 'Target' : `Target (${layout}, for information)`;
    console.log(`${label}: ${l.verdict.text}`);
    console.log(`${label}: ${l.cacheVerdict.text}`);
    for (const n of l.notes) console.log(`Note: ${n}`);
  }
  const { summary, verdict, cacheVerdict, notes } = layouts[judged];

  const finishedAt = new Date();
  const report = {
    schema: 'w3core-bench/1',
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    command: `node ${relative(ROOT, fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim(),
    options: { ...options, pipelining: 1 },
    machine: {
      cpu: `${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`,
      kernel: release(),
      clockTicks,
    },
    versions: versions(),
    method: 'Interleaved rounds, each in every CPU layout (pinned: server on CPU 0, autocannon on CPU 1; ' +
      'unpinned); each target in a fresh server process on 127.0.0.1; autocannon in its own ' +
      'process (-p 1) after a warm-up run; ratios are medians of same-round ratios within a layout; server CPU from ' +
      '/proc/<pid>/stat (utime+stime, all threads) over the autocannon run; targets judged in the pinned layout.',
    judgedLayout: judged,
    summary,
    verdict,
    cacheVerdict,
    notes,
    layouts,
    measurements,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(RESULTS_DIR, `${stamp}.json`), json);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), json);
  console.log(`\nResults: ${relative(ROOT, join(RESULTS_DIR, `${stamp}.json`))} (and bench/results/latest.json)`);
  if (measurements.some((m) => m.error)) process.exitCode = 1;
}

await main();

// Preloaded into the autocannon child (`node -r`) by bench/run.js.
//
// 1. On exit, reports the CPU the whole load generator process used (all threads;
//    process.cpuUsage is getrusage(RUSAGE_SELF)) on stderr, so the harness can tell when
//    autocannon, not the server, was the bottleneck. /proc/<pid>/stat cannot be read after the
//    child has exited and been reaped, hence this hook.
// 2. Exits when the harness dies: the harness holds our stdin pipe, which closes with it. The
//    handle is unref'd so it never keeps autocannon alive after its run.
'use strict';
const { writeSync } = require('node:fs');
const startedAt = process.hrtime.bigint();
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  const wallUs = Number(process.hrtime.bigint() - startedAt) / 1000;
  writeSync(2, `\n__BENCH_LOADER_CPU__ ${JSON.stringify({ userUs: user, systemUs: system, wallUs })}\n`);
});
if (process.env.W3CORE_BENCH_CHILD === '1') {
  process.stdin.on('end', () => process.exit(1));
  process.stdin.on('error', () => process.exit(1));
  process.stdin.resume();
  process.stdin.unref();
}

// Shared by the benchmark servers: argument parsing, the READY handshake with bench/run.js,
// and the guarantees that a server never outlives the harness.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The port from argv[2] (0 = let the kernel pick; the READY line reports the bound port). */
export function portFromArgs() {
  const raw = process.argv[2] ?? '0';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`usage: node ${process.argv[1]} PORT   (got '${raw}')`);
    process.exit(2);
  }
  return port;
}

/**
 * Tells the harness we are listening, then ties our life to it. The harness holds the write end
 * of our stdin: if it dies in any way (even SIGKILL, where it cannot clean up), the pipe closes
 * and we exit, so no server is left orphaned holding a port. Run by hand from a terminal, stdin
 * is the TTY and this only exits on Ctrl-D.
 */
export function ready(port, extra = '') {
  process.stdout.write(`READY ${port}${extra ? ` ${extra}` : ''}\n`);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

/**
 * Loads the native uWebSockets.js binary and refuses the package's silent pure-JS fallback
 * (the same check as src/listener/native.ts: the package export must be the binary itself).
 */
export function loadNativeUws() {
  const pkgDir = dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  let native;
  try {
    native = require(binary);
  } catch (err) {
    throw new Error(`native uWebSockets.js binary did not load (${binary}): ${err.message}; refusing the JS fallback`);
  }
  if (require('uWebSockets.js') !== native) {
    throw new Error('uWebSockets.js is running its JavaScript fallback (UWS_USE_FALLBACK set?); refusing to benchmark it');
  }
  return native;
}

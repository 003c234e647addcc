import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as UWS from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export type Uws = typeof UWS;

let loaded: Uws | undefined;

/**
 * Loads the native uWebSockets.js binary, and refuses to run on anything else.
 *
 * The package we depend on (`@trufflesuite/uws-js-unofficial`, a native build of uWS.js v20.30)
 * quietly falls back to a pure-JS implementation when its binary does not load (another Node
 * ABI, a missing glibc symbol, or `UWS_USE_FALLBACK=1`), printing only a warning. Serving on
 * that fallback would be several times slower and behave differently, so we load the binary
 * ourselves and check that the package export is that very binary.
 */
export function loadNativeUws(): Uws {
  if (loaded) return loaded;
  const pkgDir = dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  let native: Uws;
  try {
    native = require(binary) as Uws;
  } catch (err) {
    throw new Error(
      `w3core: the native uWebSockets.js binary did not load (${binary}): ${(err as Error).message}. ` +
      `Refusing to start on its slow JavaScript fallback. Node ${process.version} (ABI ${process.versions.modules}) ` +
      'is supported by this uWS build only for ABI 93, 108 and 115 (Node 16, 18, 20).',
    );
  }
  const exported = require('uWebSockets.js') as Uws;
  if (exported !== native) {
    throw new Error('w3core: uWebSockets.js is running its JavaScript fallback (UWS_USE_FALLBACK is set?); refusing to start.');
  }
  loaded = native;
  return native;
}

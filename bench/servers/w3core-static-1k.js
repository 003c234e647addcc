// Target `w3core-static-1k`: GET /1k.txt through the built-in StaticFileModule in the worker.
// The kernel-style cache is off, so every request crosses to the pool (see w3core-cache-1k).
import { startW3core } from './w3core-common.js';

await startW3core({ modules: '', webServer: '<caching enableKernelCache="false"/>' });

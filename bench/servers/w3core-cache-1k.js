// Target `w3core-cache-1k`: GET /1k.txt answered from the kernel-style response cache on the
// listener thread (the sanity request and the warm-up make it a frequent hit).
import { startW3core } from './w3core-common.js';

await startW3core({ modules: '' });

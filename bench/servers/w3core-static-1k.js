// Target `w3core-static-1k`: GET /1k.txt through the built-in StaticFileModule.
import { startW3core } from './w3core-common.js';

await startW3core({ modules: '' });

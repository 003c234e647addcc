// Target `w3core-dynamic`: GET /hello answered by a TypeScript module (fixtures/hello-module.ts)
// from BeginRequest in the integrated pipeline.
import { startW3core } from './w3core-common.js';

await startW3core({ modules: '<add name="BenchHello" type="./hello-module.ts#HelloModule"/>' });

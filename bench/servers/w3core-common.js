// The w3core targets: fill in bench/fixtures/applicationHost.config and start the real server
// from dist/ (built by `npm run bench`), exactly as an embedding application would.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../dist/index.js';
import { portFromArgs, ready } from './common.js';

const CONFIG_FILE = fileURLToPath(new URL('../fixtures/applicationHost.config', import.meta.url));

/**
 * @param {{ modules: string, webServer?: string }} options `<add>` entries for `<modules>`
 *   ('' = built-ins only) and extra `system.webServer` XML.
 */
export async function startW3core({ modules, webServer = '' }) {
  const port = portFromArgs();
  const workers = Number(process.env.W3CORE_BENCH_WORKERS ?? 1);
  const configText = readFileSync(CONFIG_FILE, 'utf8')
    .replaceAll('{{PORT}}', String(port))
    .replaceAll('{{WORKERS}}', String(workers))
    .replaceAll('{{MODULES}}', modules)
    .replaceAll('{{WEBSERVER}}', webServer);
  let server;
  try {
    // configFile names the template, so physicalPath="site" and module paths resolve from
    // bench/fixtures/ and errors point at the template's lines.
    server = await startServer({ configFile: CONFIG_FILE, configText });
  } catch (err) {
    console.error(`w3core: ${err.message}`);
    process.exit(1);
  }
  const pool = [...server.pools.values()][0];
  ready(server.bindings[0].port, `workers=${pool?.workerCount ?? '?'}`);
}

#!/usr/bin/env node
/**
 * `w3core` command line.
 *
 *   w3core start [--config applicationHost.config]
 *   w3core serve [dir] [--port 8081] [--host 127.0.0.1]
 *   w3core appcmd <verb> <object> ... (see src/cli/appcmd.ts)
 */
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { startServer, type W3CoreServer } from '../server.js';
import { runAppcmd } from './appcmd.js';

const USAGE = `Usage:
  w3core start [--config <applicationHost.config>]   run a configuration (default ./applicationHost.config)
  w3core serve [<dir>] [--port <n>] [--host <ip>]     serve a directory with built-in defaults (port 8081)
  w3core appcmd <verb> <object> [...] [--json]        list sites|apppools|wp|requests, start|stop|recycle apppool,
                                                     start|stop site, over the admin endpoint ("appcmd --help")
  w3core --version | --help`;

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** A one-site configuration for `serve`, with directory browsing on. */
export function serveConfig(dir: string, host: string, port: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools><add name="DefaultAppPool" startMode="AlwaysRunning"/></applicationPools>
    <sites>
      <site name="Default Web Site" id="1">
        <bindings><binding protocol="http" bindingInformation="${escapeXml(host)}:${port}:"/></bindings>
        <application path="/" applicationPool="DefaultAppPool">
          <virtualDirectory path="/" physicalPath="${escapeXml(dir)}"/>
        </application>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
    <directoryBrowse enabled="true"/>
  </system.webServer>
</configuration>
`;
}

async function main(argv: string[]): Promise<number> {
  // appcmd has its own arguments (/param:value, --json, --endpoint, --token).
  if (argv[0] === 'appcmd') return runAppcmd(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  const command = positionals[0];
  if (values.version) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    console.log(pkg.version);
    return 0;
  }
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  let server: W3CoreServer;
  if (command === 'start') {
    server = await startServer({ configFile: values.config ?? 'applicationHost.config' });
  } else if (command === 'serve') {
    const dir = resolve(positionals[1] ?? '.');
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      console.error(`w3core: ${dir} is not a directory`);
      return 2;
    }
    const port = Number(values.port ?? 8081);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`w3core: --port ${values.port} is not a port number`);
      return 2;
    }
    const host = values.host ?? '127.0.0.1';
    server = await startServer({ configFile: join(dir, '(w3core serve)'), configText: serveConfig(dir, host, port) });
  } else {
    console.error(`w3core: unknown command '${command}'\n${USAGE}`);
    return 2;
  }
  // Handlers first, then the "listening" lines: whoever reads those lines may signal at once,
  // and a signal with no handler yet would kill the process without a clean stop.
  const stopped = new Promise<void>((done) => {
    const stop = () => {
      console.log('w3core: stopping');
      server.stop().then(done, done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  for (const b of server.bindings) {
    console.log(`w3core: site '${b.site.name}' listening on ${b.binding.protocol}://${b.host}:${b.port}/ (binding ${b.binding.bindingInformation})`);
  }
  if (server.admin) console.log(`w3core: admin endpoint on http://127.0.0.1:${server.admin.port}/ (bearer token required)`);
  await stopped;
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(`w3core: configuration error: ${err.message}`);
    else console.error(`w3core: ${(err as Error).message}`);
    process.exit(1);
  },
);

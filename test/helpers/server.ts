import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startServer, type W3CoreServer } from '../../dist/index.js';

/** Files to create under a temporary site root: relative path → content. */
export type SiteFiles = Record<string, string | Buffer>;

export interface TestSite {
  readonly name: string;
  readonly id: number;
  /** Files of the site's root virtual directory. */
  readonly files?: SiteFiles;
  /** Host header of the binding ('' = any). */
  readonly host?: string;
  readonly applicationPool?: string;
  /** Extra `<application>` elements, as XML, inside the site (physical paths may use {root}). */
  readonly applicationsXml?: string;
}

export interface TestServerOptions {
  readonly sites?: readonly TestSite[];
  /** Files of the single default site (when `sites` is not given). */
  readonly files?: SiteFiles;
  /** XML placed inside applicationHost's root `<system.webServer>`. */
  readonly webServer?: string;
  /** XML placed inside `<applicationPools>` (default: one DefaultAppPool, Integrated). */
  readonly pools?: string;
  /** XML after `</system.webServer>` at the root of `<configuration>` (e.g. `<location>` blocks). */
  readonly rootXml?: string;
  readonly revalidateMs?: number;
}

export interface TestServer {
  readonly server: W3CoreServer;
  /** `http://127.0.0.1:port` of the first site. */
  readonly url: string;
  /** Physical root of the first site. */
  readonly root: string;
  /** Temporary directory holding the config and the sites. */
  readonly dir: string;
  urlOf(siteName: string): string;
  rootOf(siteName: string): string;
  stop(): Promise<void>;
}

export function writeFiles(root: string, files: SiteFiles): void {
  for (const [rel, content] of Object.entries(files)) {
    const full = join(root, rel);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

/**
 * Starts the real server (dist build) on ephemeral ports on 127.0.0.1 with a generated
 * applicationHost.config in a temporary directory. Call `stop()` in afterAll/afterEach.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'w3core-test-'));
  const sites = options.sites ?? [{ name: 'Test', id: 1, files: options.files ?? {} }];
  const roots = new Map<string, string>();
  const sitesXml = sites.map((s) => {
    const root = join(dir, `site${s.id}`);
    mkdirSync(root, { recursive: true });
    writeFiles(root, s.files ?? {});
    roots.set(s.name, root);
    return `<site name="${s.name}" id="${s.id}">
      <bindings><binding protocol="http" bindingInformation="127.0.0.1:0:${s.host ?? ''}"/></bindings>
      <application path="/" applicationPool="${s.applicationPool ?? 'DefaultAppPool'}">
        <virtualDirectory path="/" physicalPath="${root}"/>
      </application>
      ${(s.applicationsXml ?? '').replaceAll('{root}', root)}
    </site>`;
  }).join('\n');
  const configText = `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>${options.pools ?? '<add name="DefaultAppPool"/>'}</applicationPools>
    <sites>${sitesXml}</sites>
  </system.applicationHost>
  <system.webServer>${options.webServer ?? ''}</system.webServer>
  ${options.rootXml ?? ''}
</configuration>`;
  const configFile = join(dir, 'applicationHost.config');
  writeFileSync(configFile, configText);
  const server = await startServer({ configFile, revalidateMs: options.revalidateMs ?? 50 });
  const first = sites[0]!.name;
  return {
    server,
    url: server.url(first),
    root: roots.get(first)!,
    dir,
    urlOf: (name) => server.url(name),
    rootOf: (name) => roots.get(name)!,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The `HTTP Error 404.3`-style status.substatus shown on a local detailed error page. */
/** A web.config file whose `system.webServer` holds `webServer`. */
export function webConfig(webServer: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<configuration><system.webServer>${webServer}</system.webServer></configuration>`;
}

export function subStatusOf(body: string): string | undefined {
  return /HTTP Error (\d{3}\.\d+)/.exec(body)?.[1];
}

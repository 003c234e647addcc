/**
 * A real server with the admin endpoint on an ephemeral loopback port, the real `w3core appcmd`
 * command line, and a strict parser of the Prometheus text format, for the admin tests.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type W3CoreServer } from '../../dist/index.js';

export const MAIN = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
export const CLI = join(MAIN, 'dist/cli/main.js');
export const SLOW = fileURLToPath(new URL('../fixtures/modules/slow.ts', import.meta.url));
export const TOKEN = 'test-token-0123456789abcdef';

export interface AdminSite {
  readonly name: string;
  readonly id: number;
  readonly pool?: string;
  readonly files?: Record<string, string>;
}

export interface AdminServerOptions {
  readonly sites?: readonly AdminSite[];
  /** `<applicationPools>` content. */
  readonly pools?: string;
  /** Attributes of `<w3coreAdmin>` (default: enabled, port 0, {@link TOKEN}). */
  readonly admin?: string;
  /** Inside the root `<system.webServer>`. */
  readonly webServer?: string;
}

export interface AdminTestServer {
  readonly server: W3CoreServer;
  readonly dir: string;
  readonly configFile: string;
  /** `http://127.0.0.1:<admin port>` */
  readonly adminUrl: string;
  urlOf(site: string): string;
  stop(): Promise<void>;
}

const xmlAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** Writes an applicationHost.config with `<w3coreAdmin>` in a temporary directory. */
export function writeAdminConfig(options: AdminServerOptions = {}): { dir: string; configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'w3core-admin-'));
  const sites = options.sites ?? [{ name: 'Default Web Site', id: 1, files: { 'index.txt': 'hello' } }];
  const sitesXml = sites.map((s) => {
    const root = join(dir, `site${s.id}`);
    mkdirSync(root, { recursive: true });
    for (const [name, content] of Object.entries(s.files ?? {})) writeFileSync(join(root, name), content);
    return `<site name="${xmlAttr(s.name)}" id="${s.id}">
      <bindings><binding protocol="http" bindingInformation="127.0.0.1:0:"/></bindings>
      <application path="/" applicationPool="${s.pool ?? 'DefaultAppPool'}"><virtualDirectory path="/" physicalPath="${root}"/></application>
    </site>`;
  }).join('\n');
  const configFile = join(dir, 'applicationHost.config');
  writeFileSync(configFile, `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>${options.pools ?? '<add name="DefaultAppPool"/>'}</applicationPools>
    <sites>${sitesXml}</sites>
    <w3coreAdmin ${options.admin ?? `enabled="true" port="0" token="${TOKEN}"`}/>
  </system.applicationHost>
  <system.webServer>${options.webServer ?? ''}</system.webServer>
</configuration>
`);
  return { dir, configFile };
}

export async function startAdminServer(options: AdminServerOptions = {}): Promise<AdminTestServer> {
  const { dir, configFile } = writeAdminConfig(options);
  let server: W3CoreServer;
  try {
    server = await startServer({ configFile, revalidateMs: 50 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const admin = server.admin;
  if (!admin) {
    await server.stop();
    throw new Error('the admin endpoint did not start');
  }
  return {
    server, dir, configFile,
    adminUrl: `http://127.0.0.1:${admin.port}`,
    urlOf: (site) => server.url(site),
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `fetch` against the admin endpoint with the bearer token (or the given Authorization value). */
export function adminFetch(base: string, path: string, init: { method?: string; authorization?: string | null } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  const authorization = init.authorization === undefined ? `Bearer ${TOKEN}` : init.authorization;
  if (authorization !== null) headers.authorization = authorization;
  return fetch(`${base}${path}`, { method: init.method ?? 'GET', headers });
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node dist/cli/main.js appcmd <args>` with the endpoint and token in its environment. */
export function appcmd(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, W3CORE_ADMIN_URL: undefined, W3CORE_ADMIN_TOKEN: undefined, ...env };
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'appcmd', ...args], { cwd: MAIN, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** One request with node:http (so the response can be held open or read as sent). */
export function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

/** A sample of the Prometheus text format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric family: `# HELP`, `# TYPE` and its samples. */
export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(
  `^(${NAME})(?:\\{((?:${LABEL_NAME}=${LABEL_VALUE})(?:,${LABEL_NAME}=${LABEL_VALUE})*)?,?\\})? (\\S+)(?: (-?\\d+))?$`,
);
const LABEL = new RegExp(`(${LABEL_NAME})=(${LABEL_VALUE})`, 'g');

/**
 * A strict parser of the Prometheus text exposition format 0.0.4: every line must be a `# HELP`,
 * a `# TYPE` (before the family's samples, once), a sample of the current family (histogram
 * samples: `_bucket` with `le`, `_sum`, `_count`), or empty; values must be numbers; label names
 * may not repeat in a sample and a series may not appear twice. Throws on anything else.
 */
export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  let pendingHelp: { name: string; help: string } | undefined;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') return;
    let m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    if (m) {
      if (families.has(m[1]!)) throw new Error(`HELP for a family seen before, ${where}`);
      pendingHelp = { name: m[1]!, help: m[2]! };
      return;
    }
    m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (m) {
      if (families.has(m[1]!)) throw new Error(`second TYPE, ${where}`);
      if (pendingHelp && pendingHelp.name !== m[1]) throw new Error(`TYPE does not match HELP, ${where}`);
      current = { name: m[1]!, help: pendingHelp?.help ?? '', type: m[2] as Family['type'], samples: [] };
      families.set(current.name, current);
      pendingHelp = undefined;
      return;
    }
    if (line.startsWith('#')) throw new Error(`unknown comment, ${where}`);
    m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample, ${where}`);
    const [, name, labelText, valueText] = m;
    if (!current) throw new Error(`sample before any TYPE, ${where}`);
    const suffixes = current.type === 'histogram' ? ['_bucket', '_sum', '_count'] : current.type === 'summary' ? ['', '_sum', '_count'] : [''];
    if (!suffixes.some((s) => name === `${current!.name}${s}`)) throw new Error(`sample of another family than ${current.name}, ${where}`);
    const labels: Record<string, string> = {};
    for (const l of (labelText ?? '').matchAll(LABEL)) {
      if (l[1]! in labels) throw new Error(`label ${l[1]} twice, ${where}`);
      labels[l[1]!] = JSON.parse(l[2]!) as string;
    }
    if (name!.endsWith('_bucket') && current.type === 'histogram' && !('le' in labels)) throw new Error(`bucket without le, ${where}`);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : valueText === 'NaN' ? NaN : Number(valueText);
    if (!/^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(valueText!)) throw new Error(`bad value, ${where}`);
    const series = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
    if (seen.has(series)) throw new Error(`series twice, ${where}`);
    seen.add(series);
    current.samples.push({ name: name!, labels, value });
  });
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; throws unless exactly one. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name.replace(/_(bucket|sum|count)$/, '')) ?? families.get(name);
  if (!family) throw new Error(`no metric family ${name}`);
  const matches = family.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length !== 1) throw new Error(`${matches.length} samples of ${name} ${JSON.stringify(labels)}`);
  return matches[0]!.value;
}

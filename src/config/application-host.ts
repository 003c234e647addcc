import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import {
  expandEnvironment, readBool, readEnum, readRequired, readString, readTimeSpan, readUint,
} from './attributes.js';
import { child, parseXml, type XmlElement } from './xml.js';

/**
 * `system.applicationHost` as read from applicationHost.config: sites with their bindings,
 * applications and virtual directories, and application pools (iis-reference.md §2.4, §2.5).
 */
export interface BindingConfig {
  readonly protocol: 'http' | 'https';
  /** `*` (or empty) means every address. */
  readonly ip: string;
  readonly port: number;
  /** Empty means any host header. Lower-cased. */
  readonly host: string;
  readonly bindingInformation: string;
  /** Certificate, key and `sslFlags` of an https binding; absent for http. */
  readonly tls?: BindingTlsConfig;
}

/**
 * `sslFlags` bits of a `<binding>` (iis-reference.md §2.4). IIS names the certificate by its hash
 * in a Windows store; w3core has no store and reads PEM files named on the binding instead.
 */
export const SSL_FLAGS = {
  /** The host name of the binding selects its certificate (Server Name Indication). */
  SNI: 1,
  /** Central certificate store: not available here (refused). */
  CENTRAL_CERTIFICATE_STORE: 2,
  /** Always true here: only HTTP/1.1 is served (no ALPN). */
  DISABLE_HTTP2: 4,
  /** Always true here: no OCSP stapling. */
  DISABLE_OCSP_STAPLING: 8,
  /** Always true here: no QUIC. */
  DISABLE_QUIC: 16,
  /** Cannot be honoured (uWebSockets.js offers no maximum TLS version): refused. */
  DISABLE_TLS13_OVER_TCP: 32,
  /** Always true here: uWebSockets.js accepts TLS 1.2 and 1.3 only. */
  DISABLE_LEGACY_TLS: 64,
} as const;

/** The TLS side of an https `<binding>`: PEM files (absolute paths) and `sslFlags`. */
export interface BindingTlsConfig {
  /** `sslFlags` as written (bits of {@link SSL_FLAGS}). */
  readonly sslFlags: number;
  /** `sslFlags` has the SNI bit: the binding's host name selects its certificate. */
  readonly sni: boolean;
  /**
   * `certificateFile`: PEM certificate, optionally followed by its chain. Undefined when not
   * given: required, but checked by the listener at start-up with the files (so a site that
   * does not start needs none).
   */
  readonly certificateFile: string | undefined;
  /** `keyFile`: PEM private key (may be the same file as the certificate); required likewise. */
  readonly keyFile: string | undefined;
  /** `passphrase` of an encrypted key; undefined when not given. */
  readonly passphrase: string | undefined;
  /** The `<binding>` element, so start-up checks of the files can name the attribute at fault. */
  readonly source: XmlElement;
}

export interface VirtualDirectoryConfig {
  readonly path: string;
  readonly physicalPath: string;
  readonly allowSubDirConfig: boolean;
}

export interface ApplicationConfig {
  readonly path: string;
  readonly applicationPool: string;
  /** Longest path first, so the first prefix match wins. */
  readonly virtualDirectories: readonly VirtualDirectoryConfig[];
}

export interface SiteConfig {
  readonly id: number;
  readonly name: string;
  readonly serverAutoStart: boolean;
  /** `limits maxUrlSegments` (default 32; 0 = no limit): more segments → 404.20. */
  readonly maxUrlSegments: number;
  readonly bindings: readonly BindingConfig[];
  /** Longest path first. */
  readonly applications: readonly ApplicationConfig[];
}

export interface AppPoolConfig {
  readonly name: string;
  readonly queueLength: number;
  readonly autoStart: boolean;
  readonly managedPipelineMode: 'Integrated' | 'Classic';
  readonly startMode: 'OnDemand' | 'AlwaysRunning';
  readonly enableConfigurationOverride: boolean;
  readonly maxProcesses: number;
  /** `processModel idleTimeout`; 0 = never. */
  readonly idleTimeoutMs: number;
  /** `processModel shutdownTimeLimit`: how long a stopping or recycled worker may drain. */
  readonly shutdownTimeLimitMs: number;
  /** `processModel startupTimeLimit` (read and validated; not enforced yet). */
  readonly startupTimeLimitMs: number;
  readonly pingingEnabled: boolean;
  readonly pingIntervalMs: number;
  readonly pingResponseTimeMs: number;
  /**
   * `processModel memoryLimit` (w3core extension, MB; 0 = Node's default): each worker's V8 heap
   * limit. A worker that runs out is replaced like any crashed worker.
   */
  readonly memoryLimitMb: number;
  readonly recycling: RecyclingConfig;
  readonly failure: FailureConfig;
}

/** `applicationPools/add/recycling` (iis-reference.md §2.5). */
export interface RecyclingConfig {
  readonly disallowOverlappingRotation: boolean;
  readonly disallowRotationOnConfigChange: boolean;
  /** `periodicRestart time`; 0 = off. */
  readonly timeMs: number;
  /** `periodicRestart requests`; 0 = off. */
  readonly requests: number;
  /** `periodicRestart memory` (KB of virtual memory; here: the worker's heap total); 0 = off. */
  readonly memoryKb: number;
  /** `periodicRestart privateMemory` (KB; here: the worker's heap in use); 0 = off. */
  readonly privateMemoryKb: number;
  /** `periodicRestart/schedule` times of day, in minutes after midnight (local time). */
  readonly scheduleMinutes: readonly number[];
}

/** `applicationPools/add/failure`. */
export interface FailureConfig {
  readonly rapidFailProtection: boolean;
  readonly rapidFailProtectionIntervalMs: number;
  readonly rapidFailProtectionMaxCrashes: number;
}

/** The w3core admin endpoint (`system.applicationHost/w3coreAdmin`; not an IIS section). */
export interface AdminConfig {
  readonly enabled: boolean;
  /** Loopback port (0 = any free one). */
  readonly port: number;
  /** Bearer token; `W3CORE_ADMIN_TOKEN` in the environment is used when this is empty. */
  readonly token: string;
  /** Where the element was, for messages. */
  readonly file: string;
  readonly line: number;
}

/** A `<location path>` block: `path` is `Site/app/dir` without leading or trailing slashes. */
export interface LocationConfig {
  readonly path: string;
  readonly webServer: XmlElement;
}

export interface ServerConfig {
  readonly file: string;
  readonly sites: readonly SiteConfig[];
  readonly appPools: ReadonlyMap<string, AppPoolConfig>;
  /** Root `system.webServer` of applicationHost.config (outside any location). */
  readonly webServer: XmlElement | undefined;
  readonly locations: readonly LocationConfig[];
  readonly admin: AdminConfig;
}

const POOL_NAME_INVALID = /[|<>&"/[\]+=;:,?*@\\]/;

/** Reads and validates applicationHost.config; throws {@link ConfigError} naming file, line, attribute. */
export function loadApplicationHost(file: string): ServerConfig {
  const absolute = resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError(absolute, 0, undefined, `cannot read the configuration file: ${(err as Error).message}`);
  }
  return parseApplicationHost(text, absolute);
}

export function parseApplicationHost(text: string, file: string): ServerConfig {
  const root = parseXml(text, file);
  if (root.name !== 'configuration') {
    throw new ConfigError(file, root.line, undefined, `the root element must be <configuration>, not <${root.name}>`);
  }
  const baseDir = dirname(file);
  const appHost = child(root, 'system.applicationHost');
  const appPools = readAppPools(child(appHost, 'applicationPools'));
  const sites = readSites(child(appHost, 'sites'), appPools, baseDir, file);
  const locations: LocationConfig[] = [];
  for (const el of root.children) {
    if (el.name !== 'location') continue;
    const webServer = child(el, 'system.webServer');
    if (webServer) locations.push({ path: normalizeLocationPath(readString(el, 'path', '')), webServer });
  }
  const admin = readAdmin(child(appHost, 'w3coreAdmin'), file);
  return Object.freeze({ file, sites, appPools, webServer: child(root, 'system.webServer'), locations, admin });
}

function readAdmin(el: XmlElement | undefined, file: string): AdminConfig {
  return Object.freeze({
    enabled: readBool(el, 'enabled', false),
    port: readUint(el, 'port', 8172, 0, 65535),
    token: expandEnvironment(readString(el, 'token', '')),
    file: el?.file ?? file,
    line: el?.line ?? 0,
  });
}

export function normalizeLocationPath(path: string): string {
  const p = path.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
  return p === '.' ? '' : p;
}

function readAppPools(el: XmlElement | undefined): Map<string, AppPoolConfig> {
  const pools = new Map<string, AppPoolConfig>();
  const defaults = child(el, 'applicationPoolDefaults');
  for (const add of el?.children ?? []) {
    if (add.name !== 'add') continue;
    const name = readRequired(add, 'name', 'add');
    if (POOL_NAME_INVALID.test(name)) {
      throw new ConfigError(add.file, add.line, 'name', `'${name}' contains a character not allowed in an application pool name`);
    }
    if (pools.has(name.toLowerCase())) {
      throw new ConfigError(add.file, add.line, 'name', `application pool '${name}' is defined twice`);
    }
    const pick = (n: string) => (add.attributes.has(n) ? add : defaults);
    const processModel = child(add, 'processModel') ?? child(defaults, 'processModel');
    pools.set(name.toLowerCase(), Object.freeze({
      name,
      queueLength: readUint(pick('queueLength'), 'queueLength', 1000, 10, 65535),
      autoStart: readBool(pick('autoStart'), 'autoStart', true),
      managedPipelineMode: readEnum(pick('managedPipelineMode'), 'managedPipelineMode', ['Integrated', 'Classic'] as const, 'Integrated'),
      startMode: readEnum(pick('startMode'), 'startMode', ['OnDemand', 'AlwaysRunning'] as const, 'OnDemand'),
      enableConfigurationOverride: readBool(pick('enableConfigurationOverride'), 'enableConfigurationOverride', true),
      maxProcesses: readUint(processModel, 'maxProcesses', 1, 0, 64),
      idleTimeoutMs: readTimeSpan(processModel, 'idleTimeout', 20 * 60_000),
      shutdownTimeLimitMs: readTimeSpan(processModel, 'shutdownTimeLimit', 90_000),
      startupTimeLimitMs: readTimeSpan(processModel, 'startupTimeLimit', 90_000),
      pingingEnabled: readBool(processModel, 'pingingEnabled', true),
      pingIntervalMs: readTimeSpan(processModel, 'pingInterval', 30_000),
      pingResponseTimeMs: readTimeSpan(processModel, 'pingResponseTime', 90_000),
      memoryLimitMb: readUint(processModel, 'memoryLimit', 0, 0, 1_048_576),
      recycling: readRecycling(child(add, 'recycling') ?? child(defaults, 'recycling')),
      failure: readFailure(child(add, 'failure') ?? child(defaults, 'failure')),
    }));
  }
  return pools;
}

function readRecycling(el: XmlElement | undefined): RecyclingConfig {
  const periodic = child(el, 'periodicRestart');
  const scheduleMinutes: number[] = [];
  for (const entry of child(periodic, 'schedule')?.children ?? []) {
    if (entry.name === 'clear') scheduleMinutes.length = 0;
    if (entry.name !== 'add') continue;
    const ms = readTimeSpan(entry, 'value', -1);
    if (ms < 0 || ms >= 86_400_000) {
      throw new ConfigError(entry.file, entry.line, 'value', 'a schedule time must be a time of day (hh:mm:ss below 24:00:00)');
    }
    scheduleMinutes.push(Math.floor(ms / 60_000));
  }
  return Object.freeze({
    disallowOverlappingRotation: readBool(el, 'disallowOverlappingRotation', false),
    disallowRotationOnConfigChange: readBool(el, 'disallowRotationOnConfigChange', false),
    timeMs: readTimeSpan(periodic, 'time', 29 * 3_600_000),
    requests: readUint(periodic, 'requests', 0),
    memoryKb: readUint(periodic, 'memory', 0),
    privateMemoryKb: readUint(periodic, 'privateMemory', 0),
    scheduleMinutes: Object.freeze(scheduleMinutes),
  });
}

function readFailure(el: XmlElement | undefined): FailureConfig {
  return Object.freeze({
    rapidFailProtection: readBool(el, 'rapidFailProtection', true),
    rapidFailProtectionIntervalMs: readTimeSpan(el, 'rapidFailProtectionInterval', 5 * 60_000),
    rapidFailProtectionMaxCrashes: readUint(el, 'rapidFailProtectionMaxCrashes', 5, 1, 2147483647),
  });
}

function readSites(
  el: XmlElement | undefined, pools: Map<string, AppPoolConfig>, baseDir: string, file: string,
): SiteConfig[] {
  if (!el) throw new ConfigError(file, 1, undefined, 'system.applicationHost/sites is missing: nothing to serve');
  const appDefaults = child(el, 'applicationDefaults');
  const vdirDefaults = child(el, 'virtualDirectoryDefaults');
  const sites: SiteConfig[] = [];
  const ids = new Set<number>();
  const names = new Set<string>();
  for (const s of el.children) {
    if (s.name !== 'site') continue;
    const name = readRequired(s, 'name', 'site');
    if (/[/?]/.test(name)) throw new ConfigError(s.file, s.line, 'name', `site name '${name}' may not contain '/' or '?'`);
    if (!s.attributes.has('id')) throw new ConfigError(s.file, s.line, 'id', 'required attribute is missing in <site>');
    const id = readUint(s, 'id', 0, 1);
    if (ids.has(id)) throw new ConfigError(s.file, s.line, 'id', `site id ${id} is used twice`);
    if (names.has(name.toLowerCase())) throw new ConfigError(s.file, s.line, 'name', `site '${name}' is defined twice`);
    ids.add(id);
    names.add(name.toLowerCase());
    const siteAppDefaults = child(s, 'applicationDefaults') ?? appDefaults;
    const siteVdirDefaults = child(s, 'virtualDirectoryDefaults') ?? vdirDefaults;

    const bindings: BindingConfig[] = [];
    for (const b of child(s, 'bindings')?.children ?? []) {
      if (b.name === 'binding') bindings.push(readBinding(b, baseDir));
    }
    const applications: ApplicationConfig[] = [];
    for (const a of s.children) {
      if (a.name !== 'application') continue;
      const path = readRequired(a, 'path', 'application');
      validateVirtualPath(a, 'path', path);
      const poolAttr = a.attributes.has('applicationPool') ? a : siteAppDefaults;
      const poolName = readString(poolAttr, 'applicationPool', 'DefaultAppPool');
      const pool = pools.get(poolName.toLowerCase());
      if (!pool) {
        const at = poolAttr?.attributes.get('applicationPool') ?? a;
        throw new ConfigError(at.file, at.line, 'applicationPool', `application pool '${poolName}' is not defined in <applicationPools>`);
      }
      const vdirs: VirtualDirectoryConfig[] = [];
      for (const v of a.children) {
        if (v.name !== 'virtualDirectory') continue;
        const vpath = readRequired(v, 'path', 'virtualDirectory');
        validateVirtualPath(v, 'path', vpath);
        const raw = readRequired(v, 'physicalPath', 'virtualDirectory');
        const expanded = expandEnvironment(raw);
        const physicalPath = isAbsolute(expanded) ? expanded : resolve(baseDir, expanded);
        if (!existsSync(physicalPath) || !statSync(physicalPath).isDirectory()) {
          const at = v.attributes.get('physicalPath')!;
          throw new ConfigError(at.file, at.line, 'physicalPath', `'${raw}' (${physicalPath}) is not an existing directory`);
        }
        vdirs.push({
          path: vpath,
          physicalPath,
          allowSubDirConfig: readBool(v.attributes.has('allowSubDirConfig') ? v : siteVdirDefaults, 'allowSubDirConfig', true),
        });
      }
      if (!vdirs.some((v) => v.path === '/')) {
        throw new ConfigError(a.file, a.line, undefined, `application '${path}' of site '${name}' has no root <virtualDirectory path="/">`);
      }
      vdirs.sort((x, y) => y.path.length - x.path.length);
      applications.push({ path, applicationPool: pool.name, virtualDirectories: vdirs });
    }
    if (!applications.some((a) => a.path === '/')) {
      throw new ConfigError(s.file, s.line, undefined, `site '${name}' has no root <application path="/">`);
    }
    applications.sort((x, y) => y.path.length - x.path.length);
    const limits = child(s, 'limits') ?? child(child(el, 'siteDefaults'), 'limits');
    sites.push(Object.freeze({
      id, name, serverAutoStart: readBool(s, 'serverAutoStart', true),
      maxUrlSegments: readUint(limits, 'maxUrlSegments', 32, 0, 16383), bindings, applications,
    }));
  }
  return sites;
}

/** Attributes that only mean something on an https binding. */
const TLS_ATTRIBUTES = ['certificateFile', 'keyFile', 'passphrase'] as const;

function readBinding(b: XmlElement, baseDir: string): BindingConfig {
  const protocol = readRequired(b, 'protocol', 'binding').toLowerCase();
  if (protocol !== 'http' && protocol !== 'https') {
    throw new ConfigError(b.file, b.line, 'protocol', `protocol '${protocol}' is not supported (http, https)`);
  }
  const info = readRequired(b, 'bindingInformation', 'binding');
  // ip:port:host, where ip may be an IPv6 literal in brackets.
  const m = /^(\[[^\]]*\]|[^:]*):(\d+):(.*)$/.exec(info);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    const at = b.attributes.get('bindingInformation')!;
    throw new ConfigError(at.file, at.line, 'bindingInformation', `'${info}' is not in the form ip:port:host (e.g. *:80:)`);
  }
  const ip = m[1] === '' ? '*' : m[1]!.replace(/^\[|\]$/g, '');
  const host = m[3]!.toLowerCase();
  if (protocol === 'http') {
    // A certificate on an http binding is a mistake that would serve in clear text what the
    // operator meant to protect: refuse it rather than ignore it.
    for (const name of [...TLS_ATTRIBUTES, 'sslFlags']) {
      const at = b.attributes.get(name);
      if (at && !(name === 'sslFlags' && /^\s*0\s*$/.test(at.value))) {
        throw new ConfigError(at.file, at.line, name, 'applies to https bindings only (this binding is protocol="http")');
      }
    }
    return { protocol, ip, port, host, bindingInformation: info };
  }
  return { protocol, ip, port, host, bindingInformation: info, tls: readBindingTls(b, host, baseDir) };
}

/**
 * The certificate attributes of an https binding. Only `sslFlags` is checked here (this runs in
 * every pool worker too); the files, and that they are named at all, are checked once at
 * start-up by the listener (`src/listener/tls.ts`), for the sites that start.
 */
function readBindingTls(b: XmlElement, host: string, baseDir: string): BindingTlsConfig {
  const sslFlags = readUint(b, 'sslFlags', 0);
  const flagsAt = b.attributes.get('sslFlags') ?? b;
  const known = Object.values(SSL_FLAGS).reduce((all: number, bit) => all | bit, 0);
  if ((sslFlags & ~known) !== 0) {
    throw new ConfigError(flagsAt.file, flagsAt.line, 'sslFlags', `${sslFlags} has bits that are not sslFlags (known: 1, 2, 4, 8, 16, 32, 64)`);
  }
  if (sslFlags & SSL_FLAGS.CENTRAL_CERTIFICATE_STORE) {
    throw new ConfigError(flagsAt.file, flagsAt.line, 'sslFlags',
      'the central certificate store (2) is not available: name the PEM files with certificateFile and keyFile');
  }
  if (sslFlags & SSL_FLAGS.DISABLE_TLS13_OVER_TCP) {
    throw new ConfigError(flagsAt.file, flagsAt.line, 'sslFlags',
      'disabling TLS 1.3 (32) cannot be honoured: uWebSockets.js offers no maximum TLS version');
  }
  const sni = (sslFlags & SSL_FLAGS.SNI) !== 0;
  if (sni && host === '') {
    throw new ConfigError(flagsAt.file, flagsAt.line, 'sslFlags',
      `SNI (1) needs a host name in bindingInformation ('${b.attributes.get('bindingInformation')!.value}' has none): the host name selects the certificate`);
  }
  const file = (name: 'certificateFile' | 'keyFile'): string | undefined => {
    const raw = readString(b, name, '');
    if (raw === '') return undefined;
    const expanded = expandEnvironment(raw);
    return isAbsolute(expanded) ? expanded : resolve(baseDir, expanded);
  };
  const certificateFile = file('certificateFile');
  const keyFile = file('keyFile');
  const passphrase = readString(b, 'passphrase', '');
  return { sslFlags, sni, certificateFile, keyFile, passphrase: passphrase === '' ? undefined : passphrase, source: b };
}

function validateVirtualPath(el: XmlElement, attr: string, path: string): void {
  const bad =
    !path.startsWith('/') ||
    (path.length > 1 && path.endsWith('/')) ||
    path.split('/').some((seg) => seg === '.' || seg === '..');
  if (bad) {
    const at = el.attributes.get(attr) ?? el;
    throw new ConfigError(at.file, at.line, attr, `'${path}' must start with '/', not end with '/', and have no '.' or '..' segment`);
  }
}

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { ServerConfig, SiteConfig, LocationConfig } from './application-host.js';
import { normalizeLocationPath } from './application-host.js';
import { mergeElement, nodeAt, type ConfigNode } from './config-node.js';
import { DEFAULTS_FILE, defaultWebServer } from './defaults.js';
import { findApplication, mapUrlToPhysical } from './url-mapping.js';
import { child, parseXml, type XmlElement } from './xml.js';

/**
 * Reads one section into a frozen, typed value. Each built-in module owns the reader for its
 * section: the attribute names and schema defaults live next to the module that uses them.
 */
export interface SectionReader<T> {
  /** Path below `system.webServer`, e.g. `staticContent` or `security/requestFiltering`. */
  readonly section: string;
  read(node: ConfigNode | undefined): T;
}

/** The configuration in force for one URL: the merged `system.webServer` tree. */
export class EffectiveConfig {
  readonly root: ConfigNode;
  /** The web.config files that took part, root first. */
  readonly sources: readonly string[];
  /**
   * Every web.config path probed for this URL with its modification time: equal signatures
   * mean the same configuration, whatever else changed meanwhile.
   */
  readonly signature: string;
  readonly #sections = new Map<SectionReader<unknown>, unknown>();

  constructor(root: ConfigNode, sources: readonly string[], signature = '') {
    this.root = root;
    this.sources = sources;
    this.signature = signature;
  }

  /** The typed section, read once per effective configuration. */
  section<T>(reader: SectionReader<T>): T {
    let value = this.#sections.get(reader) as T | undefined;
    if (value === undefined && !this.#sections.has(reader)) {
      value = Object.freeze(reader.read(nodeAt(this.root, reader.section))) as T;
      this.#sections.set(reader, value);
    }
    return value as T;
  }
}

interface WebConfigEntry {
  checkedAt: number;
  mtimeMs: number;
  size: number;
  element: XmlElement | ConfigError | null;
}

interface EffectiveEntry {
  checkedAt: number;
  files: { path: string; mtimeMs: number }[];
  result: EffectiveConfig | ConfigError;
}

/** Effective configurations remembered per site; past this the oldest goes. */
const MAX_ENTRIES = 4096;
/** web.config paths remembered (present or absent); probes beyond this evict the oldest. */
const MAX_WEB_CONFIG_PROBES = 16384;

/**
 * The IIS configuration hierarchy (iis-reference.md §2.1): built-in defaults, then
 * applicationHost.config (root, then `<location>` blocks by path), then the `web.config` file
 * of each physical directory down the URL path, with their own `<location>` blocks.
 *
 * Results are memoised per URL and revalidated against the files' modification times at most
 * once per `revalidateMs`, so an edited or broken web.config takes effect without a restart.
 */
export class ConfigHierarchy {
  readonly server: ServerConfig;
  readonly revalidateMs: number;
  readonly #appHostRoot: ConfigNode;
  readonly #webConfigs = new Map<string, WebConfigEntry>();
  /** By site id, then URL path (no key string to build per lookup). */
  readonly #effective = new Map<number, Map<string, EffectiveEntry>>();
  /** Called when a web.config change is noticed (GL_CONFIGURATION_CHANGE), with the URL and site it was noticed for. */
  onChange: ((path: string, site: SiteConfig) => void) | undefined;
  /** Goes up whenever a change is noticed; every memoised result is dropped then. */
  generation = 0;

  constructor(server: ServerConfig, revalidateMs = 1000) {
    this.server = server;
    this.revalidateMs = revalidateMs;
    const base = defaultWebServer();
    let root = mergeElement(undefined, base, 'system.webServer');
    if (server.webServer) root = mergeElement(root, server.webServer, 'system.webServer');
    for (const loc of server.locations) {
      if (loc.path === '') root = mergeElement(root, loc.webServer, 'system.webServer');
    }
    this.#appHostRoot = root;
  }

  /** Configuration at the server level (no site), e.g. for global modules. */
  get serverRoot(): EffectiveConfig {
    return new EffectiveConfig(this.#appHostRoot, [this.server.file]);
  }

  /**
   * The effective configuration for `urlPath` (canonical) of `site`.
   * @throws ConfigError when a web.config on the way is malformed or invalid (→ 500.19).
   */
  effective(site: SiteConfig, urlPath: string): EffectiveConfig {
    // Exact path, never case-folded: web.config files are found on a case-sensitive file
    // system, so /PRIVATE and /private may have different configuration.
    let memo = this.#effective.get(site.id);
    if (memo === undefined) this.#effective.set(site.id, (memo = new Map()));
    const now = Date.now();
    const hit = memo.get(urlPath);
    if (hit) {
      // checkedAt moves only when the files are looked at: a URL requested more often than
      // revalidateMs must still notice a change.
      const fresh = now - hit.checkedAt < this.revalidateMs;
      if (fresh || !this.#changed(hit, now)) {
        if (!fresh) hit.checkedAt = now;
        if (hit.result instanceof ConfigError) throw hit.result;
        return hit.result;
      }
      // Configuration changes are rare: start over rather than track which URLs they affect.
      this.#effective.clear();
      memo = new Map();
      this.#effective.set(site.id, memo);
      this.generation++;
      this.onChange?.(urlPath, site);
    }
    const files: { path: string; mtimeMs: number }[] = [];
    let result: EffectiveConfig | ConfigError;
    try {
      result = this.#build(site, urlPath, files, now);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      result = err;
    }
    if (memo.size >= MAX_ENTRIES) memo.delete(memo.keys().next().value!);
    memo.set(urlPath, { checkedAt: now, files, result });
    if (result instanceof ConfigError) throw result;
    return result;
  }

  #changed(entry: EffectiveEntry, now: number): boolean {
    for (const f of entry.files) {
      if (this.#webConfig(f.path, now).mtimeMs !== f.mtimeMs) return true;
    }
    return false;
  }

  #build(site: SiteConfig, urlPath: string, files: { path: string; mtimeMs: number }[], now: number): EffectiveConfig {
    let root = this.#appHostRoot;
    const sources: string[] = [this.server.file];
    const segments = urlPath.split('/').filter(Boolean);
    const pending: LocationConfig[] = [];
    const apply = (locationsFor: string) => {
      for (const loc of this.server.locations) {
        if (loc.path !== '' && loc.path.toLowerCase() === locationsFor.toLowerCase()) {
          root = mergeElement(root, loc.webServer, 'system.webServer');
        }
      }
      for (const loc of pending) {
        if (loc.path.toLowerCase() === locationsFor.toLowerCase()) root = mergeElement(root, loc.webServer, 'system.webServer');
      }
    };
    const pool = this.server.appPools.get(findApplication(site, urlPath).applicationPool.toLowerCase());
    const override = pool?.enableConfigurationOverride ?? true;
    for (let depth = 0; depth <= segments.length; depth++) {
      const url = '/' + segments.slice(0, depth).join('/');
      const locationKey = depth === 0 ? site.name : `${site.name}/${segments.slice(0, depth).join('/')}`;
      apply(locationKey);
      if (!override) continue;
      const mapped = mapUrlToPhysical(site, url);
      if (!mapped) break;
      const below = url.length > mapped.virtualDirectoryUrl.length;
      if (below && !mapped.virtualDirectory.allowSubDirConfig) continue;
      const path = join(mapped.physicalPath, 'web.config');
      const entry = this.#webConfig(path, now);
      files.push({ path, mtimeMs: entry.mtimeMs });
      if (entry.element === null) continue;
      if (entry.element instanceof ConfigError) throw entry.element;
      const webServer = child(entry.element, 'system.webServer');
      if (webServer) root = mergeElement(root, webServer, 'system.webServer');
      for (const loc of entry.element.children) {
        if (loc.name !== 'location') continue;
        const ws = child(loc, 'system.webServer');
        const rel = normalizeLocationPath(loc.attributes.get('path')?.value ?? '');
        if (!ws) continue;
        if (rel === '') root = mergeElement(root, ws, 'system.webServer');
        else pending.push({ path: `${locationKey}/${rel}`, webServer: ws });
      }
      sources.push(path);
    }
    return new EffectiveConfig(root, sources, files.map((f) => `${f.path}\u0000${f.mtimeMs}`).join('\u0001'));
  }

  #webConfig(path: string, now: number): WebConfigEntry {
    let entry = this.#webConfigs.get(path);
    if (entry && now - entry.checkedAt < this.revalidateMs) return entry;
    let mtimeMs = -1;
    let size = -1;
    try {
      const st = statSync(path);
      if (st.isFile()) {
        mtimeMs = st.mtimeMs;
        size = st.size;
      }
    } catch {
      // absent: most directories have no web.config
    }
    if (entry && entry.mtimeMs === mtimeMs && entry.size === size) {
      entry.checkedAt = now;
      return entry;
    }
    let element: XmlElement | ConfigError | null = null;
    if (mtimeMs >= 0) {
      try {
        element = parseXml(readFileSync(path, 'utf8'), path);
        if (element.name !== 'configuration') {
          element = new ConfigError(path, element.line, undefined, `the root element must be <configuration>, not <${element.name}>`);
        } else {
          validateWebConfig(element);
        }
      } catch (err) {
        element = err instanceof ConfigError ? err : new ConfigError(path, 0, undefined, (err as Error).message);
      }
    }
    entry = { checkedAt: now, mtimeMs, size, element };
    if (this.#webConfigs.size >= MAX_WEB_CONFIG_PROBES) this.#webConfigs.delete(this.#webConfigs.keys().next().value!);
    this.#webConfigs.set(path, entry);
    return entry;
  }
}

/** Sections a web.config may not hold (AppHostOnly, iis-reference.md §2.2). */
function validateWebConfig(root: XmlElement): void {
  const appHost = child(root, 'system.applicationHost');
  if (appHost) {
    throw new ConfigError(appHost.file, appHost.line, undefined, 'system.applicationHost may only be set in applicationHost.config (AppHostOnly)');
  }
  const ws = child(root, 'system.webServer');
  const gm = child(ws, 'globalModules');
  if (gm) throw new ConfigError(gm.file, gm.line, undefined, 'globalModules may only be set in applicationHost.config (AppHostOnly)');
}

export { DEFAULTS_FILE };

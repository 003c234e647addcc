import { sep } from 'node:path';
import type { ApplicationConfig, SiteConfig, VirtualDirectoryConfig } from './application-host.js';

/** Is `prefix` a segment-wise, case-insensitive prefix of `path`? Both start with `/`. */
export function isPathPrefix(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (path.length < prefix.length) return false;
  if (path.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47; // '/'
}

/** The application serving `urlPath`: the longest application path that is a prefix. */
export function findApplication(site: SiteConfig, urlPath: string): ApplicationConfig {
  for (const app of site.applications) if (isPathPrefix(app.path, urlPath)) return app;
  return site.applications[site.applications.length - 1]!;
}

export interface MappedPath {
  readonly application: ApplicationConfig;
  readonly virtualDirectory: VirtualDirectoryConfig;
  /** Absolute physical path; always inside `virtualDirectory.physicalPath`. */
  readonly physicalPath: string;
  /** URL path of the virtual directory's root, e.g. `/app/images`. */
  readonly virtualDirectoryUrl: string;
}

/**
 * Maps a canonical URL path (decoded, no dot segments) to a physical path. Segments that could
 * leave the virtual directory (`..`, empty after decoding, containing a separator) were refused
 * before this point by the listener's canonicalisation (Wasm, `src/listener/admission.ts`);
 * this function re-checks as a second line.
 */
export function mapUrlToPhysical(site: SiteConfig, urlPath: string): MappedPath | undefined {
  const application = findApplication(site, urlPath);
  const rest = application.path === '/' ? urlPath : urlPath.slice(application.path.length) || '/';
  const virtualDirectory = application.virtualDirectories.find((v) => isPathPrefix(v.path, rest))!;
  const within = virtualDirectory.path === '/' ? rest : rest.slice(virtualDirectory.path.length);
  const segments = within.split('/').filter(Boolean);
  if (segments.some((s) => s === '..' || s === '.' || s.includes('\\') || s.includes('\0'))) return undefined;
  const root = virtualDirectory.physicalPath.replace(/[\\/]+$/, '');
  const physicalPath = segments.length ? root + sep + segments.join(sep) : root;
  const appPrefix = application.path === '/' ? '' : application.path;
  const vdirPrefix = virtualDirectory.path === '/' ? '' : virtualDirectory.path;
  return { application, virtualDirectory, physicalPath, virtualDirectoryUrl: appPrefix + vdirPrefix || '/' };
}

export type CanonicalPath =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly subStatus: number; readonly reason: string };

/**
 * Resolves dot segments of an already decoded path (as `ctx.mapPath()` receives it) and
 * refuses NUL bytes, backslashes and climbing above the root. Never decodes again.
 */
export function normalizeDecodedPath(decoded: string): CanonicalPath {
  if (decoded.charCodeAt(0) !== 47) return { ok: false, subStatus: 0, reason: 'the path must start with /' };
  if (decoded.includes('\0')) return { ok: false, subStatus: 0, reason: 'NUL byte in the path' };
  if (decoded.includes('\\')) return { ok: false, subStatus: 0, reason: 'backslash in the path' };
  const out: string[] = [];
  for (const seg of decoded.split('/').slice(1)) {
    if (seg === '.' ) continue;
    if (seg === '..') {
      if (out.length === 0) return { ok: false, subStatus: 0, reason: 'the path climbs above the site root' };
      out.pop();
      continue;
    }
    out.push(seg);
  }
  // Keep an empty last segment: "/dir/" (a directory request) differs from "/dir".
  return { ok: true, path: '/' + out.join('/') };
}

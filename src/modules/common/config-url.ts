import { dirname, relative, sep } from 'node:path';
import type { HttpContext } from '../../pipeline/http-context.js';
import { mapUrlToPhysical } from '../../config/url-mapping.js';

/**
 * The URL of the folder whose web.config defined a setting, e.g. `/old` for
 * `<root>/old/web.config`. Settings from applicationHost.config apply from the site root (`/`).
 */
export function configUrlOf(ctx: HttpContext, file: string | undefined): string {
  if (!file || !file.endsWith('web.config')) return '/';
  const mapped = mapUrlToPhysical(ctx.siteConfig, ctx.request.path);
  if (!mapped) return '/';
  const rel = relative(mapped.virtualDirectory.physicalPath, dirname(file));
  if (rel.startsWith('..')) return '/';
  const base = mapped.virtualDirectoryUrl === '/' ? '' : mapped.virtualDirectoryUrl;
  return (base + (rel ? '/' + rel.split(sep).join('/') : '')) || '/';
}

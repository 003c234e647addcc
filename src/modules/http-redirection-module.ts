import { readBool, readEnum, readRequired, readString } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import { REQUEST_NOTIFICATION, REQUEST_NOTIFICATION_STATUS } from '../pipeline/events.js';
import type { HttpContext } from '../pipeline/http-context.js';
import type { HttpModule } from '../pipeline/module.js';
import { configUrlOf } from './common/config-url.js';
import { encodeUrlPath } from './static-file-module.js';

const STATUS = { Permanent: 301, Found: 302, Temporary: 307, PermRedirect: 308 } as const;

/** `httpRedirect` (iis-reference.md §3.4). */
export interface HttpRedirectSection {
  readonly enabled: boolean;
  readonly destination: string;
  readonly exactDestination: boolean;
  readonly childOnly: boolean;
  readonly status: number;
  readonly wildcards: readonly { readonly wildcard: string; readonly destination: string }[];
  /** File that enabled the redirect: the folder it applies to is derived from it. */
  readonly definedIn: string | undefined;
}

export const HTTP_REDIRECT: SectionReader<HttpRedirectSection> = {
  section: 'httpRedirect',
  read(node) {
    const status = readEnum(node, 'httpResponseStatus', ['Permanent', 'Found', 'Temporary', 'PermRedirect'] as const, 'Found');
    return {
      enabled: readBool(node, 'enabled', false),
      destination: readString(node, 'destination', ''),
      exactDestination: readBool(node, 'exactDestination', false),
      childOnly: readBool(node, 'childOnly', false),
      status: STATUS[status],
      wildcards: (node?.entries ?? []).map((e) => ({
        wildcard: readRequired(e, 'wildcard', 'add'),
        destination: readRequired(e, 'destination', 'add'),
      })),
      definedIn: (node?.attributes.get('enabled') ?? node?.attributes.get('destination'))?.file,
    };
  },
};

function substitute(template: string, ctx: HttpContext, suffix: string): string {
  const q = ctx.request.queryString;
  return template
    .replace(/\$S/g, encodeUrlPath(`/${suffix}`).slice(1))
    .replace(/\$V/g, encodeUrlPath(ctx.request.path))
    .replace(/\$Q/g, q ? `?${q}` : '')
    .replace(/\$P/g, q);
}

function wildcardMatch(pattern: string, path: string): string | undefined {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('(.*)')}$`, 'i');
  const m = re.exec(path) ?? re.exec(path.slice(path.lastIndexOf('/') + 1));
  return m ? m[1] ?? '' : undefined;
}

/**
 * Redirects requests as `httpRedirect` says. Without `exactDestination` the part of the
 * request path below the folder where the redirect was configured is appended to the
 * destination; with `childOnly` the folder itself is not redirected, only what is below it.
 * `$S`, `$V`, `$Q` and `$P` are substituted as in IIS. A destination equal to the request is
 * ignored, so a redirect can never loop onto itself.
 */
export const HttpRedirectionModule: HttpModule = {
  notifications: REQUEST_NOTIFICATION.BEGIN_REQUEST,
  onBeginRequest(ctx: HttpContext) {
    const section = ctx.getSection(HTTP_REDIRECT);
    if (!section.enabled) return REQUEST_NOTIFICATION_STATUS.CONTINUE;
    let target: string | undefined;
    for (const w of section.wildcards) {
      const suffix = wildcardMatch(w.wildcard, ctx.request.path);
      if (suffix !== undefined) {
        target = substitute(w.destination, ctx, suffix);
        break;
      }
    }
    if (target === undefined && section.destination) {
      const base = configUrlOf(ctx, section.definedIn);
      // Re-encoded segment by segment with empty segments dropped: a decoded `//host` or `?`
      // from the request must not become part of the target's authority or query.
      const below = ctx.request.path.length > base.length ? encodeUrlPath(ctx.request.path.slice(base.length)).replace(/^\//, '') : '';
      if (section.childOnly && below === '') return REQUEST_NOTIFICATION_STATUS.CONTINUE;
      const dest = substitute(section.destination, ctx, below);
      target = section.exactDestination || section.destination.includes('$') ? dest : joinUrl(dest, below);
    }
    if (target === undefined) return REQUEST_NOTIFICATION_STATUS.CONTINUE;
    const host = ctx.request.getHeader('host') ?? '';
    const self = `${ctx.request.secure ? 'https' : 'http'}://${host}${ctx.request.rawUrl}`;
    const absolute = new URL(target, self).toString();
    if (absolute === self || absolute === new URL(ctx.request.rawUrl, self).toString()) {
      return REQUEST_NOTIFICATION_STATUS.CONTINUE;
    }
    ctx.response.redirect(target, { status: section.status });
    return REQUEST_NOTIFICATION_STATUS.FINISH_REQUEST;
  },
};

function joinUrl(base: string, rest: string): string {
  if (!rest) return base;
  return base.endsWith('/') ? base + rest : `${base}/${rest}`;
}

import { statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { readBool, readRequired } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import type { ConfigNode } from '../config/config-node.js';
import {
  REQUEST_NOTIFICATION, REQUEST_NOTIFICATION_STATUS, type RequestNotificationStatus,
} from '../pipeline/events.js';
import type { HttpContext } from '../pipeline/http-context.js';
import type { HttpModule } from '../pipeline/module.js';
import { isHiddenPath, redirectToDirectory, serveFile } from './static-file-module.js';

/**
 * DefaultDocumentModule (defdoc.dll): answers directory URLs with the first configured default
 * document that exists (iis-reference.md §3.1).
 */

const { CONTINUE, FINISH_REQUEST } = REQUEST_NOTIFICATION_STATUS;

/** The `defaultDocument` section. */
export interface DefaultDocumentConfig {
  readonly enabled: boolean;
  /**
   * `files/add value`, in effective order: the collection merges with mergeAppend=false, so
   * entries of deeper levels come before inherited ones and are tried first.
   */
  readonly files: readonly string[];
}

/**
 * Reader for `system.webServer/defaultDocument`.
 *
 * @example
 * ```ts
 * ctx.getSection(DEFAULT_DOCUMENT).files; // ['Default.htm', 'Default.asp', 'index.htm', 'index.html', 'iisstart.htm']
 * ```
 */
export const DEFAULT_DOCUMENT: SectionReader<DefaultDocumentConfig> = {
  section: 'defaultDocument',
  read(node: ConfigNode | undefined): DefaultDocumentConfig {
    const files = (node?.children.get('files')?.entries ?? []).map((e) => readRequired(e, 'value', 'add'));
    return { enabled: readBool(node, 'enabled', true), files: Object.freeze(files) };
  },
};

/**
 * A configured name may hold a relative path (`docs/index.htm`), but nothing that could climb out
 * of the directory or that the platform would read differently from the URL form.
 */
function safeRelative(value: string): string[] | undefined {
  if (value.includes('\\') || value.includes('\0') || value.startsWith('/')) return undefined;
  const parts = value.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return parts;
}

/**
 * DefaultDocumentModule: for a directory URL without its trailing slash, the 301 courtesy
 * redirect to `path/`; for `path/`, the first file of `defaultDocument/files` that exists,
 * served as StaticFileModule would serve it. When none exists (or the section is disabled) the
 * request continues to DirectoryListingModule.
 *
 * A response served as a default document is kept out of the kernel cache: the cached entry for
 * `/` would survive a new default document being added (KB817445).
 */
export const DefaultDocumentModule: HttpModule = {
  notifications: REQUEST_NOTIFICATION.EXECUTE_REQUEST_HANDLER,

  onExecuteRequestHandler(ctx: HttpContext): RequestNotificationStatus {
    if (ctx.requestHandled) return CONTINUE;
    const directory = ctx.physicalPath;
    const stat = ctx.physicalStat;
    if (!stat?.isDirectory()) return CONTINUE;
    const urlPath = ctx.request.path;
    if (isHiddenPath(ctx, urlPath)) {
      ctx.response.setError('HIDDEN_SEGMENT');
      return FINISH_REQUEST;
    }
    if (!urlPath.endsWith('/')) return redirectToDirectory(ctx);

    const config = ctx.getSection(DEFAULT_DOCUMENT);
    if (!config.enabled) return CONTINUE;
    for (const value of config.files) {
      const parts = safeRelative(value);
      // A hidden name (say web.config listed by mistake) is passed over as if it did not exist.
      if (!parts || isHiddenPath(ctx, value)) continue;
      const candidate = join(directory, ...parts);
      let doc: Stats | undefined;
      try {
        doc = statSync(candidate, { throwIfNoEntry: false });
      } catch {
        doc = undefined;
      }
      if (!doc?.isFile()) continue;
      ctx.trace('DefaultDocument', `serving ${value} for ${urlPath}`);
      ctx.response.disableKernelCache();
      return serveFile(ctx, candidate, doc);
    }
    return CONTINUE;
  },
};

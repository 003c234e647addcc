import { readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { readBool, readFlags } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import type { ConfigNode } from '../config/config-node.js';
import {
  REQUEST_NOTIFICATION, REQUEST_NOTIFICATION_STATUS, type RequestNotificationStatus,
} from '../pipeline/events.js';
import { escapeHtml } from '../errors.js';
import type { HttpContext } from '../pipeline/http-context.js';
import type { HttpModule } from '../pipeline/module.js';
import {
  encodeUrlPath, handled, isHiddenPath, redirectToDirectory, virtualDirectoryGuard,
} from './static-file-module.js';

/**
 * DirectoryListingModule (dirlist.dll): the HTML listing of a directory nobody else answered,
 * or 403.14 when `directoryBrowse` is off (iis-reference.md §3.2).
 */

const { CONTINUE, FINISH_REQUEST } = REQUEST_NOTIFICATION_STATUS;

/** `directoryBrowse showFlags` names (None 0, Date 2, Time 4, Size 8, Extension 16, LongDate 32). */
export const SHOW_FLAGS = ['None', 'Date', 'Time', 'Size', 'Extension', 'LongDate'] as const;
export type ShowFlag = (typeof SHOW_FLAGS)[number];

/** The `directoryBrowse` section. */
export interface DirectoryBrowseConfig {
  readonly enabled: boolean;
  readonly showFlags: ReadonlySet<ShowFlag>;
}

/**
 * Reader for `system.webServer/directoryBrowse`: off by default; `showFlags` default
 * `Date, Time, Size, Extension`.
 *
 * @example
 * ```xml
 * <directoryBrowse enabled="true" showFlags="Date, Size, Extension, LongDate"/>
 * ```
 */
export const DIRECTORY_BROWSE: SectionReader<DirectoryBrowseConfig> = {
  section: 'directoryBrowse',
  read(node: ConfigNode | undefined): DirectoryBrowseConfig {
    return {
      enabled: readBool(node, 'enabled', false),
      showFlags: readFlags(node, 'showFlags', SHOW_FLAGS, ['Date', 'Time', 'Size', 'Extension']),
    };
  },
};

interface Entry {
  readonly name: string;
  readonly directory: boolean;
  readonly stat: Stats;
}


const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

/**
 * One `<pre>` line in dirlist.dll's layout: date right-aligned in 10 columns (or the long date),
 * time in 8, size (or `<dir>`) in 12, one space between, then the link. Dates are server-local
 * time, as IIS writes them.
 */
function line(entry: Entry, href: string, flags: ReadonlySet<ShowFlag>): string {
  const t = entry.stat.mtime;
  let prefix = '';
  if (flags.has('LongDate')) {
    prefix += `${DAYS[t.getDay()]}, ${MONTHS[t.getMonth()]} ${t.getDate()}, ${t.getFullYear()}`.padStart(30) + ' ';
  } else if (flags.has('Date')) {
    prefix += `${t.getMonth() + 1}/${t.getDate()}/${t.getFullYear()}`.padStart(10) + ' ';
  }
  if (flags.has('Time')) {
    const h = t.getHours() % 12 || 12;
    const m = String(t.getMinutes()).padStart(2, '0');
    prefix += `${h}:${m} ${t.getHours() < 12 ? 'AM' : 'PM'}`.padStart(8) + ' ';
  }
  if (flags.has('Size')) {
    // `<dir>` is five visible characters but ten in HTML: pad on the visible width.
    prefix += entry.directory ? ' '.repeat(7) + '&lt;dir&gt;' + ' ' : String(entry.stat.size).padStart(12) + ' ';
  }
  let shown = entry.name;
  if (!entry.directory && !flags.has('Extension')) {
    const dot = shown.lastIndexOf('.');
    if (dot > 0) shown = shown.slice(0, dot);
  }
  return `${prefix}<A HREF="${escapeHtml(href)}">${escapeHtml(shown)}</A><br>`;
}

/** Entries of `directory` that may be shown: not hidden, not leaving the virtual directory. */
function listEntries(ctx: HttpContext, directory: string): Entry[] {
  const inside = virtualDirectoryGuard(ctx);
  const entries: Entry[] = [];
  for (const dirent of readdirSync(directory, { withFileTypes: true })) {
    const name = dirent.name;
    // Hidden segments never appear, whatever the case or trailing dots (isHiddenPath's rules).
    if (isHiddenPath(ctx, name)) continue;
    const path = join(directory, name);
    if (dirent.isSymbolicLink() && !inside(path)) continue;
    let stat: Stats | undefined;
    try {
      stat = statSync(path, { throwIfNoEntry: false });
    } catch {
      stat = undefined;
    }
    if (!stat || !(stat.isFile() || stat.isDirectory())) continue;
    entries.push({ name, directory: stat.isDirectory(), stat });
  }
  // NTFS returns names in case-insensitive order, with directories and files mixed: keep that.
  return entries.sort((a, b) => {
    const x = a.name.toLowerCase();
    const y = b.name.toLowerCase();
    return x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

/**
 * DirectoryListingModule: last of the directory handlers. For `path/` that maps to a directory
 * and that no earlier module answered, it writes an IIS-style listing when `directoryBrowse` is
 * enabled, and 403.14 otherwise. Hidden segments (web.config, …) and symlinks leaving the virtual
 * directory are never listed.
 */
export const DirectoryListingModule: HttpModule = {
  notifications: REQUEST_NOTIFICATION.EXECUTE_REQUEST_HANDLER,

  onExecuteRequestHandler(ctx: HttpContext): RequestNotificationStatus {
    const res = ctx.response;
    if (ctx.requestHandled || res.status !== 200 || res.bodyLength !== 0) return CONTINUE;
    const directory = ctx.physicalPath;
    const stat = ctx.physicalStat;
    if (!stat?.isDirectory()) return CONTINUE;
    const urlPath = ctx.request.path;
    if (isHiddenPath(ctx, urlPath)) {
      res.setError('HIDDEN_SEGMENT');
      return FINISH_REQUEST;
    }
    // DefaultDocumentModule normally sends this redirect; repeat it in case it was removed.
    if (!urlPath.endsWith('/')) return redirectToDirectory(ctx);

    // The directory itself may be a symlink out of the virtual directory: treat as absent.
    if (!virtualDirectoryGuard(ctx)(directory)) {
      res.setError('NOT_FOUND');
      return FINISH_REQUEST;
    }
    const config = ctx.getSection(DIRECTORY_BROWSE);
    if (!config.enabled) {
      res.setError('DIRECTORY_LISTING_DENIED');
      return FINISH_REQUEST;
    }

    const base = encodeUrlPath(urlPath);
    const host = escapeHtml(ctx.request.getHeader('host') ?? ctx.request.localAddress);
    const title = `${host} - ${escapeHtml(urlPath)}`;
    let html = `<html><head><title>${title}</title></head><body><H1>${title}</H1><hr>\n\n<pre>`;
    if (base !== '/') {
      const parent = base.slice(0, base.lastIndexOf('/', base.length - 2) + 1);
      html += `<A HREF="${escapeHtml(parent)}">[To Parent Directory]</A><br><br>`;
    }
    // `None` is the zero flag: alone it leaves only the names, next to others it adds nothing.
    const flags = config.showFlags;
    for (const entry of listEntries(ctx, directory)) {
      const href = base + encodeURIComponent(entry.name) + (entry.directory ? '/' : '');
      html += line(entry, href, flags);
    }
    html += '</pre><hr></body></html>';

    res.clearBody();
    res.setStatus(200);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    // A listing changes whenever the directory does, which the kernel cache would not notice.
    res.disableKernelCache();
    res.write(html);
    return handled(ctx);
  },
};

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { expandEnvironment, readBool, readEnum, readInt, readRequired, readString, readUint } from '../config/attributes.js';
import type { ConfigNode } from '../config/config-node.js';
import { ConfigError, escapeHtml } from '../errors.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import { REQUEST_NOTIFICATION } from '../pipeline/events.js';
import type { HttpContext } from '../pipeline/http-context.js';
import type { HttpModule } from '../pipeline/module.js';

type ResponseMode = 'File' | 'ExecuteURL' | 'Redirect';
const RESPONSE_MODES = ['File', 'ExecuteURL', 'Redirect'] as const;

export interface CustomErrorEntry {
  readonly statusCode: number;
  /** -1 = any substatus. */
  readonly subStatusCode: number;
  readonly path: string;
  readonly prefixLanguageFilePath: string;
  readonly responseMode: ResponseMode;
  /** Directory of the file that declared the entry: relative `File` paths resolve from there. */
  readonly baseDir: string;
}

/** `httpErrors` (iis-reference.md §3.3). */
export interface HttpErrorsSection {
  readonly errorMode: 'DetailedLocalOnly' | 'Custom' | 'Detailed';
  readonly existingResponse: 'Auto' | 'Replace' | 'PassThrough';
  readonly defaultPath: string;
  readonly defaultResponseMode: ResponseMode;
  readonly baseDir: string;
  readonly errors: readonly CustomErrorEntry[];
}

export const HTTP_ERRORS: SectionReader<HttpErrorsSection> = {
  section: 'httpErrors',
  read(node) {
    const defaultMode = readEnum(node, 'defaultResponseMode', RESPONSE_MODES, 'File');
    // Honoured only from applicationHost.config: the stock file locks this attribute, and
    // locks are not enforced here yet, so a web.config setting it is ignored.
    const allowAttr = node?.attributes.get('allowAbsolutePathsWhenDelegated');
    const allowAbsolute = allowAttr !== undefined && !allowAttr.file.endsWith('web.config') &&
      readBool(node, 'allowAbsolutePathsWhenDelegated', false);
    for (const e of node?.entries ?? []) {
      if (readEnum(e, 'responseMode', RESPONSE_MODES, defaultMode) === 'File') checkDelegatedPath(e, 'path', allowAbsolute);
    }
    if (node?.attributes.has('defaultPath') && defaultMode === 'File') checkDelegatedPath(node, 'defaultPath', allowAbsolute);
    return {
      errorMode: readEnum(node, 'errorMode', ['DetailedLocalOnly', 'Custom', 'Detailed'] as const, 'DetailedLocalOnly'),
      existingResponse: readEnum(node, 'existingResponse', ['Auto', 'Replace', 'PassThrough'] as const, 'Auto'),
      defaultPath: expandEnvironment(readString(node, 'defaultPath', '')),
      defaultResponseMode: defaultMode,
      baseDir: node ? dirname(node.attributes.get('defaultPath')?.file ?? node.position.file) : process.cwd(),
      errors: (node?.entries ?? []).map((e) => ({
        statusCode: readUint(e, 'statusCode', 0, 400, 999),
        subStatusCode: readInt(e, 'subStatusCode', -1, -1, 999),
        path: expandEnvironment(readRequired(e, 'path', 'error')),
        prefixLanguageFilePath: expandEnvironment(readString(e, 'prefixLanguageFilePath', '')),
        responseMode: readEnum(e, 'responseMode', RESPONSE_MODES, defaultMode),
        baseDir: dirname(e.position.file),
      })),
    };
  },
};

/**
 * A web.config may only name error files inside its own folder: no absolute path, no `..`
 * out of it, no language prefix, unless `allowAbsolutePathsWhenDelegated` (default false,
 * iis-reference.md §3.3). Otherwise one delegated web.config could serve any file on the disk.
 */
function checkDelegatedPath(node: ConfigNode, attribute: string, allowAbsolute: boolean): void {
  const at = node.attributes.get(attribute);
  if (!at || !at.file.endsWith('web.config') || allowAbsolute) return;
  const prefix = node.attributes.get('prefixLanguageFilePath');
  if (prefix && prefix.value !== '') {
    throw new ConfigError(prefix.file, prefix.line, 'prefixLanguageFilePath', 'a web.config may not set prefixLanguageFilePath (allowAbsolutePathsWhenDelegated is false)');
  }
  const base = dirname(at.file);
  const target = resolve(base, expandEnvironment(at.value));
  if (isAbsolute(expandEnvironment(at.value)) || (target !== base && !target.startsWith(base + sep))) {
    throw new ConfigError(at.file, at.line, attribute, `'${at.value}' leaves the folder of this web.config (allowAbsolutePathsWhenDelegated is false)`);
  }
}


/** Short descriptions shown on error pages, per status.substatus (iis-reference.md §4). */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  '401.2': 'Logon failed due to server configuration: no authentication module produced a user.',
  '403.14': 'The Web server is configured to not list the contents of this directory.',
  '404.0': 'The resource you are looking for has been removed, had its name changed, or is temporarily unavailable.',
  '404.1': 'No site is bound to this host name and port.',
  '404.3': 'The page you are requesting cannot be served because of the extension configuration (no MIME map).',
  '404.4': 'The resource you are looking for does not have a handler associated with it.',
  '404.8': 'The request filtering module is configured to deny a path that contains a hidden segment.',
  '404.11': 'The request contained a double escape sequence.',
  '404.20': 'The URL has more segments than limits maxUrlSegments allows.',
  '405.0': 'The HTTP verb used to access this page is not allowed.',
  '413.1': 'The request entity is larger than requestLimits maxAllowedContentLength.',
  '500.0': 'A module failed while processing the request.',
  '500.19': 'The requested page cannot be accessed because the related configuration data for the page is invalid.',
  '500.21': 'A module named in the configuration could not be loaded.',
  '503.0': 'The application pool is unavailable.',
};

function describe(status: number, sub: number): string {
  return DESCRIPTIONS[`${status}.${sub}`] ?? DESCRIPTIONS[`${status}.0`] ?? 'The request could not be completed.';
}

/**
 * Custom and detailed error pages for responses >= 400, applied at SendResponse.
 * `DetailedLocalOnly` (the default) shows the detailed page, with the failing module and the
 * error, to clients on this machine only; remote clients get the custom or a terse page.
 */
export const CustomErrorModule: HttpModule = {
  notifications: REQUEST_NOTIFICATION.SEND_RESPONSE,
  // Runs after the other SendResponse handlers: priorities are inverted for SendResponse.
  priority: 'FIRST',
  onSendResponse(ctx: HttpContext) {
    const res = ctx.response;
    if (res.status < 400) return;
    const section = ctx.getSection(HTTP_ERRORS);
    const hasBody = res.bodyLength > 0;
    if (section.existingResponse === 'PassThrough' && hasBody) return;
    if (section.existingResponse === 'Auto' && res.trySkipCustomErrors && hasBody) return;
    const detailed = section.errorMode === 'Detailed' || (section.errorMode === 'DetailedLocalOnly' && ctx.isLocal);
    if (!detailed && applyCustom(ctx, section)) return;
    res.clearBody();
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.write(detailed ? detailedPage(ctx) : tersePage(res.status, res.subStatus, res.statusText));
  },
};

function findEntry(section: HttpErrorsSection, status: number, sub: number): CustomErrorEntry | undefined {
  return (
    section.errors.find((e) => e.statusCode === status && e.subStatusCode === sub) ??
    section.errors.find((e) => e.statusCode === status && e.subStatusCode === -1)
  );
}

function applyCustom(ctx: HttpContext, section: HttpErrorsSection): boolean {
  const res = ctx.response;
  const entry = findEntry(section, res.status, res.subStatus);
  const path = entry?.path ?? section.defaultPath;
  if (!path) return false;
  const mode = entry?.responseMode ?? section.defaultResponseMode;
  if (mode === 'Redirect') {
    res.clearBody();
    res.setStatus(302);
    res.setHeader('Location', path);
    return true;
  }
  let file: string;
  if (mode === 'ExecuteURL') {
    // Served as the static file the URL maps to; child requests through the pipeline are not built yet.
    file = ctx.mapPath(path);
  } else {
    const base = entry?.baseDir ?? section.baseDir;
    const prefix = entry?.prefixLanguageFilePath;
    file = prefix ? join(prefix, 'en-US', path) : isAbsolute(path) ? path : resolve(base, path);
  }
  try {
    const body = readFileSync(file);
    res.clearBody();
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.write(body);
    return true;
  } catch {
    return false;
  }
}

function tersePage(status: number, sub: number, text: string): string {
  return `<!DOCTYPE html><html><head><title>${status} - ${escapeHtml(text)}</title></head><body>` +
    `<h1>Server Error</h1><h2>${status} - ${escapeHtml(text)}.</h2>` +
    `<p>${escapeHtml(status === 500 ? 'An internal server error occurred.' : describe(status, sub))}</p></body></html>`;
}

function detailedPage(ctx: HttpContext): string {
  const res = ctx.response;
  const rows: [string, string][] = [
    ['Module', res.error?.module ?? res.statusSetBy?.module ?? ''],
    ['Notification', res.error?.notification ?? res.statusSetBy?.notification ?? ''],
    ['Handler', ctx.handler?.name ?? ''],
    ['Requested URL', `${ctx.request.secure ? 'https' : 'http'}://${ctx.request.getHeader('host') ?? ''}${ctx.request.rawUrl}`],
    ['Physical Path', safePhysical(ctx)],
    ['Logon Method', ctx.user?.authenticationType ?? 'Not yet determined'],
    ['Logon User', ctx.user ? ctx.user.name || 'Anonymous' : 'Not yet determined'],
  ];
  const detail = res.errorDescription ?? res.error?.message;
  const stack = res.error?.stack;
  return `<!DOCTYPE html><html><head><title>IIS Detailed Error - ${res.status}.${res.subStatus} - ${escapeHtml(res.statusText)}</title></head><body>` +
    `<h1>HTTP Error ${res.status}.${res.subStatus} - ${escapeHtml(res.statusText)}</h1>` +
    `<h3>${escapeHtml(describe(res.status, res.subStatus))}</h3>` +
    (detail ? `<h4>Detailed Error Information</h4><pre>${escapeHtml(detail)}</pre>` : '') +
    `<table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>` +
    (stack ? `<h4>Stack</h4><pre>${escapeHtml(stack)}</pre>` : '') +
    `<p>This page is shown to local clients only (httpErrors errorMode="DetailedLocalOnly").</p></body></html>`;
}

function safePhysical(ctx: HttpContext): string {
  try {
    return ctx.physicalPath;
  } catch {
    return '';
  }
}

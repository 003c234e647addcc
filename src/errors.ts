/**
 * The coded error table. Each entry is an HTTP status with its IIS substatus
 * (iis-reference.md §4); modules set one with `ctx.response.setError(...)` and finish the request.
 */
export const HTTP_ERROR = {
  BAD_REQUEST: { status: 400, subStatus: 0, reason: 'Bad Request' },
  NO_AUTHENTICATED_USER: { status: 401, subStatus: 2, reason: 'Unauthorized' },
  SITE_NOT_FOUND: { status: 404, subStatus: 1, reason: 'Not Found' },
  DIRECTORY_LISTING_DENIED: { status: 403, subStatus: 14, reason: 'Forbidden' },
  NOT_FOUND: { status: 404, subStatus: 0, reason: 'Not Found' },
  MIME_MAP_DENIED: { status: 404, subStatus: 3, reason: 'Not Found' },
  NO_HANDLER: { status: 404, subStatus: 4, reason: 'Not Found' },
  URL_SEQUENCE_DENIED: { status: 404, subStatus: 5, reason: 'Not Found' },
  VERB_DENIED: { status: 404, subStatus: 6, reason: 'Not Found' },
  FILE_EXTENSION_DENIED: { status: 404, subStatus: 7, reason: 'Not Found' },
  HIDDEN_SEGMENT: { status: 404, subStatus: 8, reason: 'Not Found' },
  DOUBLE_ESCAPE: { status: 404, subStatus: 11, reason: 'Not Found' },
  HIGH_BIT_CHARACTERS: { status: 404, subStatus: 12, reason: 'Not Found' },
  URL_TOO_LONG: { status: 404, subStatus: 14, reason: 'Not Found' },
  QUERY_STRING_TOO_LONG: { status: 404, subStatus: 15, reason: 'Not Found' },
  QUERY_STRING_SEQUENCE_DENIED: { status: 404, subStatus: 18, reason: 'Not Found' },
  FILTERING_RULE_DENIED: { status: 404, subStatus: 19, reason: 'Not Found' },
  TOO_MANY_SEGMENTS: { status: 404, subStatus: 20, reason: 'Not Found' },
  HEADER_TOO_LARGE: { status: 431, subStatus: 0, reason: 'Request Header Fields Too Large' },
  IP_DENIED: { status: 403, subStatus: 6, reason: 'Forbidden' },
  DYNAMIC_IP_CONCURRENT: { status: 403, subStatus: 501, reason: 'Forbidden' },
  DYNAMIC_IP_RATE: { status: 403, subStatus: 502, reason: 'Forbidden' },
  VERB_NOT_ALLOWED: { status: 405, subStatus: 0, reason: 'Method Not Allowed' },
  PRECONDITION_FAILED: { status: 412, subStatus: 0, reason: 'Precondition Failed' },
  CONTENT_TOO_LARGE: { status: 413, subStatus: 1, reason: 'Content Too Large' },
  RANGE_NOT_SATISFIABLE: { status: 416, subStatus: 0, reason: 'Range Not Satisfiable' },
  MODULE_ERROR: { status: 500, subStatus: 0, reason: 'Internal Server Error' },
  CONFIG_INVALID: { status: 500, subStatus: 19, reason: 'Internal Server Error' },
  MODULE_NOT_RECOGNIZED: { status: 500, subStatus: 21, reason: 'Internal Server Error' },
  NOT_IMPLEMENTED: { status: 501, subStatus: 0, reason: 'Not Implemented' },
  APP_POOL_UNAVAILABLE: { status: 503, subStatus: 0, reason: 'Service Unavailable' },
  QUEUE_FULL: { status: 503, subStatus: 0, reason: 'Service Unavailable' },
} as const;

export type HttpErrorCode = keyof typeof HTTP_ERROR;

/** A status with its IIS substatus and reason phrase (an entry of {@link HTTP_ERROR}, or computed). */
export interface HttpError {
  readonly status: number;
  readonly subStatus: number;
  readonly reason: string;
}

/** Standard reason phrases for the statuses the server writes. */
export const REASON_PHRASE: Readonly<Record<number, string>> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict',
  410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/**
 * Bad configuration: names the file, the line and the attribute, so the message leads the
 * operator straight to the mistake. Start-up fails with it; at request time it becomes 500.19.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly attribute: string | undefined;
  readonly detail: string;

  constructor(file: string, line: number, attribute: string | undefined, detail: string) {
    super(`${file}:${line}${attribute ? ` attribute '${attribute}'` : ''}: ${detail}`);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.attribute = attribute;
    this.detail = detail;
  }
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Escapes text for HTML element content (quotes stay readable in the page source). */
export function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Is this client address on this machine? (Detailed error pages go to local clients only.) */
export function isLocalAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.') ||
    address === '0000:0000:0000:0000:0000:0000:0000:0001';
}

/**
 * The page for an error answered outside the pipeline (by the listener, or by a worker before
 * CustomErrorModule can run): title with status.substatus, and `detail` for local clients.
 */
export function errorPage(code: HttpErrorCode | HttpError, summary: string | undefined, detail: string | undefined): string {
  const e = typeof code === 'string' ? HTTP_ERROR[code] : code;
  const title = `HTTP Error ${e.status}.${e.subStatus} - ${e.reason}`;
  return `<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1>` +
    (summary ? `<h3>${escapeText(summary)}</h3>` : '') +
    (detail ? `<h4>Detailed Error Information</h4><pre>${escapeText(detail)}</pre>` : '') + '</body></html>';
}

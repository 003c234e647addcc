import { readBool, readRequired } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import { nodeAt } from '../config/config-node.js';
import { REQUEST_NOTIFICATION, REQUEST_NOTIFICATION_STATUS } from '../pipeline/events.js';
import type { HttpContext } from '../pipeline/http-context.js';
import type { HttpModule } from '../pipeline/module.js';

/** `httpProtocol` (iis-reference.md §3.5). */
export interface HttpProtocolSection {
  readonly allowKeepAlive: boolean;
  readonly customHeaders: readonly (readonly [string, string])[];
  readonly redirectHeaders: readonly (readonly [string, string])[];
}

export const HTTP_PROTOCOL: SectionReader<HttpProtocolSection> = {
  section: 'httpProtocol',
  read(node) {
    const pairs = (name: string) =>
      (nodeAt(node, name)?.entries ?? []).map((e) => [readRequired(e, 'name', 'add'), e.attributes.get('value')?.value ?? ''] as const);
    return {
      allowKeepAlive: readBool(node, 'allowKeepAlive', true),
      customHeaders: pairs('customHeaders'),
      redirectHeaders: pairs('redirectHeaders'),
    };
  },
};

const ALLOWED_VERBS = 'OPTIONS, TRACE, GET, HEAD, POST';

/**
 * Custom and redirect headers, keep-alive, and the OPTIONS/TRACE verb handlers.
 * Headers are added at SendResponse so they also reach error responses built after a
 * `Clear()`. TRACE is refused with 405: echoing requests back (RFC 9110 §9.3.8) enables
 * cross-site tracing, and IIS 7+ sites disable it in practice.
 */
export const ProtocolSupportModule: HttpModule = {
  notifications: REQUEST_NOTIFICATION.EXECUTE_REQUEST_HANDLER | REQUEST_NOTIFICATION.SEND_RESPONSE,
  onExecuteRequestHandler(ctx: HttpContext) {
    const res = ctx.response;
    if (ctx.request.method === 'OPTIONS') {
      res.setHeader('Allow', ALLOWED_VERBS);
      res.setHeader('Public', ALLOWED_VERBS);
      res.setStatus(200);
    } else if (ctx.request.method === 'TRACE') {
      res.setError('VERB_NOT_ALLOWED');
      res.setHeader('Allow', 'OPTIONS, GET, HEAD, POST');
    } else {
      return REQUEST_NOTIFICATION_STATUS.CONTINUE;
    }
    return REQUEST_NOTIFICATION_STATUS.FINISH_REQUEST;
  },
  onSendResponse(ctx: HttpContext, provider) {
    const section = ctx.getSection(HTTP_PROTOCOL);
    const res = ctx.response;
    for (const [name, value] of section.customHeaders) res.setHeader(name, value);
    if (res.status >= 300 && res.status < 400) {
      for (const [name, value] of section.redirectHeaders) res.setHeader(name, value);
    }
    if (!section.allowKeepAlive) {
      res.setNeedDisconnect();
      provider.flags |= 0x1; // HTTP_SEND_RESPONSE_FLAG_DISCONNECT
    }
  },
};

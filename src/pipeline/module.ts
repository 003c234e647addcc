import type {
  GlobalNotificationStatus, Priority, RequestNotificationStatus,
} from './events.js';
import type { HttpContext } from './http-context.js';

/** What a request handler may return: nothing (= CONTINUE), a status, or a promise of one (= PENDING). */
export type RequestHandlerResult =
  | RequestNotificationStatus
  | void
  | Promise<RequestNotificationStatus | void>;

export type GlobalHandlerResult = GlobalNotificationStatus | void | Promise<GlobalNotificationStatus | void>;

export type RequestHandler = (ctx: HttpContext) => RequestHandlerResult;

/** Given to SendResponse handlers (`ISendResponseProvider`). */
export interface SendResponseProvider {
  /** `HTTP_SEND_RESPONSE_FLAG_*` bits; set `DISCONNECT` (0x1) to close after sending. */
  flags: number;
}

/** Given to MapPath handlers (`IMapPathProvider`). */
export interface MapPathProvider {
  readonly url: string;
  physicalPath: string;
}

/** Given to CustomRequestNotification and CustomNotification handlers. */
export interface CustomNotificationProvider {
  readonly name: string;
  readonly data?: unknown;
}

/** Given to the application-level global notifications. */
export interface ApplicationProvider {
  readonly siteId: number;
  readonly siteName: string;
  readonly applicationPath: string;
  readonly physicalPath: string;
  readonly applicationPool: string;
}

/**
 * A module in the integrated pipeline: the counterpart of a native `CHttpModule` registered
 * with `RegisterModule`, or a managed `IHttpModule`. Export a class (instantiated once per
 * worker and application, like the IIS module factory) or a plain object, and name it in
 * `<modules><add name="Hello" type="./hello.ts#HelloModule"/></modules>`.
 *
 * `notifications` / `postNotifications` are `REQUEST_NOTIFICATION` masks; when omitted they are
 * derived from the handler methods the module implements. Per-request state belongs in
 * `ctx.setModuleContext()`, not on the instance: one instance serves every request.
 *
 * @example
 * ```ts
 * import { REQUEST_NOTIFICATION_STATUS, type HttpContext, type HttpModule } from 'w3core';
 * export class HelloModule implements HttpModule {
 *   onBeginRequest(ctx: HttpContext) {
 *     if (ctx.request.path !== '/hello') return;
 *     ctx.response.setHeader('Content-Type', 'text/plain');
 *     ctx.response.write('Hello from the pipeline');
 *     return REQUEST_NOTIFICATION_STATUS.FINISH_REQUEST;
 *   }
 * }
 * ```
 */
export interface HttpModule {
  readonly notifications?: number;
  readonly postNotifications?: number;
  /** One alias for every notification, or one per notification bit. Default `MEDIUM`. */
  readonly priority?: Priority | Readonly<Record<number, Priority>>;
  /** Global notification mask (`GLOBAL_NOTIFICATION`); derived from `onGlobal*` methods when omitted. */
  readonly globalNotifications?: number;
  readonly globalPriority?: Priority;

  onBeginRequest?(ctx: HttpContext): RequestHandlerResult;
  onPostBeginRequest?(ctx: HttpContext): RequestHandlerResult;
  onAuthenticateRequest?(ctx: HttpContext): RequestHandlerResult;
  onPostAuthenticateRequest?(ctx: HttpContext): RequestHandlerResult;
  onAuthorizeRequest?(ctx: HttpContext): RequestHandlerResult;
  onPostAuthorizeRequest?(ctx: HttpContext): RequestHandlerResult;
  onResolveRequestCache?(ctx: HttpContext): RequestHandlerResult;
  onPostResolveRequestCache?(ctx: HttpContext): RequestHandlerResult;
  onMapRequestHandler?(ctx: HttpContext): RequestHandlerResult;
  onPostMapRequestHandler?(ctx: HttpContext): RequestHandlerResult;
  onAcquireRequestState?(ctx: HttpContext): RequestHandlerResult;
  onPostAcquireRequestState?(ctx: HttpContext): RequestHandlerResult;
  onPreExecuteRequestHandler?(ctx: HttpContext): RequestHandlerResult;
  onPostPreExecuteRequestHandler?(ctx: HttpContext): RequestHandlerResult;
  onExecuteRequestHandler?(ctx: HttpContext): RequestHandlerResult;
  onPostExecuteRequestHandler?(ctx: HttpContext): RequestHandlerResult;
  onReleaseRequestState?(ctx: HttpContext): RequestHandlerResult;
  onPostReleaseRequestState?(ctx: HttpContext): RequestHandlerResult;
  onUpdateRequestCache?(ctx: HttpContext): RequestHandlerResult;
  onPostUpdateRequestCache?(ctx: HttpContext): RequestHandlerResult;
  onLogRequest?(ctx: HttpContext): RequestHandlerResult;
  onPostLogRequest?(ctx: HttpContext): RequestHandlerResult;
  onEndRequest?(ctx: HttpContext): RequestHandlerResult;
  onPostEndRequest?(ctx: HttpContext): RequestHandlerResult;

  onSendResponse?(ctx: HttpContext, provider: SendResponseProvider): RequestHandlerResult;
  onReadEntity?(ctx: HttpContext): RequestHandlerResult;
  /** Must answer synchronously. */
  onMapPath?(ctx: HttpContext, provider: MapPathProvider): RequestHandlerResult;
  onCustomRequestNotification?(ctx: HttpContext, provider: CustomNotificationProvider): RequestHandlerResult;

  onGlobalApplicationStart?(provider: ApplicationProvider): GlobalHandlerResult;
  onGlobalApplicationStop?(provider: ApplicationProvider): GlobalHandlerResult;
  onGlobalPreBeginRequest?(ctx: HttpContext): GlobalHandlerResult;
  onGlobalConfigurationChange?(provider: { readonly path: string }): GlobalHandlerResult;
  onGlobalStopListening?(provider: { readonly applicationPool: string }): GlobalHandlerResult;
  onGlobalCustomNotification?(provider: CustomNotificationProvider): GlobalHandlerResult;
  onGlobalTraceEvent?(provider: TraceEvent): GlobalHandlerResult;
  onGlobalCacheOperation?(provider: CacheOperationProvider): GlobalHandlerResult;
  onGlobalCacheCleanup?(provider: CacheCleanupProvider): GlobalHandlerResult;
  /** The pool's ping reached this worker (`pingInterval`). */
  onGlobalHealthCheck?(provider: { readonly threadId: number; readonly poolName: string }): GlobalHandlerResult;
  /** A batch of requests finished on this worker's thread. */
  onGlobalThreadCleanup?(provider: { readonly threadId: number }): GlobalHandlerResult;
}

/**
 * `CacheOperation`: the listener's kernel-style response cache added, dropped or flushed an
 * entry (`ICacheProvider`). Retrievals (cache hits) are not reported: they happen on the
 * listener thread at full request rate, and telling a worker about each would undo the point.
 */
export interface CacheOperationProvider {
  readonly cache: 'kernel';
  /** `CACHE_OPERATION`: ADD 1, DELETE 2, FLUSH_PREFIX 3. */
  readonly operation: number;
  readonly operationName: 'RETRIEVE' | 'ADD' | 'DELETE' | 'FLUSH_PREFIX' | 'ENUM' | 'UNKNOWN';
  readonly siteId: number;
  readonly siteName: string;
  /** The URL (or, for FLUSH_PREFIX, the URL prefix). */
  readonly url: string;
}

/** `CacheCleanup`: the periodic sweep of the response cache ran (once a minute). */
export interface CacheCleanupProvider {
  readonly cache: 'kernel';
}

/** A trace event raised with `ctx.trace()` (`IHttpTraceContext::RaiseTraceEvent`). */
export interface TraceEvent {
  readonly time: number;
  readonly module: string;
  readonly notification: string;
  readonly area: string;
  readonly message: string;
}

/** A module as the pipeline knows it: the instance plus its configured name. */
export interface RegisteredModule {
  readonly name: string;
  readonly module: HttpModule;
  /** Built-in (native) modules always run; others run only per the pool's pipeline mode. */
  readonly builtIn: boolean;
}

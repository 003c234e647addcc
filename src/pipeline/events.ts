/**
 * The request and global notification tables, with the IIS bit values from `httpserv.h`
 * (iis-reference.md §1.1–1.3). One `as const` object per family plus a parallel name table;
 * modules declare masks built from these bits.
 */

/** Request notifications. The first twelve are the deterministic stages, in pipeline order. */
export const REQUEST_NOTIFICATION = {
  BEGIN_REQUEST: 0x1,
  AUTHENTICATE_REQUEST: 0x2,
  AUTHORIZE_REQUEST: 0x4,
  RESOLVE_REQUEST_CACHE: 0x8,
  MAP_REQUEST_HANDLER: 0x10,
  ACQUIRE_REQUEST_STATE: 0x20,
  PRE_EXECUTE_REQUEST_HANDLER: 0x40,
  EXECUTE_REQUEST_HANDLER: 0x80,
  RELEASE_REQUEST_STATE: 0x100,
  UPDATE_REQUEST_CACHE: 0x200,
  LOG_REQUEST: 0x400,
  END_REQUEST: 0x800,
  CUSTOM_NOTIFICATION: 0x10000000,
  SEND_RESPONSE: 0x20000000,
  READ_ENTITY: 0x40000000,
  MAP_PATH: 0x80000000,
} as const;

export type RequestNotification = (typeof REQUEST_NOTIFICATION)[keyof typeof REQUEST_NOTIFICATION];

/** The twelve deterministic stages in the order the engine runs them. */
export const DETERMINISTIC_STAGES: readonly RequestNotification[] = [
  0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800,
];

/** Stem of the handler method for each request notification: `on<Stem>` and `onPost<Stem>`. */
export const REQUEST_NOTIFICATION_NAME: Readonly<Record<number, string>> = {
  0x1: 'BeginRequest',
  0x2: 'AuthenticateRequest',
  0x4: 'AuthorizeRequest',
  0x8: 'ResolveRequestCache',
  0x10: 'MapRequestHandler',
  0x20: 'AcquireRequestState',
  0x40: 'PreExecuteRequestHandler',
  0x80: 'ExecuteRequestHandler',
  0x100: 'ReleaseRequestState',
  0x200: 'UpdateRequestCache',
  0x400: 'LogRequest',
  0x800: 'EndRequest',
  0x10000000: 'CustomRequestNotification',
  0x20000000: 'SendResponse',
  0x40000000: 'ReadEntity',
  0x80000000: 'MapPath',
};

/** Global notifications (`CGlobalModule`). There is no 0x1 or 0x8 bit, as in IIS. */
export const GLOBAL_NOTIFICATION = {
  STOP_LISTENING: 0x2,
  CACHE_CLEANUP: 0x4,
  CACHE_OPERATION: 0x10,
  HEALTH_CHECK: 0x20,
  CONFIGURATION_CHANGE: 0x40,
  FILE_CHANGE: 0x80,
  PRE_BEGIN_REQUEST: 0x100,
  APPLICATION_START: 0x200,
  APPLICATION_RESOLVE_MODULES: 0x400,
  APPLICATION_STOP: 0x800,
  RSCA_QUERY: 0x1000,
  TRACE_EVENT: 0x2000,
  CUSTOM_NOTIFICATION: 0x4000,
  THREAD_CLEANUP: 0x8000,
  APPLICATION_PRELOAD: 0x10000,
} as const;

export type GlobalNotification = (typeof GLOBAL_NOTIFICATION)[keyof typeof GLOBAL_NOTIFICATION];

/** Method name of each global notification handler: `onGlobal<Stem>`. */
export const GLOBAL_NOTIFICATION_NAME: Readonly<Record<number, string>> = {
  0x2: 'StopListening',
  0x4: 'CacheCleanup',
  0x10: 'CacheOperation',
  0x20: 'HealthCheck',
  0x40: 'ConfigurationChange',
  0x80: 'FileChange',
  0x100: 'PreBeginRequest',
  0x200: 'ApplicationStart',
  0x400: 'ApplicationResolveModules',
  0x800: 'ApplicationStop',
  0x1000: 'RSCAQuery',
  0x2000: 'TraceEvent',
  0x4000: 'CustomNotification',
  0x8000: 'ThreadCleanup',
  0x10000: 'ApplicationPreload',
};

/**
 * What a request handler returns (`REQUEST_NOTIFICATION_STATUS`). Returning nothing means
 * `CONTINUE`; returning a promise means `PENDING`, resolved with the final status.
 */
export const REQUEST_NOTIFICATION_STATUS = {
  /** Done with this notification; move on. */
  CONTINUE: 0,
  /** Async work is outstanding; the module calls `ctx.indicateCompletion(status)` later. */
  PENDING: 1,
  /** Skip the remaining stages; SendResponse, LogRequest and EndRequest still run. */
  FINISH_REQUEST: 2,
} as const;

export type RequestNotificationStatus =
  (typeof REQUEST_NOTIFICATION_STATUS)[keyof typeof REQUEST_NOTIFICATION_STATUS];

/** What a global handler returns (`GLOBAL_NOTIFICATION_STATUS`). */
export const GLOBAL_NOTIFICATION_STATUS = {
  CONTINUE: 0,
  /** Stop calling other global handlers for this notification. */
  HANDLED: 1,
} as const;

export type GlobalNotificationStatus =
  (typeof GLOBAL_NOTIFICATION_STATUS)[keyof typeof GLOBAL_NOTIFICATION_STATUS];

/** The five priority aliases (`PRIORITY_ALIAS_*`), highest first. */
export const PRIORITY = ['FIRST', 'HIGH', 'MEDIUM', 'LOW', 'LAST'] as const;
export type Priority = (typeof PRIORITY)[number];

/** Rank used for ordering; SEND_RESPONSE runs the ranks in reverse (iis-reference.md §1.4). */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = {
  FIRST: 0,
  HIGH: 1,
  MEDIUM: 2,
  LOW: 3,
  LAST: 4,
};

/** Bits of the request notifications that have a post-event. */
export const DETERMINISTIC_MASK = 0xfff;

/**
 * w3core: an IIS-7-style web server for Node.js. This is the API for module authors and for
 * embedding the server.
 * @module
 */
export {
  REQUEST_NOTIFICATION, REQUEST_NOTIFICATION_NAME, REQUEST_NOTIFICATION_STATUS, GLOBAL_NOTIFICATION,
  GLOBAL_NOTIFICATION_NAME, GLOBAL_NOTIFICATION_STATUS, PRIORITY, DETERMINISTIC_STAGES,
  type RequestNotification, type RequestNotificationStatus, type GlobalNotification,
  type GlobalNotificationStatus, type Priority,
} from './pipeline/events.js';
export type {
  HttpModule, RequestHandlerResult, GlobalHandlerResult, SendResponseProvider, MapPathProvider,
  CustomNotificationProvider, ApplicationProvider, TraceEvent, RegisteredModule, CacheOperationProvider,
  CacheCleanupProvider,
} from './pipeline/module.js';
export {
  HttpContext, HttpRequest, HttpResponse, CachePolicy, type CacheInvalidator, type ResponseChunk, type HttpUser, type ApplicationInfo,
  type HandlerInfo, type RedirectOptions,
} from './pipeline/http-context.js';
export { ConfigError, HTTP_ERROR, type HttpErrorCode, type HttpError } from './errors.js';
export type { SectionReader, EffectiveConfig } from './config/config-hierarchy.js';
export type { ConfigNode } from './config/config-node.js';
export {
  readBool, readEnum, readFlags, readInt, readString, readTimeSpan, readUint,
} from './config/attributes.js';
export type {
  ServerConfig, SiteConfig, ApplicationConfig, VirtualDirectoryConfig, BindingConfig, BindingTlsConfig, AppPoolConfig,
  RecyclingConfig, FailureConfig, AdminConfig,
} from './config/application-host.js';
export { W3CoreServer, startServer, type ServerOptions, type ExecutingRequest } from './server.js';
export {
  startAdminEndpoint, resolveAdminToken, type AdminEndpoint, type SiteInfo, type AppPoolInfo, type WorkerProcessInfo,
  type ActionResult,
} from './admin/admin-server.js';
export { ServerMetrics, METRIC_NAMES } from './admin/metrics.js';
export type { ListeningBinding, CompletedRequest } from './listener/listener.js';
export type {
  ApplicationPool, PoolState, PoolStats, PoolWorkerInfo, RecycleReason, ExecutingPoolRequest,
} from './activation/application-pool.js';
export type { ResponseCache, ResponseCacheStats, ResponseCacheOptions, CachedResponse } from './cache/response-cache.js';
export {
  REQUEST_FILTERING, readRequestFiltering, DEFAULT_REQUEST_FILTERING,
  type RequestFilteringRules, type FilteringRule, type FileExtensionRules, type VerbRules, type HiddenSegmentRules,
  type RequestLimits,
} from './wasm/request-filtering.js';
export { IP_SECURITY, DYNAMIC_IP_SECURITY, type IpSecuritySection, type DynamicIpSecuritySection } from './wasm/ip-security-config.js';
export type { CachingSection, CachingProfile, KernelCachePolicy, ServerRuntimeSection } from './cache/caching-config.js';

import { ConfigError } from '../errors.js';
import { GLOBAL_NOTIFICATION, GLOBAL_NOTIFICATION_STATUS, REQUEST_NOTIFICATION_STATUS } from './events.js';
import { STAGE_INDEX, type CompiledPipeline, type Step } from './compile.js';
import type { ContextHost, HttpContext } from './http-context.js';
import type { MapPathProvider, SendResponseProvider, TraceEvent } from './module.js';

const { PENDING, FINISH_REQUEST } = REQUEST_NOTIFICATION_STATUS;

export interface EngineOptions {
  /** Classic mode: non-built-in modules run only for requests whose handler names them. */
  readonly classic: boolean;
  /** Maps a URL to a physical path before MAP_PATH handlers see it. */
  readonly mapUrl: (ctx: HttpContext, url: string) => string;
  /** Chooses the handler at MapRequestHandler; sets an error status and returns false when none fits. */
  readonly mapHandler: (ctx: HttpContext) => boolean;
  /**
   * Classic mode only: the modules of the handler the request will map to, known before
   * MapRequestHandler so that a module named by it also sees the earlier stages.
   */
  readonly peekHandlerModules?: (ctx: HttpContext) => readonly string[];
}

/** Called once the response is final (after SendResponse); Log and End run afterwards. */
export type ResponseReady = (ctx: HttpContext, provider: SendResponseProvider) => void;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * Runs requests through a compiled pipeline. The engine owns iteration: a handler returns
 * CONTINUE, PENDING (or a promise) or FINISH_REQUEST, and the engine moves the request's cursor.
 * The synchronous path allocates one small run record per request and no closures; a pending
 * handler resumes at the saved cursor.
 *
 * Order of the end of a request: after PostUpdateRequestCache — or as soon as a module returns
 * FINISH_REQUEST or throws — SendResponse handlers run (priorities inverted), the response is
 * handed to the listener, then LogRequest/PostLogRequest and EndRequest/PostEndRequest run. IIS
 * documents that Log and End always run but not where SendResponse falls; we send first so the
 * client never waits for logging (iis-reference.md §1.5).
 */
export class PipelineEngine implements ContextHost {
  readonly pipeline: CompiledPipeline;
  readonly #options: EngineOptions;

  constructor(pipeline: CompiledPipeline, options: EngineOptions) {
    this.pipeline = pipeline;
    this.#options = options;
  }

  execute(ctx: HttpContext, onResponse: ResponseReady, onDone?: () => void): void {
    new RequestRun(this, this.pipeline, this.#options, ctx, onResponse, onDone).resume();
  }

  // ContextHost

  mapPath(ctx: HttpContext, url: string): string {
    const provider: MapPathProvider = { url, physicalPath: this.#options.mapUrl(ctx, url) };
    for (const step of this.pipeline.mapPath) {
      if (!this.#allowed(ctx, step)) continue;
      enter(ctx, step);
      step.fn.call(step.module, ctx, provider);
    }
    return provider.physicalPath;
  }

  notifyCustom(ctx: HttpContext, name: string, data: unknown): void | Promise<void> {
    const provider = { name, data };
    const saved = [ctx.currentModule, ctx.currentModuleIndex, ctx.currentNotification] as const;
    const steps = this.pipeline.customNotification.filter((s) => this.#allowed(ctx, s));
    const run = (i: number): void | Promise<void> => {
      for (; i < steps.length; i++) {
        const step = steps[i]!;
        enter(ctx, step);
        const r = step.fn.call(step.module, ctx, provider);
        if (isThenable(r)) return Promise.resolve(r).then(() => run(i + 1));
      }
      [ctx.currentModule, ctx.currentModuleIndex, ctx.currentNotification] = saved;
      return undefined;
    };
    const r = run(0);
    void this.fireGlobal(GLOBAL_NOTIFICATION.CUSTOM_NOTIFICATION, provider);
    return r;
  }

  trace(_ctx: HttpContext, event: TraceEvent): void {
    if (this.pipeline.global.has(GLOBAL_NOTIFICATION.TRACE_EVENT)) void this.fireGlobal(GLOBAL_NOTIFICATION.TRACE_EVENT, event);
  }

  /** Runs a global notification until a handler returns HANDLED. Errors are reported, not thrown. */
  async fireGlobal(bit: number, provider: unknown): Promise<void> {
    const steps = this.pipeline.global.get(bit);
    if (!steps) return;
    for (const step of steps) {
      try {
        let r = step.fn.call(step.module, provider);
        if (isThenable(r)) r = await r;
        if (r === GLOBAL_NOTIFICATION_STATUS.HANDLED) return;
      } catch (err) {
        console.error(`w3core: global module '${step.name}' failed in ${step.notification}:`, err);
      }
    }
  }

  readonly #peeked = new WeakMap<HttpContext, readonly string[]>();

  /**
   * Classic mode runs a TypeScript module only for requests whose handler names it, as IIS
   * runs managed modules only inside the ASP.NET handler of a Classic pool.
   */
  #allowed(ctx: HttpContext, step: Step): boolean {
    if (step.builtIn || !this.#options.classic) return true;
    if (ctx.handler) return ctx.handler.modules.includes(step.name);
    let modules = this.#peeked.get(ctx);
    if (!modules) {
      modules = this.#options.peekHandlerModules?.(ctx) ?? [];
      this.#peeked.set(ctx, modules);
    }
    return modules.includes(step.name);
  }

  /** @internal */
  allowed(ctx: HttpContext, step: Step): boolean {
    return this.#allowed(ctx, step);
  }
}

/** The name IIS gives the server core when it sets a status itself. */
const CORE = 'IIS Web Core';

function enter(ctx: HttpContext, step: Step): void {
  ctx.currentModule = step.name;
  ctx.currentModuleIndex = step.moduleIndex;
  ctx.currentNotification = step.notification;
}

/** The state of one request in the engine: its cursor and where it stands. */
class RequestRun {
  cursor = 0;
  mapped = false;
  authenticated = false;
  sent = false;
  sendCursor = 0;
  readonly engine: PipelineEngine;
  readonly pipeline: CompiledPipeline;
  readonly options: EngineOptions;
  readonly ctx: HttpContext;
  readonly onResponse: ResponseReady;
  readonly onDone: (() => void) | undefined;
  readonly provider: SendResponseProvider = { flags: 0 };
  readonly logStart: number;
  readonly mapStart: number;
  readonly authorizeStart: number;
  readonly executeStart: number;
  readonly executeEnd: number;

  constructor(
    engine: PipelineEngine, pipeline: CompiledPipeline, options: EngineOptions, ctx: HttpContext,
    onResponse: ResponseReady, onDone: (() => void) | undefined,
  ) {
    this.engine = engine;
    this.pipeline = pipeline;
    this.options = options;
    this.ctx = ctx;
    this.onResponse = onResponse;
    this.onDone = onDone;
    this.logStart = pipeline.stageStart[STAGE_INDEX.LOG_REQUEST]!;
    this.mapStart = pipeline.stageStart[STAGE_INDEX.MAP_REQUEST_HANDLER]!;
    this.authorizeStart = pipeline.stageStart[STAGE_INDEX.AUTHORIZE_REQUEST]!;
    this.executeStart = pipeline.stageStart[STAGE_INDEX.EXECUTE_REQUEST_HANDLER]!;
    this.executeEnd = pipeline.stageStart[STAGE_INDEX.EXECUTE_REQUEST_HANDLER + 1]!;
    ctx.request.onReadEntity = this.pipeline.readEntity.length ? () => this.readEntity() : undefined;
  }

  /** Runs steps from the cursor until the request is done or a handler goes pending. */
  resume(): void {
    const { steps } = this.pipeline;
    const ctx = this.ctx;
    for (;;) {
      if (!this.authenticated && this.cursor >= this.authorizeStart && this.cursor < this.logStart) {
        // After AuthenticateRequest the server core requires a user (iis-reference.md §1.6).
        this.authenticated = true;
        if (!ctx.user) {
          ctx.currentModule = CORE;
          ctx.currentNotification = 'AuthenticateRequest';
          ctx.response.setError('NO_AUTHENTICATED_USER');
          this.cursor = this.logStart;
          continue;
        }
      }
      if (!this.mapped && this.cursor >= this.mapStart && this.cursor < this.logStart) {
        this.mapped = true;
        ctx.currentModule = CORE;
        ctx.currentNotification = 'MapRequestHandler';
        if (!this.options.mapHandler(ctx)) {
          this.cursor = this.logStart;
          continue;
        }
      }
      if (!this.sent && this.cursor >= this.logStart) {
        if (!this.sendResponse()) return;
        continue;
      }
      if (this.cursor >= steps.length) break;
      const step = steps[this.cursor]!;
      if (!this.runnable(step)) {
        this.cursor++;
        continue;
      }
      enter(ctx, step);
      let result: unknown;
      try {
        result = step.fn.call(step.module, ctx);
      } catch (err) {
        this.fail(step, err);
        continue;
      }
      if (isThenable(result)) {
        Promise.resolve(result).then(
          (status) => { this.advance(status); this.resume(); },
          (err: unknown) => { this.fail(step, err); this.resume(); },
        );
        return;
      }
      if (result === PENDING) {
        ctx.completion = (status) => { this.advance(status); this.resume(); };
        return;
      }
      this.advance(result);
    }
    this.onDone?.();
  }

  runnable(step: Step): boolean {
    const ctx = this.ctx;
    if (ctx.isNotificationDisabled(step.moduleIndex, step.bit, step.post)) return false;
    if (!this.engine.allowed(ctx, step)) return false;
    if (this.cursor >= this.executeStart && this.cursor < this.executeEnd && !step.post) {
      // ExecuteRequestHandler goes only to the modules the chosen handler names.
      if (ctx.requestHandled) return false;
      return ctx.handler?.modules.includes(step.name) ?? false;
    }
    return true;
  }

  advance(status: unknown): void {
    if (status === FINISH_REQUEST && this.cursor < this.logStart) {
      this.cursor = this.logStart;
      return;
    }
    this.cursor++;
  }

  /** A module threw or rejected: 500 for this request only; the end-of-request stages still run. */
  fail(step: Step, err: unknown): void {
    const res = this.ctx.response;
    const error = err instanceof Error ? err : new Error(String(err));
    if (!this.sent) {
      res.clear();
      // A section that does not read (bad value in a web.config) is a configuration error.
      if (error instanceof ConfigError) res.setError('CONFIG_INVALID', error.message);
      else res.setError('MODULE_ERROR');
      res.error = { module: step.name, notification: step.notification, message: error.message, stack: error.stack };
      res.disableKernelCache();
    } else {
      console.error(`w3core: module '${step.name}' failed in ${step.notification} after the response was sent:`, error);
    }
    this.cursor = this.cursor < this.logStart ? this.logStart : this.cursor + 1;
  }

  /** Runs SendResponse handlers (inverted order) and hands the response over. False = pending. */
  sendResponse(): boolean {
    const steps = this.pipeline.sendResponse;
    const ctx = this.ctx;
    while (this.sendCursor < steps.length) {
      const step = steps[this.sendCursor++]!;
      if (!this.engine.allowed(ctx, step)) continue;
      enter(ctx, step);
      let result: unknown;
      try {
        result = step.fn.call(step.module, ctx, this.provider);
      } catch (err) {
        this.failSend(step, err);
        continue;
      }
      if (isThenable(result)) {
        Promise.resolve(result).then(
          () => this.resume(),
          (err: unknown) => { this.failSend(step, err); this.resume(); },
        );
        return false;
      }
      if (result === PENDING) {
        ctx.completion = () => this.resume();
        return false;
      }
    }
    this.sent = true;
    this.onResponse(ctx, this.provider);
    return true;
  }

  failSend(step: Step, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const res = this.ctx.response;
    res.clear();
    res.setError('MODULE_ERROR');
    res.error = { module: step.name, notification: step.notification, message: error.message, stack: error.stack };
  }

  async readEntity(): Promise<void> {
    const ctx = this.ctx;
    const saved = [ctx.currentModule, ctx.currentModuleIndex, ctx.currentNotification] as const;
    for (const step of this.pipeline.readEntity) {
      if (!this.engine.allowed(ctx, step)) continue;
      enter(ctx, step);
      const r = step.fn.call(step.module, ctx);
      if (isThenable(r)) await r;
    }
    [ctx.currentModule, ctx.currentModuleIndex, ctx.currentNotification] = saved;
  }
}

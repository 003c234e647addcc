import {
  DETERMINISTIC_STAGES, GLOBAL_NOTIFICATION_NAME, PRIORITY_RANK, REQUEST_NOTIFICATION,
  REQUEST_NOTIFICATION_NAME, type Priority,
} from './events.js';
import type { HttpModule, RegisteredModule } from './module.js';

/** A handler method as the engine calls it: the context, and a provider for some notifications. */
export type Handler = (this: HttpModule, arg: unknown, provider?: unknown) => unknown;

/** One entry of the flat handler array: one module's handler for one (post-)notification. */
export interface Step {
  readonly moduleIndex: number;
  readonly name: string;
  readonly module: HttpModule;
  readonly fn: Handler;
  readonly bit: number;
  readonly post: boolean;
  readonly builtIn: boolean;
  /** `BeginRequest`, `PostBeginRequest`, … for traces and the request monitor. */
  readonly notification: string;
}

/**
 * The pipeline of one application, compiled once: every (stage × pre/post × module) in
 * priority then configuration order, flattened into one array. A request keeps an integer
 * cursor into it; stages nobody registered for cost nothing.
 *
 * ```
 *  steps: [ Begin:A  Begin:B  PostBegin:A | Auth… | … | Execute:StaticFile | … | Log:Logging | End… ]
 *  stageStart[i] ───┘ index of the first step of stage i (stageStart[12] = steps.length)
 * ```
 */
export interface CompiledPipeline {
  readonly modules: readonly RegisteredModule[];
  readonly steps: readonly Step[];
  readonly stageStart: readonly number[];
  /** SendResponse handlers in inverted priority order. */
  readonly sendResponse: readonly Step[];
  readonly readEntity: readonly Step[];
  readonly mapPath: readonly Step[];
  readonly customNotification: readonly Step[];
  /** Global handlers by notification bit, priority order. */
  readonly global: ReadonlyMap<number, readonly Step[]>;
  readonly warnings: readonly string[];
}

export const STAGE_INDEX = {
  AUTHORIZE_REQUEST: 2,
  MAP_REQUEST_HANDLER: 4,
  EXECUTE_REQUEST_HANDLER: 7,
  LOG_REQUEST: 10,
} as const;

function method(module: HttpModule, name: string): Handler | undefined {
  const fn = (module as unknown as Record<string, unknown>)[name];
  return typeof fn === 'function' ? (fn as Handler) : undefined;
}

function priorityOf(module: HttpModule, bit: number): Priority {
  const p = module.priority;
  if (p === undefined) return 'MEDIUM';
  if (typeof p === 'string') return p;
  return p[bit] ?? 'MEDIUM';
}

/** Derives the notification masks from the implemented methods when a module does not declare them. */
export function masksOf(module: HttpModule): { notifications: number; post: number; global: number } {
  let notifications = 0;
  let post = 0;
  for (const [bitText, stem] of Object.entries(REQUEST_NOTIFICATION_NAME)) {
    const bit = Number(bitText);
    if (method(module, `on${stem}`)) notifications |= bit;
    if (method(module, `onPost${stem}`)) post |= bit;
  }
  let global = 0;
  for (const [bitText, stem] of Object.entries(GLOBAL_NOTIFICATION_NAME)) {
    if (method(module, `onGlobal${stem}`)) global |= Number(bitText);
  }
  return {
    notifications: module.notifications ?? notifications,
    post: module.postNotifications ?? post,
    global: module.globalNotifications ?? global,
  };
}

/** Builds the flat step array for the modules of one application, in configuration order. */
export function compilePipeline(modules: readonly RegisteredModule[]): CompiledPipeline {
  const masks = modules.map((m) => masksOf(m.module));
  const warnings: string[] = [];
  const collect = (bit: number, post: boolean, invert = false): Step[] => {
    const stem = REQUEST_NOTIFICATION_NAME[bit]!;
    const methodName = post ? `onPost${stem}` : `on${stem}`;
    const out: { step: Step; rank: number; order: number }[] = [];
    modules.forEach((m, i) => {
      const mask = post ? masks[i]!.post : masks[i]!.notifications;
      if ((mask & bit) === 0) return;
      const fn = method(m.module, methodName);
      if (!fn) {
        warnings.push(`module '${m.name}' registers for ${post ? 'Post' : ''}${stem} but has no ${methodName} method`);
        return;
      }
      const rank = PRIORITY_RANK[priorityOf(m.module, bit)];
      out.push({
        step: {
          moduleIndex: i, name: m.name, module: m.module, fn, bit, post, builtIn: m.builtIn,
          notification: post ? `Post${stem}` : stem,
        },
        rank: invert ? 4 - rank : rank,
        order: i,
      });
    });
    out.sort((a, b) => a.rank - b.rank || a.order - b.order);
    return out.map((o) => o.step);
  };

  const steps: Step[] = [];
  const stageStart: number[] = [];
  for (const bit of DETERMINISTIC_STAGES) {
    stageStart.push(steps.length);
    steps.push(...collect(bit, false), ...collect(bit, true));
  }
  stageStart.push(steps.length);

  const global = new Map<number, Step[]>();
  for (const [bitText, stem] of Object.entries(GLOBAL_NOTIFICATION_NAME)) {
    const bit = Number(bitText);
    const list: { step: Step; rank: number; order: number }[] = [];
    modules.forEach((m, i) => {
      if ((masks[i]!.global & bit) === 0) return;
      const fn = method(m.module, `onGlobal${stem}`);
      if (!fn) return;
      list.push({
        step: { moduleIndex: i, name: m.name, module: m.module, fn, bit, post: false, builtIn: m.builtIn, notification: stem },
        rank: PRIORITY_RANK[m.module.globalPriority ?? 'MEDIUM'],
        order: i,
      });
    });
    if (list.length) global.set(bit, list.sort((a, b) => a.rank - b.rank || a.order - b.order).map((l) => l.step));
  }

  return Object.freeze({
    modules,
    steps,
    stageStart,
    sendResponse: collect(REQUEST_NOTIFICATION.SEND_RESPONSE, false, true),
    readEntity: collect(REQUEST_NOTIFICATION.READ_ENTITY, false),
    mapPath: collect(REQUEST_NOTIFICATION.MAP_PATH, false),
    customNotification: collect(REQUEST_NOTIFICATION.CUSTOM_NOTIFICATION, false),
    global,
    warnings,
  });
}

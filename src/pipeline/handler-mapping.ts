import { readEnum, readFlags, readRequired, readString } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import type { HandlerInfo, HttpContext } from './http-context.js';

/**
 * `system.webServer/handlers` (iis-reference.md §2.7): the ordered handler list (deeper levels
 * first: mergeAppend=false) and the section's accessPolicy.
 */
export interface HandlerEntry extends HandlerInfo {
  readonly requireAccess: 'None' | 'Read' | 'Write' | 'Script' | 'Execute';
  readonly preConditions: readonly string[];
  /** Lower-cased verbs, or undefined for `*`. */
  readonly verbs: readonly string[] | undefined;
}

export interface HandlersSection {
  readonly accessPolicy: ReadonlySet<string>;
  readonly entries: readonly HandlerEntry[];
}

const ACCESS_FLAGS = ['None', 'Read', 'Write', 'Execute', 'Source', 'Script', 'NoRemoteWrite', 'NoRemoteRead', 'NoRemoteExecute', 'NoRemoteScript'] as const;

export const HANDLERS: SectionReader<HandlersSection> = {
  section: 'handlers',
  read(node) {
    const entries = (node?.entries ?? []).map((e): HandlerEntry => {
      const verb = readRequired(e, 'verb', 'add');
      return {
        name: readRequired(e, 'name', 'add'),
        path: readRequired(e, 'path', 'add'),
        verb,
        verbs: verb.trim() === '*' ? undefined : verb.split(',').map((v) => v.trim()).filter(Boolean),
        modules: readString(e, 'modules', 'ManagedPipelineHandler').split(',').map((m) => m.trim()).filter(Boolean),
        resourceType: readEnum(e, 'resourceType', ['File', 'Directory', 'Either', 'Unspecified'] as const, 'Unspecified'),
        requireAccess: readEnum(e, 'requireAccess', ['None', 'Read', 'Write', 'Script', 'Execute'] as const, 'Script'),
        preConditions: readString(e, 'preCondition', '').split(',').map((p) => p.trim().toLowerCase()).filter(Boolean),
      };
    });
    return { accessPolicy: readFlags(node, 'accessPolicy', ACCESS_FLAGS, ['Read']), entries };
  },
};

/** Does a handler `path` mask (`*`, `*.ext`, `*.`, `name.ext`, `*\/dir/x`) match the URL? */
export function matchHandlerPath(mask: string, urlPath: string): boolean {
  if (mask === '*') return true;
  const target = mask.includes('/') ? urlPath : urlPath.slice(urlPath.lastIndexOf('/') + 1);
  if (mask === '*.') return target !== '' && !target.includes('.');
  const pattern = mask.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${mask.includes('/') && !mask.startsWith('*') && !mask.startsWith('/') ? '/' : ''}${pattern}$`, 'i').test(target);
}

function resourceFits(entry: HandlerEntry, ctx: HttpContext): boolean {
  if (entry.resourceType === 'Unspecified') return true;
  const st = ctx.physicalStat;
  const kind = st?.isDirectory() ? 'dir' : st?.isFile() ? 'file' : undefined;
  if (entry.resourceType === 'File') return kind === 'file';
  if (entry.resourceType === 'Directory') return kind === 'dir';
  return kind !== undefined;
}

function accessGranted(policy: ReadonlySet<string>, required: HandlerEntry['requireAccess'], remote: boolean): boolean {
  switch (required) {
    case 'None': return true;
    case 'Read': return policy.has('Read') && !(remote && policy.has('NoRemoteRead'));
    case 'Write': return policy.has('Write') && !(remote && policy.has('NoRemoteWrite'));
    case 'Script': return (policy.has('Script') || policy.has('Execute')) && !(remote && policy.has('NoRemoteScript'));
    case 'Execute': return policy.has('Execute') && !(remote && policy.has('NoRemoteExecute'));
  }
}

/**
 * Chooses the handler for the request: the first entry whose path, verb, preconditions,
 * resource type and access policy fit. No match gives 404.0 when a handler fit but its file
 * or directory does not exist, 405 when a path matched but no entry allows the verb, and 404.4
 * otherwise (iis-reference.md §2.7).
 */
export function mapRequestHandler(ctx: HttpContext, classic: boolean): boolean {
  const allowed: string[] = [];
  const chosen = selectHandler(ctx, classic, allowed);
  if (typeof chosen === 'string') {
    ctx.response.setError(chosen);
    // RFC 9110 §15.5.6: a 405 lists the methods the resource does support.
    if (chosen === 'VERB_NOT_ALLOWED') ctx.response.setHeader('Allow', allowed.join(', '));
    return false;
  }
  ctx.handler = chosen;
  return true;
}

/**
 * The handler for the request, or the error code when none fits. Changes nothing; the verbs
 * of the entries whose path matched are added to `allowedVerbs` when given.
 */
export function selectHandler(
  ctx: HttpContext, classic: boolean, allowedVerbs?: string[],
): HandlerEntry | 'NOT_FOUND' | 'VERB_NOT_ALLOWED' | 'NO_HANDLER' {
  const section = ctx.getSection(HANDLERS);
  const method = ctx.request.method.toLowerCase();
  let verbRejected = false;
  let resourceMissing = false;
  for (const entry of section.entries) {
    if (!matchHandlerPath(entry.path, ctx.request.path)) continue;
    if (entry.preConditions.includes('integratedmode') && classic) continue;
    if ((entry.preConditions.includes('classicmode') || entry.preConditions.includes('isapimode')) && !classic) continue;
    if (entry.verbs && !entry.verbs.some((v) => v.toLowerCase() === method)) {
      verbRejected = true;
      for (const v of entry.verbs) if (!allowedVerbs?.includes(v)) allowedVerbs?.push(v);
      continue;
    }
    if (!accessGranted(section.accessPolicy, entry.requireAccess, !ctx.isLocal)) continue;
    if (!resourceFits(entry, ctx)) {
      resourceMissing = true;
      continue;
    }
    return entry;
  }
  // A handler that fit but for a file that does not exist: the resource is missing (404.0).
  if (resourceMissing) return 'NOT_FOUND';
  return verbRejected ? 'VERB_NOT_ALLOWED' : 'NO_HANDLER';
}

import { readBool, readRequired, readUint } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import type { ConfigNode } from '../config/config-node.js';
import { ConfigError } from '../errors.js';

/**
 * `security/requestFiltering` as plain data (iis-reference.md §3.6): what the Wasm filter
 * compiles into a table. Attribute names are IIS's; defaults are the schema's.
 */
export interface RequestFilteringRules {
  /** false: a `%XX` left after decoding the path is refused with 404.11. */
  readonly allowDoubleEscaping: boolean;
  /** false: a byte >= 0x80 in the path or query string is refused with 404.12. */
  readonly allowHighBitCharacters: boolean;
  /** Query string checks look at the raw and the unescaped query string. */
  readonly unescapeQueryString: boolean;
  /** Read for completeness (IIS 10 1709+); the listener does not act on it. */
  readonly removeServerHeader: boolean;
  readonly fileExtensions: FileExtensionRules;
  readonly verbs: VerbRules;
  readonly hiddenSegments: HiddenSegmentRules;
  readonly denyUrlSequences: readonly string[];
  readonly alwaysAllowedUrls: readonly string[];
  readonly denyQueryStringSequences: readonly string[];
  readonly alwaysAllowedQueryStrings: readonly string[];
  readonly requestLimits: RequestLimits;
  readonly filteringRules: readonly FilteringRule[];
}

export interface FileExtensionRules {
  /** Extensions not listed are allowed (true) or refused with 404.7. */
  readonly allowUnlisted: boolean;
  readonly applyToWebDAV: boolean;
  /** `.ext` (or `.` for names without one); matched ignoring ASCII case. */
  readonly entries: readonly { readonly fileExtension: string; readonly allowed: boolean }[];
}

export interface VerbRules {
  /** Verbs not listed are allowed (true) or refused with 404.6. */
  readonly allowUnlisted: boolean;
  readonly applyToWebDAV: boolean;
  /** Matched exactly (case-sensitive, as IIS does). */
  readonly entries: readonly { readonly verb: string; readonly allowed: boolean }[];
}

export interface HiddenSegmentRules {
  readonly applyToWebDAV: boolean;
  /** Segment names refused with 404.8 wherever they appear; matched ignoring ASCII case. */
  readonly segments: readonly string[];
}

export interface RequestLimits {
  /** Most entity bytes (413.1 above). */
  readonly maxAllowedContentLength: number;
  /** Most bytes of the URL path as sent (404.14 above). */
  readonly maxUrl: number;
  /** Most bytes of the query string as sent (404.15 above). */
  readonly maxQueryString: number;
  /** Per-header value size limits (431 above); header names compare ignoring case. */
  readonly headerLimits: readonly { readonly header: string; readonly sizeLimit: number }[];
}

/** One `<filteringRule>` (404.19). */
export interface FilteringRule {
  readonly name: string;
  /** Scan the canonical (decoded) URL path. */
  readonly scanUrl: boolean;
  /** Scan the query string (raw, and unescaped when unescapeQueryString). */
  readonly scanQueryString: boolean;
  /** Scan every request header as a raw `name: value` line. */
  readonly scanAllRaw: boolean;
  /** Refuse a '%' that does not start a `%XX` escape in the raw text this rule scans. */
  readonly denyUnescapedPercent: boolean;
  /** Header names whose values are scanned. */
  readonly scanHeaders: readonly string[];
  /** File extensions the rule applies to; empty: every request. */
  readonly appliesTo: readonly string[];
  readonly denyStrings: readonly string[];
}

/** The schema defaults with empty collections. */
export const DEFAULT_REQUEST_FILTERING: RequestFilteringRules = deepFreeze({
  allowDoubleEscaping: false,
  allowHighBitCharacters: true,
  unescapeQueryString: true,
  removeServerHeader: false,
  fileExtensions: { allowUnlisted: true, applyToWebDAV: true, entries: [] },
  verbs: { allowUnlisted: true, applyToWebDAV: true, entries: [] },
  hiddenSegments: { applyToWebDAV: true, segments: [] },
  denyUrlSequences: [],
  alwaysAllowedUrls: [],
  denyQueryStringSequences: [],
  alwaysAllowedQueryStrings: [],
  requestLimits: { maxAllowedContentLength: 30000000, maxUrl: 4096, maxQueryString: 2048, headerLimits: [] },
  filteringRules: [],
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Entries of a child collection (`<name><add …/></name>`). */
function entries(node: ConfigNode | undefined, name: string): readonly ConfigNode[] {
  return node?.children.get(name)?.entries ?? [];
}

/** A required boolean attribute (`verbs/add allowed`). */
function requiredBool(entry: ConfigNode, attribute: string, element: string): boolean {
  if (!entry.attributes.has(attribute)) {
    throw new ConfigError(entry.position.file, entry.position.line, attribute, `required attribute is missing in <${element}>`);
  }
  return readBool(entry, attribute, true);
}

/**
 * Turns the effective `security/requestFiltering` node into {@link RequestFilteringRules}.
 * @throws ConfigError naming file, line and attribute for a value of the wrong type.
 */
export function readRequestFiltering(node: ConfigNode | undefined): RequestFilteringRules {
  const fileExtensions = node?.children.get('fileExtensions');
  const verbs = node?.children.get('verbs');
  const hidden = node?.children.get('hiddenSegments');
  const limits = node?.children.get('requestLimits');
  const U32 = 4294967295;
  return deepFreeze({
    allowDoubleEscaping: readBool(node, 'allowDoubleEscaping', false),
    allowHighBitCharacters: readBool(node, 'allowHighBitCharacters', true),
    unescapeQueryString: readBool(node, 'unescapeQueryString', true),
    removeServerHeader: readBool(node, 'removeServerHeader', false),
    fileExtensions: {
      allowUnlisted: readBool(fileExtensions, 'allowUnlisted', true),
      applyToWebDAV: readBool(fileExtensions, 'applyToWebDAV', true),
      entries: (fileExtensions?.entries ?? []).map((e) => ({
        fileExtension: readRequired(e, 'fileExtension', 'add'),
        allowed: readBool(e, 'allowed', true),
      })),
    },
    verbs: {
      allowUnlisted: readBool(verbs, 'allowUnlisted', true),
      applyToWebDAV: readBool(verbs, 'applyToWebDAV', true),
      entries: (verbs?.entries ?? []).map((e) => ({
        verb: readRequired(e, 'verb', 'add'),
        allowed: requiredBool(e, 'allowed', 'add'),
      })),
    },
    hiddenSegments: {
      applyToWebDAV: readBool(hidden, 'applyToWebDAV', true),
      segments: (hidden?.entries ?? []).map((e) => readRequired(e, 'segment', 'add')),
    },
    denyUrlSequences: entries(node, 'denyUrlSequences').map((e) => readRequired(e, 'sequence', 'add')),
    alwaysAllowedUrls: entries(node, 'alwaysAllowedUrls').map((e) => readRequired(e, 'url', 'add')),
    denyQueryStringSequences: entries(node, 'denyQueryStringSequences').map((e) => readRequired(e, 'sequence', 'add')),
    alwaysAllowedQueryStrings: entries(node, 'alwaysAllowedQueryStrings').map((e) => readRequired(e, 'queryString', 'add')),
    requestLimits: {
      maxAllowedContentLength: readUint(limits, 'maxAllowedContentLength', 30000000, 0, U32),
      maxUrl: readUint(limits, 'maxUrl', 4096, 0, U32),
      maxQueryString: readUint(limits, 'maxQueryString', 2048, 0, U32),
      headerLimits: entries(limits, 'headerLimits').map((e) => ({
        header: readRequired(e, 'header', 'add'),
        sizeLimit: requiredUint(e, 'sizeLimit', 'add'),
      })),
    },
    filteringRules: entries(node, 'filteringRules').map((rule) => ({
      name: readRequired(rule, 'name', 'filteringRule'),
      scanUrl: readBool(rule, 'scanUrl', false),
      scanQueryString: readBool(rule, 'scanQueryString', false),
      scanAllRaw: readBool(rule, 'scanAllRaw', false),
      denyUnescapedPercent: readBool(rule, 'denyUnescapedPercent', true),
      scanHeaders: entries(rule, 'scanHeaders').map((e) => readRequired(e, 'requestHeader', 'add')),
      appliesTo: entries(rule, 'appliesTo').map((e) => readRequired(e, 'fileExtension', 'add')),
      denyStrings: entries(rule, 'denyStrings').map((e) => readRequired(e, 'string', 'add')),
    })),
  });
}

function requiredUint(entry: ConfigNode, attribute: string, element: string): number {
  if (!entry.attributes.has(attribute)) {
    throw new ConfigError(entry.position.file, entry.position.line, attribute, `required attribute is missing in <${element}>`);
  }
  return readUint(entry, attribute, 0);
}

/**
 * Reader for `security/requestFiltering`, used by the listener's admission step (the filter
 * runs there, in Wasm, before a request is queued for its pool).
 *
 * @example
 * ```ts
 * const rules = effectiveConfig.section(REQUEST_FILTERING);
 * rules.requestLimits.maxUrl; // 4096 unless configured
 * ```
 */
export const REQUEST_FILTERING: SectionReader<RequestFilteringRules> = {
  section: 'security/requestFiltering',
  read: readRequestFiltering,
};

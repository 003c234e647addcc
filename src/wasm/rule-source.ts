import type { RequestFilteringRules } from './request-filtering.js';

/**
 * The rule source the Wasm `compile` export reads (native-notes.md, "Rule source"): a magic
 * number, then records `{ op u8, pad u8×3, a u32, b u32, len u32, bytes[len] }`, little-endian.
 * Mirrors `assembly/tables.ts`.
 */
export const SOURCE_MAGIC = 0x31465257; // "WRF1"
export const OP = {
  ALLOW_DOUBLE_ESCAPING: 1,
  ALLOW_HIGH_BIT_CHARACTERS: 2,
  UNESCAPE_QUERY_STRING: 3,
  MAX_ALLOWED_CONTENT_LENGTH: 4,
  MAX_URL: 5,
  MAX_QUERY_STRING: 6,
  FILE_EXTENSIONS_ALLOW_UNLISTED: 7,
  FILE_EXTENSION: 8,
  VERBS_ALLOW_UNLISTED: 9,
  VERB: 10,
  HIDDEN_SEGMENT: 11,
  DENY_URL_SEQUENCE: 12,
  ALWAYS_ALLOWED_URL: 13,
  DENY_QUERY_STRING_SEQUENCE: 14,
  ALWAYS_ALLOWED_QUERY_STRING: 15,
  HEADER_LIMIT: 16,
  RULE: 17,
  RULE_SCAN_HEADER: 18,
  RULE_APPLIES_TO: 19,
  RULE_DENY_STRING: 20,
} as const;

/** `RULE` record flags. */
export const RULE_FLAG = { SCAN_URL: 1, SCAN_QUERY_STRING: 2, SCAN_ALL_RAW: 4, DENY_UNESCAPED_PERCENT: 8 } as const;

/** Header slots a table can name (one bit each in a rule's mask). */
export const MAX_HEADER_SLOTS = 64;

export interface RuleSource {
  readonly bytes: Uint8Array;
  /** Lower-cased header names by slot: the host writes these headers' values for `check`. */
  readonly headerSlots: readonly string[];
  /** Some rule scans every header as a raw line (`scanAllRaw`). */
  readonly scanAllRaw: boolean;
}

/**
 * Encodes rules as a rule source. Strings are UTF-8; the filter compares bytes, folding ASCII
 * case only.
 * @throws RangeError when the rules name more than {@link MAX_HEADER_SLOTS} distinct headers.
 */
export function encodeRuleSource(rules: RequestFilteringRules): RuleSource {
  const parts: Uint8Array[] = [];
  let size = 4;
  const record = (op: number, a: number, b = 0, text = ''): void => {
    const bytes = Buffer.from(text, 'utf8');
    const head = new Uint8Array(16);
    const view = new DataView(head.buffer);
    view.setUint8(0, op);
    view.setUint32(4, a >>> 0, true);
    view.setUint32(8, b >>> 0, true);
    view.setUint32(12, bytes.length, true);
    parts.push(head, bytes);
    size += 16 + bytes.length;
  };
  const slots: string[] = [];
  const slotOf = (header: string): number => {
    const name = header.toLowerCase();
    let i = slots.indexOf(name);
    if (i < 0) {
      if (slots.length === MAX_HEADER_SLOTS) throw new RangeError(`request filtering can look at ${MAX_HEADER_SLOTS} distinct headers at most`);
      i = slots.push(name) - 1;
    }
    return i;
  };

  record(OP.ALLOW_DOUBLE_ESCAPING, rules.allowDoubleEscaping ? 1 : 0);
  record(OP.ALLOW_HIGH_BIT_CHARACTERS, rules.allowHighBitCharacters ? 1 : 0);
  record(OP.UNESCAPE_QUERY_STRING, rules.unescapeQueryString ? 1 : 0);
  record(OP.MAX_ALLOWED_CONTENT_LENGTH, rules.requestLimits.maxAllowedContentLength);
  record(OP.MAX_URL, rules.requestLimits.maxUrl);
  record(OP.MAX_QUERY_STRING, rules.requestLimits.maxQueryString);
  record(OP.FILE_EXTENSIONS_ALLOW_UNLISTED, rules.fileExtensions.allowUnlisted ? 1 : 0);
  for (const e of rules.fileExtensions.entries) record(OP.FILE_EXTENSION, e.allowed ? 1 : 0, 0, e.fileExtension);
  record(OP.VERBS_ALLOW_UNLISTED, rules.verbs.allowUnlisted ? 1 : 0);
  for (const e of rules.verbs.entries) record(OP.VERB, e.allowed ? 1 : 0, 0, e.verb);
  for (const s of rules.hiddenSegments.segments) record(OP.HIDDEN_SEGMENT, 0, 0, s);
  for (const s of rules.denyUrlSequences) record(OP.DENY_URL_SEQUENCE, 0, 0, s);
  for (const s of rules.alwaysAllowedUrls) record(OP.ALWAYS_ALLOWED_URL, 0, 0, s);
  for (const s of rules.denyQueryStringSequences) record(OP.DENY_QUERY_STRING_SEQUENCE, 0, 0, s);
  for (const s of rules.alwaysAllowedQueryStrings) record(OP.ALWAYS_ALLOWED_QUERY_STRING, 0, 0, s);
  const limited = new Set<string>();
  for (const h of rules.requestLimits.headerLimits) {
    // The first limit of a header wins (configuration refuses duplicates; plain objects may not).
    if (limited.has(h.header.toLowerCase())) continue;
    limited.add(h.header.toLowerCase());
    record(OP.HEADER_LIMIT, slotOf(h.header), h.sizeLimit, h.header);
  }
  let scanAllRaw = false;
  for (const rule of rules.filteringRules) {
    const flags = (rule.scanUrl ? RULE_FLAG.SCAN_URL : 0) | (rule.scanQueryString ? RULE_FLAG.SCAN_QUERY_STRING : 0) |
      (rule.scanAllRaw ? RULE_FLAG.SCAN_ALL_RAW : 0) | (rule.denyUnescapedPercent ? RULE_FLAG.DENY_UNESCAPED_PERCENT : 0);
    scanAllRaw ||= rule.scanAllRaw;
    record(OP.RULE, flags, 0, rule.name);
    for (const h of rule.scanHeaders) record(OP.RULE_SCAN_HEADER, slotOf(h), 0, h);
    for (const x of rule.appliesTo) record(OP.RULE_APPLIES_TO, 0, 0, x);
    for (const s of rule.denyStrings) record(OP.RULE_DENY_STRING, 0, 0, s);
  }

  const bytes = new Uint8Array(size);
  new DataView(bytes.buffer).setUint32(0, SOURCE_MAGIC, true);
  let at = 4;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, headerSlots: slots, scanAllRaw };
}

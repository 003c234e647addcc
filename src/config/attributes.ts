import { ConfigError } from '../errors.js';
import type { ConfigNode } from './config-node.js';
import type { SourcePosition } from './xml.js';

/**
 * Typed attribute readers. Each takes the node, the IIS attribute name and its schema default,
 * and fails with the file, line and attribute when the value does not fit the type
 * (IIS_schema.xml types: bool, uint, enum, flags, timeSpan, string; iis-reference.md §2.3).
 */
interface Attributed {
  readonly attributes: ReadonlyMap<string, { readonly value: string; readonly file: string; readonly line: number }>;
  /** Merged nodes carry a position; raw XML elements carry file and line themselves. */
  readonly position?: SourcePosition;
  readonly file?: string;
  readonly line?: number;
}

function positionOf(node: Attributed): SourcePosition {
  return node.position ?? { file: node.file ?? '<config>', line: node.line ?? 0 };
}

function fail(node: Attributed, name: string, detail: string): never {
  const at = node.attributes.get(name) ?? positionOf(node);
  throw new ConfigError(at.file, at.line, name, detail);
}

export function readString(node: Attributed | undefined, name: string, fallback: string): string {
  return node?.attributes.get(name)?.value ?? fallback;
}

export function readRequired(node: Attributed, name: string, element: string): string {
  const value = node.attributes.get(name)?.value;
  if (value === undefined || value === '') {
    const at = node.attributes.get(name) ?? positionOf(node);
    throw new ConfigError(at.file, at.line, name, `required attribute is ${value === '' ? 'empty' : 'missing'} in <${element}>`);
  }
  return value;
}

export function readBool(node: Attributed | undefined, name: string, fallback: boolean): boolean {
  const value = node?.attributes.get(name)?.value;
  if (value === undefined) return fallback;
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  return fail(node!, name, `'${value}' is not a valid boolean (use true or false)`);
}

export function readUint(
  node: Attributed | undefined, name: string, fallback: number, min = 0, max = 4294967295,
): number {
  const value = node?.attributes.get(name)?.value;
  if (value === undefined) return fallback;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    return fail(node!, name, `'${value}' is not an integer between ${min} and ${max}`);
  }
  return n;
}

export function readInt(node: Attributed | undefined, name: string, fallback: number, min: number, max: number): number {
  const value = node?.attributes.get(name)?.value;
  if (value === undefined) return fallback;
  const n = /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    return fail(node!, name, `'${value}' is not an integer between ${min} and ${max}`);
  }
  return n;
}

/** An enum attribute; matching is case-insensitive and returns the canonical spelling. */
export function readEnum<T extends string>(
  node: Attributed | undefined, name: string, values: readonly T[], fallback: T,
): T {
  const value = node?.attributes.get(name)?.value;
  if (value === undefined) return fallback;
  const found = values.find((v) => v.toLowerCase() === value.trim().toLowerCase());
  if (found === undefined) return fail(node!, name, `'${value}' is not one of ${values.join(', ')}`);
  return found;
}

/** A flags attribute: comma-separated names, returned as a set of canonical names. */
export function readFlags<T extends string>(
  node: Attributed | undefined, name: string, values: readonly T[], fallback: readonly T[],
): ReadonlySet<T> {
  const value = node?.attributes.get(name)?.value;
  if (value === undefined) return new Set(fallback);
  const out = new Set<T>();
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const found = values.find((v) => v.toLowerCase() === part.toLowerCase());
    if (found === undefined) return fail(node!, name, `'${part}' is not one of ${values.join(', ')}`);
    out.add(found);
  }
  return out;
}

/** A timeSpan `[d.]hh:mm:ss[.fff]`, returned in milliseconds. */
export function readTimeSpan(node: Attributed | undefined, name: string, fallbackMs: number): number {
  const value = node?.attributes.get(name)?.value;
  if (value === undefined) return fallbackMs;
  const ms = parseTimeSpan(value);
  if (ms === undefined) return fail(node!, name, `'${value}' is not a time span ([d.]hh:mm:ss)`);
  return ms;
}

export function parseTimeSpan(value: string): number | undefined {
  const m = /^\s*(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?\s*$/.exec(value);
  if (!m) return undefined;
  const [, d, h, min, s, frac] = m;
  if (Number(min) > 59 || Number(s) > 59) return undefined;
  const fracMs = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  return ((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60000 + Number(s) * 1000 + fracMs;
}

/** Expands `%VAR%` references from the environment (IIS `expanded="true"` strings). */
export function expandEnvironment(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/%([A-Za-z_][A-Za-z0-9_]*)%/g, (whole, name: string) => {
    const key = Object.keys(env).find((k) => k.toLowerCase() === name.toLowerCase());
    return key !== undefined ? env[key] ?? '' : whole;
  });
}

export type { ConfigNode };

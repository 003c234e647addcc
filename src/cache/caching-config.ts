import { readBool, readEnum, readRequired, readTimeSpan, readUint } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';

/** `caching/profiles/add kernelCachePolicy` (iis-reference.md §3.12). */
export type KernelCachePolicy = 'DontCache' | 'CacheUntilChange' | 'CacheForTimePeriod' | 'DisableCache';

/** One `caching/profiles/add` entry, for the URLs with its extension. */
export interface CachingProfile {
  /** Lower-cased, with its dot (`.json`). */
  readonly extension: string;
  readonly kernelCachePolicy: KernelCachePolicy;
  /** `duration` in ms (for CacheForTimePeriod). */
  readonly durationMs: number;
  /** Lower-cased request header names. */
  readonly varyByHeaders: readonly string[];
  /** Query string parameter names; `['*']` means the whole query string. */
  readonly varyByQueryString: readonly string[];
}

/** `system.webServer/caching` (the HttpCacheModule's section). */
export interface CachingSection {
  readonly enabled: boolean;
  readonly enableKernelCache: boolean;
  /** MB; 0 = automatic. Read from applicationHost.config only. */
  readonly maxCacheSize: number;
  /** Bytes. Read from applicationHost.config only. */
  readonly maxResponseSize: number;
  readonly profiles: ReadonlyMap<string, CachingProfile>;
}

const POLICIES: readonly KernelCachePolicy[] = ['DontCache', 'CacheUntilChange', 'CacheForTimePeriod', 'DisableCache'];

function semicolonList(value: string, lower: boolean): string[] {
  return value.split(';').map((s) => (lower ? s.trim().toLowerCase() : s.trim())).filter(Boolean);
}

export const CACHING: SectionReader<CachingSection> = {
  section: 'caching',
  read: (node) => {
    const profiles = new Map<string, CachingProfile>();
    for (const entry of node?.children.get('profiles')?.entries ?? []) {
      const raw = readRequired(entry, 'extension', 'add').trim().toLowerCase();
      const extension = raw.startsWith('.') ? raw : `.${raw}`;
      // The user-mode output cache attributes (policy, location) are read for validation; only
      // the kernel-mode ones act here.
      readEnum(entry, 'policy', POLICIES, 'DontCache');
      readEnum(entry, 'location', ['Any', 'Client', 'Downstream', 'Server', 'None', 'ServerAndClient'], 'Server');
      profiles.set(extension, {
        extension,
        kernelCachePolicy: readEnum(entry, 'kernelCachePolicy', POLICIES, 'DontCache'),
        durationMs: readTimeSpan(entry, 'duration', 30_000),
        varyByHeaders: semicolonList(entry.attributes.get('varyByHeaders')?.value ?? '', true),
        varyByQueryString: semicolonList(entry.attributes.get('varyByQueryString')?.value ?? '', false),
      });
    }
    return {
      enabled: readBool(node, 'enabled', true),
      enableKernelCache: readBool(node, 'enableKernelCache', true),
      maxCacheSize: readUint(node, 'maxCacheSize', 0),
      maxResponseSize: readUint(node, 'maxResponseSize', 262144),
      profiles,
    };
  },
};

/** The `serverRuntime` attributes the response cache uses. */
export interface ServerRuntimeSection {
  readonly frequentHitThreshold: number;
  readonly frequentHitTimePeriodMs: number;
}

export const SERVER_RUNTIME: SectionReader<ServerRuntimeSection> = {
  section: 'serverRuntime',
  read: (node) => ({
    frequentHitThreshold: readUint(node, 'frequentHitThreshold', 2, 1, 2147483647),
    frequentHitTimePeriodMs: readTimeSpan(node, 'frequentHitTimePeriod', 10_000),
  }),
};

import type { SiteConfig } from '../config/application-host.js';
import type { EffectiveConfig } from '../config/config-hierarchy.js';
import { ConfigError, HTTP_ERROR, type HttpError } from '../errors.js';
import { IP_UNPARSABLE, ipFilter, isAllowed, matchedRule, type IpRuleSet } from '../wasm/ip-filter.js';
import {
  DYNAMIC_IP_SECURITY, IP_SECURITY, type DenyAction, type DynamicIpSecuritySection, type IpSecuritySection,
} from '../wasm/ip-security-config.js';
import type { ConfigLookup, Rejection } from './admission.js';
import { DynamicIpRestriction, type DynamicIpLimit, type DynamicIpOptions } from './dynamic-ip.js';

/** Options of {@link IpGuard} beyond the configuration lookup. */
export interface IpGuardOptions {
  /** dynamicIpSecurity bookkeeping: client bound and the logging-only sink. */
  readonly dynamic?: DynamicIpOptions;
}

type Answer = Exclude<DenyAction, 'AbortRequest'>;

/**
 * The answers per denyAction (iis-reference.md §3.7, §4). Forbidden keeps IIS's classic 403.6
 * for an IP restriction (IIS 8+ logs 403.503 there); Unauthorized and NotFound use the IIS 8
 * substatuses 401.503 / 404.503. Dynamic restrictions: 501 concurrent, 502 rate.
 */
const IP_DENIED: Readonly<Record<Answer, HttpError>> = {
  Forbidden: HTTP_ERROR.IP_DENIED,
  Unauthorized: { status: 401, subStatus: 503, reason: 'Unauthorized' },
  NotFound: { status: 404, subStatus: 503, reason: 'Not Found' },
};
const DYNAMIC_DENIED: Readonly<Record<DynamicIpLimit, Readonly<Record<Answer, HttpError>>>> = {
  concurrent: {
    Forbidden: HTTP_ERROR.DYNAMIC_IP_CONCURRENT,
    Unauthorized: { status: 401, subStatus: 501, reason: 'Unauthorized' },
    NotFound: { status: 404, subStatus: 501, reason: 'Not Found' },
  },
  rate: {
    Forbidden: HTTP_ERROR.DYNAMIC_IP_RATE,
    Unauthorized: { status: 401, subStatus: 502, reason: 'Unauthorized' },
    NotFound: { status: 404, subStatus: 502, reason: 'Not Found' },
  },
};
/** IIS 8's substatus for a malformed X-Forwarded-For (iis-reference.md §4). */
const BAD_FORWARDED_FOR: HttpError = { status: 400, subStatus: 10, reason: 'Bad Request' };

function rejection(error: HttpError, action: DenyAction, detail: string | undefined): Rejection {
  // AbortRequest: the connection is dropped without an answer; the status is what a log would show.
  return { ...error, detail, close: action === 'AbortRequest', abort: action === 'AbortRequest' };
}

function brokenConfig(err: unknown): Rejection {
  if (!(err instanceof ConfigError)) throw err;
  return { ...HTTP_ERROR.CONFIG_INVALID, detail: err.message, close: false, abort: false };
}

/** dynamicIpSecurity of a site (read from the site root's configuration). */
interface SiteDynamic {
  /** null: both limits off. */
  readonly section: DynamicIpSecuritySection | null;
  /** A bad dynamicIpSecurity section: 500.19 for the whole site. */
  readonly broken: Rejection | undefined;
}

/** ipSecurity compiled for one effective configuration, with its site's dynamicIpSecurity. */
interface IpPolicy {
  /** null: everyone may pass (the stock `<ipSecurity allowUnlisted="true"/>` with no entries). */
  readonly set: IpRuleSet | null;
  readonly section: IpSecuritySection | undefined;
  /** A bad ipSecurity section: 500.19 for every URL it governs. */
  readonly broken: Rejection | undefined;
  /**
   * Read when this policy was built. Safe to keep: the site root's web.config is on every URL's
   * chain, so when it changes the hierarchy hands out new EffectiveConfig objects for all URLs.
   */
  readonly dynamic: SiteDynamic;
}

const NO_DYNAMIC: SiteDynamic = Object.freeze({ section: null, broken: undefined });

/**
 * The addresses of `X-Forwarded-For` (all header lines, left to right) without ports or
 * brackets; `unknown` and empty items are skipped. Returns null when an item is malformed.
 */
export function forwardedFor(headers: readonly string[]): string[] | null {
  let out: string[] | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'x-forwarded-for') continue;
    for (const raw of headers[i + 1]!.split(',')) {
      let item = raw.trim();
      if (item === '' || item.toLowerCase() === 'unknown') continue;
      if (item.startsWith('[')) {
        // [v6] or [v6]:port
        const close = item.indexOf(']');
        if (close < 0 || (close + 1 < item.length && !/^:\d{1,5}$/.test(item.slice(close + 1)))) return null;
        item = item.slice(1, close);
      } else if (item.indexOf(':') > 0 && item.indexOf(':') === item.lastIndexOf(':')) {
        // v4:port (an IPv6 address has at least two colons)
        const colon = item.indexOf(':');
        if (!/^\d{1,5}$/.test(item.slice(colon + 1))) return null;
        item = item.slice(0, colon);
      }
      (out ??= []).push(item);
    }
  }
  return out ?? [];
}

/** The client dynamicIpSecurity counts in proxy mode: the right-most valid X-Forwarded-For address. */
function proxiedClient(remoteAddress: string, headers: readonly string[]): string {
  const list = forwardedFor(headers);
  if (list) {
    const engine = ipFilter();
    for (let i = list.length - 1; i >= 0; i--) if (engine.parse(list[i]!)) return list[i]!;
  }
  return remoteAddress;
}

/**
 * `security/ipSecurity` and `security/dynamicIpSecurity` on the listener thread: which client
 * addresses may reach a URL, and how many requests one client may have in progress or send per
 * interval.
 *
 * ipSecurity comes from the effective configuration of the canonical URL (site, application,
 * `<location>`, web.config); its rules are compiled once per distinct rule list into Wasm tables
 * (`build/ip-filter.wasm`), and the verdict is remembered per client address and rule set, so a
 * known client costs one Map lookup. dynamicIpSecurity is read at site level (the site root's
 * configuration) and counted by {@link DynamicIpRestriction}.
 *
 * @example
 * ```ts
 * const guard = new IpGuard((site, path) => hierarchy.effective(site, path));
 * const refused = guard.check(site, '/admin/', '127.0.0.2', headers);
 * if (refused === null) { // ... serve, then:
 *   guard.finished(site, '127.0.0.2');
 * }
 * ```
 */
export class IpGuard {
  readonly #config: ConfigLookup;
  readonly #policies = new WeakMap<EffectiveConfig, IpPolicy>();
  readonly #siteRoots = new WeakMap<EffectiveConfig, SiteDynamic>();
  /** The latest dynamicIpSecurity read per site, for `finished` (proxy mode). */
  readonly #lastDynamic = new Map<number, SiteDynamic>();
  readonly #dynamic: DynamicIpRestriction;

  constructor(config: ConfigLookup, options: IpGuardOptions = {}) {
    this.#config = config;
    this.#dynamic = new DynamicIpRestriction(options.dynamic);
  }

  /** The refusal for this client at this (canonical) URL, or null when it may pass. */
  check(site: SiteConfig, path: string, remoteAddress: string, headers: readonly string[]): Rejection | null {
    return this.checkWith(this.#config(site, path), site, { remoteAddress }, headers);
  }

  /**
   * {@link check} for a caller that already looked up the URL's effective configuration
   * (`undefined`: it could not be read), saving the second lookup (~50 ns here). The client
   * address is read from `client` only when a rule needs it (the listener reads it from the
   * socket lazily: with no IP rules in force a request never pays for it).
   */
  checkWith(
    config: EffectiveConfig | undefined, site: SiteConfig, client: { readonly remoteAddress: string },
    headers: readonly string[],
  ): Rejection | null {
    let dynamic: SiteDynamic;
    if (config !== undefined) {
      const policy = this.#policies.get(config) ?? this.#policyOf(config, site);
      if (policy.broken) return policy.broken;
      if (policy.set !== null) {
        const refused = this.#checkAddresses(policy.set, policy.section!, client.remoteAddress, headers);
        if (refused) return refused;
      }
      dynamic = policy.dynamic;
    } else {
      // A broken web.config on the way: the worker answers 500.19 for this URL; the site's
      // limits still count.
      dynamic = this.#siteDynamic(site);
    }
    if (dynamic.broken) return dynamic.broken;
    const section = dynamic.section;
    if (section === null) return null;
    const remoteAddress = client.remoteAddress;
    const counted = section.enableProxyMode ? proxiedClient(remoteAddress, headers) : remoteAddress;
    const over = this.#dynamic.admit(site.id, site.name, section, counted, remoteAddress, Date.now());
    if (over === null) return null;
    const action = section.denyAction;
    const error = DYNAMIC_DENIED[over][action === 'AbortRequest' ? 'Forbidden' : action];
    return rejection(error, action, over === 'concurrent'
      ? `client ${counted} has ${section.denyByConcurrentRequests.maxConcurrentRequests} requests in progress (dynamicIpSecurity denyByConcurrentRequests)`
      : `client ${counted} sent more than ${section.denyByRequestRate.maxRequests} requests in ${section.denyByRequestRate.requestIntervalInMilliseconds} ms (dynamicIpSecurity denyByRequestRate)`);
  }

  /**
   * A request `check` let pass is over (answered, failed or aborted). `headers` (optional) are
   * the request's: with them, dynamicIpSecurity in proxy mode releases exactly the client it
   * counted; without them, the client of the most recent request still in progress through that
   * socket address (native-notes.md, "IP restrictions").
   */
  finished(site: SiteConfig, remoteAddress: string, headers?: readonly string[]): void {
    if (remoteAddress === '') return; // never read: never counted
    const section = headers === undefined ? null : this.#lastDynamic.get(site.id)?.section ?? null;
    const client = section !== null && section.enableProxyMode ? proxiedClient(remoteAddress, headers!) : undefined;
    this.#dynamic.release(site.id, remoteAddress, client);
  }

  /** Requests of `client` in progress at `site`, as dynamicIpSecurity counts them. */
  inFlight(site: SiteConfig, client: string): number {
    return this.#dynamic.inFlight(site.id, client);
  }

  #policyOf(config: EffectiveConfig, site: SiteConfig): IpPolicy {
    const dynamic = this.#siteDynamic(site);
    let policy: IpPolicy;
    try {
      const section = config.section(IP_SECURITY);
      const open = section.allowUnlisted && section.entries.length === 0;
      policy = { set: open ? null : ipFilter().compile(section.rules, section.allowUnlisted), section, broken: undefined, dynamic };
    } catch (err) {
      policy = { set: null, section: undefined, broken: brokenConfig(err), dynamic };
    }
    this.#policies.set(config, policy);
    return policy;
  }

  #checkAddresses(set: IpRuleSet, section: IpSecuritySection, remoteAddress: string, headers: readonly string[]): Rejection | null {
    let verdict = set.verdict(remoteAddress);
    // A socket address that does not parse (never seen from uWS) matches no rule: allowUnlisted decides.
    let denied = isAllowed(verdict) || (verdict === IP_UNPARSABLE && set.allowUnlisted) ? null : remoteAddress;
    if (denied === null && section.enableProxyMode) {
      const list = forwardedFor(headers);
      if (list === null) return rejection(BAD_FORWARDED_FOR, 'Forbidden', 'X-Forwarded-For holds an item that is not an address');
      for (const address of list) {
        verdict = set.verdict(address);
        if (verdict === IP_UNPARSABLE) {
          return rejection(BAD_FORWARDED_FOR, 'Forbidden', `X-Forwarded-For item '${address}' is not an address`);
        }
        if (!isAllowed(verdict)) {
          denied = address;
          break;
        }
      }
    }
    if (denied === null) return null;
    const rule = matchedRule(verdict);
    const entry = rule >= 0 ? section.entries[rule] : undefined;
    const why = entry
      ? `denied by <add ipAddress="${entry.ipAddress}"${entry.subnetMask ? ` subnetMask="${entry.subnetMask}"` : ''}> (${entry.position.file}:${entry.position.line})`
      : 'not listed, and allowUnlisted is false';
    const action = section.denyAction;
    return rejection(IP_DENIED[action === 'AbortRequest' ? 'Forbidden' : action], action, `client address ${denied} is ${why} (ipSecurity)`);
  }

  #siteDynamic(site: SiteConfig): SiteDynamic {
    const root = this.#config(site, '/');
    if (root === undefined) return NO_DYNAMIC;
    let dynamic = this.#siteRoots.get(root);
    if (dynamic === undefined) {
      try {
        const section = root.section(DYNAMIC_IP_SECURITY);
        const on = section.denyByConcurrentRequests.enabled || section.denyByRequestRate.enabled;
        dynamic = on ? { section, broken: undefined } : NO_DYNAMIC;
      } catch (err) {
        dynamic = { section: null, broken: brokenConfig(err) };
      }
      this.#siteRoots.set(root, dynamic);
    }
    this.#lastDynamic.set(site.id, dynamic);
    return dynamic;
  }
}

import { readBool, readEnum, readRequired, readString, readUint } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import type { ConfigNode } from '../config/config-node.js';
import type { SourcePosition } from '../config/xml.js';
import { ConfigError } from '../errors.js';
import { ipFilter, type IpRule } from './ip-filter.js';

/** What a denied client gets (IIS 8+ `denyAction`; iis-reference.md §3.7). */
export const DENY_ACTIONS = ['AbortRequest', 'Unauthorized', 'Forbidden', 'NotFound'] as const;
export type DenyAction = (typeof DENY_ACTIONS)[number];

/** One `<add>` of ipSecurity, as written and as bytes. */
export interface IpSecurityEntry {
  readonly ipAddress: string;
  /** As written ('' when absent). */
  readonly subnetMask: string;
  readonly allowed: boolean;
  readonly rule: IpRule;
  readonly position: SourcePosition;
}

/** `system.webServer/security/ipSecurity` (IpRestrictionModule). */
export interface IpSecuritySection {
  readonly allowUnlisted: boolean;
  readonly denyAction: DenyAction;
  /** Also check the addresses of `X-Forwarded-For`. */
  readonly enableProxyMode: boolean;
  /** Entries in evaluation order (top-down, first match wins). */
  readonly entries: readonly IpSecurityEntry[];
  /** `entries` as rules, for {@link IpFilterEngine.compile}. */
  readonly rules: readonly IpRule[];
}

/** `system.webServer/security/dynamicIpSecurity` (IIS 8+, server and site level). */
export interface DynamicIpSecuritySection {
  readonly denyAction: DenyAction;
  /** Count the client named by `X-Forwarded-For` instead of the socket's address. */
  readonly enableProxyMode: boolean;
  /** Count and log, never deny. */
  readonly enableLoggingOnlyMode: boolean;
  readonly denyByConcurrentRequests: { readonly enabled: boolean; readonly maxConcurrentRequests: number };
  readonly denyByRequestRate: {
    readonly enabled: boolean;
    readonly maxRequests: number;
    readonly requestIntervalInMilliseconds: number;
  };
}

/** Most `<add>` entries one ipSecurity list may hold (the Wasm arena holds about 50,000). */
export const MAX_IP_SECURITY_ENTRIES = 16384;

const FULL_MASK = new Uint8Array(16).fill(0xff);

function maskOfPrefix(bits: number): Uint8Array {
  const mask = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    mask[i] = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
  }
  return mask;
}

/** Why an address or mask was refused: the attribute and the message. */
export interface IpRuleError {
  readonly attribute: 'ipAddress' | 'subnetMask';
  readonly message: string;
}

/**
 * The rule for an `ipAddress` / `subnetMask` pair, as IpRestrictionModule reads them, plus two
 * forms IIS's configuration file does not have:
 * - a CIDR prefix on the address (`10.0.0.0/8`, `fe80::/10`), an extension of w3core; the
 *   entry may then not carry a subnetMask;
 * - a prefix length as the mask (`subnetMask="24"`), the "Mask or Prefix" field of IIS Manager.
 *
 * A dotted mask goes with an IPv4 address, an IPv6 mask (`ffff:ffff::`) with an IPv6 address;
 * without a mask the entry matches one host (the schema default `255.255.255.255`, which also
 * means one host for an IPv6 address). IPv4 rules live in the IPv4-mapped range, so they match
 * `127.0.0.2` and `::ffff:127.0.0.2` alike. Masks need not be contiguous (they are ANDed).
 */
export function parseIpRule(ipAddress: string, subnetMask: string, allowed: boolean): IpRule | IpRuleError {
  const text = ipAddress.trim();
  const slash = text.indexOf('/');
  const addressText = slash >= 0 ? text.slice(0, slash) : text;
  if (addressText.includes('%')) {
    return { attribute: 'ipAddress', message: `'${ipAddress}' has a zone (%…): rules match addresses, not interfaces` };
  }
  const parsed = ipFilter().parse(addressText);
  if (!parsed) return { attribute: 'ipAddress', message: `'${ipAddress}' is not an IPv4 or IPv6 address` };
  const v4 = parsed.family === 4;
  let mask: Uint8Array;
  const maskText = subnetMask.trim();
  if (slash >= 0) {
    const prefix = text.slice(slash + 1);
    const max = v4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
      return { attribute: 'ipAddress', message: `'${ipAddress}' has a prefix length that is not 0–${max}` };
    }
    if (maskText !== '') {
      return { attribute: 'subnetMask', message: `'${ipAddress}' already has a prefix length; give either a prefix or a subnetMask` };
    }
    mask = maskOfPrefix((v4 ? 96 : 0) + Number(prefix));
  } else if (maskText === '') {
    mask = FULL_MASK;
  } else if (/^\d{1,3}$/.test(maskText)) {
    const max = v4 ? 32 : 128;
    if (Number(maskText) > max) return { attribute: 'subnetMask', message: `'${subnetMask}' is not a prefix length 0–${max}` };
    mask = maskOfPrefix((v4 ? 96 : 0) + Number(maskText));
  } else {
    const m = maskText.includes('%') ? null : ipFilter().parse(maskText);
    if (!m) return { attribute: 'subnetMask', message: `'${subnetMask}' is not a subnet mask` };
    if (v4 && m.family !== 4) {
      return { attribute: 'subnetMask', message: `'${subnetMask}' is an IPv6 mask for the IPv4 address '${ipAddress}'` };
    }
    if (!v4 && m.family === 4) {
      // The schema default written out is fine for an IPv6 host; other dotted masks are not.
      if (maskText !== '255.255.255.255') {
        return { attribute: 'subnetMask', message: `'${subnetMask}' is an IPv4 mask for the IPv6 address '${ipAddress}'` };
      }
      mask = FULL_MASK;
    } else {
      mask = m.bytes;
      if (v4) mask.fill(0xff, 0, 12);
    }
  }
  const address = parsed.bytes;
  return Object.freeze({ address, mask, allowed });
}

function positionOf(node: ConfigNode, attribute: string): SourcePosition {
  return node.attributes.get(attribute) ?? node.position;
}

/**
 * Reader for `system.webServer/security/ipSecurity` (attribute names and defaults from
 * iis-reference.md §3.7). A bad address or mask fails with the file, line and attribute.
 * Reverse DNS is refused: `enableReverseDns="true"` and `domainName` entries would need a DNS
 * lookup on the listener thread for every new client, which stalls every other connection.
 *
 * @example
 * ```ts
 * const { rules, allowUnlisted } = effective.section(IP_SECURITY);
 * const set = ipFilter().compile(rules, allowUnlisted);
 * ```
 */
export const IP_SECURITY: SectionReader<IpSecuritySection> = {
  section: 'security/ipSecurity',
  read(node: ConfigNode | undefined): IpSecuritySection {
    if (readBool(node, 'enableReverseDns', false)) {
      const at = positionOf(node!, 'enableReverseDns');
      throw new ConfigError(at.file, at.line, 'enableReverseDns',
        'reverse DNS is not supported: it would block the listener thread; use ipAddress entries');
    }
    const entries: IpSecurityEntry[] = [];
    const list = node?.entries ?? [];
    if (list.length > MAX_IP_SECURITY_ENTRIES) {
      const at = list[MAX_IP_SECURITY_ENTRIES]!.position;
      throw new ConfigError(at.file, at.line, undefined, `ipSecurity holds more than ${MAX_IP_SECURITY_ENTRIES} entries`);
    }
    for (const entry of list) {
      if (readString(entry, 'domainName', '').trim() !== '') {
        const at = positionOf(entry, 'domainName');
        throw new ConfigError(at.file, at.line, 'domainName',
          'domainName entries need reverse DNS, which is not supported (it would block the listener thread); use ipAddress');
      }
      const ipAddress = readRequired(entry, 'ipAddress', 'add');
      const subnetMask = readString(entry, 'subnetMask', '');
      const allowed = readBool(entry, 'allowed', false);
      const rule = parseIpRule(ipAddress, subnetMask, allowed);
      if ('attribute' in rule) {
        const at = positionOf(entry, rule.attribute);
        throw new ConfigError(at.file, at.line, rule.attribute, rule.message);
      }
      entries.push(Object.freeze({ ipAddress, subnetMask, allowed, rule, position: entry.position }));
    }
    return {
      allowUnlisted: readBool(node, 'allowUnlisted', true),
      denyAction: readEnum(node, 'denyAction', DENY_ACTIONS, 'Forbidden'),
      enableProxyMode: readBool(node, 'enableProxyMode', false),
      entries: Object.freeze(entries),
      rules: Object.freeze(entries.map((e) => e.rule)),
    };
  },
};

/**
 * Reader for `system.webServer/security/dynamicIpSecurity` (iis-reference.md §3.7): the
 * per-client concurrency and rate limits, read at site level.
 */
export const DYNAMIC_IP_SECURITY: SectionReader<DynamicIpSecuritySection> = {
  section: 'security/dynamicIpSecurity',
  read(node: ConfigNode | undefined): DynamicIpSecuritySection {
    const concurrent = node?.children.get('denyByConcurrentRequests');
    const rate = node?.children.get('denyByRequestRate');
    return {
      denyAction: readEnum(node, 'denyAction', DENY_ACTIONS, 'Forbidden'),
      enableProxyMode: readBool(node, 'enableProxyMode', false),
      enableLoggingOnlyMode: readBool(node, 'enableLoggingOnlyMode', false),
      denyByConcurrentRequests: Object.freeze({
        enabled: readBool(concurrent, 'enabled', false),
        maxConcurrentRequests: readUint(concurrent, 'maxConcurrentRequests', 5, 1),
      }),
      denyByRequestRate: Object.freeze({
        enabled: readBool(rate, 'enabled', false),
        maxRequests: readUint(rate, 'maxRequests', 20, 1),
        requestIntervalInMilliseconds: readUint(rate, 'requestIntervalInMilliseconds', 200, 1),
      }),
    };
  },
};

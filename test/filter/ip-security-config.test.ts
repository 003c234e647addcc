/**
 * The section readers of ipSecurity and dynamicIpSecurity: attribute names and defaults of
 * iis-reference.md §3.7, address and mask forms, and a ConfigError naming the file, line and
 * attribute for anything that is not an address or a mask.
 */
import { describe, expect, it } from 'vitest';
import { mergeElement, nodeAt } from '../../dist/config/config-node.js';
import { parseXml } from '../../dist/config/xml.js';
import { DYNAMIC_IP_SECURITY, IP_SECURITY, parseIpRule } from '../../dist/wasm/ip-security-config.js';
import { expectConfigError } from '../helpers/config-error.js';

const FILE = '/site/web.config';

function section(xml: string) {
  const root = mergeElement(undefined, parseXml(`<system.webServer><security>\n${xml}\n</security></system.webServer>`, FILE), 'system.webServer');
  return nodeAt(root, 'security/ipSecurity');
}

function dynamicSection(xml: string) {
  const root = mergeElement(undefined, parseXml(`<system.webServer><security>${xml}</security></system.webServer>`, FILE), 'system.webServer');
  return nodeAt(root, 'security/dynamicIpSecurity');
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function ruleOf(ipAddress: string, subnetMask = '') {
  const r = parseIpRule(ipAddress, subnetMask, false);
  if ('attribute' in r) throw new Error(r.message);
  return { address: hex(r.address), mask: hex(r.mask) };
}

const V4_HOST = 'ffffffffffffffffffffffffffffffff';

describe('ipSecurity reader', () => {
  it('has the schema defaults', () => {
    const s = IP_SECURITY.read(undefined);
    expect([s.allowUnlisted, s.denyAction, s.enableProxyMode, s.entries.length]).toEqual([true, 'Forbidden', false, 0]);
    const d = DYNAMIC_IP_SECURITY.read(undefined);
    expect(d).toEqual({
      denyAction: 'Forbidden', enableProxyMode: false, enableLoggingOnlyMode: false,
      denyByConcurrentRequests: { enabled: false, maxConcurrentRequests: 5 },
      denyByRequestRate: { enabled: false, maxRequests: 20, requestIntervalInMilliseconds: 200 },
    });
  });

  it('reads entries in order with allowed defaulting to false', () => {
    const s = IP_SECURITY.read(section(`<ipSecurity allowUnlisted="false" denyAction="notfound" enableProxyMode="true">
      <add ipAddress="10.0.0.0" subnetMask="255.0.0.0" allowed="true"/>
      <add ipAddress="10.1.0.0/16"/>
    </ipSecurity>`));
    expect([s.allowUnlisted, s.denyAction, s.enableProxyMode]).toEqual([false, 'NotFound', true]);
    expect(s.entries.map((e) => [e.ipAddress, e.subnetMask, e.allowed, e.position.line])).toEqual([
      ['10.0.0.0', '255.0.0.0', true, 3], ['10.1.0.0/16', '', false, 4],
    ]);
  });

  it('maps IPv4 into ::ffff:0:0/96 and reads every mask form', () => {
    expect(ruleOf('127.0.0.2')).toEqual({ address: '00000000000000000000ffff7f000002', mask: V4_HOST });
    expect(ruleOf('10.0.0.0', '255.255.0.0').mask).toBe('ffffffffffffffffffffffffffff0000');
    expect(ruleOf('10.0.0.0', '16').mask).toBe('ffffffffffffffffffffffffffff0000');
    expect(ruleOf('10.0.0.0/12').mask).toBe('fffffffffffffffffffffffffff00000');
    expect(ruleOf('0.0.0.0/0').mask).toBe('ffffffffffffffffffffffff00000000');
    expect(ruleOf('2001:db8::', 'ffff:ffff::').mask).toBe('ffffffff000000000000000000000000');
    expect(ruleOf('fe80::/10').mask).toBe('ffc00000000000000000000000000000');
    expect(ruleOf('2001:db8::1').mask).toBe(V4_HOST);
    expect(ruleOf('2001:db8::1', '255.255.255.255').mask).toBe(V4_HOST);
    expect(ruleOf('::ffff:10.0.0.0/104')).toEqual({ address: '00000000000000000000ffff0a000000', mask: 'ffffffffffffffffffffffffff000000' });
  });

  it.each([
    ['<add ipAddress="10.0.0.256"/>', 'ipAddress', /not an IPv4 or IPv6 address/],
    ['<add ipAddress="10.0.0.0/33"/>', 'ipAddress', /prefix length that is not 0–32/],
    ['<add ipAddress="fe80::/129"/>', 'ipAddress', /0–128/],
    ['<add ipAddress="fe80::1%eth0"/>', 'ipAddress', /zone/],
    ['<add ipAddress="10.0.0.0/8" subnetMask="255.0.0.0"/>', 'subnetMask', /either a prefix or a subnetMask/],
    ['<add ipAddress="10.0.0.0" subnetMask="255.0.0"/>', 'subnetMask', /not a subnet mask/],
    ['<add ipAddress="10.0.0.0" subnetMask="33"/>', 'subnetMask', /prefix length 0–32/],
    ['<add ipAddress="10.0.0.0" subnetMask="ffff::"/>', 'subnetMask', /IPv6 mask for the IPv4 address/],
    ['<add ipAddress="2001:db8::" subnetMask="255.255.0.0"/>', 'subnetMask', /IPv4 mask for the IPv6 address/],
    ['<add ipAddress="10.0.0.1" allowed="maybe"/>', 'allowed', /not a valid boolean/],
    ['<add ipAddress="" domainName="example.com"/>', 'domainName', /reverse DNS/],
  ])('refuses %s naming the attribute', (entry, attribute, detail) => {
    const node = section(`<ipSecurity>\n${entry}\n</ipSecurity>`);
    expectConfigError(() => IP_SECURITY.read(node), FILE, 3, attribute, detail);
  });

  it('refuses enableReverseDns and a bad denyAction', () => {
    expectConfigError(() => IP_SECURITY.read(section('<ipSecurity enableReverseDns="true"/>')), FILE, 2, 'enableReverseDns', /reverse DNS/);
    expectConfigError(() => IP_SECURITY.read(section('<ipSecurity denyAction="Teapot"/>')), FILE, 2, 'denyAction', /AbortRequest/);
  });

  it('refuses out-of-range dynamicIpSecurity values', () => {
    const node = dynamicSection('<dynamicIpSecurity><denyByRequestRate maxRequests="0"/></dynamicIpSecurity>');
    expectConfigError(() => DYNAMIC_IP_SECURITY.read(node), FILE, 1, 'maxRequests', /between 1 and/);
  });
});

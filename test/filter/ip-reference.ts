/**
 * Plain-TypeScript reference for ip-filter.wasm (assembly/ip.ts), written independently of it:
 * string splitting and regular expressions where the Wasm walks bytes. The differential test
 * holds the two to the same answers.
 *
 * Semantics (native-notes.md, "IP restrictions"):
 * - IPv4: four decimal octets 0–255 without leading zeros; mapped to ::ffff:a.b.c.d.
 * - IPv6: RFC 4291 §2.2 text: eight groups of 1–4 hex digits, or fewer with one `::` standing
 *   for at least one zero group; the last 32 bits may be written as IPv4; a non-empty `%zone`
 *   suffix is dropped. Texts longer than 128 characters or with non-ASCII are not addresses.
 * - A rule matches when (address AND mask) equals (rule address AND mask) over all 128 bits;
 *   the first matching rule decides, else allowUnlisted.
 * - Verdict: -1 not an address; otherwise bit 0 = allowed and (verdict >> 1) = index of the
 *   deciding rule + 1 (0 when allowUnlisted decided).
 */

export interface ReferenceRule {
  readonly address: Uint8Array;
  readonly mask: Uint8Array;
  readonly allowed: boolean;
}

export interface ReferenceAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const GROUP = /^[0-9a-fA-F]{1,4}$/;

function ipv4Octets(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!OCTET.test(p) || Number(p) > 255) return null;
    out.push(Number(p));
  }
  return out;
}

/** The 16-bit words of a `:`-separated run; an IPv4 tail (allowed only when `last`) counts twice. */
function words(run: string, last: boolean): number[] | null {
  if (run === '') return [];
  const groups = run.split(':');
  const out: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (g.includes('.')) {
      if (!last || i !== groups.length - 1) return null;
      const o = ipv4Octets(g);
      if (!o) return null;
      out.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    } else {
      if (!GROUP.test(g)) return null;
      out.push(parseInt(g, 16));
    }
  }
  return out;
}

export function referenceParse(text: string): ReferenceAddress | null {
  if (text.length === 0 || text.length > 128 || /[^\x00-\x7f]/.test(text)) return null;
  const bytes = new Uint8Array(16);
  if (!text.includes(':')) {
    const o = ipv4Octets(text);
    if (!o) return null;
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    bytes.set(o, 12);
    return { family: 4, bytes };
  }
  let body = text;
  const zone = body.indexOf('%');
  if (zone >= 0) {
    if (zone === body.length - 1) return null;
    body = body.slice(0, zone);
  }
  const halves = body.split('::');
  let all: number[];
  if (halves.length === 1) {
    const w = words(body, true);
    if (!w || w.length !== 8) return null;
    all = w;
  } else if (halves.length === 2) {
    const head = words(halves[0]!, false);
    const tail = words(halves[1]!, true);
    if (!head || !tail || head.length + tail.length > 7) return null;
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    return null;
  }
  all.forEach((w, i) => {
    bytes[i * 2] = w >> 8;
    bytes[i * 2 + 1] = w & 0xff;
  });
  return { family: 6, bytes };
}

function matches(address: Uint8Array, rule: ReferenceRule): boolean {
  for (let i = 0; i < 16; i++) {
    if ((address[i]! & rule.mask[i]!) !== (rule.address[i]! & rule.mask[i]!)) return false;
  }
  return true;
}

export function referenceVerdict(rules: readonly ReferenceRule[], allowUnlisted: boolean, text: string): number {
  const parsed = referenceParse(text);
  if (!parsed) return -1;
  const i = rules.findIndex((r) => matches(parsed.bytes, r));
  if (i < 0) return allowUnlisted ? 1 : 0;
  return ((i + 1) << 1) | (rules[i]!.allowed ? 1 : 0);
}

/** The mask of a prefix length over the 128-bit space. */
export function referenceMask(bits: number): Uint8Array {
  const mask = new Uint8Array(16);
  for (let b = 0; b < bits; b++) mask[b >> 3] |= 0x80 >> (b & 7);
  return mask;
}

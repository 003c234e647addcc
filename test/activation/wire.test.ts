/**
 * The batch encoding between the listener and the pool workers: whatever bytes a client puts in
 * a URL or a header must come out field for field, never read as framing.
 */
import { describe, expect, it } from 'vitest';
import { decodeRequests, encodeRequests, requestsBound, type WireRequest } from '../../dist/activation/wire.js';

/** Encodes into a buffer of exactly the announced size, at an offset, as the ring does. */
function encode(requests: readonly WireRequest[]): { bytes: Buffer; at: number; length: number } {
  const at = 12;
  const bytes = Buffer.alloc(at + requestsBound(requests));
  const length = encodeRequests(bytes, at, requests);
  expect(length).toBeLessThanOrEqual(requestsBound(requests));
  return { bytes, at, length };
}

/** Characters of text in a batch (what the table's lengths add up to). */
function textChars(requests: readonly WireRequest[]): number {
  let chars = 0;
  for (const r of requests) {
    chars += r.method.length + r.rawUrl.length + r.path.length + r.queryString.length + r.httpVersion.length +
      r.remoteAddress.length + r.localAddress.length;
    for (const h of r.headers) chars += h.length;
  }
  return chars;
}

function request(overrides: Partial<WireRequest>): WireRequest {
  return {
    id: 1, siteId: 1, method: 'GET', rawUrl: '/', path: '/', queryString: '', httpVersion: '1.1',
    headers: [], remoteAddress: '127.0.0.1', remotePort: 0, localAddress: '127.0.0.1', localPort: 80,
    secure: false, entity: null, ...overrides,
  };
}

describe('request batch encoding', () => {
  it('round-trips every field, with separators and digits inside values', () => {
    const requests = [
      request({ id: 4294967297, siteId: 12, rawUrl: '/a:1;2?x=3:4', path: '/a:1;2', queryString: 'x=3:4', secure: true }),
      request({ method: 'POST', headers: ['x-a', '12:34;', 'x-empty', '', 'cookie', 'a=1; b=2'], entity: new Uint8Array([1, 2, 3]) }),
      request({ rawUrl: '/caf\u00e9/\u{1F600}', path: '/caf\u00e9/\u{1F600}', remoteAddress: '::ffff:127.0.0.2', localPort: 65535 }),
    ];
    const { bytes, at, length } = encode(requests);
    // Not all ASCII: the text travels as UTF-16, two bytes a character, as the bound allows.
    expect(length).toBe(requestsBound(requests));
    expect(decodeRequests(bytes, at, length, requests.map((r) => r.entity))).toEqual(requests);
  });

  it('writes an all-ASCII batch with one byte a character, and reads it back', () => {
    const requests = [
      request({ rawUrl: '/a/b.txt?x=1', path: '/a/b.txt', queryString: 'x=1', headers: ['host', 'localhost:8080', 'x-tilde', '~\x7f'] }),
      request({ id: 2, method: 'DELETE', headers: ['cookie', 'a=1; b=2'] }),
    ];
    const { bytes, at, length } = encode(requests);
    expect(length).toBe(requestsBound(requests) - textChars(requests));
    expect(decodeRequests(bytes, at, length, [])).toEqual(requests);
  });

  it('keeps a batch with one non-ASCII character whole (Latin-1 range included)', () => {
    for (const odd of ['\u00e9', '\u0080', '\u00ff', '\u20ac', '\ud800']) {
      const requests = [request({}), request({ id: 2, headers: ['x-odd', `a${odd}b`] })];
      const { bytes, at, length } = encode(requests);
      expect(length).toBe(requestsBound(requests));
      expect(decodeRequests(bytes, at, length, [])).toEqual(requests);
    }
  });

  it('encodes an empty batch as its count and text encoding only', () => {
    const { bytes, at, length } = encode([]);
    expect(length).toBe(8);
    expect(decodeRequests(bytes, at, length, [])).toEqual([]);
  });

  it('refuses a malformed batch instead of reading past it', () => {
    const { bytes, at, length } = encode([request({ headers: ['x-a', 'b'] })]);
    // Cut short: the table says more text than there is.
    expect(() => decodeRequests(bytes, at, length - 2, [])).toThrow(/malformed request batch/);
    // A string count that leaves a header name without its value.
    const odd = Buffer.from(bytes);
    odd.writeUInt32LE(8, at + 8 + 24);
    expect(() => decodeRequests(odd, at, length, [])).toThrow(/malformed request batch/);
    // A text encoding that is neither ASCII nor UTF-16.
    const encoding = Buffer.from(bytes);
    encoding.writeUInt32LE(3, at + 4);
    expect(() => decodeRequests(encoding, at, length, [])).toThrow(/malformed request batch/);
    // More requests announced than the record holds.
    const many = Buffer.from(bytes);
    many.writeUInt32LE(1000, at);
    expect(() => decodeRequests(many, at, length, [])).toThrow(/malformed request batch/);
  });
});

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
  expect(length).toBe(requestsBound(requests));
  return { bytes, at, length };
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
    expect(decodeRequests(bytes, at, length, requests.map((r) => r.entity))).toEqual(requests);
  });

  it('encodes an empty batch as nothing', () => {
    const { bytes, at, length } = encode([]);
    expect(length).toBe(4);
    expect(decodeRequests(bytes, at, length, [])).toEqual([]);
  });

  it('refuses a malformed batch instead of reading past it', () => {
    const { bytes, at, length } = encode([request({ headers: ['x-a', 'b'] })]);
    // Cut short: the table says more text than there is.
    expect(() => decodeRequests(bytes, at, length - 2, [])).toThrow(/malformed request batch/);
    // A string count that leaves a header name without its value.
    const odd = Buffer.from(bytes);
    odd.writeUInt32LE(8, at + 4 + 24);
    expect(() => decodeRequests(odd, at, length, [])).toThrow(/malformed request batch/);
    // More requests announced than the record holds.
    const many = Buffer.from(bytes);
    many.writeUInt32LE(1000, at);
    expect(() => decodeRequests(many, at, length, [])).toThrow(/malformed request batch/);
  });
});

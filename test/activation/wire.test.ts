/**
 * The batch encoding between the listener and the pool workers: whatever bytes a client puts in
 * a URL or a header must come out field for field, never read as framing.
 */
import { describe, expect, it } from 'vitest';
import { decodeRequests, encodeRequests, type WireRequest } from '../../dist/activation/wire.js';

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
    const { text, entities } = encodeRequests(requests);
    expect(decodeRequests(text, entities)).toEqual(requests);
  });

  it('encodes an empty batch as nothing', () => {
    const { text, entities } = encodeRequests([]);
    expect(text).toBe('');
    expect(decodeRequests(text, entities)).toEqual([]);
  });

  it('refuses a malformed batch instead of reading past it', () => {
    expect(() => decodeRequests('12;x:oops', [])).toThrow(/malformed request batch/);
  });
});

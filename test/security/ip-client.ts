import { request } from 'node:http';
import { subStatusOf } from '../helpers/server.js';

/** What a client saw: the answer, or how the connection ended without one. */
export interface ClientResult {
  readonly status: number;
  /** `403.6`-style, from the detailed error page (loopback clients get it). */
  readonly subStatus: string | undefined;
  readonly body: string;
  /** Set when no response came: the socket error (e.g. ECONNRESET, 'socket hang up'). */
  readonly error: string | undefined;
}

export interface ClientOptions {
  /** Local address of the client socket, e.g. 127.0.0.2 for a second client on loopback. */
  readonly from?: string;
  readonly headers?: Record<string, string>;
}

/** GET on its own connection (no keep-alive pool), from `from`. */
export function get(url: string, options: ClientOptions = {}): Promise<ClientResult> {
  return startGet(url, options).done;
}

/** A GET that can be abandoned: `abort()` destroys the socket before the answer. */
export function startGet(url: string, options: ClientOptions = {}): { done: Promise<ClientResult>; abort(): void } {
  let destroy: () => void = () => {};
  const done = new Promise<ClientResult>((resolve) => {
    const req = request(url, { localAddress: options.from, headers: options.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, subStatus: subStatusOf(body), body, error: undefined }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, subStatus: undefined, body, error: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ status: 0, subStatus: undefined, body: '', error: err.code ?? err.message }));
    destroy = () => req.destroy();
    req.end();
  });
  return { done, abort: () => destroy() };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

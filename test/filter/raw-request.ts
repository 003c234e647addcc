import { connect } from 'node:net';

/** What came back for one raw request. */
export interface RawReply {
  /** 0 when the server closed without a status line or did not answer within the bound. */
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/**
 * Sends one request exactly as given (the target is written byte for byte, latin1), with
 * `Connection: close`, and returns what came back once the server closed. Client libraries
 * would normalise `..`, escapes and backslashes, which is what these tests are about.
 */
export function rawRequest(
  url: string,
  target: string,
  options: { method?: string; headers?: readonly (readonly [string, string])[]; body?: string } = {},
): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  const body = options.body ?? '';
  const lines = [`${options.method ?? 'GET'} ${target} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close'];
  for (const [name, value] of options.headers ?? []) lines.push(`${name}: ${value}`);
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1'));
    const chunks: Buffer[] = [];
    const bound = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(bound);
      // A server that answers and closes before reading the whole body resets the socket.
      if (chunks.length) finish();
      else reject(err);
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(bound);
      const raw = Buffer.concat(chunks).toString('latin1');
      const at = raw.indexOf('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d{3}) /.exec(raw)?.[1] ?? 0),
        head: at >= 0 ? raw.slice(0, at) : raw,
        body: at >= 0 ? raw.slice(at + 4) : '',
      });
    };
    socket.on('close', finish);
  });
}

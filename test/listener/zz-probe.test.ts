import { it } from 'vitest';
import { connect } from 'node:net';
import { startTestServer } from '../helpers/server.js';
it('probe', async () => {
  const s = await startTestServer({ files: { 'real.txt': 'real' } });
  const { port } = new URL(s.url);
  const ex = (target: string) => new Promise<string>((resolve) => {
    const t0 = Date.now();
    const sock = connect(Number(port), '127.0.0.1', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let d = '';
    sock.on('data', (c) => { d += c.toString('latin1'); });
    sock.on('close', () => resolve(`CLOSED after ${Date.now() - t0}ms ` + JSON.stringify(d.slice(0, 200))));
    setTimeout(() => { resolve('TIMEOUT ' + d.slice(0, 60)); sock.destroy(); }, 15000);
  });
  console.log(await ex(`http://127.0.0.1:${port}/real.txt`));
  console.log(await ex(`*`));
  await s.stop();
}, 60000);

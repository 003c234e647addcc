// Target `uws-hello`: the raw uWebSockets.js hello world every ratio is measured against.
import { loadNativeUws, portFromArgs, ready } from './common.js';

const uws = loadNativeUws();
const port = portFromArgs();
// uWS listens with SO_REUSEPORT by default, so a stale server on the same port would silently
// take half the connections; EXCLUSIVE_PORT (1) makes that a listen failure instead.
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

uws
  .App()
  .get('/hello', (res) => {
    res.end('Hello World!');
  })
  .any('/*', (res) => {
    res.writeStatus('404 Not Found').end('Not Found');
  })
  .listen('127.0.0.1', port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
    if (!socket) {
      console.error(`uws-hello: cannot listen on 127.0.0.1:${port}`);
      process.exit(1);
    }
    ready(uws.us_socket_local_port(socket));
  });

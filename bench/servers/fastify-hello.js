// Target `fastify-hello`: fastify 5, one route, logger off (the framework the issue compares to).
import Fastify from 'fastify';
import { portFromArgs, ready } from './common.js';

const port = portFromArgs();
const app = Fastify({ logger: false });
app.get('/hello', async () => 'Hello World!');

try {
  await app.listen({ host: '127.0.0.1', port });
} catch (err) {
  console.error(`fastify-hello: ${err.message}`);
  process.exit(1);
}
ready(app.server.address().port);

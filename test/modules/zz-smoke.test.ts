import { it } from 'vitest';
import { startTestServer } from '../helpers/server.js';
it('smoke', async () => {
  const s = await startTestServer({ files: { 'a.css': 'body{}', 'index.html': '<p>hi</p>' } });
  for (const p of ['/a.css', '/', '/nope', '/a.xyz']) {
    const r = await fetch(s.url + p, { redirect: 'manual' });
    console.log(p, r.status, [...r.headers], (await r.text()).slice(0, 300));
  }
  await s.stop();
});

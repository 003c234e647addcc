/**
 * What the request adds to a redirect target is re-encoded: empty segments and decoded `?`
 * can never turn a site-relative destination into another host or a new query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    files: {
      'old/web.config': `<configuration><system.webServer>
        <httpRedirect enabled="true" destination="/" httpResponseStatus="Found"/></system.webServer></configuration>`,
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

async function location(path: string): Promise<string> {
  const r = await fetch(`${t.url}${path}`, { redirect: 'manual' });
  await r.text();
  expect(r.status).toBe(302);
  return r.headers.get('location') ?? '';
}

describe('httpRedirect targets built from the request', () => {
  it('keeps the path below the folder on this host', async () => {
    expect(new URL(await location('/old/a/b.html')).pathname).toBe('/a/b.html');
  });

  it('never redirects to another host through empty segments', async () => {
    const { host } = new URL(t.url);
    for (const path of ['/old//evil.example/x', '/old/%2F%2Fevil.example/x']) {
      expect(new URL(await location(path)).host).toBe(host);
    }
  });

  it('keeps a decoded ? in the path, not in the query', async () => {
    const target = new URL(await location('/old/a%3Fb=c'));
    expect(target.search).toBe('');
    expect(decodeURIComponent(target.pathname)).toBe('/a?b=c');
  });
});

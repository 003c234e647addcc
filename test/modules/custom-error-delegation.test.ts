/**
 * A web.config may name custom error files only inside its own folder
 * (httpErrors allowAbsolutePathsWhenDelegated defaults to false, iis-reference.md §3.3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer } from '../helpers/server.js';

let t: TestServer;

const config = (path: string, inherited = false) => `<configuration><system.webServer>
  <httpErrors errorMode="Custom">${inherited ? '<remove statusCode="404"/>' : ''}<error statusCode="404" path="${path}"/></httpErrors>
</system.webServer></configuration>`;

beforeAll(async () => {
  t = await startTestServer({
    files: {
      'outside.txt': 'must not be served as an error page',
      'tenant/web.config': config('../outside.txt'),
      'absolute/web.config': config('/etc/hostname'),
      'good/404.html': 'a friendly 404',
      'good/web.config': config('404.html'),
      'good/sub/web.config': config('../404.html', true),
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('custom error files named in a web.config', () => {
  it('serves a file inside the folder of the web.config', async () => {
    const r = await fetch(`${t.url}/good/missing`);
    expect(r.status).toBe(404);
    expect(await r.text()).toBe('a friendly 404');
  });

  it('refuses a path that climbs out of the folder, or an absolute one, as bad configuration', async () => {
    for (const path of ['/tenant/missing', '/absolute/missing', '/good/sub/missing']) {
      const r = await fetch(`${t.url}${path}`);
      const body = await r.text();
      expect(r.status).toBe(500);
      expect(subStatusOf(body)).toBe('500.19');
      expect(body).not.toContain('must not be served');
      expect(body).toContain('allowAbsolutePathsWhenDelegated');
    }
  });
});

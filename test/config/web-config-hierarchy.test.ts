import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer, type TestServerOptions } from '../helpers/server.js';

/**
 * The configuration hierarchy on a real server (iis-reference.md §2.1, §2.2): web.config files
 * down the URL path, `<location>` blocks in applicationHost.config and in web.config,
 * broken web.config files (500.19 for that application only, fixed without a restart),
 * `enableConfigurationOverride="false"` and AppHostOnly sections.
 */

let current: TestServer | undefined;

afterEach(async () => {
  await current?.stop();
  current = undefined;
});

async function start(options: TestServerOptions): Promise<TestServer> {
  current = await startTestServer(options);
  return current;
}

interface Got {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

async function get(url: string): Promise<Got> {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Polls `url` until `done` holds, for up to 2 s; returns the last response. */
async function pollUntil(url: string, done: (r: Got) => boolean): Promise<Got> {
  const deadline = Date.now() + 2000;
  let last = await get(url);
  while (!done(last) && Date.now() < deadline) {
    await sleep(50);
    last = await get(url);
  }
  return last;
}

const webConfig = (inner: string, outside = '') => `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.webServer>
    ${inner}
  </system.webServer>
  ${outside}
</configuration>
`;

const headerXml = (name: string, value: string) =>
  `<httpProtocol><customHeaders><add name="${name}" value="${value}"/></customHeaders></httpProtocol>`;

const SITE_FILES = {
  'a.txt': 'root file',
  'sub/b.txt': 'sub file',
  'sub/deeper/c.txt': 'deeper file',
  'other/d.txt': 'other file',
};

describe('web.config in a sub-directory', () => {
  it('adds a custom header only at and below its directory', async () => {
    const t = await start({ files: { ...SITE_FILES, 'sub/web.config': webConfig(headerXml('X-Sub', 'yes')) } });
    const root = await get(`${t.url}/a.txt`);
    expect(root.status).toBe(200);
    expect(root.headers.get('x-sub')).toBeNull();
    const sub = await get(`${t.url}/sub/b.txt`);
    expect(sub.status).toBe(200);
    expect(sub.body).toBe('sub file');
    expect(sub.headers.get('x-sub')).toBe('yes');
    expect((await get(`${t.url}/sub/deeper/c.txt`)).headers.get('x-sub')).toBe('yes');
    expect((await get(`${t.url}/other/d.txt`)).headers.get('x-sub')).toBeNull();
    // The inherited default header is still there below the sub-directory.
    expect(sub.headers.get('x-powered-by')).toBe('w3core');
  });

  it('can remove an inherited collection entry below its directory only', async () => {
    const t = await start({
      files: { ...SITE_FILES, 'sub/web.config': webConfig('<httpProtocol><customHeaders><remove name="X-Powered-By"/></customHeaders></httpProtocol>') },
    });
    expect((await get(`${t.url}/a.txt`)).headers.get('x-powered-by')).toBe('w3core');
    expect((await get(`${t.url}/sub/b.txt`)).headers.get('x-powered-by')).toBeNull();
  });

  it('turns directoryBrowse on below its directory only; a deeper web.config turns it off again', async () => {
    const t = await start({
      files: {
        ...SITE_FILES,
        'sub/web.config': webConfig('<directoryBrowse enabled="true"/>'),
        'sub/deeper/web.config': webConfig('<directoryBrowse enabled="false"/>'),
      },
    });
    const root = await get(`${t.url}/other/`);
    expect(root.status).toBe(403);
    expect(subStatusOf(root.body)).toBe('403.14');
    const sub = await get(`${t.url}/sub/`);
    expect(sub.status).toBe(200);
    expect(sub.body).toContain('b.txt');
    const deeper = await get(`${t.url}/sub/deeper/`);
    expect(deeper.status).toBe(403);
    expect(subStatusOf(deeper.body)).toBe('403.14');
  });

  it('is not served itself (hidden segment)', async () => {
    const t = await start({ files: { ...SITE_FILES, 'sub/web.config': webConfig(headerXml('X-Sub', 'yes')) } });
    const res = await get(`${t.url}/sub/web.config`);
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('X-Sub');
  });
});

describe('<location> blocks', () => {
  it('<location path="Test/sub"> in applicationHost.config applies to /sub only', async () => {
    const t = await start({
      files: SITE_FILES,
      rootXml: `<location path="Test/sub"><system.webServer>
        <directoryBrowse enabled="true"/>
        ${headerXml('X-Loc', 'apphost')}
      </system.webServer></location>`,
    });
    const sub = await get(`${t.url}/sub/`);
    expect(sub.status).toBe(200);
    expect(sub.body).toContain('b.txt');
    expect(sub.headers.get('x-loc')).toBe('apphost');
    expect((await get(`${t.url}/sub/deeper/c.txt`)).headers.get('x-loc')).toBe('apphost');
    const other = await get(`${t.url}/other/`);
    expect(other.status).toBe(403);
    expect(other.headers.get('x-loc')).toBeNull();
    expect((await get(`${t.url}/a.txt`)).headers.get('x-loc')).toBeNull();
  });

  it('<location path="Test"> in applicationHost.config applies to the whole site, not to another site', async () => {
    const t = await start({
      sites: [
        { name: 'Test', id: 1, files: SITE_FILES },
        { name: 'Other', id: 2, files: SITE_FILES },
      ],
      rootXml: `<location path="Test"><system.webServer>${headerXml('X-Site', 'test')}</system.webServer></location>`,
    });
    expect((await get(`${t.urlOf('Test')}/a.txt`)).headers.get('x-site')).toBe('test');
    expect((await get(`${t.urlOf('Test')}/sub/b.txt`)).headers.get('x-site')).toBe('test');
    const other = await get(`${t.urlOf('Other')}/a.txt`);
    expect(other.status).toBe(200);
    expect(other.headers.get('x-site')).toBeNull();
  });

  it('<location path="sub"> inside the root web.config applies to /sub only', async () => {
    const t = await start({
      files: {
        ...SITE_FILES,
        'web.config': webConfig(headerXml('X-Root', 'r'), `<location path="sub"><system.webServer>
          <directoryBrowse enabled="true"/>
          ${headerXml('X-Loc', 'webconfig')}
        </system.webServer></location>`),
      },
    });
    const sub = await get(`${t.url}/sub/`);
    expect(sub.status).toBe(200);
    expect(sub.body).toContain('b.txt');
    expect(sub.headers.get('x-loc')).toBe('webconfig');
    expect(sub.headers.get('x-root')).toBe('r');
    const root = await get(`${t.url}/a.txt`);
    expect(root.headers.get('x-root')).toBe('r');
    expect(root.headers.get('x-loc')).toBeNull();
    expect((await get(`${t.url}/other/`)).status).toBe(403);
  });
});

describe('a broken web.config', () => {
  const twoSites = (brokenRootFiles: Record<string, string>): TestServerOptions => ({
    sites: [
      { name: 'Broken', id: 1, files: { ...SITE_FILES, ...brokenRootFiles } },
      { name: 'Healthy', id: 2, files: SITE_FILES },
    ],
  });

  it('malformed XML → 500.19 naming the file and line for that site; the other site serves 200', async () => {
    const t = await start(twoSites({
      'web.config': `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.webServer>
    <directoryBrowse enabled="true">
  </system.webServer>
</configuration>
`,
    }));
    const file = join(t.rootOf('Broken'), 'web.config');
    const broken = await get(`${t.urlOf('Broken')}/a.txt`);
    expect(broken.status).toBe(500);
    expect(subStatusOf(broken.body)).toBe('500.19');
    expect(broken.body).toContain(`${file}:5`);
    const healthy = await get(`${t.urlOf('Healthy')}/a.txt`);
    expect(healthy.status).toBe(200);
    expect(healthy.body).toBe('root file');
  });

  it('a bad attribute value → 500.19 naming the file, line and attribute; the other site serves 200', async () => {
    const t = await start(twoSites({
      'web.config': webConfig('<directoryBrowse\n      enabled="maybe"/>'),
    }));
    const file = join(t.rootOf('Broken'), 'web.config');
    const broken = await get(`${t.urlOf('Broken')}/`);
    expect(broken.status).toBe(500);
    expect(subStatusOf(broken.body)).toBe('500.19');
    expect(broken.body).toContain(`${file}:5 attribute 'enabled'`);
    const healthy = await get(`${t.urlOf('Healthy')}/a.txt`);
    expect(healthy.status).toBe(200);
  });

  it('a broken web.config in a sub-directory only breaks that sub-tree', async () => {
    const t = await start({ files: { ...SITE_FILES, 'sub/web.config': '<configuration><system.webServer>' } });
    const file = join(t.root, 'sub', 'web.config');
    const sub = await get(`${t.url}/sub/b.txt`);
    expect(sub.status).toBe(500);
    expect(subStatusOf(sub.body)).toBe('500.19');
    expect(sub.body).toContain(file);
    expect((await get(`${t.url}/a.txt`)).status).toBe(200);
    expect((await get(`${t.url}/other/d.txt`)).status).toBe(200);
  });

  it('fixing the web.config makes the site serve again without a restart, and breaking it again is noticed', async () => {
    const t = await start(twoSites({ 'web.config': webConfig('<directoryBrowse enabled="true"') }));
    const file = join(t.rootOf('Broken'), 'web.config');
    const url = `${t.urlOf('Broken')}/a.txt`;
    expect(subStatusOf((await get(url)).body)).toBe('500.19');

    await sleep(150);
    writeFileSync(file, webConfig(headerXml('X-Fixed', '1')));
    const fixed = await pollUntil(url, (r) => r.status === 200);
    expect(fixed.status).toBe(200);
    expect(fixed.body).toBe('root file');
    expect(fixed.headers.get('x-fixed')).toBe('1');

    await sleep(150);
    writeFileSync(file, webConfig('<directoryBrowse enabled="true"/>\n<directoryBrowse'));
    const again = await pollUntil(url, (r) => r.status === 500);
    expect(again.status).toBe(500);
    expect(subStatusOf(again.body)).toBe('500.19');
    expect(again.body).toContain(file);
    expect((await get(`${t.urlOf('Healthy')}/a.txt`)).status).toBe(200);
  });

  it('editing a valid web.config takes effect without a restart', async () => {
    const t = await start({ files: { ...SITE_FILES, 'web.config': webConfig(headerXml('X-Version', 'one')) } });
    const url = `${t.url}/a.txt`;
    expect((await get(url)).headers.get('x-version')).toBe('one');
    await sleep(150);
    writeFileSync(join(t.root, 'web.config'), webConfig(headerXml('X-Version', 'two-longer')));
    const res = await pollUntil(url, (r) => r.headers.get('x-version') === 'two-longer');
    expect(res.headers.get('x-version')).toBe('two-longer');
  });

  it('a web.config created after start is picked up', async () => {
    const t = await start({ files: SITE_FILES });
    const url = `${t.url}/sub/`;
    expect((await get(url)).status).toBe(403);
    await sleep(150);
    writeFileSync(join(t.root, 'sub', 'web.config'), webConfig('<directoryBrowse enabled="true"/>'));
    const res = await pollUntil(url, (r) => r.status === 200);
    expect(res.status).toBe(200);
    expect(res.body).toContain('b.txt');
  });
});

describe('enableConfigurationOverride="false"', () => {
  it('ignores web.config files of the pool\'s applications', async () => {
    const t = await start({
      pools: '<add name="DefaultAppPool" enableConfigurationOverride="false"/>',
      files: {
        ...SITE_FILES,
        'web.config': webConfig(`<directoryBrowse enabled="true"/>${headerXml('X-Web', 'root')}`),
        'sub/web.config': webConfig('<directoryBrowse enabled="maybe"'),
      },
    });
    const root = await get(`${t.url}/`);
    expect(root.status).toBe(403);
    expect(subStatusOf(root.body)).toBe('403.14');
    expect(root.headers.get('x-web')).toBeNull();
    // Even a broken one is never read.
    const sub = await get(`${t.url}/sub/b.txt`);
    expect(sub.status).toBe(200);
    expect(sub.body).toBe('sub file');
  });

  it('still applies <location> blocks of applicationHost.config', async () => {
    const t = await start({
      pools: '<add name="DefaultAppPool" enableConfigurationOverride="false"/>',
      files: { ...SITE_FILES, 'sub/web.config': webConfig(headerXml('X-Web', 'sub')) },
      rootXml: `<location path="Test/sub"><system.webServer><directoryBrowse enabled="true"/></system.webServer></location>`,
    });
    const sub = await get(`${t.url}/sub/`);
    expect(sub.status).toBe(200);
    expect(sub.headers.get('x-web')).toBeNull();
  });

  it('with the default (true) the same web.config is honoured', async () => {
    const t = await start({
      pools: '<add name="DefaultAppPool" enableConfigurationOverride="true"/>',
      files: { ...SITE_FILES, 'web.config': webConfig(`<directoryBrowse enabled="true"/>${headerXml('X-Web', 'root')}`) },
    });
    const root = await get(`${t.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('x-web')).toBe('root');
  });
});

describe('AppHostOnly sections in a web.config', () => {
  it('<system.applicationHost> inside a web.config → 500.19 naming the file and line', async () => {
    const t = await start({
      files: {
        ...SITE_FILES,
        'sub/web.config': `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <sites/>
  </system.applicationHost>
</configuration>
`,
      },
    });
    const file = join(t.root, 'sub', 'web.config');
    const sub = await get(`${t.url}/sub/b.txt`);
    expect(sub.status).toBe(500);
    expect(subStatusOf(sub.body)).toBe('500.19');
    expect(sub.body).toContain(`${file}:3`);
    expect(sub.body).toContain('AppHostOnly');
    expect((await get(`${t.url}/a.txt`)).status).toBe(200);
  });

  it('<globalModules> inside a web.config → 500.19', async () => {
    const t = await start({ files: { ...SITE_FILES, 'web.config': webConfig('<globalModules><add name="X" image="./x.ts"/></globalModules>') } });
    const res = await get(`${t.url}/a.txt`);
    expect(res.status).toBe(500);
    expect(subStatusOf(res.body)).toBe('500.19');
    expect(res.body).toContain(join(t.root, 'web.config'));
  });

  it('a web.config whose root is not <configuration> → 500.19', async () => {
    const t = await start({ files: { ...SITE_FILES, 'sub/web.config': '<system.webServer/>' } });
    const res = await get(`${t.url}/sub/b.txt`);
    expect(res.status).toBe(500);
    expect(subStatusOf(res.body)).toBe('500.19');
  });
});

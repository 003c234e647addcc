import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * The `w3core` command line (src/cli/main.ts): `serve <dir>`, `start --config`, exit codes and
 * the messages an operator sees.
 */

const MAIN = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const CLI = join(MAIN, 'dist/cli/main.js');
const EXAMPLES = join(MAIN, 'examples');

interface Running {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

const children: Running[] = [];

function run(args: string[]): Running {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: MAIN, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const r = { child, stdout: () => out, stderr: () => err, exited };
  children.push(r);
  return r;
}

/** Waits for the `listening on http://host:port/` line and returns that base URL. */
async function listeningUrl(r: Running, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))\//.exec(r.stdout());
    if (m) return m[1]!;
    if (r.child.exitCode !== null) {
      throw new Error(`exited with ${r.child.exitCode}\nstdout: ${r.stdout()}\nstderr: ${r.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`no listening line\nstdout: ${r.stdout()}\nstderr: ${r.stderr()}`);
    await new Promise((t) => setTimeout(t, 25));
  }
}

async function stop(r: Running): Promise<number | null> {
  r.child.kill('SIGTERM');
  return r.exited;
}

afterEach(async () => {
  for (const r of children.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
  }
});

describe('w3core serve <dir>', () => {
  let site: string;

  beforeAll(() => {
    site = mkdtempSync(join(tmpdir(), 'w3core-cli-serve-'));
    writeFileSync(join(site, 'hello.txt'), 'hello from serve\n');
    mkdirSync(join(site, 'sub'));
    writeFileSync(join(site, 'sub', 'inner.txt'), 'inner');
  });

  afterAll(() => {
    rmSync(site, { recursive: true, force: true });
  });

  it('prints the real port for --port 0, serves files and directory listings, exits 0 on SIGTERM', async () => {
    const r = run(['serve', site, '--port', '0']);
    const url = await listeningUrl(r);
    expect(Number(new URL(url).port)).toBeGreaterThan(0);
    expect(r.stdout()).toContain(`site 'Default Web Site' listening on ${url}/`);

    const file = await fetch(`${url}/hello.txt`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await file.text()).toBe('hello from serve\n');

    // serve turns directoryBrowse on: a directory without a default document is listed.
    const listing = await fetch(`${url}/`);
    expect(listing.status).toBe(200);
    const html = await listing.text();
    expect(html).toContain('hello.txt');
    expect(html).toContain('sub');
    const subListing = await fetch(`${url}/sub/`);
    expect(subListing.status).toBe(200);
    expect(await subListing.text()).toContain('inner.txt');

    expect(await stop(r)).toBe(0);
    expect(r.stdout()).toContain('w3core: stopping');
  });

  it('also exits 0 on SIGINT', async () => {
    const r = run(['serve', site, '--port', '0']);
    await listeningUrl(r);
    r.child.kill('SIGINT');
    expect(await r.exited).toBe(0);
  });

  it('refuses a directory that does not exist (exit 2)', async () => {
    const missing = join(site, 'no-such-dir');
    const r = run(['serve', missing, '--port', '0']);
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toContain(`${missing} is not a directory`);
  });

  it('refuses a port that is not a number (exit 2)', async () => {
    const r = run(['serve', site, '--port', 'eighty']);
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toContain('--port eighty is not a port number');
  });
});

describe('w3core start --config', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'w3core-cli-start-'));
    mkdirSync(join(dir, 'www'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 1 with file:line and attribute on stderr for a bad configuration', async () => {
    const bad = join(dir, 'bad.config');
    writeFileSync(bad, `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>
      <add name="DefaultAppPool" managedPipelineMode="Hybrid"/>
    </applicationPools>
    <sites><site name="S" id="1">
      <bindings><binding protocol="http" bindingInformation="127.0.0.1:0:"/></bindings>
      <application path="/"><virtualDirectory path="/" physicalPath="${join(dir, 'www')}"/></application>
    </site></sites>
  </system.applicationHost>
</configuration>
`);
    const r = run(['start', '--config', bad]);
    expect(await r.exited).toBe(1);
    expect(r.stderr()).toContain(`w3core: configuration error: ${bad}:5 attribute 'managedPipelineMode': 'Hybrid' is not one of`);
    expect(r.stdout()).not.toContain('listening');
  });

  it('exits 1 naming the file when the configuration file does not exist', async () => {
    const missing = join(dir, 'missing.config');
    const r = run(['start', '--config', missing]);
    expect(await r.exited).toBe(1);
    expect(r.stderr()).toContain(`${missing}:0`);
  });

  it('prints usage and exits 2 for an unknown command', async () => {
    const r = run(['frobnicate']);
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toContain("unknown command 'frobnicate'");
    expect(r.stderr()).toContain('Usage:');
  });

  it('--version prints the package version', async () => {
    const r = run(['--version']);
    expect(await r.exited).toBe(0);
    const pkg = JSON.parse(readFileSync(join(MAIN, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout().trim()).toBe(pkg.version);
  });
});

describe('the example configuration (examples/applicationHost.config on port 0)', () => {
  // A copy next to the original, so that `site` and `./modules/hello.ts` resolve the same way and
  // hello.ts's `import 'w3core'` resolves through the package self-reference.
  const copy = join(EXAMPLES, `.test-applicationHost-${process.pid}.config`);
  let url: string;
  let server: Running;

  beforeAll(async () => {
    const original = readFileSync(join(EXAMPLES, 'applicationHost.config'), 'utf8');
    expect(original).toContain('bindingInformation="127.0.0.1:8080:"');
    writeFileSync(copy, original.replace('bindingInformation="127.0.0.1:8080:"', 'bindingInformation="127.0.0.1:0:"'));
    const child = spawn(process.execPath, [CLI, 'start', '--config', copy], { cwd: MAIN, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    server = { child, stdout: () => out, stderr: () => err, exited };
    url = await listeningUrl(server);
  });

  afterAll(async () => {
    try {
      if (server && server.child.exitCode === null) {
        server.child.kill('SIGTERM');
        await server.exited;
      }
    } finally {
      rmSync(copy, { force: true });
    }
  });

  it('names the Demo site in the listening line', () => {
    expect(server.stdout()).toContain(`site 'Demo' listening on ${url}/`);
  });

  it('/ serves index.html as the default document, through the Hello module and the site web.config', async () => {
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toBe(readFileSync(join(EXAMPLES, 'site/index.html'), 'utf8'));
    expect(res.headers.get('x-hello-module')).toBe('seen');
    expect(res.headers.get('x-demo')).toBe('w3core');
  });

  it('/hello is answered by the TypeScript module', async () => {
    const res = await fetch(`${url}/hello`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hello, world, from the DefaultAppPool pool.\n');
    const named = await fetch(`${url}/hello?name=tester`);
    expect(await named.text()).toBe('Hello, tester, from the DefaultAppPool pool.\n');
  });

  it('/docs/ is listed (directoryBrowse on in docs/web.config)', async () => {
    const res = await fetch(`${url}/docs/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('readme.txt');
    expect(html).not.toContain('web.config');
  });

  it('/files/ has no default document and no listing: 403', async () => {
    const res = await fetch(`${url}/files/`);
    expect(res.status).toBe(403);
    // Custom error mode in the site web.config only replaces 404; the body is still an error page.
    expect(await res.text()).not.toContain('report.txt');
  });

  it('/old/page.html is redirected to /docs/ and a missing page gets the custom 404', async () => {
    const redirect = await fetch(`${url}/old/page.html`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toMatch(/\/docs\/$/);
    const missing = await fetch(`${url}/missing.html`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe(readFileSync(join(EXAMPLES, 'site/404.html'), 'utf8'));
  });

  it('stops with exit code 0 on SIGTERM', async () => {
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, startServer, type W3CoreServer } from '../../dist/index.js';
import { checkConfigError } from '../helpers/config-error.js';

/**
 * Misconfiguration in applicationHost.config fails at start-up with the file, line and
 * attribute (STYLE.md §11), instead of surfacing later as request errors.
 */

let dir: string;
let www: string;
let started: W3CoreServer | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'w3core-startup-'));
  www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(dir, 'good-module.ts'), 'export class Good { onBeginRequest() { return 0; } }\n');
});

afterEach(async () => {
  await started?.stop();
  started = undefined;
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let counter = 0;

/** Writes an applicationHost.config whose `<system.webServer>` starts on line 12; returns its path. */
function writeConfig(webServer: string, pools = '<add name="DefaultAppPool"/>'): string {
  const file = join(dir, `applicationHost-${++counter}.config`);
  writeFileSync(file, `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>${pools}</applicationPools>
    <sites>
      <site name="S" id="1">
        <bindings><binding protocol="http" bindingInformation="127.0.0.1:0:"/></bindings>
        <application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
${webServer}
  </system.webServer>
</configuration>
`);
  return file;
}

/** Starts the server expecting a ConfigError; returns it after checking file, line, attribute. */
async function expectStartupError(file: string, line: number, attribute: string | undefined, detail?: RegExp): Promise<ConfigError> {
  let caught: unknown;
  try {
    started = await startServer({ configFile: file });
  } catch (err) {
    caught = err;
  }
  return checkConfigError(caught, file, line, attribute, detail);
}

describe('startServer rejects bad applicationHost.config', () => {
  it('a bad boolean in system.webServer: <directoryBrowse enabled="nope"/>', async () => {
    const file = writeConfig('    <directoryBrowse enabled="nope"/>');
    await expectStartupError(file, 13, 'enabled', /'nope' is not a valid boolean/);
  });

  it('a bad flag in system.webServer: <directoryBrowse showFlags="Colour"/>', async () => {
    const file = writeConfig('\n    <directoryBrowse enabled="true"\n        showFlags="Date, Colour"/>');
    await expectStartupError(file, 15, 'showFlags', /'Colour' is not one of/);
  });

  it('a bad value inside <location path=""> counts as the server level', async () => {
    const file = join(dir, `applicationHost-${++counter}.config`);
    writeFileSync(file, `<configuration>
  <system.applicationHost>
    <applicationPools><add name="DefaultAppPool"/></applicationPools>
    <sites><site name="S" id="1">
      <bindings><binding protocol="http" bindingInformation="127.0.0.1:0:"/></bindings>
      <application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application>
    </site></sites>
  </system.applicationHost>
  <location path="">
    <system.webServer><directoryBrowse enabled="sure"/></system.webServer>
  </location>
</configuration>`);
    await expectStartupError(file, 10, 'enabled');
  });

  it('a module name that is not built-in, without type', async () => {
    const file = writeConfig('    <modules>\n      <add name="NoSuchModule"/>\n    </modules>');
    await expectStartupError(file, 14, 'name', /'NoSuchModule' is not a built-in module/);
  });

  it('a module type whose file does not exist', async () => {
    const file = writeConfig('    <modules>\n      <add name="Mine"\n           type="./missing-module.ts#Mine"/>\n    </modules>');
    const err = await expectStartupError(file, 15, 'type', /does not exist/);
    expect(err.detail).toContain(join(dir, 'missing-module.ts'));
  });

  it('a global module image whose file does not exist', async () => {
    const file = writeConfig('    <globalModules>\n      <add name="G" image="./missing-global.ts#G"/>\n    </globalModules>');
    await expectStartupError(file, 14, 'image', /does not exist/);
  });

  it('a duplicate mimeMap entry (.html is in the built-in defaults)', async () => {
    const file = writeConfig('    <staticContent>\n      <mimeMap fileExtension=".html" mimeType="text/plain"/>\n    </staticContent>');
    await expectStartupError(file, 14, 'fileExtension', /duplicate collection entry '\.html'/);
  });

  it('a duplicate module entry (StaticFileModule is in the defaults)', async () => {
    const file = writeConfig('    <modules><add name="StaticFileModule"/></modules>');
    await expectStartupError(file, 13, 'name', /duplicate/);
  });

  it('malformed XML in applicationHost.config', async () => {
    const file = writeConfig('    <directoryBrowse enabled="true">\n');
    await expectStartupError(file, 15, undefined, /malformed XML/);
  });

  it('a bad application pool attribute', async () => {
    const file = writeConfig('', '<add name="DefaultAppPool" queueLength="5"/>');
    await expectStartupError(file, 4, 'queueLength');
  });

  it('a configuration file that does not exist', async () => {
    const file = join(dir, 'nothing-here.config');
    await expectStartupError(file, 0, undefined, /cannot read the configuration file/);
  });
});

describe('the same configurations start once fixed', () => {
  it('valid system.webServer settings, a module file that exists, a mimeMap after <remove>', async () => {
    const file = writeConfig(`    <directoryBrowse enabled="true" showFlags="Date, Size"/>
    <modules><add name="Good" type="./good-module.ts#Good"/></modules>
    <staticContent><remove fileExtension=".html"/><mimeMap fileExtension=".html" mimeType="text/plain"/></staticContent>`);
    started = await startServer({ configFile: file });
    expect(started.bindings.length).toBe(1);
    expect(started.bindings[0]!.port).toBeGreaterThan(0);
  });
});

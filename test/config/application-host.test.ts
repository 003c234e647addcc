import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApplicationHost, parseApplicationHost } from '../../dist/config/application-host.js';
import { ConfigError } from '../../dist/errors.js';
import { expectConfigError as expectConfigErrorAt } from '../helpers/config-error.js';

/**
 * system.applicationHost as read from applicationHost.config (iis-reference.md §2.4, §2.5):
 * sites, bindings, applications, virtual directories, application pools, and the
 * `file:line attribute` errors bad configuration must produce.
 */

let dir: string;
let file: string;
let www: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'w3core-apphost-'));
  file = join(dir, 'applicationHost.config');
  www = join(dir, 'www');
  for (const d of ['www', 'www/app', 'www/app/deep', 'images', 'rel/site', 'expanded/root']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A configuration whose `<sites>` and `<applicationPools>` are given; line 1 is the XML declaration. */
function config(pools: string, sites: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>${pools}</applicationPools>
    <sites>${sites}</sites>
  </system.applicationHost>
</configuration>`;
}

function simpleSite(binding = '*:80:', extra = ''): string {
  return `<site name="S" id="1" ${extra}>
      <bindings><binding protocol="http" bindingInformation="${binding}"/></bindings>
      <application path="/" applicationPool="DefaultAppPool">
        <virtualDirectory path="/" physicalPath="${www}"/>
      </application>
    </site>`;
}

/** The shared assertion, bound to this file's config path. */
function expectConfigError(fn: () => unknown, line: number, attribute: string | undefined, detail?: RegExp): ConfigError {
  return expectConfigErrorAt(fn, file, line, attribute, detail);
}

describe('sites', () => {
  it('reads name, id and serverAutoStart (default true)', () => {
    const cfg = parseApplicationHost(config('<add name="DefaultAppPool"/>', `
      ${simpleSite('*:80:')}
      <site name="Second" id="7" serverAutoStart="false">
        <bindings><binding protocol="http" bindingInformation="*:81:"/></bindings>
        <application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application>
      </site>`), file);
    expect(cfg.file).toBe(file);
    expect(cfg.sites.map((s) => [s.name, s.id, s.serverAutoStart])).toEqual([
      ['S', 1, true],
      ['Second', 7, false],
    ]);
    // applicationPool missing → DefaultAppPool (stock applicationDefaults).
    expect(cfg.sites[1]!.applications[0]!.applicationPool).toBe('DefaultAppPool');
  });

  it('returns frozen site objects', () => {
    const cfg = parseApplicationHost(config('<add name="DefaultAppPool"/>', simpleSite()), file);
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.sites[0])).toBe(true);
  });

  it('collects <location> blocks with normalised paths', () => {
    const text = `<configuration>
  <system.applicationHost>
    <applicationPools><add name="DefaultAppPool"/></applicationPools>
    <sites>${simpleSite()}</sites>
  </system.applicationHost>
  <system.webServer><directoryBrowse enabled="false"/></system.webServer>
  <location path="/S/sub/"><system.webServer><directoryBrowse enabled="true"/></system.webServer></location>
  <location path="."><system.webServer><directoryBrowse enabled="true"/></system.webServer></location>
  <location path="S/nothing"></location>
</configuration>`;
    const cfg = parseApplicationHost(text, file);
    expect(cfg.webServer?.name).toBe('system.webServer');
    expect(cfg.locations.map((l) => l.path)).toEqual(['S/sub', '']);
    expect(cfg.locations[0]!.webServer.line).toBe(12);
  });
});

describe('bindings', () => {
  const bindingOf = (info: string) =>
    parseApplicationHost(config('<add name="DefaultAppPool"/>', simpleSite(info)), file).sites[0]!.bindings[0]!;

  it('reads *:80: as every address, port 80, any host', () => {
    expect(bindingOf('*:80:')).toEqual({ protocol: 'http', ip: '*', port: 80, host: '', bindingInformation: '*:80:' });
  });

  it('reads an IPv4 address with a host header (lower-cased)', () => {
    expect(bindingOf('127.0.0.1:8080:WWW.Example.com')).toEqual({
      protocol: 'http', ip: '127.0.0.1', port: 8080, host: 'www.example.com',
      bindingInformation: '127.0.0.1:8080:WWW.Example.com',
    });
  });

  it('reads a bracketed IPv6 literal', () => {
    const b = bindingOf('[::1]:81:');
    expect(b.ip).toBe('::1');
    expect(b.port).toBe(81);
    expect(b.host).toBe('');
  });

  it('treats an empty IP part as every address (:5000:localhost)', () => {
    const b = bindingOf(':5000:localhost');
    expect(b.ip).toBe('*');
    expect(b.port).toBe(5000);
    expect(b.host).toBe('localhost');
  });

  it('keeps several bindings of one site in order', () => {
    const cfg = parseApplicationHost(config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <bindings>
        <binding protocol="http" bindingInformation="*:80:"/>
        <binding protocol="HTTP" bindingInformation="127.0.0.1:8080:host"/>
        <binding protocol="https" bindingInformation="[::1]:443:"/>
      </bindings>
      <application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application>
    </site>`), file);
    expect(cfg.sites[0]!.bindings.map((b) => [b.protocol, b.ip, b.port, b.host])).toEqual([
      ['http', '*', 80, ''],
      ['http', '127.0.0.1', 8080, 'host'],
      ['https', '::1', 443, ''],
    ]);
  });
});

describe('applications and virtual directories', () => {
  it('sorts applications longest path first', () => {
    const cfg = parseApplicationHost(config('<add name="DefaultAppPool"/><add name="AppPool"/>', `<site name="S" id="1">
      <bindings><binding protocol="http" bindingInformation="*:80:"/></bindings>
      <application path="/" applicationPool="DefaultAppPool"><virtualDirectory path="/" physicalPath="${www}"/></application>
      <application path="/app" applicationPool="AppPool"><virtualDirectory path="/" physicalPath="${join(www, 'app')}"/></application>
      <application path="/app/deep" applicationPool="apppool"><virtualDirectory path="/" physicalPath="${join(www, 'app/deep')}"/></application>
    </site>`), file);
    const apps = cfg.sites[0]!.applications;
    expect(apps.map((a) => a.path)).toEqual(['/app/deep', '/app', '/']);
    // Pool names resolve case-insensitively and come back in their declared spelling.
    expect(apps.map((a) => a.applicationPool)).toEqual(['AppPool', 'AppPool', 'DefaultAppPool']);
  });

  it('sorts virtual directories longest first and resolves relative physical paths from the config folder', () => {
    const cfg = parseApplicationHost(config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <bindings><binding protocol="http" bindingInformation="*:80:"/></bindings>
      <application path="/">
        <virtualDirectory path="/" physicalPath="rel/site"/>
        <virtualDirectory path="/img" physicalPath="images" allowSubDirConfig="false"/>
        <virtualDirectory path="/img/big" physicalPath="${www}"/>
      </application>
    </site>`), file);
    const vdirs = cfg.sites[0]!.applications[0]!.virtualDirectories;
    expect(vdirs.map((v) => v.path)).toEqual(['/img/big', '/img', '/']);
    expect(vdirs.map((v) => v.physicalPath)).toEqual([www, join(dir, 'images'), join(dir, 'rel/site')]);
    expect(vdirs.map((v) => v.allowSubDirConfig)).toEqual([true, false, true]);
  });

  it('applies virtualDirectoryDefaults and applicationDefaults, the entry winning', () => {
    const cfg = parseApplicationHost(config('<add name="DefaultAppPool"/><add name="Other"/>', `
      <applicationDefaults applicationPool="Other"/>
      <virtualDirectoryDefaults allowSubDirConfig="false"/>
      <site name="S" id="1">
        <bindings><binding protocol="http" bindingInformation="*:80:"/></bindings>
        <application path="/">
          <virtualDirectory path="/" physicalPath="${www}"/>
          <virtualDirectory path="/img" physicalPath="images" allowSubDirConfig="true"/>
        </application>
        <application path="/app" applicationPool="DefaultAppPool"><virtualDirectory path="/" physicalPath="${www}"/></application>
      </site>`), file);
    const [app, root] = cfg.sites[0]!.applications;
    expect(root!.applicationPool).toBe('Other');
    expect(app!.applicationPool).toBe('DefaultAppPool');
    expect(root!.virtualDirectories.map((v) => [v.path, v.allowSubDirConfig])).toEqual([['/img', true], ['/', false]]);
  });

  it('expands %VAR% in physicalPath from the environment (names case-insensitive)', () => {
    process.env.W3CORE_TEST_ROOT = dir;
    try {
      const cfg = parseApplicationHost(config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
        <bindings><binding protocol="http" bindingInformation="*:80:"/></bindings>
        <application path="/">
          <virtualDirectory path="/" physicalPath="%W3CORE_TEST_ROOT%/expanded/root"/>
          <virtualDirectory path="/x" physicalPath="%w3core_test_root%/images"/>
        </application>
      </site>`), file);
      const vdirs = cfg.sites[0]!.applications[0]!.virtualDirectories;
      expect(vdirs.map((v) => v.physicalPath)).toEqual([join(dir, 'images'), join(dir, 'expanded/root')]);
    } finally {
      delete process.env.W3CORE_TEST_ROOT;
    }
  });

  it('requires a root application and a root virtual directory', () => {
    const noRootApp = config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <application path="/app"><virtualDirectory path="/" physicalPath="${www}"/></application>
    </site>`);
    expectConfigError(() => parseApplicationHost(noRootApp, file), 5, undefined, /no root <application path="\/">/);
    const noRootVdir = config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <application path="/"><virtualDirectory path="/x" physicalPath="${www}"/></application>
    </site>`);
    expectConfigError(() => parseApplicationHost(noRootVdir, file), 6, undefined, /no root <virtualDirectory path="\/">/);
  });

  it('rejects a virtual path ending with / or holding ..', () => {
    const bad = config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application>
      <application path="/app/"><virtualDirectory path="/" physicalPath="${www}"/></application>
    </site>`);
    expectConfigError(() => parseApplicationHost(bad, file), 7, 'path');
  });
});

describe('application pools', () => {
  it('applies the IIS 10 defaults', () => {
    const cfg = parseApplicationHost(config('<add name="DefaultAppPool"/>', simpleSite()), file);
    expect(cfg.appPools.get('defaultapppool')).toEqual({
      name: 'DefaultAppPool',
      queueLength: 1000,
      autoStart: true,
      managedPipelineMode: 'Integrated',
      startMode: 'OnDemand',
      enableConfigurationOverride: true,
      maxProcesses: 1,
      idleTimeoutMs: 20 * 60_000,
      shutdownTimeLimitMs: 90_000,
      startupTimeLimitMs: 90_000,
      pingingEnabled: true,
      pingIntervalMs: 30_000,
      pingResponseTimeMs: 90_000,
      memoryLimitMb: 0,
      recycling: {
        disallowOverlappingRotation: false, disallowRotationOnConfigChange: false, timeMs: 29 * 3_600_000,
        requests: 0, memoryKb: 0, privateMemoryKb: 0, scheduleMinutes: [],
      },
      failure: { rapidFailProtection: true, rapidFailProtectionIntervalMs: 5 * 60_000, rapidFailProtectionMaxCrashes: 5 },
    });
  });

  it('reads explicit values, enums case-insensitively', () => {
    const cfg = parseApplicationHost(config(`<add name="P" queueLength="10" autoStart="false"
        managedPipelineMode="classic" startMode="AlwaysRunning" enableConfigurationOverride="false">
        <processModel maxProcesses="4" idleTimeout="00:05:30" shutdownTimeLimit="00:00:10" startupTimeLimit="00:00:20"
          pingingEnabled="false" pingInterval="00:00:05" pingResponseTime="00:00:15" memoryLimit="256"/>
        <recycling disallowOverlappingRotation="true" disallowRotationOnConfigChange="true">
          <periodicRestart time="01:00:00" requests="1000" memory="500000" privateMemory="400000">
            <schedule><add value="03:30:00"/><add value="23:59:00"/></schedule>
          </periodicRestart>
        </recycling>
        <failure rapidFailProtection="false" rapidFailProtectionInterval="00:01:00" rapidFailProtectionMaxCrashes="3"/>
      </add><add name="DefaultAppPool"/>`, simpleSite()), file);
    expect(cfg.appPools.get('p')).toEqual({
      name: 'P',
      queueLength: 10,
      autoStart: false,
      managedPipelineMode: 'Classic',
      startMode: 'AlwaysRunning',
      enableConfigurationOverride: false,
      maxProcesses: 4,
      idleTimeoutMs: 330_000,
      shutdownTimeLimitMs: 10_000,
      startupTimeLimitMs: 20_000,
      pingingEnabled: false,
      pingIntervalMs: 5_000,
      pingResponseTimeMs: 15_000,
      memoryLimitMb: 256,
      recycling: {
        disallowOverlappingRotation: true, disallowRotationOnConfigChange: true, timeMs: 3_600_000,
        requests: 1000, memoryKb: 500000, privateMemoryKb: 400000, scheduleMinutes: [210, 1439],
      },
      failure: { rapidFailProtection: false, rapidFailProtectionIntervalMs: 60_000, rapidFailProtectionMaxCrashes: 3 },
    });
  });

  it('takes missing values from applicationPoolDefaults; the entry wins', () => {
    const cfg = parseApplicationHost(config(`
      <applicationPoolDefaults queueLength="2000" managedPipelineMode="Classic" startMode="AlwaysRunning">
        <processModel maxProcesses="3" idleTimeout="00:00:00"/>
      </applicationPoolDefaults>
      <add name="DefaultAppPool"/>
      <add name="Own" queueLength="50" managedPipelineMode="Integrated"><processModel maxProcesses="2"/></add>`, simpleSite()), file);
    const def = cfg.appPools.get('defaultapppool')!;
    expect([def.queueLength, def.managedPipelineMode, def.startMode, def.maxProcesses, def.idleTimeoutMs])
      .toEqual([2000, 'Classic', 'AlwaysRunning', 3, 0]);
    const own = cfg.appPools.get('own')!;
    expect([own.queueLength, own.managedPipelineMode, own.startMode, own.maxProcesses])
      .toEqual([50, 'Integrated', 'AlwaysRunning', 2]);
    // applicationPoolDefaults is not itself a pool.
    expect([...cfg.appPools.keys()]).toEqual(['defaultapppool', 'own']);
  });
});

describe('loadApplicationHost', () => {
  it('reads the file from disk', () => {
    writeFileSync(file, config('<add name="DefaultAppPool"/>', simpleSite('127.0.0.1:8080:')));
    const cfg = loadApplicationHost(file);
    expect(cfg.file).toBe(file);
    expect(cfg.sites[0]!.bindings[0]!.port).toBe(8080);
  });

  it('names the file when it cannot be read', () => {
    const missing = join(dir, 'missing.config');
    expect(() => loadApplicationHost(missing)).toThrow(ConfigError);
    expect(() => loadApplicationHost(missing)).toThrow(`${missing}:0: cannot read the configuration file`);
  });

  it('reports errors with the path of the file it loaded', () => {
    writeFileSync(file, config('<add name="DefaultAppPool" queueLength="1"/>', simpleSite()));
    expectConfigError(() => loadApplicationHost(file), 4, 'queueLength');
  });
});

describe('bad configuration names file, line and attribute', () => {
  it('malformed XML: the line of the error', () => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.applicationHost>
    <applicationPools>
      <add name="DefaultAppPool" queueLength=10/>
    </applicationPools>
  </system.applicationHost>
</configuration>`;
    expectConfigError(() => parseApplicationHost(text, file), 5, undefined, /^malformed XML/);
  });

  it('malformed XML: a mismatched closing tag', () => {
    const text = `<configuration>
  <system.applicationHost>
    <sites>
      <site name="S" id="1">
    </sites>
  </system.applicationHost>
</configuration>`;
    expectConfigError(() => parseApplicationHost(text, file), 5, undefined, /^malformed XML/);
  });

  it('a root element that is not <configuration>', () => {
    expectConfigError(() => parseApplicationHost('\n<config/>', file), 2, undefined, /root element/);
  });

  it('unknown applicationPool: the line of the attribute', () => {
    const text = config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <application path="/"
          applicationPool="NoSuchPool">
        <virtualDirectory path="/" physicalPath="${www}"/>
      </application>
    </site>`);
    expectConfigError(() => parseApplicationHost(text, file), 7, 'applicationPool', /NoSuchPool/);
  });

  it('unknown applicationPool in applicationDefaults: the line of the default', () => {
    const text = config('<add name="DefaultAppPool"/>', `
      <applicationDefaults applicationPool="Ghost"/>
      <site name="S" id="1">
        <application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application>
      </site>`);
    expectConfigError(() => parseApplicationHost(text, file), 6, 'applicationPool', /Ghost/);
  });

  it('duplicate site id', () => {
    const text = config('<add name="DefaultAppPool"/>', `
      <site name="A" id="3"><application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application></site>
      <site name="B" id="3"><application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application></site>`);
    expectConfigError(() => parseApplicationHost(text, file), 7, 'id', /site id 3 is used twice/);
  });

  it('duplicate site name (case-insensitive) and missing site id', () => {
    const dup = config('<add name="DefaultAppPool"/>', `
      <site name="A" id="1"><application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application></site>
      <site name="a" id="2"><application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application></site>`);
    expectConfigError(() => parseApplicationHost(dup, file), 7, 'name');
    const noId = config('<add name="DefaultAppPool"/>', `
      <site name="A"><application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application></site>`);
    expectConfigError(() => parseApplicationHost(noId, file), 6, 'id');
  });

  it('duplicate application pool name (case-insensitive)', () => {
    const text = config(`
      <add name="DefaultAppPool"/>
      <add name="defaultapppool"/>`, simpleSite());
    expectConfigError(() => parseApplicationHost(text, file), 6, 'name', /defined twice/);
  });

  it('an application pool name with a forbidden character', () => {
    const text = config('<add name="DefaultAppPool"/><add name="a/b"/>', simpleSite());
    expectConfigError(() => parseApplicationHost(text, file), 4, 'name');
  });

  it.each(['80', '*:http:', '*:70000:', 'localhost'])('bad bindingInformation %j', (info) => {
    const text = config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <bindings>
        <binding protocol="http"
                 bindingInformation="${info}"/>
      </bindings>
      <application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application>
    </site>`);
    expectConfigError(() => parseApplicationHost(text, file), 8, 'bindingInformation', /ip:port:host/);
  });

  // A missing (or empty) required attribute is reported at the line of its element.
  it('empty bindingInformation: the line of the <binding> element', () => {
    const text = config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <bindings>
        <binding protocol="http" bindingInformation=""/>
      </bindings>
      <application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application>
    </site>`);
    expectConfigError(() => parseApplicationHost(text, file), 7, 'bindingInformation', /required attribute is empty/);
  });

  it('a pool <add> without name, a <site> without name: the line of the element', () => {
    const noPoolName = config(`
      <add queueLength="10"/>`, simpleSite());
    expectConfigError(() => parseApplicationHost(noPoolName, file), 5, 'name', /required attribute is missing/);
    const noSiteName = config('<add name="DefaultAppPool"/>', `
      <site id="1"><application path="/"><virtualDirectory path="/" physicalPath="${www}"/></application></site>`);
    expectConfigError(() => parseApplicationHost(noSiteName, file), 6, 'name', /required attribute is missing/);
  });

  it('unsupported binding protocol', () => {
    const text = config('<add name="DefaultAppPool"/>', simpleSite('*:80:').replace('protocol="http"', 'protocol="net.tcp"'));
    expectConfigError(() => parseApplicationHost(text, file), 6, 'protocol');
  });

  it('non-existent physicalPath', () => {
    const text = config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <application path="/">
        <virtualDirectory path="/"
            physicalPath="${join(dir, 'does-not-exist')}"/>
      </application>
    </site>`);
    expectConfigError(() => parseApplicationHost(text, file), 8, 'physicalPath', /is not an existing directory/);
  });

  it('a physicalPath naming a file, not a directory', () => {
    const afile = join(dir, 'plain.txt');
    writeFileSync(afile, 'x');
    const text = config('<add name="DefaultAppPool"/>', `<site name="S" id="1">
      <application path="/"><virtualDirectory path="/" physicalPath="${afile}"/></application>
    </site>`);
    expectConfigError(() => parseApplicationHost(text, file), 6, 'physicalPath');
  });

  it('bad boolean serverAutoStart="yes"', () => {
    const text = config('<add name="DefaultAppPool"/>', simpleSite('*:80:', 'serverAutoStart="yes"'));
    expectConfigError(() => parseApplicationHost(text, file), 5, 'serverAutoStart', /'yes' is not a valid boolean/);
  });

  it('bad boolean on a pool (autoStart="1")', () => {
    const text = config('<add name="DefaultAppPool" autoStart="1"/>', simpleSite());
    expectConfigError(() => parseApplicationHost(text, file), 4, 'autoStart');
  });

  it('bad enum managedPipelineMode="Hybrid"', () => {
    const text = config(`
      <add name="DefaultAppPool"
           managedPipelineMode="Hybrid"/>`, simpleSite());
    expectConfigError(() => parseApplicationHost(text, file), 6, 'managedPipelineMode', /'Hybrid' is not one of Integrated, Classic/);
  });

  it('bad enum in applicationPoolDefaults: the line of the default', () => {
    const text = config(`
      <applicationPoolDefaults startMode="Sometimes"/>
      <add name="DefaultAppPool"/>`, simpleSite());
    expectConfigError(() => parseApplicationHost(text, file), 5, 'startMode');
  });

  it.each(['9', '65536', '-1', 'lots', '1e3'])('queueLength out of range or not an integer: %s', (value) => {
    const text = config(`<add name="DefaultAppPool" queueLength="${value}"/>`, simpleSite());
    expectConfigError(() => parseApplicationHost(text, file), 4, 'queueLength', /is not an integer between 10 and 65535/);
  });

  it('queueLength at the bounds is accepted', () => {
    const text = config('<add name="DefaultAppPool" queueLength="10"/><add name="B" queueLength="65535"/>', simpleSite());
    const pools = parseApplicationHost(text, file).appPools;
    expect([pools.get('defaultapppool')!.queueLength, pools.get('b')!.queueLength]).toEqual([10, 65535]);
  });

  it('bad processModel values', () => {
    const max = config('<add name="DefaultAppPool"><processModel maxProcesses="65"/></add>', simpleSite());
    expectConfigError(() => parseApplicationHost(max, file), 4, 'maxProcesses');
    const idle = config('<add name="DefaultAppPool"><processModel idleTimeout="20 minutes"/></add>', simpleSite());
    expectConfigError(() => parseApplicationHost(idle, file), 4, 'idleTimeout');
  });

  it('an attribute given twice on one element', () => {
    const text = config('<add name="DefaultAppPool" queueLength="10" queueLength="20"/>', simpleSite());
    const err = expectConfigError(() => parseApplicationHost(text, file), 4, 'queueLength');
    expect(err.detail).toMatch(/twice/);
  });

  it('a site with no <sites> section at all', () => {
    const text = '<configuration><system.applicationHost/></configuration>';
    expectConfigError(() => parseApplicationHost(text, file), 1, undefined, /sites is missing/);
  });
});

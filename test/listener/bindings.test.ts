/**
 * Bindings the listener cannot honour are refused at start-up with a message naming them,
 * rather than served wrongly: two IPs on one port (a loopback-only site would be reachable
 * from every address) and the same ip:port:host twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startupError } from '../helpers/config-error.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'w3core-bindings-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function config(bindingA: string, bindingB: string): string {
  const site = (name: string, id: number, binding: string) => `<site name="${name}" id="${id}">
    <bindings><binding protocol="http" bindingInformation="${binding}"/></bindings>
    <application path="/"><virtualDirectory path="/" physicalPath="${dir}"/></application></site>`;
  return `<configuration><system.applicationHost>
    <applicationPools><add name="DefaultAppPool"/></applicationPools>
    <sites>${site('Admin', 1, bindingA)}${site('Public', 2, bindingB)}</sites>
  </system.applicationHost></configuration>`;
}

const startError = (text: string): Promise<Error> => startupError(join(dir, 'applicationHost.config'), text);

describe('bindings', () => {
  const port = 40000 + Math.floor(Math.random() * 20000);

  it('refuses two IPs on one port', async () => {
    const err = await startError(config(`127.0.0.1:${port}:`, `*:${port}:`));
    expect(err.message).toMatch(/site 'Public'.*\*:\d+:.*another IP.*127\.0\.0\.1:\d+:.*site 'Admin'/);
  });

  it('refuses the same binding in two sites', async () => {
    const err = await startError(config(`127.0.0.1:${port}:a.example`, `127.0.0.1:${port}:a.example`));
    expect(err.message).toMatch(/site 'Public'.*duplicates binding.*of site 'Admin'/);
  });
});

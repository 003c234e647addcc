/**
 * Modules named in `<modules>`: a module that cannot be loaded answers its application's
 * requests with 500.21 (module not recognized) naming the file, and once the file is fixed
 * the application serves again without a restart.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, type TestServer } from '../helpers/server.js';

let t: TestServer;
let moduleFile: string;

const GOOD = `export class Answer {
  onBeginRequest(ctx) {
    if (ctx.request.path !== '/answer') return 0;
    ctx.response.setHeader('Content-Type', 'text/plain');
    ctx.response.write('42');
    return 2;
  }
}
`;

beforeAll(async () => {
  t = await startTestServer({ files: { 'a.txt': 'a' } });
  moduleFile = join(t.root, '..', 'answer.mjs');
  writeFileSync(moduleFile, 'export class Answer { constructor() { throw new Error("not ready yet"); } }\n');
  writeFileSync(join(t.root, 'web.config'), `<configuration><system.webServer><modules>
    <add name="Answer" type="../answer.mjs#Answer"/>
  </modules></system.webServer></configuration>`);
});

afterAll(async () => {
  await t?.stop();
});

async function poll(path: string, until: (status: number) => boolean): Promise<{ status: number; body: string }> {
  let last = { status: 0, body: '' };
  for (let i = 0; i < 60; i++) {
    const r = await fetch(`${t.url}${path}`);
    last = { status: r.status, body: await r.text() };
    if (until(last.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return last;
}

describe('module loading', () => {
  it('answers 500.21 naming the module when it cannot be loaded', async () => {
    const r = await poll('/answer', (s) => s === 500);
    expect(r.status).toBe(500);
    expect(subStatusOf(r.body)).toBe('500.21');
    expect(r.body).toContain('not ready yet');
    expect(r.body).toContain('web.config');
  });

  it('serves again once the module file is fixed, without a restart', async () => {
    writeFileSync(moduleFile, GOOD);
    const r = await poll('/answer', (s) => s === 200);
    expect(r).toEqual({ status: 200, body: '42' });
    const other = await fetch(`${t.url}/a.txt`);
    expect(await other.text()).toBe('a');
  });
});

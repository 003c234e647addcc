/**
 * `w3core appcmd`: IIS's appcmd.exe verbs over the admin endpoint (src/admin/admin-server.ts),
 * printing appcmd's line formats (iis-reference.md §7):
 *
 *   SITE "Default Web Site" (id:1,bindings:http/*:80:,state:Started)
 *   APPPOOL "DefaultAppPool" (MgdVersion:,MgdMode:Integrated,state:Started)
 *   WP "3577" (apppool:DefaultAppPool)
 *   REQUEST "17" (url:GET /wait?time=10000,time:4276 msec,client:127.0.0.1,stage:...,module:...)
 *   "DefaultAppPool" successfully recycled
 *   ERROR ( message:Cannot find APPPOOL object with identifier "X". )
 *
 * Exit codes: 0 done; 1 the server refused or failed (unknown object, wrong state, nothing
 * listed for a given identifier); 2 usage; 3 endpoint unreachable; 4 no token or token refused.
 */
import { request } from 'node:http';
import type {
  ActionResult, AppPoolInfo, SiteInfo, WorkerProcessInfo,
} from '../admin/admin-server.js';
import type { ExecutingRequest } from '../admin/administered.js';

/** Exit codes of `w3core appcmd`. */
export const APPCMD_EXIT = Object.freeze({
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  UNAUTHORIZED: 4,
});

export const APPCMD_DEFAULT_ENDPOINT = 'http://127.0.0.1:8172';

export const APPCMD_USAGE = `Usage: w3core appcmd <verb> <object> [<identifier>] [/param:value ...] [--json]
                    [--endpoint http://127.0.0.1:<port>] [--token <token>]

  list sites     [<name>] [/site.name:<name>] [/state:Started|Stopped]
  list apppools  [<name>] [/apppool.name:<name>] [/state:Started|Stopped|...]
  list wp        [/apppool.name:<name>] [/wp.name:<id>]
  list requests  [/elapsed:<ms>] [/apppool.name:<name>] [/site.id:<id>] [/wp.name:<id>]
  start|stop|recycle apppool <name> | /apppool.name:<name>
  start|stop site <name> | /site.name:<name>

  --json       print the endpoint's JSON instead of appcmd lines
  --endpoint   admin endpoint (default: $W3CORE_ADMIN_URL or ${APPCMD_DEFAULT_ENDPOINT})
  --token      bearer token (default: $W3CORE_ADMIN_TOKEN)

Exit codes: 0 done, 1 refused or failed, 2 usage, 3 endpoint unreachable, 4 no token or token refused.`;

/** Where the command writes (process streams by default; tests may pass their own). */
export interface AppcmdIo {
  readonly env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
}

type ObjectKind = 'SITE' | 'APPPOOL' | 'WP' | 'REQUEST';

const OBJECTS: Readonly<Record<string, ObjectKind>> = {
  site: 'SITE', sites: 'SITE',
  apppool: 'APPPOOL', apppools: 'APPPOOL',
  wp: 'WP', wps: 'WP',
  request: 'REQUEST', requests: 'REQUEST',
};

/** Parameters each object accepts, as `/name:value` (lower-case) → query parameter of the endpoint. */
const LIST_PARAMS: Readonly<Record<ObjectKind, Readonly<Record<string, string>>>> = {
  SITE: { 'site.name': 'name', name: 'name', state: 'state' },
  APPPOOL: { 'apppool.name': 'name', name: 'name', state: 'state' },
  WP: { 'apppool.name': 'apppool', 'wp.name': 'id' },
  REQUEST: { elapsed: 'elapsed', 'apppool.name': 'apppool', 'site.id': 'site', 'wp.name': 'wp' },
};

const LIST_PATH: Readonly<Record<ObjectKind, string>> = { SITE: '/sites', APPPOOL: '/apppools', WP: '/wp', REQUEST: '/requests' };

/** An error that ends the command with a message and an exit code. */
class AppcmdFailure extends Error {
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const usage = (message: string) => new AppcmdFailure(APPCMD_EXIT.USAGE, `${message}\n${APPCMD_USAGE}`);

interface Parsed {
  readonly verb: string;
  readonly object: ObjectKind;
  readonly identifier: string | undefined;
  readonly params: ReadonlyMap<string, string>;
  readonly json: boolean;
  readonly endpoint: string;
  readonly token: string | undefined;
}

function parse(argv: readonly string[], env: NodeJS.ProcessEnv): Parsed {
  const positionals: string[] = [];
  const params = new Map<string, string>();
  let json = false;
  let endpoint: string | undefined;
  let token: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const option = /^--(json|endpoint|token)(?:=(.*))?$/s.exec(arg);
    if (option) {
      if (option[1] === 'json') {
        if (option[2] !== undefined) throw usage('--json takes no value');
        json = true;
        continue;
      }
      const value = option[2] ?? argv[++i];
      if (value === undefined) throw usage(`--${option[1]} needs a value`);
      if (option[1] === 'endpoint') endpoint = value;
      else token = value;
      continue;
    }
    if (arg.startsWith('--')) throw usage(`unknown option ${arg}`);
    const param = /^[/-]([A-Za-z][\w.]*)(?::(.*))?$/s.exec(arg);
    if (param && positionals.length >= 2) {
      params.set(param[1]!.toLowerCase(), stripQuotes(param[2] ?? ''));
      continue;
    }
    positionals.push(arg);
  }
  const [verbArg, objectArg, identifier, ...extra] = positionals;
  if (verbArg === undefined || objectArg === undefined) throw usage('a verb and an object are required');
  const verb = verbArg.toLowerCase();
  const object = OBJECTS[objectArg.toLowerCase()];
  if (object === undefined) throw usage(`Object '${objectArg.toUpperCase()}' is not supported.`);
  const allowed = verb === 'list' || ((verb === 'start' || verb === 'stop') && (object === 'SITE' || object === 'APPPOOL'))
    || (verb === 'recycle' && object === 'APPPOOL');
  if (!allowed) throw usage(`Command '${verb.toUpperCase()}' is not supported on object '${object}'.`);
  if (extra.length > 0) throw usage(`unexpected argument '${extra[0]}'`);
  return {
    verb, object, identifier: identifier === undefined ? undefined : stripQuotes(identifier), params, json,
    endpoint: endpoint ?? env.W3CORE_ADMIN_URL ?? APPCMD_DEFAULT_ENDPOINT,
    token: token ?? env.W3CORE_ADMIN_TOKEN,
  };
}

/** Quotes that survived the shell (`/apppool.name:"X"` typed in cmd.exe style) are not part of the name. */
function stripQuotes(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

interface EndpointAnswer {
  readonly status: number;
  readonly body: string;
}

/** One request to the endpoint; rejects with an {@link AppcmdFailure} for transport problems. */
function call(endpoint: string, method: 'GET' | 'POST', path: string, token: string, timeoutMs: number): Promise<EndpointAnswer> {
  let base: URL;
  try {
    base = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`);
  } catch {
    return Promise.reject(new AppcmdFailure(APPCMD_EXIT.USAGE, `ERROR ( message:'${endpoint}' is not an endpoint URL (e.g. ${APPCMD_DEFAULT_ENDPOINT}). )`));
  }
  if (!/^[\x21-\x7e]+$/.test(token)) {
    return Promise.reject(new AppcmdFailure(APPCMD_EXIT.UNAUTHORIZED, 'ERROR ( message:the admin token may only hold printable ASCII characters without spaces. )'));
  }
  if (!isLoopback(base.hostname)) {
    return Promise.reject(new AppcmdFailure(APPCMD_EXIT.USAGE, `ERROR ( message:the admin endpoint listens on loopback only; refusing to send the token to ${base.hostname}. )`));
  }
  if (base.protocol !== 'http:') {
    return Promise.reject(new AppcmdFailure(APPCMD_EXIT.USAGE, `ERROR ( message:the admin endpoint speaks http only, not ${base.protocol}. )`));
  }
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, agent: false, timeout: timeoutMs,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => reject(unreachable(base, err)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err) => reject(unreachable(base, err)));
    req.end();
  });
}

/** The admin endpoint binds 127.0.0.1: the token is never sent anywhere else. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]' || host === '::1';
}

function unreachable(base: URL, err: Error): AppcmdFailure {
  return new AppcmdFailure(APPCMD_EXIT.UNREACHABLE,
    `ERROR ( message:Cannot reach the w3core admin endpoint at ${base.origin}: ${err.message}. Is the server running with <w3coreAdmin enabled="true"/>? )`);
}

/** The body of a 2xx answer, or the failure the status stands for. */
function answerOf<T>(answer: EndpointAnswer): T {
  if (answer.status === 401) {
    throw new AppcmdFailure(APPCMD_EXIT.UNAUTHORIZED, 'ERROR ( message:The admin endpoint refused the token (401 Unauthorized). )');
  }
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    throw new AppcmdFailure(APPCMD_EXIT.FAILED, `ERROR ( message:The admin endpoint answered ${answer.status} with something that is not JSON. )`);
  }
  if (answer.status >= 200 && answer.status < 300) return body as T;
  const message = (body as { error?: { message?: unknown } }).error?.message;
  throw new AppcmdFailure(APPCMD_EXIT.FAILED, `ERROR ( message:${typeof message === 'string' ? message : `HTTP ${answer.status}`} )`);
}

/** `SITE "Name" (id:1,bindings:http/*:80:,state:Started)` */
export function formatSite(s: SiteInfo): string {
  return `SITE "${s.name}" (id:${s.id},bindings:${s.bindings.join(',')},state:${s.state})`;
}

/**
 * `APPPOOL "DefaultAppPool" (MgdVersion:,MgdMode:Integrated,state:Started)`. A Classic pool shows
 * `MgdMode:Classic`, as shipped appcmd does (an early DOCS walkthrough shows `ISAPI`).
 */
export function formatAppPool(p: AppPoolInfo): string {
  return `APPPOOL "${p.name}" (MgdVersion:${p.managedRuntimeVersion},MgdMode:${p.managedPipelineMode},state:${p.state})`;
}

/** `WP "3577" (apppool:DefaultAppPool)` */
export function formatWorkerProcess(w: WorkerProcessInfo): string {
  return `WP "${w.id}" (apppool:${w.appPoolName})`;
}

/** `REQUEST "<id>" (url:GET /x,time:4276 msec,client:127.0.0.1,stage:...,module:...)` */
export function formatRequest(r: ExecutingRequest): string {
  return `REQUEST "${r.requestId}" (url:${r.verb} ${r.url},time:${Math.round(r.timeElapsedMs)} msec,client:${r.clientIpAddress},`
    + `stage:${r.stage},module:${r.module})`;
}

const FORMAT: Readonly<Record<ObjectKind, (item: never) => string>> = {
  SITE: formatSite, APPPOOL: formatAppPool, WP: formatWorkerProcess, REQUEST: formatRequest,
};

/** Runs `w3core appcmd <args>` and returns its exit code. */
export async function runAppcmd(argv: readonly string[], io: AppcmdIo = processIo()): Promise<number> {
  try {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv.includes('/?')) {
      io.out(APPCMD_USAGE);
      return argv.length === 0 ? APPCMD_EXIT.USAGE : APPCMD_EXIT.OK;
    }
    const p = parse(argv, io.env);
    if (p.token === undefined || p.token === '') {
      throw new AppcmdFailure(APPCMD_EXIT.UNAUTHORIZED, 'ERROR ( message:No admin token: pass --token or set W3CORE_ADMIN_TOKEN. )');
    }
    if (p.verb === 'list') return await list(p, p.token, io);
    return await act(p, p.token, io);
  } catch (err) {
    if (!(err instanceof AppcmdFailure)) throw err;
    io.err(err.message);
    return err.code;
  }
}

async function list(p: Parsed, token: string, io: AppcmdIo): Promise<number> {
  const query = new URLSearchParams();
  const accepted = LIST_PARAMS[p.object];
  for (const [name, value] of p.params) {
    const key = accepted[name];
    if (key === undefined) throw usage(`parameter /${name} does not apply to list ${p.object.toLowerCase()}`);
    query.set(key, value);
  }
  if (p.identifier !== undefined) {
    if (p.object !== 'SITE' && p.object !== 'APPPOOL') throw usage(`list ${p.object.toLowerCase()} takes no identifier; use parameters`);
    query.set('name', p.identifier);
  }
  const qs = query.toString();
  const items = answerOf<unknown[]>(await call(p.endpoint, 'GET', `${LIST_PATH[p.object]}${qs ? `?${qs}` : ''}`, token, 30_000));
  if (p.json) io.out(JSON.stringify(items, null, 2));
  else for (const item of items) io.out(FORMAT[p.object](item as never));
  // appcmd: naming an object that does not exist lists nothing and fails.
  return items.length === 0 && query.has('name') ? APPCMD_EXIT.FAILED : APPCMD_EXIT.OK;
}

async function act(p: Parsed, token: string, io: AppcmdIo): Promise<number> {
  const key = p.object === 'SITE' ? 'site.name' : 'apppool.name';
  const name = p.identifier ?? p.params.get(key) ?? p.params.get('name');
  for (const param of p.params.keys()) {
    if (param !== key && param !== 'name') throw usage(`parameter /${param} does not apply to ${p.verb} ${p.object.toLowerCase()}`);
  }
  if (name === undefined || name === '') {
    throw new AppcmdFailure(APPCMD_EXIT.USAGE, `ERROR ( message:Must specify the ${p.object} object with identifier. )`);
  }
  const path = `/${p.object === 'SITE' ? 'sites' : 'apppools'}/${encodeURIComponent(name)}/${p.verb}`;
  // A stop waits for the pool's workers to finish (up to shutdownTimeLimit, 90 s by default).
  const result = answerOf<ActionResult>(await call(p.endpoint, 'POST', path, token, 600_000));
  io.out(p.json ? JSON.stringify(result, null, 2) : result.message);
  return APPCMD_EXIT.OK;
}

function processIo(): AppcmdIo {
  return {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

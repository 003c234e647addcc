import { statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readRequired, readString } from '../config/attributes.js';
import type { ConfigNode } from '../config/config-node.js';
import { ConfigError } from '../errors.js';
import { BUILT_IN_MODULES } from '../modules/index.js';
import type { HttpModule, RegisteredModule } from '../pipeline/module.js';

const imported = new Map<string, Promise<Record<string, unknown>>>();

async function importFile(file: string): Promise<Record<string, unknown>> {
  // The modification time is part of the key (and of the URL, past Node's module cache), so a
  // module file that was fixed or changed is loaded afresh when its application restarts.
  let version = 0;
  try {
    version = statSync(file).mtimeMs;
  } catch {
    // let the import report the missing file
  }
  const key = `${file}?${version}`;
  let p = imported.get(key);
  if (!p) {
    const url = `${pathToFileURL(file).href}?w3core=${version}`;
    if (/\.[mc]?tsx?$/.test(file)) {
      // TypeScript modules are compiled on load (tsx/esbuild), once per worker and version.
      p = import('tsx/esm/api').then((api) => api.tsImport(url, import.meta.url) as Promise<Record<string, unknown>>);
    } else {
      p = import(url) as Promise<Record<string, unknown>>;
    }
    imported.set(key, p);
    p.catch(() => imported.delete(key));
  }
  return p;
}

/**
 * Loads one module named in configuration. `type` (or `image` for globalModules) is
 * `path#Export`, relative to the file that declared it; `.ts` files are compiled on load.
 * A class is instantiated once (the module factory); an object is used as it is.
 */
export async function loadModule(entry: ConfigNode, attribute: 'type' | 'image'): Promise<RegisteredModule> {
  const name = readRequired(entry, 'name', 'add');
  const spec = readString(entry, attribute, '');
  if (!spec) {
    const builtIn = BUILT_IN_MODULES.get(name);
    if (!builtIn) {
      throw new ConfigError(entry.position.file, entry.position.line, 'name',
        `'${name}' is not a built-in module and has no ${attribute}="./file.ts#Export"`);
    }
    return { name, module: builtIn, builtIn: true };
  }
  const at = entry.attributes.get(attribute)!;
  const hash = spec.lastIndexOf('#');
  const pathPart = hash > 0 ? spec.slice(0, hash) : spec;
  const exportName = hash > 0 ? spec.slice(hash + 1) : 'default';
  const file = isAbsolute(pathPart) ? pathPart : resolve(dirname(at.file), pathPart);
  let ns: Record<string, unknown>;
  try {
    ns = await importFile(file);
  } catch (err) {
    throw new ConfigError(at.file, at.line, attribute, `cannot load module '${name}' from ${file}: ${(err as Error).message}`);
  }
  // tsImport of an ESM file can wrap the namespace under `default` in some loaders.
  const value = ns[exportName] ?? (ns.default as Record<string, unknown> | undefined)?.[exportName];
  if (value === undefined || value === null) {
    throw new ConfigError(at.file, at.line, attribute, `${file} has no export named '${exportName}'`);
  }
  let module: HttpModule;
  if (typeof value === 'function') {
    try {
      module = new (value as new (init: { name: string }) => HttpModule)({ name });
    } catch (err) {
      throw new ConfigError(at.file, at.line, attribute, `module '${name}' failed to initialise: ${(err as Error).message}`);
    }
  } else if (typeof value === 'object') {
    module = value as HttpModule;
  } else {
    throw new ConfigError(at.file, at.line, attribute, `export '${exportName}' of ${file} is not a module class or object`);
  }
  return { name, module, builtIn: false };
}

/** Loads every module of a `<modules>` (or `<globalModules>`) collection, in order. */
export async function loadModules(section: ConfigNode | undefined, attribute: 'type' | 'image'): Promise<RegisteredModule[]> {
  const out: RegisteredModule[] = [];
  for (const entry of section?.entries ?? []) out.push(await loadModule(entry, attribute));
  return out;
}

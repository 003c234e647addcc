import { readFileSync, realpathSync, type Stats } from 'node:fs';

/**
 * The worker's file cache, in the role of IIS's FileCacheModule (cachfile.dll): real paths and
 * the bytes of small files, so a hot static file costs neither a `realpath` walk (one lstat per
 * path segment) nor three thread-pool round trips on the listener to open, read and close it.
 *
 * Entries are checked against the file's `stat` (size and mtime) on every use, and real paths
 * are re-resolved at least once per {@link REVALIDATE_MS}. Files above {@link MAX_CACHED_FILE}
 * are never read here: they travel as file chunks and the listener streams them.
 */
export const MAX_CACHED_FILE = 64 * 1024;
const MAX_TOTAL = 32 * 1024 * 1024;
const MAX_PATHS = 8192;
const REVALIDATE_MS = 1000;

const contents = new Map<string, { mtimeMs: number; size: number; data: Buffer }>();
let totalBytes = 0;
const realPaths = new Map<string, { at: number; real: string }>();

/** `fs.realpathSync`, remembered for up to a second. Throws as realpathSync does. */
export function realpathCached(path: string): string {
  const now = Date.now();
  const hit = realPaths.get(path);
  if (hit && now - hit.at < REVALIDATE_MS) return hit.real;
  const real = realpathSync(path);
  if (realPaths.size >= MAX_PATHS) realPaths.delete(realPaths.keys().next().value!);
  realPaths.set(path, { at: now, real });
  return real;
}

/** The bytes of a small regular file whose `stat` is given, or undefined when it is too large. */
export function readSmallFile(path: string, stat: Stats): Buffer | undefined {
  if (stat.size > MAX_CACHED_FILE) return undefined;
  const hit = contents.get(path);
  if (hit && hit.mtimeMs === stat.mtimeMs && hit.size === stat.size) {
    // Refresh the LRU position: Map iteration order is insertion order.
    contents.delete(path);
    contents.set(path, hit);
    return hit.data;
  }
  const data = readFileSync(path);
  if (data.byteLength !== stat.size) return undefined; // changed while being read: stream it instead
  if (hit) totalBytes -= hit.size;
  contents.delete(path);
  contents.set(path, { mtimeMs: stat.mtimeMs, size: stat.size, data });
  totalBytes += data.byteLength;
  for (const [key, entry] of contents) {
    if (totalBytes <= MAX_TOTAL) break;
    contents.delete(key);
    totalBytes -= entry.size;
  }
  return data;
}

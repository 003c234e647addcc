import { writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import { ConfigError, startServer } from '../../dist/index.js';

/** Asserts that `caught` is a ConfigError naming this file, line and attribute (and detail). */
export function checkConfigError(
  caught: unknown, file: string, line: number, attribute: string | undefined, detail?: RegExp,
): ConfigError {
  expect(caught, 'expected a ConfigError').toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect([err.file, err.line, err.attribute]).toEqual([file, line, attribute]);
  const prefix = attribute ? `${file}:${line} attribute '${attribute}': ` : `${file}:${line}: `;
  expect(err.message.startsWith(prefix), `message "${err.message}" should start with "${prefix}"`).toBe(true);
  if (detail) expect(err.detail).toMatch(detail);
  return err;
}

/** Asserts that `fn` throws a ConfigError naming this file, line and attribute (and detail). */
export function expectConfigError(
  fn: () => unknown, file: string, line: number, attribute: string | undefined, detail?: RegExp,
): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  return checkConfigError(caught, file, line, attribute, detail);
}

/** Writes `text` to `file`, starts a server from it and returns the error start-up failed with. */
export async function startupError(file: string, text: string): Promise<Error> {
  writeFileSync(file, text);
  try {
    const server = await startServer({ configFile: file });
    await server.stop();
  } catch (err) {
    return err as Error;
  }
  throw new Error('the server started');
}

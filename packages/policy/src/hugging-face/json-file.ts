import { readFile } from 'node:fs/promises';
import { ConfigError, formatValue, InvalidArgumentError } from '@hicra/spec';

export const SOURCE = '@hicra/policy';

/**
 * A `ConfigError` about one key of a model folder's file. The message reads
 * `config key <key>: <file>: <problem>`; `key` is `''` for the file as a whole.
 */
export function fileConfigError(
  file: string,
  key: string,
  problem: string,
  cause?: unknown,
): ConfigError {
  return new ConfigError(key, `${file}: ${problem}`, {
    source: SOURCE,
    details: { file },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Checks the folder argument of the `read...(dir)` functions. */
export function checkDir(dir: unknown, caller: string): asserts dir is string {
  if (typeof dir !== 'string' || dir.length === 0)
    throw new InvalidArgumentError(
      `${caller}: dir must be a non-empty string, got ${formatValue(dir)}`,
      {
        source: SOURCE,
        details: { argument: 'dir', actual: dir === null ? 'null' : typeof dir },
      },
    );
}

/** The text of `file`, or `undefined` when it does not exist. */
export async function readOptionalText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw fileConfigError(file, '', `cannot be read (${code ?? String(error)})`, error);
  }
}

/** `file` parsed as a JSON object, or `undefined` when it does not exist. */
export async function readOptionalJsonObject(
  file: string,
): Promise<Record<string, unknown> | undefined> {
  const text = await readOptionalText(file);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw fileConfigError(file, '', `is not valid JSON (${(error as Error).message})`, error);
  }
  if (!isPlainObject(value)) throw fileConfigError(file, '', 'must hold a JSON object');
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

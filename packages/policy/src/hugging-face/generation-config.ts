import { join, resolve } from 'node:path';
import { formatValue } from '@hicra/spec';
import { checkDir, fileConfigError, isPlainObject, readOptionalJsonObject } from './json-file.js';

/**
 * The generation settings a Hugging Face model folder ships in `generation_config.json`, read by
 * {@link readGenerationConfig}. Each optional field is present only when the file sets it (a
 * `null` counts as unset, as in transformers); the folder's defaults, not hicra's.
 */
export interface GenerationDefaults {
  /** `eos_token_id`: one id or a list of them, as a list (empty when unset). */
  readonly eosTokenIds: readonly number[];
  /** `bos_token_id`. */
  readonly bosTokenId?: number;
  /** `pad_token_id`. */
  readonly padTokenId?: number;
  /** `temperature`, at least 0. */
  readonly temperature?: number;
  /** `top_p`, in (0, 1]. */
  readonly topP?: number;
  /** `top_k`, an integer of at least 0 (0 switches it off). */
  readonly topK?: number;
  /** `do_sample`: false asks for greedy decoding. */
  readonly doSample?: boolean;
  /** `max_new_tokens`, a positive integer. */
  readonly maxNewTokens?: number;
  /** `repetition_penalty`, positive (1 is none). */
  readonly repetitionPenalty?: number;
}

const GENERATION_CONFIG = 'generation_config.json';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Reads `generation_config.json` in the model folder `dir`; `undefined` when there is none.
 *
 * The keys above are validated; every other key (transformers writes many) is ignored. A file
 * that is not a JSON object, or a key of the wrong type or out of range (`eos_token_id: "2"`,
 * a negative id, `top_p: 0`), throws a `ConfigError` naming the file and the key.
 */
export async function readGenerationConfig(dir: string): Promise<GenerationDefaults | undefined> {
  checkDir(dir, 'readGenerationConfig');
  const file = join(resolve(dir), GENERATION_CONFIG);
  const config = await readOptionalJsonObject(file);
  if (config === undefined) return undefined;

  const result: Mutable<GenerationDefaults> = { eosTokenIds: eosTokenIdsOf(config, file) };
  const bos = optionalTokenId(config, 'bos_token_id', file);
  if (bos !== undefined) result.bosTokenId = bos;
  const pad = optionalTokenId(config, 'pad_token_id', file);
  if (pad !== undefined) result.padTokenId = pad;

  const temperature = optionalNumber(
    config,
    'temperature',
    file,
    (v) => v >= 0,
    'a number of at least 0',
  );
  if (temperature !== undefined) result.temperature = temperature;
  const topP = optionalNumber(config, 'top_p', file, (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  if (topP !== undefined) result.topP = topP;
  const topK = optionalNumber(
    config,
    'top_k',
    file,
    (v) => Number.isInteger(v) && v >= 0,
    'an integer of at least 0',
  );
  if (topK !== undefined) result.topK = topK;
  const maxNewTokens = optionalNumber(
    config,
    'max_new_tokens',
    file,
    (v) => Number.isInteger(v) && v >= 1,
    'a positive integer',
  );
  if (maxNewTokens !== undefined) result.maxNewTokens = maxNewTokens;
  const penalty = optionalNumber(
    config,
    'repetition_penalty',
    file,
    (v) => v > 0,
    'a positive number',
  );
  if (penalty !== undefined) result.repetitionPenalty = penalty;

  const doSample = config['do_sample'];
  if (doSample !== undefined && doSample !== null) {
    if (typeof doSample !== 'boolean')
      throw fileConfigError(
        file,
        'do_sample',
        `must be true or false, got ${formatValue(doSample)}`,
      );
    result.doSample = doSample;
  }
  return result;
}

/**
 * The end-of-sequence ids of a parsed Hugging Face config (`config.json` or
 * `generation_config.json`): its `eos_token_id`, one id or a list of them, as a list; empty when
 * the key is absent or `null`. `file` names the file in errors: a value that is not a
 * non-negative integer or a list of them throws a `ConfigError` naming it and the key.
 */
export function eosTokenIdsOf(
  config: Readonly<Record<string, unknown>>,
  file = 'config.json',
): number[] {
  if (!isPlainObject(config))
    throw fileConfigError(file, '', `must be a JSON object, got ${formatValue(config)}`);
  const value = config['eos_token_id'];
  if (value === undefined || value === null) return [];
  if (isTokenId(value)) return [value];
  if (!Array.isArray(value))
    throw fileConfigError(
      file,
      'eos_token_id',
      `must be a non-negative integer or a list of them, got ${formatValue(value)}`,
    );
  value.forEach((id, i) => {
    if (!isTokenId(id))
      throw fileConfigError(
        file,
        `eos_token_id[${i}]`,
        `must be a non-negative integer, got ${formatValue(id)}`,
      );
  });
  return [...(value as number[])];
}

function isTokenId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function optionalTokenId(
  config: Record<string, unknown>,
  key: string,
  file: string,
): number | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (!isTokenId(value))
    throw fileConfigError(file, key, `must be a non-negative integer, got ${formatValue(value)}`);
  return value;
}

function optionalNumber(
  config: Record<string, unknown>,
  key: string,
  file: string,
  valid: (value: number) => boolean,
  expected: string,
): number | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw fileConfigError(file, key, `must be a finite number, got ${formatValue(value)}`);
  if (!valid(value))
    throw fileConfigError(file, key, `must be ${expected}, got ${formatValue(value)}`);
  return value;
}

import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, CorruptFileError, InvalidArgumentError } from '@hicra/spec';
import { tf, type Variable } from '@hicra/tensor';
import { modelFolderKind } from '../hugging-face/config.js';
import { loadHuggingFaceModel } from '../hugging-face/load.js';
import {
  parameterShapes,
  resolveTransformerConfig,
  type TransformerConfig,
} from '../model/config.js';
import { Transformer, uniqueVariableName } from '../model/transformer.js';
import { HuggingFaceTokenizer } from '../tokenizers/hugging-face-tokenizer.js';
import { WordTokenizer } from '../tokenizers/word-tokenizer.js';
import { TransformerPolicy, type TransformerPolicyOptions } from '../transformer-policy.js';
import { swapPrefix, writeFolderBySwap } from './folder-swap.js';
import { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from './safetensors.js';

const SOURCE = '@hicra/policy';

/** `config.json`'s `schema` value. */
export const POLICY_CHECKPOINT_SCHEMA = 'hicra.policy-checkpoint.v1';

/** The files of a policy checkpoint folder. */
export const CHECKPOINT_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  tokenizer: 'tokenizer.json',
} as const;

const CHECKPOINT_FILES_BY_NAME: Readonly<Record<string, true>> = Object.fromEntries(
  [...Object.values(CHECKPOINT_FILES), 'tokenizer_config.json'].map((name) => [name, true]),
);

/** A tokenizer a checkpoint can carry. */
export type CheckpointTokenizer = WordTokenizer | HuggingFaceTokenizer;

interface CheckpointConfigJson {
  readonly schema: typeof POLICY_CHECKPOINT_SCHEMA;
  readonly model: TransformerConfig;
  readonly padId: number;
  readonly tokenizer: 'word' | 'huggingface' | null;
  /** Free-form strings (training step, task, seed). */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface SaveCheckpointOptions {
  readonly tokenizer?: CheckpointTokenizer;
  /**
   * More files saved in the same atomic swap (a trainer's state and optimizer moments), by
   * file name. They replace files of the same name already in the folder.
   */
  readonly extraFiles?: Readonly<Record<string, string | Uint8Array>>;
  /** Free-form strings stored in config.json and the safetensors header. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Saves a policy to a folder: `config.json` (architecture, pad id, tokenizer kind, metadata),
 * `model.safetensors` (float32 weights under their parameter names), and the tokenizer
 * (`tokenizer.json`: the word tokenizer's JSON, or a copy of the Hugging Face file, with its
 * `tokenizer_config.json` when present). The folder is written whole in a staging folder next
 * to it, then swapped in with renames: a save that fails leaves an existing checkpoint as it was.
 * Other files already in the folder (a trainer's state) are carried over.
 */
export async function saveCheckpoint(
  directory: string,
  policy: TransformerPolicy,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  const owned = new Set([...Object.values(CHECKPOINT_FILES), 'tokenizer_config.json']);
  // Files this save does not own (e.g. the trainer's state) are carried over.
  await writeFolderBySwap(
    directory,
    async (staging) => {
      const metadata = { ...(options.metadata ?? {}) };
      for (const [key, value] of Object.entries(metadata)) {
        if (typeof value !== 'string') {
          throw new InvalidArgumentError(
            `saveCheckpoint: metadata.${key} must be a string, got ${typeof value}`,
            { source: SOURCE },
          );
        }
      }
      const entries = new Map<
        string,
        { dtype: 'F32'; shape: number[]; data: () => Float32Array }
      >();
      for (const [name, variable] of policy.model.parameters()) {
        entries.set(name, {
          dtype: 'F32',
          shape: [...variable.shape],
          data: () => variable.dataSync() as Float32Array,
        });
      }
      await writeSafetensorsFile(join(staging, CHECKPOINT_FILES.weights), entries, {
        format: 'pt',
        ...metadata,
      });
      let tokenizerKind: CheckpointConfigJson['tokenizer'] = null;
      if (options.tokenizer instanceof WordTokenizer) {
        tokenizerKind = 'word';
        await writeFileAtomic(
          join(staging, CHECKPOINT_FILES.tokenizer),
          `${JSON.stringify(options.tokenizer.toJSON())}\n`,
        );
      } else if (options.tokenizer instanceof HuggingFaceTokenizer) {
        tokenizerKind = 'huggingface';
        await copyFile(options.tokenizer.file, join(staging, CHECKPOINT_FILES.tokenizer));
        const companion = join(dirname(options.tokenizer.file), 'tokenizer_config.json');
        if (existsSync(companion))
          await copyFile(companion, join(staging, 'tokenizer_config.json'));
      } else if (options.tokenizer !== undefined) {
        throw new InvalidArgumentError(
          'saveCheckpoint: tokenizer must be a WordTokenizer or a HuggingFaceTokenizer',
          { source: SOURCE },
        );
      }
      const config: CheckpointConfigJson = {
        schema: POLICY_CHECKPOINT_SCHEMA,
        model: policy.config,
        padId: policy.padId,
        tokenizer: tokenizerKind,
        metadata,
      };
      await writeFileAtomic(
        join(staging, CHECKPOINT_FILES.config),
        `${JSON.stringify(config, null, 2)}\n`,
      );
      for (const [name, data] of Object.entries(options.extraFiles ?? {})) {
        if (name !== basename(name) || name.startsWith('.') || name in CHECKPOINT_FILES_BY_NAME) {
          throw new InvalidArgumentError(
            `saveCheckpoint: extraFiles name ${JSON.stringify(name)} must be a plain file name not used by the checkpoint itself`,
            { source: SOURCE },
          );
        }
        await writeFileAtomic(join(staging, name), data);
      }
    },
    (file) => !owned.has(file),
  );
}

/** What {@link recoverCheckpointSwap} did. */
export interface CheckpointSwapRecovery {
  /** True when the checkpoint folder was missing and a retired one was put back in its place. */
  readonly recovered: boolean;
  /** The retired folder that became the checkpoint folder, when `recovered`. */
  readonly recoveredFrom?: string;
  /** Leftover staging and retired folders removed (absolute paths). */
  readonly removed: readonly string[];
}

/**
 * Cleans up after a {@link saveCheckpoint} that was interrupted (the process killed) before its
 * swap finished. The save writes `.<name>.saving-<stamp>` beside the folder, renames the current
 * folder to `.<name>.old-<stamp>`, renames the staging folder into place and removes the old one;
 * a crash between the two renames leaves no checkpoint folder at all. Here: when the folder is
 * missing, the newest `.old-*` folder (the last complete checkpoint) becomes it again; every other
 * `.old-*` folder (superseded) and every `.saving-*` folder (an unfinished save) is removed.
 * Call it while no save to this folder is in progress (a run holds its directory's lock).
 */
export async function recoverCheckpointSwap(directory: string): Promise<CheckpointSwapRecovery> {
  const target = resolve(directory);
  const parent = dirname(target);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { recovered: false, removed: [] };
    throw error;
  }
  const retiredPrefix = swapPrefix(target, 'old');
  const stagingPrefix = swapPrefix(target, 'saving');
  const retired: { path: string; modified: number }[] = [];
  const leftovers: string[] = [];
  for (const name of names) {
    if (name.startsWith(retiredPrefix)) {
      const path = join(parent, name);
      const info = await stat(path);
      if (info.isDirectory()) retired.push({ path, modified: info.mtimeMs });
    } else if (name.startsWith(stagingPrefix)) leftovers.push(join(parent, name));
  }
  let recoveredFrom: string | undefined;
  if (!existsSync(target) && retired.length > 0) {
    // Newest content first: a folder's mtime is when its last file was written.
    retired.sort((a, b) => b.modified - a.modified || (a.path < b.path ? 1 : -1));
    recoveredFrom = retired.shift()!.path;
    await rename(recoveredFrom, target);
  }
  leftovers.push(...retired.map(({ path }) => path));
  leftovers.sort();
  for (const path of leftovers) await rm(path, { recursive: true, force: true });
  return {
    recovered: recoveredFrom !== undefined,
    ...(recoveredFrom === undefined ? {} : { recoveredFrom }),
    removed: leftovers,
  };
}

export interface LoadedCheckpoint {
  readonly policy: TransformerPolicy;
  readonly tokenizer?: CheckpointTokenizer;
  readonly metadata: Readonly<Record<string, string>>;
  /** `hicra`: a folder written by {@link saveCheckpoint}; `huggingface`: a Hugging Face model folder. */
  readonly format: 'hicra' | 'huggingface';
  /** A Hugging Face model's end-of-sequence ids (absent for hicra checkpoints). */
  readonly stopTokenIds?: readonly number[];
}

/**
 * Loads a checkpoint saved by {@link saveCheckpoint}, or a Hugging Face model folder (a
 * `config.json` with a `model_type`, read by {@link loadHuggingFaceModel}). Every parameter's name, shape and dtype is
 * checked against the architecture in config.json, and every weight must be finite; a missing,
 * truncated or inconsistent file, or a NaN/Infinity weight, is a `CorruptFileError` that names
 * the file and the problem (for a weight: the tensor, the first bad index and its value).
 */
export async function loadCheckpoint(
  directory: string,
  options: TransformerPolicyOptions = {},
): Promise<LoadedCheckpoint> {
  const folder = resolve(directory);
  const configPath = join(folder, CHECKPOINT_FILES.config);
  if (!existsSync(configPath)) {
    throw new CorruptFileError(
      `${configPath}: not found; is ${folder} a policy checkpoint folder?`,
      {
        source: SOURCE,
        details: { path: configPath },
      },
    );
  }
  let json: CheckpointConfigJson;
  try {
    json = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (error) {
    throw new CorruptFileError(`${configPath}: not valid JSON (${(error as Error).message})`, {
      source: SOURCE,
      details: { path: configPath },
    });
  }
  if (modelFolderKind(json) === 'huggingface') {
    const loaded = await loadHuggingFaceModel(folder, options);
    return {
      policy: loaded.policy,
      ...(loaded.tokenizer ? { tokenizer: loaded.tokenizer } : {}),
      metadata: {},
      format: 'huggingface',
      stopTokenIds: loaded.stopTokenIds,
    };
  }
  if (json?.schema !== POLICY_CHECKPOINT_SCHEMA) {
    throw new CorruptFileError(
      `${configPath}: schema must be "${POLICY_CHECKPOINT_SCHEMA}" (a hicra checkpoint), got ${JSON.stringify(json?.schema)}; a Hugging Face model folder's config.json has a "model_type" instead`,
      {
        source: SOURCE,
        details: { path: configPath },
      },
    );
  }
  let config: TransformerConfig;
  try {
    config = resolveTransformerConfig(json.model);
  } catch (error) {
    if (ConfigError.isInstance(error)) {
      throw new CorruptFileError(
        `${configPath}: model.${(error as ConfigError).path}: ${error.message}`,
        { source: SOURCE, cause: error },
      );
    }
    throw error;
  }
  // The tokenizer first: a missing or broken one fails before any tensor is allocated.
  let tokenizer: CheckpointTokenizer | undefined;
  const tokenizerPath = join(folder, CHECKPOINT_FILES.tokenizer);
  if (json.tokenizer === 'word' || json.tokenizer === 'huggingface') {
    if (!existsSync(tokenizerPath)) {
      throw new CorruptFileError(
        `${tokenizerPath}: not found, but ${CHECKPOINT_FILES.config} says the checkpoint carries a ${json.tokenizer === 'word' ? 'word' : 'Hugging Face'} tokenizer`,
        { source: SOURCE, details: { path: tokenizerPath } },
      );
    }
    tokenizer =
      json.tokenizer === 'word'
        ? WordTokenizer.fromJSON(await readFile(tokenizerPath, 'utf8'))
        : await HuggingFaceTokenizer.load(folder);
  }
  const closeTokenizer = async () => {
    if (tokenizer instanceof HuggingFaceTokenizer) await tokenizer.close();
  };
  const weightsPath = join(folder, CHECKPOINT_FILES.weights);
  if (!existsSync(weightsPath)) {
    await closeTokenizer();
    throw new CorruptFileError(`${weightsPath}: not found`, {
      source: SOURCE,
      details: { path: weightsPath },
    });
  }
  let content: Awaited<ReturnType<typeof readSafetensorsFile>>;
  try {
    content = await readSafetensorsFile(weightsPath);
  } catch (error) {
    await closeTokenizer();
    throw error;
  }
  const expected = parameterShapes(config);
  const names = new Set(expected.map(([name]) => name));
  for (const name of content.tensors.keys()) {
    if (!names.has(name)) {
      await closeTokenizer();
      throw new CorruptFileError(
        `${weightsPath}: unexpected tensor "${name}" for this architecture`,
        { source: SOURCE, details: { path: weightsPath, name } },
      );
    }
  }
  const params = new Map<string, Variable>();
  try {
    for (const [name, shape] of expected) {
      const tensor = content.tensors.get(name);
      if (tensor === undefined)
        throw new CorruptFileError(`${weightsPath}: missing tensor "${name}"`, {
          source: SOURCE,
          details: { path: weightsPath, name },
        });
      if (tensor.dtype !== 'F32') {
        throw new CorruptFileError(
          `${weightsPath}: tensor "${name}" has dtype ${tensor.dtype}, expected F32`,
          { source: SOURCE, details: { path: weightsPath, name } },
        );
      }
      if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
        throw new CorruptFileError(
          `${weightsPath}: tensor "${name}" has shape [${tensor.shape.join(', ')}], expected [${shape.join(', ')}]`,
          {
            source: SOURCE,
            details: { path: weightsPath, name, shape: tensor.shape, expected: shape },
          },
        );
      }
      const data = tensor.data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) {
          // Found late otherwise: sampling fails steps later on a NaN categorical weight.
          const element = shape.map((_, axis) => {
            const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
            return Math.floor(i / stride) % shape[axis]!;
          });
          throw new CorruptFileError(
            `${weightsPath}: tensor "${name}" holds ${data[i]} at index ${i} (element [${element.join(', ')}] of shape [${shape.join(', ')}]); checkpoint weights must be finite (the file is garbled, or was saved from a run that diverged)`,
            {
              source: SOURCE,
              details: { path: weightsPath, name, index: i, value: String(data[i]) },
            },
          );
        }
      }
      const initial = tf.tensor(data, shape, 'float32');
      params.set(name, tf.variable(initial, true, uniqueVariableName(name)));
      initial.dispose();
    }
  } catch (error) {
    for (const variable of params.values()) variable.dispose();
    await closeTokenizer();
    throw error;
  }
  const policy = new TransformerPolicy(Transformer.fromVariables(config, params), {
    padId: json.padId,
    ...options,
  });
  if (tokenizer !== undefined && tokenizer.vocabSize !== config.vocabSize) {
    policy.dispose();
    if (tokenizer instanceof HuggingFaceTokenizer) await tokenizer.close();
    throw new CorruptFileError(
      `${tokenizerPath}: the tokenizer has ${tokenizer.vocabSize} ids but the model's vocabulary is ${config.vocabSize}`,
      {
        source: SOURCE,
        details: { path: tokenizerPath },
      },
    );
  }
  return {
    policy,
    ...(tokenizer ? { tokenizer } : {}),
    metadata: json.metadata ?? {},
    format: 'hicra',
  };
}

/**
 * The tokenizer of a model folder without its weights: a hicra checkpoint's (word or Hugging
 * Face), or a Hugging Face model folder's `tokenizer.json`. `undefined` when the folder has
 * none. Close a `HuggingFaceTokenizer` when done.
 */
export async function loadCheckpointTokenizer(
  directory: string,
): Promise<CheckpointTokenizer | undefined> {
  const folder = resolve(directory);
  const configPath = join(folder, CHECKPOINT_FILES.config);
  let json: { schema?: unknown; tokenizer?: unknown };
  try {
    json = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CorruptFileError(
      `${configPath}: ${code === 'ENOENT' ? `not found; is ${folder} a model folder?` : `unreadable or not JSON (${(error as Error).message})`}`,
      { source: SOURCE, details: { path: configPath } },
    );
  }
  const tokenizerPath = join(folder, CHECKPOINT_FILES.tokenizer);
  if (json?.schema === POLICY_CHECKPOINT_SCHEMA) {
    if (json.tokenizer === 'word')
      return WordTokenizer.fromJSON(await readFile(tokenizerPath, 'utf8'));
    if (json.tokenizer === 'huggingface') return HuggingFaceTokenizer.load(folder);
    return undefined;
  }
  if (modelFolderKind(json) === 'huggingface')
    return existsSync(tokenizerPath) ? HuggingFaceTokenizer.load(folder) : undefined;
  throw new CorruptFileError(
    `${configPath}: neither a hicra checkpoint (schema "${POLICY_CHECKPOINT_SCHEMA}") nor a Hugging Face model (model_type)`,
    { source: SOURCE, details: { path: configPath } },
  );
}

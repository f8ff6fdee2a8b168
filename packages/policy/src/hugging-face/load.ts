/**
 * Loading and saving Hugging Face model folders (Qwen2, Qwen3, Llama): `config.json`,
 * `model.safetensors` or sharded `model-0000N-of-0000M.safetensors` with
 * `model.safetensors.index.json`, and the optional `tokenizer.json`, `tokenizer_config.json`,
 * `generation_config.json` and chat template.
 */
import { existsSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, CorruptFileError, InvalidArgumentError } from '@hicra/spec';
import { float32ToBfloat16, float32ToFloat16 } from '../checkpoint/float-formats.js';
import { writeFolderBySwap } from '../checkpoint/folder-swap.js';
import type { SafetensorsTensorInput } from '../checkpoint/safetensors.js';
import { writeFileAtomic } from '../checkpoint/safetensors.js';
import { openSafetensorsModel, writeSafetensorsModel } from '../checkpoint/safetensors-model.js';
import { checkModelFits, type MemoryPurpose } from '../model/memory.js';
import { Transformer } from '../model/transformer.js';
import { HuggingFaceTokenizer } from '../tokenizers/hugging-face-tokenizer.js';
import { TransformerPolicy, type TransformerPolicyOptions } from '../transformer-policy.js';
import { type ChatTemplate, readChatTemplate } from './chat-template.js';
import {
  type HuggingFaceConfig,
  type HuggingFaceDtype,
  huggingFaceConfigJson,
  huggingFaceModelTypeOf,
  modelFolderKind,
  parseHuggingFaceConfig,
} from './config.js';
import { type GenerationDefaults, readGenerationConfig } from './generation-config.js';
import { huggingFaceTensors, readHuggingFaceWeights } from './weights.js';

const SOURCE = '@hicra/policy';

/** Tokenizer and generation files copied along when a model is saved from a loaded folder. */
export const HUGGING_FACE_SIDE_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'chat_template.jinja',
  'chat_template.json',
] as const;

export interface LoadHuggingFaceModelOptions extends TransformerPolicyOptions {
  /** Longest prompt + response to allow. Default: the config's `max_position_embeddings`. */
  readonly contextLength?: number;
  /** Load `tokenizer.json` when the folder has one. Default true. */
  readonly tokenizer?: boolean;
  /** Bytes the model may take (default: what the backend can address; see `checkModelFits`). */
  readonly memoryLimitBytes?: number;
  /**
   * What the model is loaded for, for the memory check before loading: `run` (default: hold it
   * and run forward passes), `hold` (the weights only, e.g. to convert them) or `train`.
   */
  readonly purpose?: MemoryPurpose;
}

export interface LoadedHuggingFaceModel {
  /** The model, as `PolicyV1` and `DifferentiablePolicy`. Dispose it when done. */
  readonly policy: TransformerPolicy;
  /** The parsed `config.json` (with the raw object, for saving back). */
  readonly config: HuggingFaceConfig;
  /** The folder's tokenizer (close it when done), when it has one and it was asked for. */
  readonly tokenizer?: HuggingFaceTokenizer;
  /** `generation_config.json`, when present. */
  readonly generation?: GenerationDefaults;
  /** The chat template, when the folder has one (render it to format a conversation). */
  readonly chatTemplate?: ChatTemplate;
  /** The ids that end a response: `generation_config.json`'s `eos_token_id`, else config.json's. */
  readonly stopTokenIds: readonly number[];
  /** The folder, absolute. */
  readonly directory: string;
}

/** True when `directory` holds a Hugging Face model (a `config.json` with a `model_type`). */
export async function isHuggingFaceModelFolder(directory: string): Promise<boolean> {
  try {
    const json = JSON.parse(await readFile(join(directory, 'config.json'), 'utf8'));
    return modelFolderKind(json) === 'huggingface';
  } catch {
    return false;
  }
}

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CorruptFileError(
      `${path}: ${code === 'ENOENT' ? 'not found; a Hugging Face model folder needs config.json' : `cannot be read (${code})`}`,
      { source: SOURCE, details: { file: path }, cause: error },
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CorruptFileError(`${path}: not valid JSON (${(error as Error).message})`, {
      source: SOURCE,
      details: { file: path },
    });
  }
}

/**
 * Loads a Hugging Face model folder into a {@link TransformerPolicy}. The config is validated
 * first (unsupported features fail with a list of what is supported), then every tensor's name,
 * dtype and shape is checked against it and the memory it needs against the backend, all before
 * any weight is read; weights are read one tensor at a time (F32, F16 and BF16, upcast exactly
 * to float32) and must be finite. Sharded checkpoints are read through their index.
 */
export async function loadHuggingFaceModel(
  directory: string,
  options: LoadHuggingFaceModelOptions = {},
): Promise<LoadedHuggingFaceModel> {
  if (typeof directory !== 'string' || directory.length === 0)
    throw new InvalidArgumentError('loadHuggingFaceModel: directory must be a non-empty string', {
      source: SOURCE,
      details: { argument: 'directory' },
    });
  const folder = resolve(directory);
  const configPath = join(folder, 'config.json');
  const config = parseHuggingFaceConfig(await readJsonFile(configPath), configPath, {
    ...(options.contextLength === undefined ? {} : { contextLength: options.contextLength }),
  });
  const generation = await readGenerationConfig(folder);
  const chatTemplate = await readChatTemplate(folder);
  checkModelFits(config.transformer, {
    what: `${folder} (${config.modelType})`,
    purpose: options.purpose ?? 'run',
    ...(options.memoryLimitBytes === undefined ? {} : { limitBytes: options.memoryLimitBytes }),
  });

  const stopTokenIds = generation?.eosTokenIds.length ? generation.eosTokenIds : config.eosTokenIds;
  for (const id of stopTokenIds) {
    if (id >= config.transformer.vocabSize)
      throw new ConfigError(
        'eos_token_id',
        `${id} is outside the vocabulary [0, ${config.transformer.vocabSize}) (in ${folder})`,
        { source: SOURCE },
      );
  }
  // The tokenizer before the weights: a broken or mismatched one fails before any weight is read.
  let tokenizer: HuggingFaceTokenizer | undefined;
  const tokenizerPath = join(folder, 'tokenizer.json');
  if (options.tokenizer !== false && existsSync(tokenizerPath)) {
    tokenizer = await HuggingFaceTokenizer.load(folder);
    // Embedding matrices are often padded past the tokenizer (Qwen: 151,936 rows, 151,669 ids).
    if (tokenizer.vocabSize > config.transformer.vocabSize) {
      await tokenizer.close();
      throw new CorruptFileError(
        `${tokenizerPath}: the tokenizer has ${tokenizer.vocabSize} ids but config.json's vocab_size is ${config.transformer.vocabSize}`,
        { source: SOURCE, details: { file: tokenizerPath } },
      );
    }
  }
  let weights: Awaited<ReturnType<typeof openSafetensorsModel>> | undefined;
  let policy: TransformerPolicy | undefined;
  try {
    weights = await openSafetensorsModel(folder);
    const reader = weights;
    // Names, dtypes and shapes are all checked before the first weight is read.
    const params = await readHuggingFaceWeights(
      { where: folder, tensors: reader.tensors, readFloat32: (name) => reader.readFloat32(name) },
      config.transformer,
    );
    const padId =
      options.padId ?? config.padTokenId ?? generation?.padTokenId ?? stopTokenIds[0] ?? 0;
    policy = new TransformerPolicy(Transformer.fromVariables(config.transformer, params), {
      ...options,
      padId,
    });
    return {
      policy,
      config,
      ...(tokenizer ? { tokenizer } : {}),
      ...(generation ? { generation } : {}),
      ...(chatTemplate ? { chatTemplate } : {}),
      stopTokenIds,
      directory: folder,
    };
  } catch (error) {
    policy?.dispose();
    await tokenizer?.close();
    throw error;
  } finally {
    await weights?.close();
  }
}

export interface SaveHuggingFaceModelOptions {
  /**
   * The config the model was loaded from (`loaded.config`): its other keys are kept, its
   * spellings reused. Without it a config is written from the architecture alone.
   */
  readonly config?: HuggingFaceConfig;
  /** Element type of the weights written. Default `float32` (lossless). */
  readonly dtype?: HuggingFaceDtype;
  /**
   * A folder whose tokenizer, tokenizer config, special tokens, generation config and chat
   * template are copied along (the folder the model was loaded from). Default: the folder of
   * `tokenizer`, when given.
   */
  readonly copyFilesFrom?: string;
  /** A tokenizer to save with the model (its `tokenizer.json` and `tokenizer_config.json`). */
  readonly tokenizer?: HuggingFaceTokenizer;
  /** End-of-sequence ids written to config.json (default: those of `config`). */
  readonly eosTokenIds?: readonly number[];
  /** Shards no larger than this (default 5 GB, as transformers' `save_pretrained`). */
  readonly maxShardBytes?: number;
}

/**
 * Saves a policy as a Hugging Face model folder that transformers and vLLM load:
 * `config.json`, the weights under Hugging Face's names (sharded with an index past
 * `maxShardBytes`), and the tokenizer and generation files. The folder is written whole beside
 * the target and swapped in with renames, so a failed save leaves an existing folder as it was.
 * A model that is not a Qwen2, Qwen3 or Llama architecture (the built-in LayerNorm/GELU
 * configs) is refused, naming what differs.
 */
export async function saveHuggingFaceModel(
  directory: string,
  policy: TransformerPolicy,
  options: SaveHuggingFaceModelOptions = {},
): Promise<void> {
  const transformer = policy.config;
  const family = huggingFaceModelTypeOf(transformer);
  if ('problem' in family)
    throw new InvalidArgumentError(
      `saveHuggingFaceModel: this model cannot be saved in a Hugging Face layout: ${family.problem}`,
      { source: SOURCE, details: { argument: 'policy' } },
    );
  const modelType = options.config?.modelType ?? family.modelType;
  if (modelType !== family.modelType)
    throw new InvalidArgumentError(
      `saveHuggingFaceModel: options.config is a ${modelType} config but the model's architecture is ${family.modelType}`,
      { source: SOURCE, details: { argument: 'config' } },
    );
  const dtype = options.dtype ?? 'float32';
  const safetensorsDtype = ({ float32: 'F32', bfloat16: 'BF16', float16: 'F16' } as const)[dtype];
  if (safetensorsDtype === undefined)
    throw new InvalidArgumentError(
      `saveHuggingFaceModel: dtype must be float32, bfloat16 or float16, got ${JSON.stringify(dtype)}`,
      { source: SOURCE, details: { argument: 'dtype' } },
    );
  const copyFrom =
    options.copyFilesFrom ?? (options.tokenizer ? dirname(options.tokenizer.file) : undefined);

  // Files this save does not write (a README, a license) stay; old weights do not.
  const carryOver = (file: string) =>
    !file.endsWith('.safetensors') && file !== 'model.safetensors.index.json';
  await writeFolderBySwap(
    directory,
    async (staging) => {
      const entries = new Map<string, SafetensorsTensorInput>();
      for (const [name, { shape, values }] of huggingFaceTensors(
        transformer,
        policy.model.parameters(),
      )) {
        entries.set(name, {
          dtype: safetensorsDtype,
          shape,
          data: () =>
            dtype === 'float32'
              ? values()
              : dtype === 'bfloat16'
                ? float32ToBfloat16(values())
                : float32ToFloat16(values()),
        });
      }
      await writeSafetensorsModel(staging, entries, {
        ...(options.maxShardBytes === undefined ? {} : { maxShardBytes: options.maxShardBytes }),
      });
      if (copyFrom !== undefined) {
        for (const file of HUGGING_FACE_SIDE_FILES) {
          const from = join(resolve(copyFrom), file);
          if (existsSync(from)) await copyFile(from, join(staging, file));
        }
      }
      if (options.tokenizer && !existsSync(join(staging, 'tokenizer.json')))
        await copyFile(options.tokenizer.file, join(staging, 'tokenizer.json'));
      const json = huggingFaceConfigJson(transformer, modelType, {
        ...(options.config ? { base: options.config.raw } : {}),
        dtype,
        ...(options.eosTokenIds ? { eosTokenIds: options.eosTokenIds } : {}),
      });
      await writeFileAtomic(join(staging, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
    },
    carryOver,
  );
}

/**
 * Hugging Face `config.json` of a Qwen2, Qwen3 or Llama causal language model, read into a
 * {@link TransformerConfig} and written back. The keys and their defaults follow transformers'
 * configuration classes (`Qwen2Config`, `Qwen3Config`, `LlamaConfig`); the newer spellings are
 * accepted too (`dtype` for `torch_dtype`, `rope_scaling.type` for `rope_type`, and
 * transformers 5's `rope_parameters` in place of `rope_theta` + `rope_scaling`). Anything the
 * tfjs transformer cannot compute exactly (active sliding-window attention, mixtures of
 * experts, quantized weights, other rotary scalings, other activations) is refused with a
 * message that lists what is supported, never approximated.
 */
import { ConfigError, formatValue } from '@hicra/spec';
import {
  type AttentionBias,
  type RopeScaling,
  resolveTransformerConfig,
  type TransformerConfig,
} from '../model/config.js';
import { eosTokenIdsOf } from './generation-config.js';
import { fileConfigError } from './json-file.js';

/**
 * Which kind of model folder a parsed `config.json` describes: a hicra checkpoint (it has a
 * `schema`), a Hugging Face model (a `model_type` and no `schema`), or neither.
 */
export function modelFolderKind(json: unknown): 'hicra' | 'huggingface' | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  if ('schema' in json) return 'hicra';
  return typeof (json as { model_type?: unknown }).model_type === 'string'
    ? 'huggingface'
    : undefined;
}

/** The `model_type` values this loader reads. */
export const HUGGING_FACE_MODEL_TYPES = ['qwen2', 'qwen3', 'llama'] as const;
export type HuggingFaceModelType = (typeof HUGGING_FACE_MODEL_TYPES)[number];

/** Weight dtypes a config may declare; computation is float32 whatever the file holds. */
export const HUGGING_FACE_DTYPES = ['float32', 'bfloat16', 'float16'] as const;
export type HuggingFaceDtype = (typeof HUGGING_FACE_DTYPES)[number];

const ARCHITECTURES: Readonly<Record<HuggingFaceModelType, string>> = {
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  llama: 'LlamaForCausalLM',
};

/** A Hugging Face model config as read: the raw JSON object and what it means here. */
export interface HuggingFaceConfig {
  readonly modelType: HuggingFaceModelType;
  /** The architecture, ready for the tfjs transformer. */
  readonly transformer: TransformerConfig;
  /** The dtype the config declares for the weights (`torch_dtype` or `dtype`; default float32). */
  readonly dtype: HuggingFaceDtype;
  /** `eos_token_id` as a list (empty when absent). */
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId?: number;
  readonly padTokenId?: number;
  /** The whole `config.json` object, kept so that saving writes back the keys not read here. */
  readonly raw: Readonly<Record<string, unknown>>;
}

type Json = Record<string, unknown>;

class Reader {
  constructor(
    readonly json: Json,
    readonly where: string,
  ) {}

  fail(key: string, message: string): ConfigError {
    return fileConfigError(this.where, key, message);
  }

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  integer(key: string, fallback?: number, minimum = 1): number {
    const value = this.json[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum)
      throw this.fail(
        key,
        value === undefined
          ? `missing; the config must give it`
          : `must be an integer >= ${minimum}, got ${formatValue(value)}`,
      );
    return value;
  }

  number(key: string, fallback?: number): number {
    const value = this.json[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw this.fail(
        key,
        value === undefined ? 'missing' : `must be a positive number, got ${formatValue(value)}`,
      );
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.json[key] ?? fallback;
    if (typeof value !== 'boolean')
      throw this.fail(key, `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  /** A token id or list of ids (`eos_token_id` may be either). */
  ids(key: string): number[] {
    const value = this.json[key];
    if (value === undefined || value === null) return [];
    const list = Array.isArray(value) ? value : [value];
    for (const id of list)
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
        throw this.fail(key, `must be a token id or a list of them, got ${JSON.stringify(value)}`);
    return list as number[];
  }
}

function unsupported(reader: Reader, key: string, what: string): ConfigError {
  return reader.fail(
    key,
    `${what} is not supported. Supported: model_type ${HUGGING_FACE_MODEL_TYPES.join(', ')} (dense decoders), full causal attention, hidden_act "silu", rope_type default, linear or llama3, unquantized float32, bfloat16 or float16 weights`,
  );
}

/** The rotary settings: `rope_parameters` (transformers 5) or `rope_theta` + `rope_scaling`. */
function readRope(reader: Reader): { base: number; scaling: RopeScaling | null } {
  const { json } = reader;
  let base: number;
  let scaling: unknown;
  let scalingKey: string;
  if (reader.has('rope_parameters')) {
    const parameters = json['rope_parameters'];
    if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters))
      throw reader.fail('rope_parameters', `must be an object, got ${JSON.stringify(parameters)}`);
    const nested = new Reader(parameters as Json, reader.where);
    base = nested.number(
      'rope_theta',
      reader.has('rope_theta') ? reader.number('rope_theta') : 10_000,
    );
    scaling = parameters;
    scalingKey = 'rope_parameters';
  } else {
    base = reader.number('rope_theta', 10_000);
    scaling = json['rope_scaling'];
    scalingKey = 'rope_scaling';
  }
  if (scaling === null || scaling === undefined) return { base, scaling: null };
  if (typeof scaling !== 'object' || Array.isArray(scaling))
    throw reader.fail(scalingKey, `must be null or an object, got ${JSON.stringify(scaling)}`);
  const settings = scaling as Json;
  const type = settings['rope_type'] ?? settings['type'] ?? 'default';
  const nested = new Reader(settings, reader.where);
  const at = (key: string) => `${scalingKey}.${key}`;
  const positive = (key: string): number => {
    try {
      return nested.number(key);
    } catch {
      throw reader.fail(at(key), `must be a positive number, got ${formatValue(settings[key])}`);
    }
  };
  switch (type) {
    case 'default':
      return { base, scaling: null };
    case 'linear':
      return { base, scaling: { type: 'linear', factor: positive('factor') } };
    case 'llama3': {
      const original = settings['original_max_position_embeddings'];
      if (typeof original !== 'number' || !Number.isInteger(original) || original < 1)
        throw reader.fail(
          at('original_max_position_embeddings'),
          `must be a positive integer, got ${formatValue(original)}`,
        );
      const low = positive('low_freq_factor');
      const high = positive('high_freq_factor');
      if (!(high > low))
        throw reader.fail(
          at('high_freq_factor'),
          `must be larger than low_freq_factor (${low}), got ${high}`,
        );
      return {
        base,
        scaling: {
          type: 'llama3',
          factor: positive('factor'),
          lowFreqFactor: low,
          highFreqFactor: high,
          originalContextLength: original,
        },
      };
    }
    default:
      throw unsupported(reader, at('rope_type'), `rotary scaling ${JSON.stringify(type)}`);
  }
}

/** Refuses sliding-window attention that is active in any layer. */
function checkFullAttention(reader: Reader, layers: number): void {
  const { json } = reader;
  const layerTypes = json['layer_types'];
  if (layerTypes !== undefined && layerTypes !== null) {
    if (!Array.isArray(layerTypes) || layerTypes.length !== layers)
      throw reader.fail(
        'layer_types',
        `must list one attention type per layer (${layers}), got ${JSON.stringify(layerTypes)}`,
      );
    const sliding = layerTypes.findIndex((type) => type !== 'full_attention');
    if (sliding >= 0)
      throw unsupported(
        reader,
        'layer_types',
        `layer ${sliding} uses ${JSON.stringify(layerTypes[sliding])} attention; sliding-window attention`,
      );
  }
  if (reader.boolean('use_sliding_window', false)) {
    // transformers slides the window in layers from max_window_layers on.
    const from = typeof json['max_window_layers'] === 'number' ? json['max_window_layers'] : 0;
    if (from < layers && json['sliding_window'] !== null && json['sliding_window'] !== undefined)
      throw unsupported(
        reader,
        'use_sliding_window',
        `sliding-window attention (window ${formatValue(json['sliding_window'])} from layer ${from})`,
      );
  }
}

/**
 * Reads a `config.json` object. `where` names the file in errors. `contextLength` overrides
 * `max_position_embeddings` (only sampling checks it).
 */
export function parseHuggingFaceConfig(
  json: unknown,
  where = 'config.json',
  options: { readonly contextLength?: number } = {},
): HuggingFaceConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw fileConfigError(where, '', 'must be a JSON object');
  const reader = new Reader(json as Json, where);
  const raw = json as Json;
  const modelType = raw['model_type'];
  if (!HUGGING_FACE_MODEL_TYPES.includes(modelType as HuggingFaceModelType))
    throw unsupported(
      reader,
      'model_type',
      modelType === undefined
        ? 'a config without model_type'
        : `model_type ${JSON.stringify(modelType)}`,
    );
  const type = modelType as HuggingFaceModelType;
  for (const key of ['num_experts', 'num_local_experts', 'n_routed_experts']) {
    if (typeof raw[key] === 'number' && (raw[key] as number) > 0)
      throw unsupported(reader, key, 'a mixture of experts');
  }
  if (reader.has('quantization_config'))
    throw unsupported(reader, 'quantization_config', 'quantized weights');
  const activation = raw['hidden_act'] ?? 'silu';
  if (activation !== 'silu' && activation !== 'swish')
    throw unsupported(reader, 'hidden_act', `activation ${JSON.stringify(activation)}`);

  const dtypeKey = reader.has('dtype') ? 'dtype' : 'torch_dtype';
  const dtype = (raw[dtypeKey] ?? 'float32') as string;
  if (!HUGGING_FACE_DTYPES.includes(dtype as HuggingFaceDtype))
    throw unsupported(reader, dtypeKey, `weights of dtype ${JSON.stringify(dtype)}`);

  const width = reader.integer('hidden_size');
  const layers = reader.integer('num_hidden_layers');
  const heads = reader.integer('num_attention_heads');
  const kvHeads = reader.integer('num_key_value_heads', heads);
  if (heads % kvHeads !== 0)
    throw reader.fail(
      'num_key_value_heads',
      `must divide num_attention_heads (${heads}), got ${kvHeads}`,
    );
  // Without head_dim (Qwen2 configs never write it) heads are hidden_size / num_attention_heads wide.
  const headDimDefault = width % heads === 0 ? width / heads : undefined;
  const headDim = reader.has('head_dim') ? reader.integer('head_dim') : undefined;
  if (headDim === undefined && headDimDefault === undefined)
    throw reader.fail(
      'head_dim',
      `missing, and hidden_size ${width} is not a multiple of num_attention_heads ${heads}`,
    );
  if ((headDim ?? headDimDefault!) % 2 !== 0)
    throw reader.fail(
      'head_dim',
      `must be even for rotary embeddings, got ${headDim ?? headDimDefault}`,
    );
  checkFullAttention(reader, layers);
  const rope = readRope(reader);

  let attentionBias: AttentionBias;
  let mlpBias = false;
  if (type === 'qwen2') attentionBias = 'qkv';
  else attentionBias = reader.boolean('attention_bias', false) ? 'all' : 'none';
  if (type === 'llama') mlpBias = reader.boolean('mlp_bias', false);

  const contextLength = options.contextLength ?? reader.integer('max_position_embeddings', 32_768);
  let transformer: TransformerConfig;
  try {
    transformer = resolveTransformerConfig({
      vocabSize: reader.integer('vocab_size'),
      contextLength,
      width,
      layers,
      heads,
      kvHeads,
      headDim: headDim ?? headDimDefault!,
      mlpWidth: reader.integer('intermediate_size'),
      mlp: 'swiglu',
      norm: 'rmsnorm',
      tiedEmbeddings: reader.boolean('tie_word_embeddings', false),
      ropeBase: rope.base,
      ropeScaling: rope.scaling,
      attentionBias,
      mlpBias,
      qkNorm: type === 'qwen3',
      normEpsilon: reader.number('rms_norm_eps', 1e-6),
    });
  } catch (error) {
    if (ConfigError.isInstance(error))
      throw fileConfigError(
        where,
        (error as ConfigError).path,
        `the architecture it describes is invalid: ${error.message}`,
        error,
      );
    throw error;
  }
  const bos = reader.ids('bos_token_id');
  const pad = reader.ids('pad_token_id');
  return {
    modelType: type,
    transformer,
    dtype: dtype as HuggingFaceDtype,
    eosTokenIds: eosTokenIdsOf(raw, where),
    ...(bos.length > 0 ? { bosTokenId: bos[0]! } : {}),
    ...(pad.length > 0 ? { padTokenId: pad[0]! } : {}),
    raw,
  };
}

/**
 * The Hugging Face family a transformer config belongs to, or why it has none. Qwen2 is the
 * one with query/key/value biases, Qwen3 the one with query/key norms, Llama the rest.
 */
export function huggingFaceModelTypeOf(
  config: TransformerConfig,
): { modelType: HuggingFaceModelType } | { problem: string } {
  if (config.norm !== 'rmsnorm' || config.mlp !== 'swiglu')
    return {
      problem: `it uses ${config.norm} and a ${config.mlp} MLP; Qwen2, Qwen3 and Llama need rmsnorm and swiglu`,
    };
  if (config.qkNorm) {
    if (config.attentionBias === 'qkv' || config.mlpBias)
      return { problem: 'query/key norms (Qwen3) cannot be combined with qkv-only or MLP biases' };
    if (config.ropeScaling !== null)
      return { problem: 'Qwen3 configs here carry no rotary scaling' };
    return { modelType: 'qwen3' };
  }
  if (config.attentionBias === 'qkv') {
    if (config.mlpBias) return { problem: 'Qwen2 (qkv biases) has no MLP biases' };
    return { modelType: 'qwen2' };
  }
  return { modelType: 'llama' };
}

/**
 * A `config.json` object for a transformer config. With `base` (the config a model was loaded
 * from), its other keys are kept and its spellings (`dtype` or `torch_dtype`, `rope_parameters`
 * or `rope_theta` + `rope_scaling`) reused; the architecture keys are always written from
 * `config`, so a file never disagrees with the weights beside it.
 */
export function huggingFaceConfigJson(
  config: TransformerConfig,
  modelType: HuggingFaceModelType,
  options: {
    readonly base?: Readonly<Record<string, unknown>>;
    readonly dtype?: HuggingFaceDtype;
    readonly eosTokenIds?: readonly number[];
  } = {},
): Record<string, unknown> {
  const base = { ...(options.base ?? {}) };
  const out: Record<string, unknown> = { ...base };
  out['architectures'] = [ARCHITECTURES[modelType]];
  out['model_type'] = modelType;
  out['vocab_size'] = config.vocabSize;
  out['max_position_embeddings'] = config.contextLength;
  out['hidden_size'] = config.width;
  out['intermediate_size'] = config.mlpWidth;
  out['num_hidden_layers'] = config.layers;
  out['num_attention_heads'] = config.heads;
  out['num_key_value_heads'] = config.kvHeads;
  // Qwen2's configuration class has no head_dim; write it only where it is not the default.
  if (modelType !== 'qwen2' || config.headDim * config.heads !== config.width)
    out['head_dim'] = config.headDim;
  else delete out['head_dim'];
  out['hidden_act'] = 'silu';
  out['rms_norm_eps'] = config.normEpsilon;
  out['tie_word_embeddings'] = config.tiedEmbeddings;
  if (modelType !== 'qwen2') out['attention_bias'] = config.attentionBias === 'all';
  if (modelType === 'llama') out['mlp_bias'] = config.mlpBias;
  if (modelType !== 'llama') out['use_sliding_window'] = false;
  const scaling = ropeScalingJson(config.ropeScaling);
  if ('rope_parameters' in base) {
    out['rope_parameters'] = { rope_theta: config.ropeBase, rope_type: 'default', ...scaling };
    delete out['rope_theta'];
    delete out['rope_scaling'];
  } else {
    out['rope_theta'] = config.ropeBase;
    out['rope_scaling'] = scaling;
  }
  const dtypeKey = 'dtype' in base && !('torch_dtype' in base) ? 'dtype' : 'torch_dtype';
  out[dtypeKey] = options.dtype ?? 'float32';
  if (options.eosTokenIds !== undefined && options.eosTokenIds.length > 0)
    out['eos_token_id'] =
      options.eosTokenIds.length === 1 ? options.eosTokenIds[0] : [...options.eosTokenIds];
  if (!('use_cache' in out)) out['use_cache'] = true;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function ropeScalingJson(scaling: RopeScaling | null): Record<string, unknown> | null {
  if (scaling === null) return null;
  if (scaling.type === 'linear') return { rope_type: 'linear', factor: scaling.factor };
  return {
    factor: scaling.factor,
    high_freq_factor: scaling.highFreqFactor,
    low_freq_factor: scaling.lowFreqFactor,
    original_max_position_embeddings: scaling.originalContextLength,
    rope_type: 'llama3',
  };
}

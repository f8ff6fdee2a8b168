import { ConfigError, formatValue } from '@hicra/spec';

/**
 * How rotary frequencies are rescaled for a longer context. `linear` divides every frequency
 * by `factor` (position interpolation); `llama3` is Llama 3.1's piecewise rule: long wavelengths
 * are divided by `factor`, short ones kept, and the band between interpolated smoothly.
 */
export type RopeScaling =
  | { readonly type: 'linear'; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      /** The context length the model was pretrained at (`original_max_position_embeddings`). */
      readonly originalContextLength: number;
    };

/** Which attention projections carry a bias. */
export type AttentionBias = 'none' | 'qkv' | 'all';

/** The architecture of a decoder-only transformer. */
export interface TransformerConfig {
  /** Number of token ids. */
  readonly vocabSize: number;
  /** Maximum prompt + response length in tokens (rotary embeddings need no table, but sampling checks it). */
  readonly contextLength: number;
  /** Model width d. */
  readonly width: number;
  /** Number of transformer blocks. */
  readonly layers: number;
  /** Query heads. */
  readonly heads: number;
  /** Key/value heads (grouped-query attention); must divide `heads`. Default `heads`. */
  readonly kvHeads: number;
  /** Width of one head; must be even (rotary embeddings). Default `width / heads`. */
  readonly headDim: number;
  /** Hidden width of the MLP as a multiple of `width`. Default 4. */
  readonly mlpRatio: number;
  /** Hidden width of the MLP. Default `width · mlpRatio`; when given, `mlpRatio` follows from it. */
  readonly mlpWidth: number;
  /** `gelu` (two matrices) or `swiglu` (three). Default `gelu`. */
  readonly mlp: 'gelu' | 'swiglu';
  /** `layernorm` (weight and bias) or `rmsnorm` (weight). Pre-norm either way. Default `layernorm`. */
  readonly norm: 'layernorm' | 'rmsnorm';
  /** Share the embedding matrix with the output head. Default false. */
  readonly tiedEmbeddings: boolean;
  /** Base of the rotary position embedding frequencies (`rope_theta`). Default 10 000. */
  readonly ropeBase: number;
  /** Rescaling of the rotary frequencies, or null. Default null. */
  readonly ropeScaling: RopeScaling | null;
  /**
   * Biases of the attention projections: `none`, `qkv` (query, key and value: Qwen2) or `all`
   * (also the output projection: Llama and Qwen3 with `attention_bias`). Default `none`.
   */
  readonly attentionBias: AttentionBias;
  /** Biases on the MLP's projections (Llama's `mlp_bias`). Default false. */
  readonly mlpBias: boolean;
  /** RMSNorm over each query and key head before the rotary embedding (Qwen3). Default false. */
  readonly qkNorm: boolean;
  /** Standard deviation of the normal initialisation. Default 0.02. */
  readonly initStd: number;
  /** Epsilon of the norms. Default 1e-5. */
  readonly normEpsilon: number;
}

export type TransformerConfigInput = Pick<
  TransformerConfig,
  'vocabSize' | 'contextLength' | 'width' | 'layers' | 'heads'
> &
  Partial<TransformerConfig>;

const SOURCE = '@hicra/policy';

const KNOWN_KEYS: readonly string[] = [
  'vocabSize',
  'contextLength',
  'width',
  'layers',
  'heads',
  'kvHeads',
  'headDim',
  'mlpRatio',
  'mlpWidth',
  'mlp',
  'norm',
  'tiedEmbeddings',
  'ropeBase',
  'ropeScaling',
  'attentionBias',
  'mlpBias',
  'qkNorm',
  'initStd',
  'normEpsilon',
];

const fail = (key: string, message: string): ConfigError =>
  new ConfigError(key, message, { source: SOURCE });

const isPositiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1;

const isPositiveNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0;

function checkOneOf<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw fail(
      key,
      `must be ${allowed.map((a) => JSON.stringify(a)).join(' or ')}, got ${JSON.stringify(value)}`,
    );
  }
  return value as T;
}

function checkBoolean(key: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw fail(key, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function resolveRopeScaling(value: unknown): RopeScaling | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value))
    throw fail('ropeScaling', `must be null or an object, got ${JSON.stringify(value)}`);
  const scaling = value as Record<string, unknown>;
  const type = checkOneOf('ropeScaling.type', scaling['type'], ['linear', 'llama3'] as const);
  const keys =
    type === 'linear'
      ? ['type', 'factor']
      : ['type', 'factor', 'lowFreqFactor', 'highFreqFactor', 'originalContextLength'];
  for (const key of Object.keys(scaling)) {
    if (!keys.includes(key))
      throw fail(
        `ropeScaling.${key}`,
        `unknown setting of ${type} scaling; known: ${keys.join(', ')}`,
      );
  }
  for (const key of keys.slice(1)) {
    if (!isPositiveNumber(scaling[key]))
      throw fail(
        `ropeScaling.${key}`,
        `must be a positive number, got ${formatValue(scaling[key])}`,
      );
  }
  if (type === 'linear') return { type, factor: scaling['factor'] as number };
  const low = scaling['lowFreqFactor'] as number;
  const high = scaling['highFreqFactor'] as number;
  if (!(high > low))
    throw fail(
      'ropeScaling.highFreqFactor',
      `must be larger than lowFreqFactor (${low}), got ${high}: the smoothing band would be empty`,
    );
  return {
    type,
    factor: scaling['factor'] as number,
    lowFreqFactor: low,
    highFreqFactor: high,
    originalContextLength: scaling['originalContextLength'] as number,
  };
}

/** Fills defaults and validates a config; errors name the key and why. */
export function resolveTransformerConfig(input: TransformerConfigInput): TransformerConfig {
  if (typeof input !== 'object' || input === null) {
    throw new ConfigError('', `a transformer config must be an object, got ${String(input)}`, {
      source: SOURCE,
    });
  }
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.includes(key))
      throw fail(key, `unknown transformer setting; known: ${KNOWN_KEYS.join(', ')}`);
  }
  for (const key of ['vocabSize', 'contextLength', 'width', 'layers', 'heads'] as const) {
    if (!isPositiveInteger(input[key]))
      throw fail(key, `must be a positive integer, got ${formatValue(input[key])}`);
  }
  for (const key of ['kvHeads', 'headDim', 'mlpWidth'] as const) {
    if (input[key] !== undefined && !isPositiveInteger(input[key]))
      throw fail(key, `must be a positive integer, got ${formatValue(input[key])}`);
  }
  for (const key of ['mlpRatio', 'ropeBase', 'initStd', 'normEpsilon'] as const) {
    if (input[key] !== undefined && !isPositiveNumber(input[key]))
      throw fail(key, `must be a positive number, got ${formatValue(input[key])}`);
  }
  const { width, heads } = input;
  if (input.headDim === undefined) {
    if (width % heads !== 0)
      throw fail('heads', `must divide width: width ${width} is not a multiple of heads ${heads}`);
    if ((width / heads) % 2 !== 0)
      throw fail('heads', `width / heads = ${width / heads} must be even for rotary embeddings`);
  } else if (input.headDim % 2 !== 0) {
    throw fail('headDim', `must be even for rotary embeddings, got ${input.headDim}`);
  }
  const headDim = input.headDim ?? width / heads;
  const kvHeads = input.kvHeads ?? heads;
  if (heads % kvHeads !== 0)
    throw fail(
      'kvHeads',
      `must divide heads: ${heads} query heads cannot be shared evenly by ${kvHeads} key/value heads`,
    );

  let mlpRatio: number;
  let mlpWidth: number;
  if (input.mlpWidth !== undefined) {
    mlpWidth = input.mlpWidth;
    mlpRatio = mlpWidth / width;
    if (input.mlpRatio !== undefined && Math.abs(input.mlpRatio * width - mlpWidth) > 1e-6)
      throw fail(
        'mlpRatio',
        `disagrees with mlpWidth: width ${width} · mlpRatio ${input.mlpRatio} is not mlpWidth ${mlpWidth}`,
      );
  } else {
    mlpRatio = input.mlpRatio ?? 4;
    mlpWidth = width * mlpRatio;
    if (!Number.isInteger(mlpWidth))
      throw fail('mlpRatio', `width · mlpRatio = ${mlpWidth} must be an integer`);
  }
  return {
    vocabSize: input.vocabSize,
    contextLength: input.contextLength,
    width,
    layers: input.layers,
    heads,
    kvHeads,
    headDim,
    mlpRatio,
    mlpWidth,
    mlp: checkOneOf('mlp', input.mlp ?? 'gelu', ['gelu', 'swiglu'] as const),
    norm: checkOneOf('norm', input.norm ?? 'layernorm', ['layernorm', 'rmsnorm'] as const),
    tiedEmbeddings: checkBoolean('tiedEmbeddings', input.tiedEmbeddings ?? false),
    ropeBase: input.ropeBase ?? 10_000,
    ropeScaling: resolveRopeScaling(input.ropeScaling),
    attentionBias: checkOneOf('attentionBias', input.attentionBias ?? 'none', [
      'none',
      'qkv',
      'all',
    ] as const),
    mlpBias: checkBoolean('mlpBias', input.mlpBias ?? false),
    qkNorm: checkBoolean('qkNorm', input.qkNorm ?? false),
    initStd: input.initStd ?? 0.02,
    normEpsilon: input.normEpsilon ?? 1e-5,
  };
}

/**
 * Name and shape of every parameter, in the stable order used by optimizers and checkpoints.
 * Matrices are stored `[in, out]` (y = x·W); the query, key and value projections are one fused
 * matrix `[width, (heads + 2·kvHeads)·headDim]`, queries first.
 */
export function parameterShapes(config: TransformerConfig): [string, number[]][] {
  const d = config.width;
  const hidden = config.mlpWidth;
  const attention = config.heads * config.headDim;
  const qkvWidth = (config.heads + 2 * config.kvHeads) * config.headDim;
  const norm = (prefix: string): [string, number[]][] =>
    config.norm === 'layernorm'
      ? [
          [`${prefix}.weight`, [d]],
          [`${prefix}.bias`, [d]],
        ]
      : [[`${prefix}.weight`, [d]]];
  const linear = (name: string, shape: [number, number], bias: boolean): [string, number[]][] =>
    bias
      ? [
          [`${name}.weight`, shape],
          [`${name}.bias`, [shape[1]]],
        ]
      : [[`${name}.weight`, shape]];
  const shapes: [string, number[]][] = [['embed.weight', [config.vocabSize, d]]];
  for (let l = 0; l < config.layers; l++) {
    const p = `layers.${l}`;
    shapes.push(...norm(`${p}.attn_norm`));
    shapes.push(...linear(`${p}.attn.qkv`, [d, qkvWidth], config.attentionBias !== 'none'));
    if (config.qkNorm)
      shapes.push(
        [`${p}.attn.q_norm.weight`, [config.headDim]],
        [`${p}.attn.k_norm.weight`, [config.headDim]],
      );
    shapes.push(...linear(`${p}.attn.out`, [attention, d], config.attentionBias === 'all'));
    shapes.push(...norm(`${p}.mlp_norm`));
    if (config.mlp === 'swiglu')
      shapes.push(...linear(`${p}.mlp.gate`, [d, hidden], config.mlpBias));
    shapes.push(
      ...linear(`${p}.mlp.up`, [d, hidden], config.mlpBias),
      ...linear(`${p}.mlp.down`, [hidden, d], config.mlpBias),
    );
  }
  shapes.push(...norm('final_norm'));
  if (!config.tiedEmbeddings) shapes.push(['lm_head.weight', [d, config.vocabSize]]);
  return shapes;
}

/** Number of parameters of a config. */
export function parameterCount(config: TransformerConfig): number {
  return parameterShapes(config).reduce(
    (sum, [, shape]) => sum + shape.reduce((a, b) => a * b, 1),
    0,
  );
}

/**
 * The rotary inverse frequencies `[headDim / 2]`: `ropeBase^(-2j / headDim)`, then the configured
 * scaling (Hugging Face's rope utilities, computed here in float64; they agree with its float32
 * values to a relative 1e-7).
 */
export function ropeInverseFrequencies(config: TransformerConfig): Float64Array {
  const { headDim, ropeBase, ropeScaling } = config;
  const out = new Float64Array(headDim / 2);
  for (let j = 0; j < out.length; j++)
    out[j] = scaleFrequency(ropeBase ** (-(2 * j) / headDim), ropeScaling);
  return out;
}

function scaleFrequency(frequency: number, scaling: RopeScaling | null): number {
  if (scaling === null) return frequency;
  if (scaling.type === 'linear') return frequency / scaling.factor;
  const { factor, lowFreqFactor, highFreqFactor, originalContextLength } = scaling;
  const wavelength = (2 * Math.PI) / frequency;
  const longest = originalContextLength / lowFreqFactor;
  const shortest = originalContextLength / highFreqFactor;
  if (wavelength < shortest) return frequency;
  if (wavelength > longest) return frequency / factor;
  const smooth =
    (originalContextLength / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
  return (1 - smooth) * (frequency / factor) + smooth * frequency;
}

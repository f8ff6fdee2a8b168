import { ConfigError, formatValue } from '@hicra/spec';

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
  /** Attention heads; must divide `width`, and `width / heads` must be even (rotary embeddings). */
  readonly heads: number;
  /** Hidden width of the MLP as a multiple of `width`. Default 4. */
  readonly mlpRatio: number;
  /** `gelu` (two matrices) or `swiglu` (three). Default `gelu`. */
  readonly mlp: 'gelu' | 'swiglu';
  /** `layernorm` (weight and bias) or `rmsnorm` (weight). Pre-norm either way. Default `layernorm`. */
  readonly norm: 'layernorm' | 'rmsnorm';
  /** Share the embedding matrix with the output head. Default false. */
  readonly tiedEmbeddings: boolean;
  /** Base of the rotary position embedding frequencies. Default 10 000. */
  readonly ropeBase: number;
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

/** Fills defaults and validates a config; errors name the key and why. */
export function resolveTransformerConfig(input: TransformerConfigInput): TransformerConfig {
  if (typeof input !== 'object' || input === null) {
    throw new ConfigError('', `a transformer config must be an object, got ${String(input)}`, {
      source: SOURCE,
    });
  }
  const config: TransformerConfig = {
    mlpRatio: 4,
    mlp: 'gelu',
    norm: 'layernorm',
    tiedEmbeddings: false,
    ropeBase: 10_000,
    initStd: 0.02,
    normEpsilon: 1e-5,
    ...input,
  };
  const known = new Set([
    'vocabSize',
    'contextLength',
    'width',
    'layers',
    'heads',
    'mlpRatio',
    'mlp',
    'norm',
    'tiedEmbeddings',
    'ropeBase',
    'initStd',
    'normEpsilon',
  ]);
  for (const key of Object.keys(input)) {
    if (!known.has(key))
      throw new ConfigError(key, `unknown transformer setting; known: ${[...known].join(', ')}`, {
        source: SOURCE,
      });
  }
  for (const key of ['vocabSize', 'contextLength', 'width', 'layers', 'heads'] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1) {
      throw new ConfigError(key, `must be a positive integer, got ${formatValue(value)}`, {
        source: SOURCE,
      });
    }
  }
  for (const key of ['mlpRatio', 'ropeBase', 'initStd', 'normEpsilon'] as const) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new ConfigError(key, `must be a positive number, got ${formatValue(value)}`, {
        source: SOURCE,
      });
    }
  }
  if (config.width % config.heads !== 0) {
    throw new ConfigError(
      'heads',
      `must divide width: width ${config.width} is not a multiple of heads ${config.heads}`,
      { source: SOURCE },
    );
  }
  if ((config.width / config.heads) % 2 !== 0) {
    throw new ConfigError(
      'heads',
      `width / heads = ${config.width / config.heads} must be even for rotary embeddings`,
      { source: SOURCE },
    );
  }
  if (!Number.isInteger(config.width * config.mlpRatio)) {
    throw new ConfigError(
      'mlpRatio',
      `width · mlpRatio = ${config.width * config.mlpRatio} must be an integer`,
      { source: SOURCE },
    );
  }
  if (config.mlp !== 'gelu' && config.mlp !== 'swiglu') {
    throw new ConfigError('mlp', `must be "gelu" or "swiglu", got ${JSON.stringify(config.mlp)}`, {
      source: SOURCE,
    });
  }
  if (config.norm !== 'layernorm' && config.norm !== 'rmsnorm') {
    throw new ConfigError(
      'norm',
      `must be "layernorm" or "rmsnorm", got ${JSON.stringify(config.norm)}`,
      { source: SOURCE },
    );
  }
  if (typeof config.tiedEmbeddings !== 'boolean') {
    throw new ConfigError(
      'tiedEmbeddings',
      `must be true or false, got ${JSON.stringify(config.tiedEmbeddings)}`,
      { source: SOURCE },
    );
  }
  return config;
}

/** Name and shape of every parameter, in the stable order used by optimizers and checkpoints. */
export function parameterShapes(config: TransformerConfig): [string, number[]][] {
  const d = config.width;
  const hidden = d * config.mlpRatio;
  const norm = (prefix: string): [string, number[]][] =>
    config.norm === 'layernorm'
      ? [
          [`${prefix}.weight`, [d]],
          [`${prefix}.bias`, [d]],
        ]
      : [[`${prefix}.weight`, [d]]];
  const shapes: [string, number[]][] = [['embed.weight', [config.vocabSize, d]]];
  for (let l = 0; l < config.layers; l++) {
    const p = `layers.${l}`;
    shapes.push(...norm(`${p}.attn_norm`));
    shapes.push([`${p}.attn.qkv.weight`, [d, 3 * d]], [`${p}.attn.out.weight`, [d, d]]);
    shapes.push(...norm(`${p}.mlp_norm`));
    if (config.mlp === 'swiglu') shapes.push([`${p}.mlp.gate.weight`, [d, hidden]]);
    shapes.push([`${p}.mlp.up.weight`, [d, hidden]], [`${p}.mlp.down.weight`, [hidden, d]]);
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

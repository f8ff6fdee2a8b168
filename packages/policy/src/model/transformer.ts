import {
  embeddingLookup,
  matMul,
  SeededGenerator,
  type Tensor,
  tf,
  type Variable,
} from '@hicra/tensor';
import { parameterShapes, type TransformerConfig } from './config.js';

/** Cached keys and values of one layer: `[B, heads, past, headDim]` each. */
export type LayerCache = {
  readonly keys: Tensor;
  readonly values: Tensor;
};

/** One forward pass over `[B, L]` new tokens (after `past` cached ones). */
export interface ForwardInput {
  /** `[B, L]` int32 token ids. */
  readonly ids: Tensor;
  /** `[B·L]` absolute position of each new token (rotary embeddings); anything at padding. */
  readonly positions: Int32Array;
  /** `[B·(past + L)]` 1 where a key (cached or new) is a real token, 0 for padding. */
  readonly keyMask: Uint8Array;
  /** Cached keys and values of every layer (absent: no past). */
  readonly cache?: readonly LayerCache[];
}

export interface ForwardOutput {
  /** `[B, L, width]` final-normed hidden states of the new tokens. */
  readonly hidden: Tensor;
  /** Keys and values of every layer including the new tokens (only when requested). */
  readonly cache?: LayerCache[];
}

/**
 * A decoder-only transformer: token embedding, `layers` pre-norm blocks (multi-head causal
 * self-attention with rotary position embeddings, then a GELU or SwiGLU MLP), a final norm and
 * an output head (optionally tied to the embedding). Every matrix product uses the tensor
 * core's transpose-free `matMul` and the embedding its WASM-safe lookup, so training runs on
 * every backend. Parameters are tfjs variables, created from a seeded generator.
 */
export class Transformer {
  readonly config: TransformerConfig;
  readonly #params: Map<string, Variable>;
  readonly #headDim: number;
  readonly #inverseFrequencies: Float64Array;

  private constructor(config: TransformerConfig, params: Map<string, Variable>) {
    this.config = config;
    this.#params = params;
    this.#headDim = config.width / config.heads;
    const half = this.#headDim / 2;
    this.#inverseFrequencies = Float64Array.from(
      { length: half },
      (_, i) => config.ropeBase ** (-(2 * i) / this.#headDim),
    );
  }

  /** New parameters: normal(0, initStd) matrices (output projections scaled by 1/√(2·layers)), unit norms. */
  static initialise(config: TransformerConfig, seed: number): Transformer {
    const generator = new SeededGenerator(seed);
    const params = new Map<string, Variable>();
    const residualScale = 1 / Math.sqrt(2 * config.layers);
    for (const [name, shape] of parameterShapes(config)) {
      const size = shape.reduce((a, b) => a * b, 1);
      let data: Float32Array;
      if (name.endsWith('norm.weight')) data = new Float32Array(size).fill(1);
      else if (name.endsWith('.bias')) data = new Float32Array(size);
      else {
        const projection = name.endsWith('attn.out.weight') || name.endsWith('mlp.down.weight');
        data = generator.fillNormal(
          new Float32Array(size),
          0,
          config.initStd * (projection ? residualScale : 1),
        );
      }
      const initial = tf.tensor(data, shape, 'float32');
      params.set(name, tf.variable(initial, true, uniqueVariableName(name)));
      initial.dispose();
    }
    return new Transformer(config, params);
  }

  /** A transformer over existing variables (from a checkpoint). The map is taken over, not copied. */
  static fromVariables(config: TransformerConfig, params: Map<string, Variable>): Transformer {
    return new Transformer(config, params);
  }

  /** Every parameter in the stable order of `parameterShapes`. */
  variables(): Variable[] {
    return parameterShapes(this.config).map(([name]) => this.#params.get(name)!);
  }

  /** Parameters by their clean name (`embed.weight`), as in checkpoints. */
  parameters(): ReadonlyMap<string, Variable> {
    return this.#params;
  }

  dispose(): void {
    for (const variable of this.#params.values()) variable.dispose();
    this.#params.clear();
  }

  #param(name: string): Variable {
    return this.#params.get(name)!;
  }

  /** Forward over new tokens; returns final hidden states and, with `keepCache`, the extended cache. */
  forward(input: ForwardInput, keepCache = false): ForwardOutput {
    const { config } = this;
    const [batch, length] = input.ids.shape as [number, number];
    const past = input.cache?.[0]?.keys.shape[2] ?? 0;
    const { cos, sin } = this.#rotary(input.positions, batch, length);
    const mask = attentionMask(input.keyMask, batch, past, length);
    let x = embeddingLookup(this.#param('embed.weight'), input.ids);
    const cache: LayerCache[] = [];
    for (let l = 0; l < config.layers; l++) {
      const p = `layers.${l}`;
      const normed = this.#norm(x, `${p}.attn_norm`);
      const qkv = matMul(normed, this.#param(`${p}.attn.qkv.weight`));
      const [q, k, v] = tf.split(qkv, 3, 2).map((t) => this.#heads(t, batch, length));
      const qr = applyRotary(q!, cos, sin);
      let kr = applyRotary(k!, cos, sin);
      let vv = v!;
      const layerCache = input.cache?.[l];
      if (layerCache) {
        kr = tf.concat([layerCache.keys, kr], 2);
        vv = tf.concat([layerCache.values, vv], 2);
      }
      if (keepCache) cache.push({ keys: kr, values: vv });
      const scores = tf.add(
        tf.mul(matMul(qr, kr, false, true), 1 / Math.sqrt(this.#headDim)),
        mask,
      );
      const attended = matMul(tf.softmax(scores), vv); // [B, H, L, Dh]
      const merged = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [
        batch,
        length,
        config.width,
      ]);
      x = tf.add(x, matMul(merged, this.#param(`${p}.attn.out.weight`)));
      const normed2 = this.#norm(x, `${p}.mlp_norm`);
      let hiddenMlp: Tensor;
      if (config.mlp === 'swiglu') {
        const gate = matMul(normed2, this.#param(`${p}.mlp.gate.weight`));
        hiddenMlp = tf.mul(
          tf.mul(gate, tf.sigmoid(gate)),
          matMul(normed2, this.#param(`${p}.mlp.up.weight`)),
        );
      } else {
        hiddenMlp = gelu(matMul(normed2, this.#param(`${p}.mlp.up.weight`)));
      }
      x = tf.add(x, matMul(hiddenMlp, this.#param(`${p}.mlp.down.weight`)));
    }
    const hidden = this.#norm(x, 'final_norm');
    return keepCache ? { hidden, cache } : { hidden };
  }

  /** Logits `[..., V]` from hidden states `[..., width]`. */
  logits(hidden: Tensor): Tensor {
    return this.config.tiedEmbeddings
      ? matMul(hidden, this.#param('embed.weight'), false, true)
      : matMul(hidden, this.#param('lm_head.weight'));
  }

  /** `[B, L, width]` -> `[B, heads, L, headDim]`. */
  #heads(t: Tensor, batch: number, length: number): Tensor {
    return tf.transpose(
      tf.reshape(t, [batch, length, this.config.heads, this.#headDim]),
      [0, 2, 1, 3],
    );
  }

  #norm(x: Tensor, prefix: string): Tensor {
    const eps = this.config.normEpsilon;
    const weight = this.#param(`${prefix}.weight`);
    if (this.config.norm === 'rmsnorm') {
      const rms = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps));
      return tf.mul(tf.mul(x, rms), weight);
    }
    const mean = tf.mean(x, -1, true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), -1, true);
    return tf.add(
      tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), weight),
      this.#param(`${prefix}.bias`),
    );
  }

  /** cos and sin tables `[B, 1, L, headDim/2]` for the given absolute positions. */
  #rotary(positions: Int32Array, batch: number, length: number): { cos: Tensor; sin: Tensor } {
    const half = this.#headDim / 2;
    const cos = new Float32Array(batch * length * half);
    const sin = new Float32Array(batch * length * half);
    for (let k = 0; k < batch * length; k++) {
      const position = positions[k]!;
      for (let i = 0; i < half; i++) {
        const angle = position * this.#inverseFrequencies[i]!;
        cos[k * half + i] = Math.cos(angle);
        sin[k * half + i] = Math.sin(angle);
      }
    }
    return {
      cos: tf.tensor4d(cos, [batch, 1, length, half]),
      sin: tf.tensor4d(sin, [batch, 1, length, half]),
    };
  }
}

let modelCounter = 0;

/**
 * tfjs variable names are global to the engine, so each model's variables get a unique prefix
 * (`m3/layers.0.attn.qkv.weight`); parameter names (checkpoints, `parameters()`) stay clean.
 */
export function uniqueVariableName(parameter: string): string {
  return `m${modelCounter++}/${parameter}`;
}

/** Rotates the two halves of the last axis by the position angles (the "rotate half" convention). */
function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const half = x.shape[3]! / 2;
  const [first, second] = tf.split(x, [half, half], 3);
  return tf.concat(
    [
      tf.sub(tf.mul(first!, cos), tf.mul(second!, sin)),
      tf.add(tf.mul(second!, cos), tf.mul(first!, sin)),
    ],
    3,
  );
}

/** GELU, tanh approximation. */
function gelu(x: Tensor): Tensor {
  const inner = tf.mul(
    Math.sqrt(2 / Math.PI),
    tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))),
  );
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/**
 * Additive attention mask `[B, 1, L, past + L]`: 0 where new query j (absolute index past + j)
 * may attend key i (i <= past + j and key i is a real token), a large negative number elsewhere.
 */
export function attentionMask(
  keyMask: Uint8Array,
  batch: number,
  past: number,
  length: number,
): Tensor {
  const total = past + length;
  const out = new Float32Array(batch * length * total);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < length; j++) {
      const row = (b * length + j) * total;
      for (let i = 0; i < total; i++) {
        out[row + i] = i <= past + j && keyMask[b * total + i] === 1 ? 0 : -1e9;
      }
    }
  }
  return tf.tensor4d(out, [batch, 1, length, total]);
}

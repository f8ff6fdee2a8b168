import {
  decodeAttention,
  embeddingLookup,
  geluTanh,
  type KvCacheBuffers,
  layerNorm,
  matMul,
  mergeHeads,
  rmsNorm,
  rotaryEmbedding,
  SeededGenerator,
  splitHeads,
  type Tensor,
  tf,
  type Variable,
} from '@hicra/tensor';
import { parameterShapes, ropeInverseFrequencies, type TransformerConfig } from './config.js';

/** Cached keys and values of one layer: `[B, kvHeads, past, headDim]` each. */
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
 * A decoder-only transformer: token embedding, `layers` pre-norm blocks (causal self-attention
 * with rotary position embeddings, then a GELU or SwiGLU MLP), a final norm and an output head
 * (optionally tied to the embedding). The attention covers the Qwen2, Qwen3 and Llama
 * variants: grouped-query attention (`kvHeads` < `heads`), a head width independent of the
 * model width, projection biases, per-head query/key RMSNorm before the rotary embedding, and
 * scaled rotary frequencies. Every matrix product uses the tensor core's transpose-free
 * `matMul` and the embedding its WASM-safe lookup, so training runs on every backend.
 * Parameters are tfjs variables, created from a seeded generator or taken from a checkpoint.
 */
export class Transformer {
  readonly config: TransformerConfig;
  readonly #params: Map<string, Variable>;
  readonly #inverseFrequencies: Float64Array;

  private constructor(config: TransformerConfig, params: Map<string, Variable>) {
    this.config = config;
    this.#params = params;
    this.#inverseFrequencies = ropeInverseFrequencies(config);
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
      // Biases (of norms and projections) start at zero.
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
    const { heads, kvHeads, headDim } = config;
    const [batch, length] = input.ids.shape as [number, number];
    const past = input.cache?.[0]?.keys.shape[2] ?? 0;
    const total = past + length;
    const group = heads / kvHeads;
    const { cos, sin } = this.#rotary(input.positions, batch, length);
    const mask = attentionMask(input.keyMask, batch, past, length);
    let x = embeddingLookup(this.#param('embed.weight'), input.ids);
    const cache: LayerCache[] = [];
    for (let l = 0; l < config.layers; l++) {
      x = this.#block(x, l, cos, sin, (q, newKeys, newValues) => {
        let k = newKeys;
        let v = newValues;
        const layerCache = input.cache?.[l];
        if (layerCache) {
          k = tf.concat([layerCache.keys, k], 2);
          v = tf.concat([layerCache.values, v], 2);
        }
        if (keepCache) cache.push({ keys: k, values: v });
        // Grouped-query attention without copying keys: the `group` query heads that share a
        // key/value head are consecutive, so [B, heads, L, Dh] regroups as [B, kvHeads, group·L, Dh].
        const grouped = group === 1 ? q : tf.reshape(q, [batch, kvHeads, group * length, headDim]);
        let scores = tf.mul(matMul(grouped, k, false, true), 1 / Math.sqrt(headDim));
        if (group !== 1) scores = tf.reshape(scores, [batch, heads, length, total]);
        let weights = tf.softmax(tf.add(scores, mask));
        if (group !== 1) weights = tf.reshape(weights, [batch, kvHeads, group * length, total]);
        const attended = matMul(weights, v);
        return group === 1 ? attended : tf.reshape(attended, [batch, heads, length, headDim]);
      });
    }
    const hidden = this.#norm(x, 'final_norm');
    return keepCache ? { hidden, cache } : { hidden };
  }

  /**
   * One pre-norm block over `x` `[B, L, width]`: attention (queries, keys and values after any
   * q/k norm and the rotary embedding go to `attend`, which returns `[B, heads, L, Dh]`), then
   * the MLP, each added to the residual stream.
   */
  #block(
    input: Tensor,
    l: number,
    cos: Float32Array,
    sin: Float32Array,
    attend: (q: Tensor, k: Tensor, v: Tensor) => Tensor,
  ): Tensor {
    const { config } = this;
    const { heads, kvHeads, headDim } = config;
    const p = `layers.${l}`;
    let x = input;
    const normed = this.#norm(x, `${p}.attn_norm`);
    const qkv = this.#linear(normed, `${p}.attn.qkv`, config.attentionBias !== 'none');
    // [B, L, (heads + 2·kvHeads)·Dh] -> q [B, heads, L, Dh], k and v [B, kvHeads, L, Dh].
    let q = splitHeads(qkv, 0, heads, headDim);
    let k = splitHeads(qkv, heads * headDim, kvHeads, headDim);
    if (config.qkNorm) {
      q = this.#rmsNorm(q, `${p}.attn.q_norm.weight`);
      k = this.#rmsNorm(k, `${p}.attn.k_norm.weight`);
    }
    q = rotaryEmbedding(q, cos, sin);
    k = rotaryEmbedding(k, cos, sin);
    const v = splitHeads(qkv, (heads + kvHeads) * headDim, kvHeads, headDim);
    const merged = mergeHeads(attend(q, k, v));
    x = tf.add(x, this.#linear(merged, `${p}.attn.out`, config.attentionBias === 'all'));
    const normed2 = this.#norm(x, `${p}.mlp_norm`);
    let hiddenMlp: Tensor;
    if (config.mlp === 'swiglu') {
      const gate = this.#linear(normed2, `${p}.mlp.gate`, config.mlpBias);
      hiddenMlp = tf.mul(
        tf.mul(gate, tf.sigmoid(gate)),
        this.#linear(normed2, `${p}.mlp.up`, config.mlpBias),
      );
    } else {
      hiddenMlp = geluTanh(this.#linear(normed2, `${p}.mlp.up`, config.mlpBias));
    }
    return tf.add(x, this.#linear(hiddenMlp, `${p}.mlp.down`, config.mlpBias));
  }

  /**
   * Preallocated KV-cache buffers of `capacity` positions for every layer, holding a prefill's
   * cache (`[B, kvHeads, past, Dh]` per layer) in columns `0 .. past - 1`; the rest is zero.
   * WASM and CPU backends only (see {@link decode}). The caller disposes the buffers.
   */
  allocateCache(prefill: readonly LayerCache[], capacity: number): KvCacheBuffers[] {
    return prefill.map(({ keys, values }) =>
      tf.tidy(() => {
        const [batch, kvHeads, past, headDim] = keys.shape as [number, number, number, number];
        const pad = tf.zeros([batch, kvHeads, capacity - past, headDim]);
        return { keys: tf.concat([keys, pad], 2), values: tf.concat([values, pad], 2) };
      }),
    );
  }

  /**
   * One decoding step: the next token of every row (`ids` `[B]`, at `positions`), attending to
   * the `past` positions in `cache` (written by {@link allocateCache} and earlier steps), whose
   * column `past` this step fills in place. `keyMask` `[B·capacity]` marks the real tokens.
   * Returns the final-normed hidden states `[B, width]`. Inference only, on the backends whose
   * tensors live in host memory (WASM, CPU); elsewhere use {@link forward} with a cache.
   */
  decode(
    ids: Int32Array,
    positions: Int32Array,
    keyMask: Uint8Array,
    cache: readonly KvCacheBuffers[],
    past: number,
  ): Tensor {
    const batch = ids.length;
    const { cos, sin } = this.#rotary(positions, batch, 1);
    let x = tf.reshape(embeddingLookup(this.#param('embed.weight'), ids), [
      batch,
      1,
      this.config.width,
    ]);
    for (let l = 0; l < this.config.layers; l++) {
      x = this.#block(x, l, cos, sin, (q, k, v) =>
        decodeAttention(q, k, v, cache[l]!, past, keyMask),
      );
    }
    return tf.reshape(this.#norm(x, 'final_norm'), [batch, this.config.width]);
  }

  /** `x · W (+ b)` for the parameter pair `<name>.weight` / `<name>.bias`. */
  #linear(x: Tensor, name: string, bias: boolean): Tensor {
    const product = matMul(x, this.#param(`${name}.weight`));
    return bias ? tf.add(product, this.#param(`${name}.bias`)) : product;
  }

  /** Logits `[..., V]` from hidden states `[..., width]`. */
  logits(hidden: Tensor): Tensor {
    return this.config.tiedEmbeddings
      ? matMul(hidden, this.#param('embed.weight'), false, true)
      : matMul(hidden, this.#param('lm_head.weight'));
  }

  /** RMSNorm over the last axis: `x · rsqrt(mean(x²) + eps) · weight`. */
  #rmsNorm(x: Tensor, weightName: string): Tensor {
    return rmsNorm(x, this.#param(weightName), this.config.normEpsilon);
  }

  /** The block's norm (LayerNorm or RMSNorm), one fused op on the WASM and CPU backends. */
  #norm(x: Tensor, prefix: string): Tensor {
    if (this.config.norm === 'rmsnorm') return this.#rmsNorm(x, `${prefix}.weight`);
    return layerNorm(
      x,
      this.#param(`${prefix}.weight`),
      this.#param(`${prefix}.bias`),
      this.config.normEpsilon,
    );
  }

  /** cos and sin tables `[B, L, headDim/2]` for the given absolute positions. */
  #rotary(
    positions: Int32Array,
    batch: number,
    length: number,
  ): { cos: Float32Array; sin: Float32Array } {
    const half = this.config.headDim / 2;
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
    return { cos, sin };
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

import {
  InvalidArgumentError,
  InvalidValueError,
  type PolicyV1,
  type SampleRequestV1,
  type SampleResultV1,
  type ScoreRequestV1,
  type ScoreResultV1,
  ShapeError,
} from '@hicra/spec';
import {
  type DifferentiablePolicy,
  hostMemoryBackend,
  type KvCacheBuffers,
  SeededGenerator,
  type Tensor,
  type TokenStatisticsTensors,
  tf,
  tokenLogProbsAndEntropy,
  type Variable,
} from '@hicra/tensor';
import {
  resolveTransformerConfig,
  type TransformerConfig,
  type TransformerConfigInput,
} from './model/config.js';
import { checkIds, checkPrompts, layoutSequences } from './model/layout.js';
import { checkModelFits } from './model/memory.js';
import { type LayerCache, Transformer, uniqueVariableName } from './model/transformer.js';
import { sampleToken } from './sampling.js';

const SOURCE = '@hicra/policy';

export interface TransformerPolicyOptions {
  /** Responses per forward pass in `score` (memory bound). Default 16. */
  readonly microBatchSize?: number;
  /** Id written after a response ends. Default 0. */
  readonly padId?: number;
}

/**
 * Whole sequences to score at every position (the local engine's packed datums), right-padded
 * to T: row b's valid positions are `0 .. n_b - 1`.
 */
export interface SequenceScoreRequest {
  readonly batchSize: number;
  readonly seqLen: number;
  /** `[B·T]` int32 model input (anything at padding). */
  readonly inputTokens: Int32Array;
  /** `[B·T]` int32 token each position is scored on (anything at padding). */
  readonly targetTokens: Int32Array;
  /** `[B·T]` uint8: 1 on each row's valid prefix, 0 after. */
  readonly mask: Uint8Array;
  /** Softmax temperature of the scored distribution, > 0. Default 1. */
  readonly temperature?: number;
}

/**
 * A transformer language-model policy: `PolicyV1` (seeded KV-cache sampling and teacher-forced
 * scoring on typed arrays) and `DifferentiablePolicy` (token statistics as tensors, for the
 * trainer's gradient step). Prompts are left-padded so every response starts at the same column.
 */
export class TransformerPolicy implements PolicyV1, DifferentiablePolicy {
  readonly model: Transformer;
  readonly microBatchSize: number;
  readonly padId: number;

  constructor(model: Transformer, options: TransformerPolicyOptions = {}) {
    this.model = model;
    this.microBatchSize = options.microBatchSize ?? 16;
    this.padId = options.padId ?? 0;
    if (!Number.isInteger(this.microBatchSize) || this.microBatchSize < 1) {
      throw new InvalidArgumentError(
        `microBatchSize must be a positive integer, got ${options.microBatchSize}`,
        { source: SOURCE },
      );
    }
    checkIds([this.padId], model.config.vocabSize, 'padId');
  }

  /**
   * A new policy with freshly initialised weights (seeded). A config whose weights cannot fit
   * the backend is a `ResourceLimitError`, before anything is allocated.
   */
  static create(
    config: TransformerConfigInput,
    options: TransformerPolicyOptions & { readonly seed: number },
  ): TransformerPolicy {
    const resolved = resolveTransformerConfig(config);
    checkModelFits(resolved);
    return new TransformerPolicy(Transformer.initialise(resolved, options.seed), options);
  }

  get config(): TransformerConfig {
    return this.model.config;
  }

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  get contextLength(): number {
    return this.model.config.contextLength;
  }

  trainableVariables(): Variable[] {
    return this.model.variables();
  }

  /**
   * Replaces every parameter's values (by parameter name, float32 in the parameter's
   * row-major layout): a frozen reference restored from a checkpoint, weights received from
   * elsewhere. Everything is checked before anything changes: a missing or unknown name, or a
   * length that differs, is a `ShapeError` naming the parameter.
   */
  assignWeights(weights: ReadonlyMap<string, Float32Array>): void {
    const parameters = this.model.parameters();
    for (const [name, variable] of parameters) {
      const values = weights.get(name);
      if (values === undefined || values.length !== variable.size) {
        throw new ShapeError(
          `assignWeights: parameter "${name}" ${values === undefined ? 'is missing' : `has ${values.length} values, expected ${variable.size} (shape [${variable.shape.join(', ')}])`}`,
          { source: '@hicra/policy', details: { parameter: name } },
        );
      }
    }
    for (const name of weights.keys()) {
      if (!parameters.has(name)) {
        throw new ShapeError(`assignWeights: this model has no parameter "${name}"`, {
          source: '@hicra/policy',
          details: { parameter: name },
        });
      }
    }
    for (const [name, variable] of parameters) {
      tf.tidy(() => {
        variable.assign(tf.tensor(weights.get(name)!, variable.shape, 'float32'));
      });
    }
  }

  dispose(): void {
    this.model.dispose();
  }

  /**
   * An independent copy: same configuration and options, weights copied into new variables
   * (not trainable). Used for a frozen reference policy (KL), as verl copies the initial actor.
   */
  clone(): TransformerPolicy {
    const params = new Map<string, Variable>();
    for (const [name, variable] of this.model.parameters()) {
      // A copy of the data, not a shared buffer: the original's updates must never reach it.
      const copy = tf.tensor(variable.dataSync().slice(), variable.shape, variable.dtype);
      params.set(name, tf.variable(copy, false, uniqueVariableName(name)));
      copy.dispose();
    }
    return new TransformerPolicy(Transformer.fromVariables(this.model.config, params), {
      microBatchSize: this.microBatchSize,
      padId: this.padId,
    });
  }

  #checkScoreRequest(request: ScoreRequestV1): Int32Array {
    const { batchSize, seqLen, tokenIds, responseMask } = request;
    const temperature = request.temperature ?? 1;
    if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) {
      throw new InvalidArgumentError(
        `score: temperature must be a finite number > 0, got ${String(temperature)}`,
        { source: SOURCE, details: { argument: 'temperature' } },
      );
    }
    if (!Number.isInteger(batchSize) || batchSize < 0 || !Number.isInteger(seqLen) || seqLen < 1) {
      throw new ShapeError(
        `score: batchSize must be >= 0 and seqLen >= 1, got ${batchSize} and ${seqLen}`,
        { source: SOURCE },
      );
    }
    for (const [name, array, type] of [
      ['tokenIds', tokenIds, Int32Array],
      ['responseMask', responseMask, Uint8Array],
    ] as const) {
      if (!(array instanceof type) || array.length !== batchSize * seqLen) {
        throw new ShapeError(
          `score: ${name} must be a ${type.name} of batchSize·seqLen = ${batchSize * seqLen}`,
          {
            source: SOURCE,
            details: { argument: name, expected: batchSize * seqLen },
          },
        );
      }
    }
    const lengths = checkPrompts(request.prompts, batchSize, this.vocabSize, 'prompts');
    checkIds(tokenIds, this.vocabSize, 'tokenIds', responseMask);
    for (let i = 0; i < batchSize; i++) {
      if (lengths[i]! + seqLen > this.contextLength) {
        throw new InvalidValueError(
          `score: prompt ${i} (${lengths[i]} tokens) + ${seqLen} response tokens exceed the context length ${this.contextLength}`,
          {
            source: SOURCE,
            details: {
              index: i,
              promptLength: lengths[i],
              seqLen,
              contextLength: this.contextLength,
            },
          },
        );
      }
    }
    return lengths;
  }

  /**
   * Teacher-forced statistics `[B, T]` of the given responses as tensors (at
   * `request.temperature`, default 1), zero outside the response mask: call inside `tf.variableGrads` for a gradient step. No micro-batching here:
   * the trainer splits the batch into mini-batches itself.
   */
  tokenStatistics(request: ScoreRequestV1): TokenStatisticsTensors {
    const lengths = this.#checkScoreRequest(request);
    return tf.tidy(() => ({ ...this.#statistics(request, lengths, 0, request.batchSize) }));
  }

  /**
   * Teacher-forced statistics `[B, T]` of whole sequences scored at every position, the shape of
   * the engine's datums (`DatumV1`): position t of row b reads `inputTokens[0..t]` and is scored on
   * `targetTokens[t]`, at `request.temperature` (default 1); zero outside `mask`. Rows are
   * right-padded and start at position 0, so no prompt/response split is needed (compare
   * {@link tokenStatistics}, which scores responses after left-padded prompts). Differentiable:
   * call inside `tf.variableGrads` or `tf.tidy`; the caller owns the tensors. One forward pass, no
   * micro-batching.
   */
  sequenceStatistics(request: SequenceScoreRequest): TokenStatisticsTensors {
    const { batchSize: B, seqLen: T, inputTokens, targetTokens, mask } = request;
    const temperature = request.temperature ?? 1;
    if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) {
      throw new InvalidArgumentError(
        `sequenceStatistics: temperature must be a finite number > 0, got ${String(temperature)}`,
        { source: SOURCE, details: { argument: 'temperature' } },
      );
    }
    if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1) {
      throw new ShapeError(
        `sequenceStatistics: batchSize and seqLen must be integers >= 1, got ${B} and ${T}`,
        { source: SOURCE, details: { batchSize: B, seqLen: T } },
      );
    }
    for (const [name, array, type] of [
      ['inputTokens', inputTokens, Int32Array],
      ['targetTokens', targetTokens, Int32Array],
      ['mask', mask, Uint8Array],
    ] as const) {
      if (!(array instanceof type) || array.length !== B * T) {
        throw new ShapeError(
          `sequenceStatistics: ${name} must be a ${type.name} of batchSize·seqLen = ${B * T}`,
          { source: SOURCE, details: { argument: name, expected: B * T } },
        );
      }
    }
    if (T > this.contextLength) {
      throw new InvalidValueError(
        `sequenceStatistics: seqLen ${T} exceeds the context length ${this.contextLength}`,
        { source: SOURCE, details: { seqLen: T, contextLength: this.contextLength } },
      );
    }
    for (let b = 0; b < B; b++) {
      for (let t = 1; t < T; t++) {
        if (mask[b * T + t] === 1 && mask[b * T + t - 1] !== 1) {
          throw new InvalidValueError(
            `sequenceStatistics: mask row ${b} is not right-padded (position ${t} is valid after padding)`,
            { source: SOURCE, details: { argument: 'mask', row: b, index: t } },
          );
        }
      }
    }
    checkIds(inputTokens, this.vocabSize, 'inputTokens', mask);
    checkIds(targetTokens, this.vocabSize, 'targetTokens', mask);
    return tf.tidy(() => {
      const ids = Int32Array.from(inputTokens, (id, k) => (mask[k] === 1 ? id : this.padId));
      const labels = Int32Array.from(targetTokens, (id, k) => (mask[k] === 1 ? id : this.padId));
      const positions = Int32Array.from({ length: B * T }, (_, k) => k % T);
      const { hidden } = this.model.forward({
        ids: tf.tensor2d(ids, [B, T], 'int32'),
        positions,
        keyMask: mask,
      });
      let logits = this.model.logits(tf.reshape(hidden, [B * T, this.config.width]));
      if (temperature !== 1) logits = tf.div(logits, temperature);
      const { logProbs, entropies } = tokenLogProbsAndEntropy(logits, labels);
      const valid = tf.tensor2d(mask, [B, T], 'float32');
      return {
        logProbs: tf.mul(tf.reshape(logProbs, [B, T]), valid),
        entropies: tf.mul(tf.reshape(entropies, [B, T]), valid),
      };
    });
  }

  #statistics(
    request: ScoreRequestV1,
    lengths: Int32Array,
    from: number,
    to: number,
  ): TokenStatisticsTensors {
    const rows = to - from;
    const T = request.seqLen;
    const layout = layoutSequences(
      request.prompts,
      lengths,
      rows,
      (r) => from + r,
      T,
      request.tokenIds.subarray(from * T, to * T),
      request.responseMask.subarray(from * T, to * T),
      this.padId,
    );
    // The last response token is never an input: the pass stops one column early.
    const inputWidth = layout.width - 1;
    const ids = new Int32Array(rows * inputWidth);
    const positions = new Int32Array(rows * inputWidth);
    const keyMask = new Uint8Array(rows * inputWidth);
    for (let r = 0; r < rows; r++) {
      ids.set(layout.ids.subarray(r * layout.width, r * layout.width + inputWidth), r * inputWidth);
      positions.set(
        layout.positions.subarray(r * layout.width, r * layout.width + inputWidth),
        r * inputWidth,
      );
      keyMask.set(
        layout.keyMask.subarray(r * layout.width, r * layout.width + inputWidth),
        r * inputWidth,
      );
    }
    const { hidden } = this.model.forward({
      ids: tf.tensor2d(ids, [rows, inputWidth], 'int32'),
      positions,
      keyMask,
    });
    // Response token t is predicted at column S - 1 + t.
    const responseHidden = tf.slice(
      hidden,
      [0, layout.promptWidth - 1, 0],
      [rows, T, this.config.width],
    );
    let logits = this.model.logits(tf.reshape(responseHidden, [rows * T, this.config.width]));
    // The distribution the sampler drew from: logits / temperature before the log-softmax.
    const temperature = request.temperature ?? 1;
    if (temperature !== 1) logits = tf.div(logits, temperature);
    const labels = Int32Array.from(request.tokenIds.subarray(from * T, to * T), (id, k) =>
      request.responseMask[from * T + k] === 1 ? id : this.padId,
    );
    const { logProbs, entropies } = tokenLogProbsAndEntropy(logits, labels);
    const mask = tf.tensor2d(request.responseMask.subarray(from * T, to * T), [rows, T], 'float32');
    return {
      logProbs: tf.mul(tf.reshape(logProbs, [rows, T]), mask),
      entropies: tf.mul(tf.reshape(entropies, [rows, T]), mask),
    };
  }

  /**
   * Teacher-forced log-probs and entropies on typed arrays, in micro-batches of
   * `microBatchSize`, of `softmax(logits / request.temperature)` (default 1).
   */
  async score(request: ScoreRequestV1): Promise<ScoreResultV1> {
    const lengths = this.#checkScoreRequest(request);
    const T = request.seqLen;
    const logProbs = new Float32Array(request.batchSize * T);
    const entropies = new Float32Array(request.batchSize * T);
    for (let from = 0; from < request.batchSize; from += this.microBatchSize) {
      const to = Math.min(request.batchSize, from + this.microBatchSize);
      const stats = tf.tidy(() => ({ ...this.#statistics(request, lengths, from, to) }));
      logProbs.set((await stats.logProbs.data()) as Float32Array, from * T);
      entropies.set((await stats.entropies.data()) as Float32Array, from * T);
      tf.dispose([stats.logProbs, stats.entropies]);
    }
    return { logProbs, entropies };
  }

  /** Logits of every position of full sequences (no cache); for tests and diagnostics. */
  fullLogits(
    ids: Int32Array,
    batch: number,
    length: number,
    keyMask?: Uint8Array,
    positions?: Int32Array,
  ): Tensor {
    return tf.tidy(() => {
      const pos = positions ?? Int32Array.from({ length: batch * length }, (_, k) => k % length);
      const mask = keyMask ?? new Uint8Array(batch * length).fill(1);
      const { hidden } = this.model.forward({
        ids: tf.tensor2d(ids, [batch, length], 'int32'),
        positions: pos,
        keyMask: mask,
      });
      return this.model.logits(hidden);
    });
  }

  /**
   * G samples of each prompt with a KV cache: one prefill over the left-padded prompts, then
   * one token per step. Reproducible: the same seed, prompts and weights give the same tokens.
   * A response ends after a stop token (which belongs to the response) or at `maxNewTokens`.
   */
  async sample(request: SampleRequestV1): Promise<SampleResultV1> {
    const { samplesPerPrompt: G, maxNewTokens: T } = request;
    const temperature = request.temperature ?? 1;
    const topK = request.topK ?? 0;
    const topP = request.topP ?? 1;
    const promptCount = request.prompts.offsets.length - 1;
    if (!Number.isInteger(G) || G < 1)
      throw new InvalidArgumentError(
        `sample: samplesPerPrompt must be a positive integer, got ${G}`,
        { source: SOURCE },
      );
    if (!Number.isInteger(T) || T < 1)
      throw new InvalidArgumentError(`sample: maxNewTokens must be a positive integer, got ${T}`, {
        source: SOURCE,
      });
    if (!(temperature >= 0) || !Number.isFinite(temperature))
      throw new InvalidArgumentError(`sample: temperature must be >= 0, got ${temperature}`, {
        source: SOURCE,
      });
    if (!Number.isInteger(topK) || topK < 0)
      throw new InvalidArgumentError(`sample: topK must be a non-negative integer, got ${topK}`, {
        source: SOURCE,
      });
    if (!(topP > 0 && topP <= 1))
      throw new InvalidArgumentError(`sample: topP must be in (0, 1], got ${topP}`, {
        source: SOURCE,
      });
    if (!Number.isSafeInteger(request.seed) || request.seed < 0)
      throw new InvalidArgumentError(
        `sample: seed must be a non-negative integer, got ${request.seed}`,
        { source: SOURCE },
      );
    const lengths = checkPrompts(request.prompts, promptCount, this.vocabSize, 'prompts');
    const stop = new Set(request.stopTokenIds ?? []);
    checkIds([...stop], this.vocabSize, 'stopTokenIds');
    for (let p = 0; p < promptCount; p++) {
      if (lengths[p]! + T > this.contextLength) {
        throw new InvalidValueError(
          `sample: prompt ${p} (${lengths[p]} tokens) + maxNewTokens ${T} exceed the context length ${this.contextLength}`,
          {
            source: SOURCE,
            details: {
              index: p,
              promptLength: lengths[p],
              maxNewTokens: T,
              contextLength: this.contextLength,
            },
          },
        );
      }
    }

    const B = promptCount * G;
    const promptIndex = Int32Array.from({ length: B }, (_, r) => Math.floor(r / G));
    const tokenIds = new Int32Array(B * T).fill(this.padId);
    const responseMask = new Uint8Array(B * T);
    const logProbs = new Float32Array(B * T);
    const finished = new Uint8Array(B);
    const generator = new SeededGenerator(request.seed);
    const options = { temperature, topK, topP };
    if (B === 0)
      return { batchSize: 0, seqLen: T, promptIndex, tokenIds, responseMask, logProbs, finished };

    const layout = layoutSequences(request.prompts, lengths, B, (r) => promptIndex[r]!, 0);
    const S = layout.promptWidth;
    // Key mask of the whole run: the prompt part, then 1 for every generated column.
    const keyMask = new Uint8Array(B * (S + T));
    for (let r = 0; r < B; r++) {
      keyMask.set(layout.keyMask.subarray(r * S, (r + 1) * S), r * (S + T));
      keyMask.fill(1, r * (S + T) + S, (r + 1) * (S + T));
    }
    const maskUpTo = (columns: number) => {
      const out = new Uint8Array(B * columns);
      for (let r = 0; r < B; r++)
        out.set(keyMask.subarray(r * (S + T), r * (S + T) + columns), r * columns);
      return out;
    };

    // On WASM and CPU the cache is preallocated for the whole run and each step writes its
    // column in place (`Transformer.decode`); elsewhere each step concatenates a new cache.
    const inPlace = hostMemoryBackend();
    let cache: LayerCache[] = [];
    let buffers: KvCacheBuffers[] = [];
    let lastLogits: Float32Array;
    {
      const result = tf.tidy(() => {
        const { hidden, cache: filled } = this.model.forward(
          {
            ids: tf.tensor2d(layout.ids, [B, S], 'int32'),
            positions: layout.positions,
            keyMask: maskUpTo(S),
          },
          true,
        );
        const last = tf.reshape(tf.slice(hidden, [0, S - 1, 0], [B, 1, this.config.width]), [
          B,
          this.config.width,
        ]);
        return { logits: this.model.logits(last), cache: filled! };
      });
      cache = result.cache;
      if (inPlace) {
        buffers = this.model.allocateCache(cache, S + T);
        tf.dispose(cache.flatMap((c) => [c.keys, c.values]));
        cache = [];
      }
      lastLogits = (await result.logits.data()) as Float32Array;
      result.logits.dispose();
    }
    const V = this.vocabSize;
    const next = new Int32Array(B);
    try {
      for (let t = 0; t < T; t++) {
        for (let r = 0; r < B; r++) {
          if (finished[r] === 1) {
            next[r] = this.padId;
            continue;
          }
          const { token, logProb } = sampleToken(
            lastLogits.subarray(r * V, (r + 1) * V),
            options,
            generator,
          );
          next[r] = token;
          tokenIds[r * T + t] = token;
          responseMask[r * T + t] = 1;
          logProbs[r * T + t] = logProb;
          if (stop.has(token)) finished[r] = 1;
        }
        if (t === T - 1 || finished.every((f) => f === 1)) break;
        const positions = Int32Array.from({ length: B }, (_, r) => lengths[promptIndex[r]!]! + t);
        if (inPlace) {
          const logits = tf.tidy(() =>
            this.model.logits(this.model.decode(next, positions, keyMask, buffers, S + t)),
          );
          lastLogits = (await logits.data()) as Float32Array;
          logits.dispose();
          continue;
        }
        const step = tf.tidy(() => {
          const { hidden, cache: extended } = this.model.forward(
            {
              ids: tf.tensor2d(next, [B, 1], 'int32'),
              positions,
              keyMask: maskUpTo(S + t + 1),
              cache,
            },
            true,
          );
          return {
            logits: this.model.logits(tf.reshape(hidden, [B, this.config.width])),
            cache: extended!,
          };
        });
        tf.dispose(cache.flatMap((c) => [c.keys, c.values]));
        cache = step.cache;
        lastLogits = (await step.logits.data()) as Float32Array;
        step.logits.dispose();
      }
    } finally {
      tf.dispose(cache.flatMap((c) => [c.keys, c.values]));
      tf.dispose(buffers.flatMap((c) => [c.keys, c.values]));
    }
    return { batchSize: B, seqLen: T, promptIndex, tokenIds, responseMask, logProbs, finished };
  }
}

import { CorruptFileError, InvalidArgumentError } from '@hicra/spec';
import { type Tensor, tf, type Variable } from '@hicra/tensor';

export interface OptimizerSettings {
  /** `adam`, or `adamw` (decoupled weight decay). Default `adamw`. */
  readonly name?: 'adam' | 'adamw';
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  /** AdamW's decoupled weight decay. Default 0.01 for adamw, 0 for adam. */
  readonly weightDecay?: number;
}

/** The optimizer state as plain arrays, for checkpoints (exact resume). */
export interface OptimizerState {
  readonly step: number;
  /** First and second moments by variable position, float32 little-endian values. */
  readonly moments: readonly { readonly m: Float32Array; readonly v: Float32Array }[];
}

/**
 * Adam / AdamW with the learning rate given at every step (schedules), explicit moment tensors
 * (saved and restored exactly), and decoupled weight decay (Loshchilov and Hutter) for AdamW.
 * Norm weights and biases (rank 1) are not decayed.
 */
export class AdamOptimizer {
  readonly name: 'adam' | 'adamw';
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  readonly #variables: Variable[];
  readonly #m: Tensor[];
  readonly #v: Tensor[];
  #step = 0;

  constructor(variables: Variable[], settings: OptimizerSettings = {}) {
    this.name = settings.name ?? 'adamw';
    this.beta1 = settings.beta1 ?? 0.9;
    this.beta2 = settings.beta2 ?? 0.999;
    this.epsilon = settings.epsilon ?? 1e-8;
    this.weightDecay = settings.weightDecay ?? (this.name === 'adamw' ? 0.01 : 0);
    for (const [key, value, low, high] of [
      ['beta1', this.beta1, 0, 1],
      ['beta2', this.beta2, 0, 1],
    ] as const) {
      if (!(value >= low && value < high))
        throw new InvalidArgumentError(`optimizer ${key} must be in [0, 1), got ${value}`, {
          source: '@hicra/trainer',
        });
    }
    if (!(this.epsilon > 0))
      throw new InvalidArgumentError(`optimizer epsilon must be > 0, got ${this.epsilon}`, {
        source: '@hicra/trainer',
      });
    if (!(this.weightDecay >= 0))
      throw new InvalidArgumentError(
        `optimizer weightDecay must be >= 0, got ${this.weightDecay}`,
        { source: '@hicra/trainer' },
      );
    this.#variables = variables;
    this.#m = variables.map((v) => tf.keep(tf.zerosLike(v)));
    this.#v = variables.map((v) => tf.keep(tf.zerosLike(v)));
  }

  get step(): number {
    return this.#step;
  }

  /** One update with `grads` (by variable name, as `tf.variableGrads` returns) at `learningRate`. */
  apply(grads: Readonly<Record<string, Tensor>>, learningRate: number): void {
    this.#step++;
    const t = this.#step;
    const correction1 = 1 - this.beta1 ** t;
    const correction2 = 1 - this.beta2 ** t;
    tf.tidy(() => {
      this.#variables.forEach((variable, i) => {
        const grad = grads[variable.name];
        if (grad === undefined) return;
        const m = tf.add(tf.mul(this.#m[i]!, this.beta1), tf.mul(grad, 1 - this.beta1));
        const v = tf.add(tf.mul(this.#v[i]!, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
        const update = tf.div(
          tf.div(m, correction1),
          tf.add(tf.sqrt(tf.div(v, correction2)), this.epsilon),
        );
        let next = tf.sub(variable, tf.mul(update, learningRate));
        if (this.weightDecay > 0 && variable.rank > 1)
          next = tf.sub(next, tf.mul(variable, learningRate * this.weightDecay));
        variable.assign(next);
        this.#m[i]!.dispose();
        this.#v[i]!.dispose();
        this.#m[i] = tf.keep(m);
        this.#v[i] = tf.keep(v);
      });
    });
  }

  /** The full state as plain arrays. */
  async getState(): Promise<OptimizerState> {
    const moments = [];
    for (let i = 0; i < this.#variables.length; i++) {
      moments.push({
        m: (await this.#m[i]!.data()) as Float32Array,
        v: (await this.#v[i]!.data()) as Float32Array,
      });
    }
    return { step: this.#step, moments };
  }

  /** Restores a state from `getState` (same variables, same order). */
  setState(state: OptimizerState): void {
    if (state.moments.length !== this.#variables.length) {
      throw new CorruptFileError(
        `optimizer state has ${state.moments.length} moment pairs, the model has ${this.#variables.length} variables`,
        {
          source: '@hicra/trainer',
        },
      );
    }
    state.moments.forEach(({ m, v }, i) => {
      const variable = this.#variables[i]!;
      if (m.length !== variable.size || v.length !== variable.size) {
        throw new CorruptFileError(
          `optimizer state for ${variable.name} has ${m.length}/${v.length} values, expected ${variable.size}`,
          {
            source: '@hicra/trainer',
          },
        );
      }
      this.#m[i]!.dispose();
      this.#v[i]!.dispose();
      this.#m[i] = tf.keep(tf.tensor(m, variable.shape, 'float32'));
      this.#v[i] = tf.keep(tf.tensor(v, variable.shape, 'float32'));
    });
    this.#step = state.step;
  }

  dispose(): void {
    tf.dispose([...this.#m, ...this.#v]);
  }
}

/**
 * Scales gradients so that their global L2 norm is at most `maxNorm` (no change below it).
 * Returns the clipped gradients (new tensors) and the norm before clipping.
 */
export function clipByGlobalNorm(
  grads: Readonly<Record<string, Tensor>>,
  maxNorm: number,
): { grads: Record<string, Tensor>; norm: number } {
  const names = Object.keys(grads);
  const norm = tf.tidy(() =>
    Math.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]!)))).dataSync()[0]!),
  );
  const scale = Number.isFinite(norm) && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  const clipped: Record<string, Tensor> = {};
  for (const name of names) clipped[name] = tf.tidy(() => tf.mul(grads[name]!, scale));
  return { grads: clipped, norm };
}

/**
 * The first weight that is not finite, or `undefined`. One fused pass on the device
 * (Σ w·0 is 0 unless some w is NaN or ±Infinity) and one read-back; the per-variable search
 * runs only when something is wrong.
 */
export function firstNonFiniteWeight(
  variables: readonly Variable[],
): { name: string; index: number; value: number } | undefined {
  if (variables.length === 0) return undefined;
  const probe = tf.tidy(() => tf.addN(variables.map((v) => tf.sum(tf.mul(v, 0)))).dataSync()[0]!);
  if (Number.isFinite(probe)) return undefined;
  for (const variable of variables) {
    const data = variable.dataSync();
    for (let i = 0; i < data.length; i++)
      if (!Number.isFinite(data[i]!)) return { name: variable.name, index: i, value: data[i]! };
  }
  return undefined;
}

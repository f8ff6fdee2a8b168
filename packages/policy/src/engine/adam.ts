/**
 * Adam(W) for the local engine: Tinker's `AdamParams` with its defaults, global-norm clipping
 * and the finiteness checks. The arithmetic is the trainer's `AdamOptimizer` (`@hicra/trainer`
 * optimizer.ts), moved here so that the engine owns it; moments are keyed by parameter name so
 * that a saved state names every tensor.
 */
import { type AdamParamsV1, InvalidArgumentError, InvalidValueError } from '@hicra/spec';
import { type Tensor, tf, type Variable } from '@hicra/tensor';

const SOURCE = '@hicra/policy';

/** {@link AdamParamsV1} with every default filled in. */
export interface ResolvedAdamParams {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly gradClipNorm: number;
}

/** Tinker's defaults (PROTOCOLS.md 1.6, `AdamParams`). */
export const ADAM_DEFAULTS = {
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-12,
  weightDecay: 0,
  gradClipNorm: 0,
} as const;

/**
 * Fills in Tinker's defaults and checks every value: `learningRate` finite and > 0, `beta1` and
 * `beta2` in [0, 1), `eps` finite and > 0, `weightDecay` and `gradClipNorm` finite and >= 0.
 * A bad value is an `InvalidValueError` naming it.
 */
export function resolveAdamParams(params: AdamParamsV1): ResolvedAdamParams {
  if (typeof params !== 'object' || params === null) {
    throw new InvalidArgumentError(
      `optimStep: adam must be an AdamParamsV1 object, got ${String(params)}`,
      {
        source: SOURCE,
        details: { argument: 'adam' },
      },
    );
  }
  const resolved: ResolvedAdamParams = {
    learningRate: params.learningRate,
    beta1: params.beta1 ?? ADAM_DEFAULTS.beta1,
    beta2: params.beta2 ?? ADAM_DEFAULTS.beta2,
    eps: params.eps ?? ADAM_DEFAULTS.eps,
    weightDecay: params.weightDecay ?? ADAM_DEFAULTS.weightDecay,
    gradClipNorm: params.gradClipNorm ?? ADAM_DEFAULTS.gradClipNorm,
  };
  const checks: [keyof ResolvedAdamParams, (v: number) => boolean, string][] = [
    ['learningRate', (v) => v > 0, 'a finite number > 0'],
    ['beta1', (v) => v >= 0 && v < 1, 'in [0, 1)'],
    ['beta2', (v) => v >= 0 && v < 1, 'in [0, 1)'],
    ['eps', (v) => v > 0, 'a finite number > 0'],
    ['weightDecay', (v) => v >= 0, 'a finite number >= 0'],
    ['gradClipNorm', (v) => v >= 0, 'a finite number >= 0 (0: no clipping)'],
  ];
  for (const [key, ok, expected] of checks) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      throw new InvalidValueError(`optimStep: adam.${key} must be ${expected}, got ${value}`, {
        source: SOURCE,
        details: { argument: `adam.${key}`, value: String(value) },
      });
    }
  }
  return resolved;
}

/** The global L2 norm of a set of gradients (one read-back). */
export function globalNorm(grads: Iterable<Tensor>): number {
  const list = [...grads];
  if (list.length === 0) return 0;
  return tf.tidy(() => Math.sqrt(tf.addN(list.map((g) => tf.sum(tf.square(g)))).dataSync()[0]!));
}

/**
 * The factor that brings a gradient of global norm `norm` down to `maxNorm` (1 at or below it,
 * and when `maxNorm` is 0: off), as the trainer's `clipByGlobalNorm` and torch's
 * `clip_grad_norm_` (`maxNorm / (norm + 1e-6)`).
 */
export function clipScale(norm: number, maxNorm: number): number {
  return maxNorm > 0 && Number.isFinite(norm) && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}

/**
 * The first weight that is not finite, or `undefined`: one fused pass on the device
 * (Σ w·0 is 0 unless some w is NaN or ±Infinity) and one read-back; the per-variable search runs
 * only when something is wrong.
 */
export function firstNonFiniteWeight(
  parameters: Iterable<readonly [string, Variable]>,
): { name: string; index: number; value: number } | undefined {
  const list = [...parameters];
  if (list.length === 0) return undefined;
  const probe = tf.tidy(() => tf.addN(list.map(([, v]) => tf.sum(tf.mul(v, 0)))).dataSync()[0]!);
  if (Number.isFinite(probe)) return undefined;
  for (const [name, variable] of list) {
    const data = variable.dataSync();
    for (let i = 0; i < data.length; i++)
      if (!Number.isFinite(data[i]!)) return { name, index: i, value: data[i]! };
  }
  return undefined;
}

/** Adam's first and second moments and step count, by parameter name. */
export interface AdamStateArrays {
  readonly step: number;
  /** Moments by parameter name; absent names are zero. */
  readonly moments: ReadonlyMap<string, { readonly m: Float32Array; readonly v: Float32Array }>;
}

/**
 * Adam(W) moments of a set of named parameters. Moments are created at the first step (zero
 * before), so a forward-only engine holds no optimizer memory.
 *
 * One step, as torch's `AdamW` and the trainer's `AdamOptimizer`:
 * `m ← β1·m + (1-β1)·g`, `v ← β2·v + (1-β2)·g²`,
 * `w ← w - lr·(m / (1-β1^t)) / (√(v / (1-β2^t)) + eps) - lr·weightDecay·w`. Decoupled weight decay
 * applies to matrices only (rank > 1), never to norm weights and biases, as in the trainer.
 */
export class AdamMoments {
  #step = 0;
  readonly #m = new Map<string, Tensor>();
  readonly #v = new Map<string, Tensor>();

  get step(): number {
    return this.#step;
  }

  /** True once a step has created the moments (or a state was restored). */
  get initialised(): boolean {
    return this.#m.size > 0;
  }

  /**
   * One step over `parameters` with `grads` (by parameter name; a parameter without a gradient
   * keeps its value and moments) multiplied by `gradScale` (clipping).
   */
  apply(
    parameters: Iterable<readonly [string, Variable]>,
    grads: ReadonlyMap<string, Tensor>,
    params: ResolvedAdamParams,
    gradScale = 1,
  ): void {
    this.#step++;
    const t = this.#step;
    const { beta1, beta2, eps, learningRate, weightDecay } = params;
    const correction1 = 1 - beta1 ** t;
    const correction2 = 1 - beta2 ** t;
    for (const [name, variable] of parameters) {
      const raw = grads.get(name);
      if (raw === undefined) continue;
      const [m, v] = tf.tidy(() => {
        const grad = gradScale === 1 ? raw : tf.mul(raw, gradScale);
        const mPrev = this.#m.get(name);
        const vPrev = this.#v.get(name);
        const m = mPrev
          ? tf.add(tf.mul(mPrev, beta1), tf.mul(grad, 1 - beta1))
          : tf.mul(grad, 1 - beta1);
        const v = vPrev
          ? tf.add(tf.mul(vPrev, beta2), tf.mul(tf.square(grad), 1 - beta2))
          : tf.mul(tf.square(grad), 1 - beta2);
        const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), eps));
        let next = tf.sub(variable, tf.mul(update, learningRate));
        if (weightDecay > 0 && variable.rank > 1)
          next = tf.sub(next, tf.mul(variable, learningRate * weightDecay));
        variable.assign(next);
        return [m, v];
      });
      this.#m.get(name)?.dispose();
      this.#v.get(name)?.dispose();
      this.#m.set(name, m!);
      this.#v.set(name, v!);
    }
  }

  /** The moment tensors of one parameter (absent before the first step). */
  moments(name: string): { readonly m: Tensor; readonly v: Tensor } | undefined {
    const m = this.#m.get(name);
    const v = this.#v.get(name);
    return m && v ? { m, v } : undefined;
  }

  /** Replaces the whole state (the caller has checked names and sizes against the model). */
  restore(state: AdamStateArrays, shapes: ReadonlyMap<string, readonly number[]>): void {
    this.clear();
    for (const [name, { m, v }] of state.moments) {
      const shape = [...shapes.get(name)!];
      this.#m.set(name, tf.tensor(m, shape, 'float32'));
      this.#v.set(name, tf.tensor(v, shape, 'float32'));
    }
    this.#step = state.step;
  }

  /** Back to no moments and step 0. */
  clear(): void {
    tf.dispose([...this.#m.values(), ...this.#v.values()]);
    this.#m.clear();
    this.#v.clear();
    this.#step = 0;
  }

  dispose(): void {
    this.clear();
  }
}

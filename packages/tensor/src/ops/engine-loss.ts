import {
  describeValue,
  InvalidArgumentError,
  KL_ESTIMATOR_NAMES,
  type KlEstimatorName,
  LOSS_NAMES,
  type LossNameV1,
  type LossSettingsV1,
  MissingInputError,
  UnknownNameError,
} from '@hicra/spec';
import type { Scalar, Tensor } from '../tf.js';
import { tf } from '../tf.js';
import {
  assertFiniteNumber,
  assertOneOf,
  assertSameShape,
  assertTensor,
  SOURCE,
} from './assert.js';
import { customGradient } from './custom-gradient.js';
import { klPenalty } from './kl-penalty.js';

/**
 * The inputs of {@link engineLoss}: a padded batch of datums, every tensor float32 `[B, T]`.
 * Values at padding positions (`mask` 0) are never read into the loss, even NaN.
 */
export interface EngineLossInput {
  /** Learner log-probs of the target tokens (differentiable). */
  readonly logProbs: Tensor;
  /** Sampler log-probs; required by every loss except `cross-entropy`. */
  readonly oldLogProbs?: Tensor;
  /** Per-token advantages; required by every loss except `cross-entropy`. */
  readonly advantages?: Tensor;
  /**
   * Per-token factor (default 1): `cross-entropy`'s weights, the factor that folds the loss
   * aggregation into `verl-ppo` and `gspo`, and the factor of the entropy and KL terms of any
   * loss. Tinker's `importance-sampling`, `ppo`, `cispo` and `dro` do not read it (fold their
   * normalisation into `advantages`).
   */
  readonly weights?: Tensor;
  /** 1 on real positions, 0 on padding: positions where it is not > 0 add nothing and get no gradient. */
  readonly mask: Tensor;
  /** Per-token entropies, for the entropy bonus (`entropyCoefficient`) and `entropy:sum`. */
  readonly entropies?: Tensor;
  /** Reference-policy log-probs, for the KL term (`klCoefficient`) and `kl:sum`. */
  readonly refLogProbs?: Tensor;
}

export interface EngineLossResult {
  /** The loss to minimise: a token sum over the mask, with no normalisation (differentiable). */
  readonly loss: Scalar;
  /**
   * Sums, so the metrics of several calls add up (the key names the reduction):
   *
   * - `loss:sum`: the value of `loss`;
   * - `tokens:sum`: the number of masked positions;
   * - `clipped:sum` (`ppo`, `cispo`, `verl-ppo`, `gspo`): masked positions where the clip binds
   *   (for `cispo`: the ratio lies outside the thresholds; otherwise: the clipped term is the
   *   larger loss, so the position gets no gradient);
   * - `dual-clipped:sum` (`verl-ppo` with `clipRatioC`): positions with A < 0 where the dual-clip
   *   cap binds;
   * - `entropy:sum` (when `entropies` are given): Σ weights·entropies;
   * - `kl:sum` (when `refLogProbs` are given): Σ weights·KL, with `klEstimator` (default `k3`).
   */
  readonly metrics: Readonly<Record<string, Scalar>>;
}

const OP = 'engineLoss';

const COMMON_KEYS = ['entropyCoefficient', 'klCoefficient', 'klEstimator'] as const;
const THRESHOLD_KEYS = ['clipLowThreshold', 'clipHighThreshold'] as const;
const VERL_KEYS = ['clipRatioLow', 'clipRatioHigh', 'logRatioClamp'] as const;

/** The settings each loss reads. */
const SETTING_KEYS: Readonly<Record<LossNameV1, readonly (keyof LossSettingsV1)[]>> = {
  'cross-entropy': [...COMMON_KEYS],
  'importance-sampling': [...COMMON_KEYS],
  ppo: [...THRESHOLD_KEYS, ...COMMON_KEYS],
  cispo: [...THRESHOLD_KEYS, ...COMMON_KEYS],
  dro: ['beta', ...COMMON_KEYS],
  'verl-ppo': [...VERL_KEYS, 'clipRatioC', ...COMMON_KEYS],
  gspo: [...VERL_KEYS, ...COMMON_KEYS],
};

/** Tinker's default absolute thresholds (PROTOCOLS.md 1.8). */
const DEFAULT_THRESHOLDS: Readonly<Record<'ppo' | 'cispo', readonly [number, number]>> = {
  ppo: [0.8, 1.2],
  cispo: [0, 4],
};

/** The settings a loss reads, each validated, with defaults filled in. */
interface ResolvedSettings {
  readonly low: number;
  readonly high: number;
  readonly beta: number;
  readonly clipRatioC: number | undefined;
  readonly logRatioClamp: number;
  readonly entropyCoefficient: number;
  readonly klCoefficient: number;
  readonly klEstimator: KlEstimatorName;
}

/**
 * A loss of the engine contracts (`LossNameV1`) on a padded batch of datums, as a **token sum**
 * over every masked position (no normalisation: fold it into `advantages` or `weights`, so
 * losses, gradients and metrics of several calls add up). With r = exp(logp - old):
 *
 * - `cross-entropy`: Σ -w·logp
 * - `importance-sampling`: Σ -r·A
 * - `ppo`: Σ -min(r·A, clip(r, low, high)·A), absolute thresholds (default 0.8 / 1.2)
 * - `cispo`: Σ -sg(clip(r, low, high))·logp·A (default 0 / 4)
 * - `dro`: Σ -(logp·A - ½β(logp - old)²), β > 0 required
 * - `verl-ppo`: Σ w·l with verl's `compute_policy_loss_vanilla` per-token loss (the one of
 *   `policyLoss`): r = exp(clamp(logp - old, ±logRatioClamp)),
 *   l = max(-A·r, -A·clip(r, 1 - εlow, 1 + εhigh)), then min(l, -A·c) where A < 0 when
 *   `clipRatioC` is given (dual clip; absent: off). ε default 0.2, εhigh default εlow.
 * - `gspo`: Σ w·max(-A·s, -A·clip(s, 1 - εlow, 1 + εhigh)) with verl's sequence-level ratio
 *   s_t = exp(clamp(sg(mean over the datum's weighted positions of (logp - old)) + logp - sg(logp),
 *   ±logRatioClamp)): the value is the sequence's ratio, the gradient flows per token. (verl
 *   clamps this log-ratio above at 10 only; here both sides at `logRatioClamp`, default 20.)
 *
 * Optional terms on every loss: `- entropyCoefficient·Σ w·entropies` and
 * `+ klCoefficient·Σ w·kl(logp, ref)` with `klEstimator` (default `k3`, see {@link klPenalty}).
 *
 * Bad input throws before any tensor is made: an unknown loss name (`UnknownNameError`), a
 * missing input (`MissingInputError`), a tensor that is not float32 `[B, T]` or whose shape
 * differs (`ShapeError`, `InvalidArgumentError`), and a setting the loss does not read, that is
 * not finite or out of range (`InvalidArgumentError`, `details.argument` = `settings.<key>`).
 * NaN at a masked position makes the loss NaN on every backend. Every tensor of the result is
 * new; the caller disposes them.
 */
export function engineLoss(
  name: LossNameV1,
  input: EngineLossInput,
  settings?: LossSettingsV1,
): EngineLossResult {
  if (!(LOSS_NAMES as readonly unknown[]).includes(name)) {
    throw new UnknownNameError('loss', String(name), LOSS_NAMES, {
      source: SOURCE,
      details: { op: OP, argument: 'name' },
    });
  }
  const resolved = resolveSettings(name, settings);
  checkInput(name, input, resolved);
  return tf.tidy(() => compute(name, input, resolved));
}

function resolveSettings(name: LossNameV1, settings: LossSettingsV1 | undefined): ResolvedSettings {
  if (settings !== undefined && (typeof settings !== 'object' || settings === null)) {
    throw new InvalidArgumentError(
      `${OP}: settings must be an object, got ${describeValue(settings)}`,
      { source: SOURCE, details: { op: OP, argument: 'settings' } },
    );
  }
  const given: Record<string, unknown> = {};
  // A key set to undefined is absent, as for any optional field.
  for (const [key, value] of Object.entries(settings ?? {}))
    if (value !== undefined) given[key] = value;
  const known = SETTING_KEYS[name] as readonly string[];
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(
        `${OP}: settings.${key} is not a setting of loss "${name}"; it reads ${known.map((k) => JSON.stringify(k)).join(', ')}`,
        { source: SOURCE, details: { op: OP, argument: `settings.${key}`, loss: name, known } },
      );
    }
  }
  const number = (
    key: keyof LossSettingsV1,
    fallback: number,
    range: { min?: number; max?: number },
  ) => {
    const value = given[key] ?? fallback;
    assertFiniteNumber(OP, `settings.${key}`, value, range);
    return value;
  };
  const positive = (key: keyof LossSettingsV1, value: unknown, why: string): number => {
    if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0)) {
      throw new InvalidArgumentError(
        `${OP}: settings.${key} must be a finite number > 0${why}, got ${String(value)}`,
        {
          source: SOURCE,
          details: { op: OP, argument: `settings.${key}`, loss: name, value: String(value) },
        },
      );
    }
    return value;
  };

  let low = 0;
  let high = 0;
  let beta = 0;
  let clipRatioC: number | undefined;
  let logRatioClamp = 20;
  if (name === 'ppo' || name === 'cispo') {
    // verl_tinker's check: 0 <= low <= 1 <= high.
    const [defaultLow, defaultHigh] = DEFAULT_THRESHOLDS[name];
    low = number('clipLowThreshold', defaultLow, { min: 0, max: 1 });
    high = number('clipHighThreshold', defaultHigh, { min: 1 });
  } else if (name === 'dro') {
    beta = positive('beta', given.beta, ' (loss "dro" requires it)');
  } else if (name === 'verl-ppo' || name === 'gspo') {
    const epsLow = number('clipRatioLow', 0.2, { min: 0, max: 1 });
    const epsHigh = number('clipRatioHigh', epsLow, { min: 0 });
    low = 1 - epsLow;
    high = 1 + epsHigh;
    if (given.logRatioClamp !== undefined)
      logRatioClamp = positive('logRatioClamp', given.logRatioClamp, '');
    if (given.clipRatioC !== undefined) {
      const c = given.clipRatioC;
      if (typeof c !== 'number' || !Number.isFinite(c) || !(c > 1)) {
        throw new InvalidArgumentError(
          `${OP}: settings.clipRatioC must be a finite number > 1 for the dual clip, got ${String(c)}`,
          {
            source: SOURCE,
            details: { op: OP, argument: 'settings.clipRatioC', loss: name, value: String(c) },
          },
        );
      }
      clipRatioC = c;
    }
  }
  const entropyCoefficient = number('entropyCoefficient', 0, { min: 0 });
  const klCoefficient = number('klCoefficient', 0, { min: 0 });
  const klEstimator = given.klEstimator ?? 'k3';
  assertOneOf(OP, 'settings.klEstimator', klEstimator, KL_ESTIMATOR_NAMES);
  return {
    low,
    high,
    beta,
    clipRatioC,
    logRatioClamp,
    entropyCoefficient,
    klCoefficient,
    klEstimator,
  };
}

function checkInput(name: LossNameV1, input: EngineLossInput, settings: ResolvedSettings): void {
  if (typeof input !== 'object' || input === null) {
    throw new InvalidArgumentError(`${OP}: input must be an object, got ${describeValue(input)}`, {
      source: SOURCE,
      details: { op: OP, argument: 'input' },
    });
  }
  const missing = (argument: string, why: string) =>
    new MissingInputError(`${OP}: input.${argument} is required ${why}`, {
      source: SOURCE,
      details: { op: OP, argument: `input.${argument}`, loss: name },
    });
  if (input.logProbs === undefined) throw missing('logProbs', `by loss "${name}"`);
  if (input.mask === undefined) throw missing('mask', `by loss "${name}"`);
  if (name !== 'cross-entropy') {
    if (input.oldLogProbs === undefined) throw missing('oldLogProbs', `by loss "${name}"`);
    if (input.advantages === undefined) throw missing('advantages', `by loss "${name}"`);
  }
  if (settings.entropyCoefficient !== 0 && input.entropies === undefined)
    throw missing('entropies', 'by settings.entropyCoefficient');
  if (settings.klCoefficient !== 0 && input.refLogProbs === undefined)
    throw missing('refLogProbs', 'by settings.klCoefficient');
  const tensors: Record<string, Tensor | undefined> = {};
  for (const key of [
    'logProbs',
    'oldLogProbs',
    'advantages',
    'weights',
    'mask',
    'entropies',
    'refLogProbs',
  ] as const) {
    const value = input[key];
    if (value === undefined) continue;
    assertTensor(OP, `input.${key}`, value, { rank: 2, dtype: 'float32' });
    tensors[`input.${key}`] = value;
  }
  assertSameShape(OP, tensors);
}

/** The identity whose gradient is zero (torch's `detach`). */
function makeStopGradient(): (x: Tensor) => Tensor {
  return customGradient(([x]: [Tensor]) => ({
    value: tf.clone(x),
    gradFunc: (dy: Tensor) => tf.zerosLike(dy),
  }));
}

/** What {@link compute} returns: a type literal, which `tf.tidy` accepts as a tensor container. */
type Computed = { loss: Scalar; metrics: Record<string, Scalar> };

function compute(name: LossNameV1, input: EngineLossInput, s: ResolvedSettings): Computed {
  const real = tf.greater(input.mask, 0);
  const zeros = tf.zerosLike(input.mask);
  // Every input is read through `clean`: padding becomes 0 before any arithmetic, so it adds
  // nothing, gets a zero gradient, and an Inf or NaN there cannot turn a zero gradient into NaN.
  const clean = (t: Tensor) => tf.where(real, t, zeros);
  const sum = (t: Tensor) => tf.sum(tf.where(real, t, zeros)) as Scalar;
  const logp = clean(input.logProbs);
  const weights = input.weights === undefined ? tf.cast(real, 'float32') : clean(input.weights);
  const old = input.oldLogProbs === undefined ? undefined : clean(input.oldLogProbs);
  const advantages = input.advantages === undefined ? undefined : clean(input.advantages);
  const metrics: Record<string, Scalar> = {};
  const stopGradient = makeStopGradient();

  let perToken: Tensor;
  if (name === 'cross-entropy') {
    perToken = tf.neg(tf.mul(logp, weights));
  } else {
    const A = advantages!;
    const logRatio = tf.sub(logp, old!);
    switch (name) {
      case 'importance-sampling':
        perToken = tf.neg(tf.mul(tf.exp(logRatio), A));
        break;
      case 'ppo': {
        const ratio = tf.exp(logRatio);
        const unclipped = tf.neg(tf.mul(ratio, A));
        const clipped = tf.neg(tf.mul(clip(ratio, s.low, s.high), A));
        perToken = tf.maximum(unclipped, clipped);
        metrics['clipped:sum'] = countWhere(tf.greater(clipped, unclipped), sum);
        break;
      }
      case 'cispo': {
        const ratio = tf.exp(logRatio);
        const coefficient = stopGradient(clip(ratio, s.low, s.high));
        perToken = tf.neg(tf.mul(tf.mul(coefficient, logp), A));
        const outside = tf.logicalOr(tf.less(ratio, s.low), tf.greater(ratio, s.high));
        metrics['clipped:sum'] = countWhere(outside, sum);
        break;
      }
      case 'dro':
        perToken = tf.neg(tf.sub(tf.mul(logp, A), tf.mul(0.5 * s.beta, tf.square(logRatio))));
        break;
      case 'verl-ppo':
      case 'gspo': {
        let clampedLogRatio: Tensor;
        if (name === 'verl-ppo') {
          clampedLogRatio = clip(logRatio, -s.logRatioClamp, s.logRatioClamp);
        } else {
          // verl's compute_policy_loss_gspo: log s_t = sg(log s_i) + logp - sg(logp), where
          // log s_i is the mean log-ratio over the datum's response: its positions with a
          // positive weight (all masked positions without weights), not its prompt.
          const realFloat =
            input.weights === undefined
              ? tf.cast(real, 'float32')
              : tf.cast(tf.logicalAnd(real, tf.greater(weights, 0)), 'float32');
          const counts = tf.maximum(tf.sum(realFloat, 1, true), 1);
          const sequenceLogRatio = tf.div(tf.sum(tf.mul(logRatio, realFloat), 1, true), counts);
          const perTokenLogRatio = tf.add(
            stopGradient(sequenceLogRatio),
            tf.sub(logp, stopGradient(logp)),
          );
          clampedLogRatio = clip(perTokenLogRatio, -s.logRatioClamp, s.logRatioClamp);
        }
        const ratio = tf.exp(clampedLogRatio);
        const negA = tf.neg(A);
        const unclipped = tf.mul(negA, ratio);
        const clipped = tf.mul(negA, clip(ratio, s.low, s.high));
        let loss = tf.maximum(unclipped, clipped);
        metrics['clipped:sum'] = countWhere(tf.greater(clipped, unclipped), sum);
        if (s.clipRatioC !== undefined) {
          const cap = tf.mul(negA, s.clipRatioC);
          const negative = tf.less(A, 0);
          metrics['dual-clipped:sum'] = countWhere(
            tf.logicalAnd(negative, tf.greater(loss, cap)),
            sum,
          );
          loss = tf.where(negative, tf.minimum(cap, loss), loss);
        }
        perToken = tf.mul(loss, weights);
        break;
      }
      default: {
        const unreachable: never = name;
        throw new Error(`unreachable loss ${String(unreachable)}`);
      }
    }
  }

  let loss: Tensor = sum(perToken);
  if (input.entropies !== undefined) {
    const entropy = sum(tf.mul(weights, clean(input.entropies)));
    metrics['entropy:sum'] = tf.clone(entropy) as Scalar;
    if (s.entropyCoefficient !== 0) loss = tf.sub(loss, tf.mul(s.entropyCoefficient, entropy));
  }
  if (input.refLogProbs !== undefined) {
    const kl = sum(tf.mul(weights, klPenalty(logp, clean(input.refLogProbs), s.klEstimator)));
    metrics['kl:sum'] = tf.clone(kl) as Scalar;
    if (s.klCoefficient !== 0) loss = tf.add(loss, tf.mul(s.klCoefficient, kl));
  }
  // Clamps and max/min swallow NaN on some backends (WASM). A NaN input at a masked position
  // must reach the loss on every backend, so a trainer's guard sees it: Σ of the NaN entries
  // is NaN if there is one and 0 otherwise (no 0·Inf from an infinite log-prob).
  const read = [logp, weights, old, advantages].filter((t): t is Tensor => t !== undefined);
  const nanGuard = tf.addN(read.map((t) => tf.sum(tf.where(tf.isNaN(t), t, tf.zerosLike(t)))));
  loss = tf.add(loss, nanGuard);
  metrics['loss:sum'] = tf.clone(loss) as Scalar;
  metrics['tokens:sum'] = countWhere(real, sum);
  return { loss: loss as Scalar, metrics };
}

/**
 * `clipByValue` with float32 bounds. WASM's clamp (XNNPACK) rejects bounds that differ as
 * doubles but round to the same float32 (0.99999997 and 1) and leaves garbage in the output.
 */
function clip(x: Tensor, low: number, high: number): Tensor {
  return tf.clipByValue(x, Math.fround(low), Math.fround(high));
}

function countWhere(condition: Tensor, sum: (t: Tensor) => Scalar): Scalar {
  return sum(tf.cast(condition, 'float32'));
}

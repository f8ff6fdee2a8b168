import type { LossAggregationMode } from '@hicra/spec';
import { InvalidArgumentError } from '@hicra/spec';
import type { Scalar, Tensor } from '../tf.js';
import { tf } from '../tf.js';
import { aggregateLoss } from './aggregate-loss.js';
import { assertFiniteNumber, assertSameShape, assertTensor, SOURCE } from './assert.js';

export interface PolicyLossInput {
  /** float32 `[B, T]`: log-probs of the sampled tokens under the current policy (differentiable). */
  readonly logProbs: Tensor;
  /** float32 `[B, T]`: log-probs under the policy that sampled them. */
  readonly oldLogProbs: Tensor;
  /** float32 `[B, T]`: credit (per-token advantages). */
  readonly advantages: Tensor;
  /** float32 `[B, T]`, 0/1: tokens that receive gradient (the credit's `lossMask`). */
  readonly lossMask: Tensor;
  /** float32 `[B, T]`, 0/1: the normaliser, the **response mask**. Default: `lossMask`. */
  readonly normaliserMask?: Tensor;
}

export interface PolicyLossOptions {
  /** Loss aggregation; default `token-mean`. */
  readonly mode?: LossAggregationMode;
  /** Lower clip ε: the ratio is clipped below at 1 - ε. Default 0.2. */
  readonly clipRatioLow?: number;
  /** Upper clip ε: the ratio is clipped above at 1 + ε. Default `clipRatioLow` (DAPO's clip-higher: 0.28). */
  readonly clipRatioHigh?: number;
  /** Dual-clip constant c > 1: for A < 0 the loss is capped at -A·c. Default 3. */
  readonly clipRatioC?: number;
  /** For `seq-mean-token-sum-norm`; default T. */
  readonly scaleFactor?: number;
}

export interface PolicyLossResult {
  /** The scalar loss to minimise (differentiable). */
  readonly loss: Scalar;
  /** Share of `lossMask` tokens where the clipped term is the larger loss. */
  readonly clipFraction: Scalar;
  /** Share of `lossMask` tokens with A < 0 where the dual-clip cap binds. */
  readonly clipFractionLower: Scalar;
  /** Mean of `oldLogProbs - logProbs` (clamped to ±20) over the normaliser mask. */
  readonly approxKl: Scalar;
}

/**
 * The PPO clipped policy loss with asymmetric clipping (clip-higher) and dual clip, as verl's
 * `compute_policy_loss_vanilla`:
 *
 *     ratio = exp(clamp(logp - old, -20, 20))
 *     l     = max(-A·ratio, -A·clip(ratio, 1 - εlow, 1 + εhigh))
 *     l     = min(l, -A·c)  where A < 0
 *
 * aggregated with {@link aggregateLoss} over `lossMask`, normalised by `normaliserMask`.
 * NaN in `logProbs`, `oldLogProbs` or `advantages` at a loss-masked token makes the loss NaN
 * on every backend (the trainer rejects such a step); values outside `lossMask` are ignored.
 * Every tensor of the result is new; the caller disposes them (or reads them inside a tidy).
 */
export function policyLoss(
  input: PolicyLossInput,
  options: PolicyLossOptions = {},
): PolicyLossResult {
  const op = 'policyLoss';
  const { logProbs, oldLogProbs, advantages, lossMask, normaliserMask } = input;
  for (const [name, value] of Object.entries({ logProbs, oldLogProbs, advantages, lossMask })) {
    assertTensor(op, name, value, { rank: 2, dtype: 'float32' });
  }
  if (normaliserMask !== undefined)
    assertTensor(op, 'normaliserMask', normaliserMask, { rank: 2, dtype: 'float32' });
  assertSameShape(op, { logProbs, oldLogProbs, advantages, lossMask, normaliserMask });
  const clipRatioLow = options.clipRatioLow ?? 0.2;
  const clipRatioHigh = options.clipRatioHigh ?? clipRatioLow;
  const clipRatioC = options.clipRatioC ?? 3;
  assertFiniteNumber(op, 'options.clipRatioLow', clipRatioLow, { min: 0, max: 1 });
  assertFiniteNumber(op, 'options.clipRatioHigh', clipRatioHigh, { min: 0 });
  assertFiniteNumber(op, 'options.clipRatioC', clipRatioC, {});
  if (!(clipRatioC > 1)) {
    throw new InvalidArgumentError(
      `${op}: options.clipRatioC must be greater than 1 for the dual clip, got ${clipRatioC}`,
      {
        source: SOURCE,
        details: { op, argument: 'options.clipRatioC', value: clipRatioC },
      },
    );
  }
  const normaliser = normaliserMask ?? lossMask;

  return tf.tidy(() => {
    const rawLogRatio = tf.sub(logProbs, oldLogProbs);
    const logRatio = tf.clipByValue(rawLogRatio, -20, 20);
    const ratio = tf.exp(logRatio);
    const negA = tf.neg(advantages);
    const unclipped = tf.mul(negA, ratio);
    const clipped = tf.mul(negA, tf.clipByValue(ratio, 1 - clipRatioLow, 1 + clipRatioHigh));
    const clipLoss = tf.maximum(unclipped, clipped);
    const cap = tf.mul(negA, clipRatioC);
    const negative = tf.less(advantages, 0);
    const perToken = tf.where(negative, tf.minimum(cap, clipLoss), clipLoss);
    const aggregated = aggregateLoss(perToken, lossMask, options.mode ?? 'token-mean', {
      normaliserMask: normaliser,
      ...(options.scaleFactor === undefined ? {} : { scaleFactor: options.scaleFactor }),
    });
    // Clamps and max/min swallow NaN on some backends (WASM). A NaN log-prob or advantage at a
    // loss-masked token must reach the loss on every backend, so the trainer's guard sees it:
    // adding 0 · Σ(inputs at loss-masked tokens) propagates NaN and changes nothing otherwise.
    const inputsAtMask = tf.where(
      tf.greater(lossMask, 0),
      tf.add(rawLogRatio, advantages),
      tf.zerosLike(rawLogRatio),
    );
    const loss = tf.add(aggregated, tf.mul(0, tf.sum(inputsAtMask))) as Scalar;
    const maskedMean = (values: Tensor, mask: Tensor) =>
      tf.div(
        tf.sum(tf.where(tf.greater(mask, 0), tf.mul(values, mask), tf.zerosLike(values))),
        tf.maximum(tf.sum(mask), 1),
      ) as Scalar;
    const clipFraction = maskedMean(tf.cast(tf.greater(clipped, unclipped), 'float32'), lossMask);
    const capBinds = tf.logicalAnd(tf.greater(clipLoss, cap), negative);
    const clipFractionLower = maskedMean(tf.cast(capBinds, 'float32'), lossMask);
    const approxKl = maskedMean(tf.neg(logRatio), normaliser);
    return { loss, clipFraction, clipFractionLower, approxKl };
  });
}

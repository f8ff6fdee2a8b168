import { LOSS_AGGREGATION_MODES, type LossAggregationMode } from '@hicra/spec';
import type { Scalar, Tensor } from '../tf.js';
import { tf } from '../tf.js';
import { assertFiniteNumber, assertOneOf, assertSameShape, assertTensor } from './assert.js';

export interface AggregateLossOptions {
  /**
   * The mask that counts tokens and sequences for the normaliser; default `lossMask`.
   * In a credit pipeline this is the **response mask**: clearing a token of `lossMask` removes
   * its gradient without rescaling the others (DESIGN.md, `CreditAssignerV1`).
   */
  readonly normaliserMask?: Tensor;
  /** `seq-mean-token-sum-norm` divides the summed loss by this; default T, the padded width (verl's default). */
  readonly scaleFactor?: number;
}

/**
 * Reduces a per-token loss `[B, T]` to a scalar, as verl's `agg_loss`:
 *
 * - `token-mean`: Σ loss·lossMask / Σ normaliserMask
 * - `seq-mean-token-sum`: mean over sequences of Σ_t loss·lossMask
 * - `seq-mean-token-mean`: mean over sequences of (Σ_t loss·lossMask / Σ_t normaliserMask)
 * - `seq-mean-token-sum-norm` (Dr.GRPO): Σ loss·lossMask / scaleFactor
 *
 * Sequences with no token in the normaliser mask are left out of sequence means, and an
 * all-masked batch gives 0: no NaN, no contribution. Values where `lossMask` is 0 are ignored,
 * even NaN.
 */
export function aggregateLoss(
  loss: Tensor,
  lossMask: Tensor,
  mode: LossAggregationMode,
  options: AggregateLossOptions = {},
): Scalar {
  const op = 'aggregateLoss';
  assertTensor(op, 'loss', loss, { rank: 2, dtype: 'float32' });
  assertTensor(op, 'lossMask', lossMask, { rank: 2, dtype: 'float32' });
  if (options.normaliserMask !== undefined) {
    assertTensor(op, 'options.normaliserMask', options.normaliserMask, {
      rank: 2,
      dtype: 'float32',
    });
  }
  assertSameShape(op, { loss, lossMask, 'options.normaliserMask': options.normaliserMask });
  assertOneOf(op, 'mode', mode, LOSS_AGGREGATION_MODES);
  const scaleFactor = options.scaleFactor ?? loss.shape[1];
  assertFiniteNumber(op, 'options.scaleFactor', scaleFactor, { min: Number.MIN_VALUE });

  return tf.tidy(() => {
    const normaliser = options.normaliserMask ?? lossMask;
    // `where`, not a product: a NaN (or garbage) in a masked-out position must not leak in.
    const masked = tf.where(tf.greater(lossMask, 0), tf.mul(loss, lossMask), tf.zerosLike(loss));
    switch (mode) {
      case 'token-mean':
        return tf.div(tf.sum(masked), tf.maximum(tf.sum(normaliser), 1)) as Scalar;
      case 'seq-mean-token-sum-norm':
        return tf.div(tf.sum(masked), scaleFactor) as Scalar;
      case 'seq-mean-token-sum':
      case 'seq-mean-token-mean': {
        let perSequence = tf.sum(masked, 1);
        const counts = tf.sum(normaliser, 1);
        if (mode === 'seq-mean-token-mean')
          perSequence = tf.div(perSequence, tf.maximum(counts, 1));
        const present = tf.cast(tf.greater(counts, 0), 'float32');
        return tf.div(
          tf.sum(tf.mul(perSequence, present)),
          tf.maximum(tf.sum(present), 1),
        ) as Scalar;
      }
    }
  });
}

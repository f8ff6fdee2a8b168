import { KL_ESTIMATOR_NAMES, type KlEstimatorName } from '@hicra/spec';
import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';
import { assertOneOf, assertSameShape, assertTensor } from './assert.js';

/**
 * Per-token KL estimate between the policy and a reference, from log-probs of the sampled
 * tokens (Schulman's estimators, as verl's `kl_penalty`):
 *
 * - `k1`: logp - ref
 * - `abs`: |logp - ref|
 * - `k2`: ½ (logp - ref)²
 * - `k3` (low variance): exp(ref - logp) - (ref - logp) - 1, with ref - logp clamped to
 *   [-20, 20] and the result to [-10, 10]
 *
 * NaN in either input gives NaN at that position on every backend.
 *
 * @param logProbs float32, any shape
 * @param refLogProbs float32, same shape
 * @returns float32, same shape; differentiable with respect to `logProbs`
 */
export function klPenalty(
  logProbs: Tensor,
  refLogProbs: Tensor,
  estimator: KlEstimatorName,
): Tensor {
  const op = 'klPenalty';
  assertTensor(op, 'logProbs', logProbs, { dtype: 'float32' });
  assertTensor(op, 'refLogProbs', refLogProbs, { dtype: 'float32' });
  assertSameShape(op, { logProbs, refLogProbs });
  assertOneOf(op, 'estimator', estimator, KL_ESTIMATOR_NAMES);
  return tf.tidy(() => {
    switch (estimator) {
      case 'k1':
        return tf.sub(logProbs, refLogProbs);
      case 'abs':
        return tf.abs(tf.sub(logProbs, refLogProbs));
      case 'k2':
        return tf.mul(0.5, tf.square(tf.sub(logProbs, refLogProbs)));
      case 'k3': {
        const difference = tf.sub(refLogProbs, logProbs);
        const kl = tf.clipByValue(difference, -20, 20);
        const k3 = tf.clipByValue(tf.sub(tf.sub(tf.exp(kl), kl), 1), -10, 10);
        // Clamping swallows NaN on some backends (WASM); keep NaN where an input had one.
        return tf.where(tf.isNaN(difference), difference, k3);
      }
    }
  });
}

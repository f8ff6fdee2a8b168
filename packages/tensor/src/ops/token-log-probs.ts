import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';
import {
  type Labels,
  prepareLogits,
  type SoftmaxStatisticsOptions,
  softmaxStatistics,
} from './softmax-statistics.js';

/**
 * Log-probability of each label under the softmax of its logits: `log_softmax(logits)[label]`,
 * computed stably (log-sum-exp) and chunked by rows so that a 2,048 × 32k case stays within
 * memory. Differentiable on every backend.
 *
 * @param logits float32 `[B, T, V]` or `[N, V]`
 * @param labels int32 `[B, T]` or `[N]` (a tensor or an `Int32Array` of B·T ids), each in `[0, V)`
 * @returns float32 `[B, T]` or `[N]`
 *
 * NaN in a row of logits propagates to that row's result (documented; not checked, which would
 * need a read-back of the logits).
 */
export function tokenLogProbs(
  logits: Tensor,
  labels: Labels,
  options: SoftmaxStatisticsOptions = {},
): Tensor {
  return tf.tidy(() => {
    const {
      rows,
      labels: ids,
      leadingShape,
      chunkRows,
    } = prepareLogits('tokenLogProbs', logits, labels, options);
    return tf.reshape(softmaxStatistics(rows, ids, chunkRows, 'logProbs'), leadingShape);
  });
}

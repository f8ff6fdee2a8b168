import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';
import {
  type Labels,
  prepareLogits,
  type SoftmaxStatisticsOptions,
  softmaxStatistics,
} from './softmax-statistics.js';

/**
 * {@link tokenLogProbs} and {@link tokenEntropy} in one pass over the logits (one softmax per
 * chunk instead of two): what a policy-gradient step with an entropy term needs.
 *
 * @returns `{ logProbs, entropies }`, float32, each `[B, T]` or `[N]`; both differentiable.
 *
 * `-Infinity` logits (a masked vocabulary) are entries of probability 0: the entropy is over the
 * finite entries and gradients stay finite. A row of only `-Infinity`, or with a NaN, gives NaN
 * for that row (log-prob and entropy).
 */
export function tokenLogProbsAndEntropy(
  logits: Tensor,
  labels: Labels,
  options: SoftmaxStatisticsOptions = {},
): { logProbs: Tensor; entropies: Tensor } {
  return tf.tidy(() => {
    const {
      rows,
      labels: ids,
      leadingShape,
      chunkRows,
    } = prepareLogits('tokenLogProbsAndEntropy', logits, labels, options);
    const both = softmaxStatistics(rows, ids, chunkRows, 'both');
    const n = rows.shape[0];
    return {
      logProbs: tf.reshape(tf.slice(both, [0, 0], [n, 1]), leadingShape),
      entropies: tf.reshape(tf.slice(both, [0, 1], [n, 1]), leadingShape),
    };
  });
}

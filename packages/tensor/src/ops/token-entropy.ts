import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';
import {
  prepareLogits,
  type SoftmaxStatisticsOptions,
  softmaxStatistics,
} from './softmax-statistics.js';

/**
 * Entropy (nats) of the softmax of each row of logits: `logsumexp(l) - Σ softmax(l)·l`,
 * chunked by rows like {@link tokenLogProbs}. Differentiable on every backend.
 *
 * A `-Infinity` logit (a masked vocabulary entry) has probability 0 and contributes 0 to the
 * entropy and to the gradient. A row of only `-Infinity`, or with a NaN, gives NaN for that row.
 *
 * @param logits float32 `[B, T, V]` or `[N, V]`
 * @returns float32 `[B, T]` or `[N]`
 */
export function tokenEntropy(logits: Tensor, options: SoftmaxStatisticsOptions = {}): Tensor {
  return tf.tidy(() => {
    const { rows, leadingShape, chunkRows } = prepareLogits(
      'tokenEntropy',
      logits,
      undefined,
      options,
    );
    return tf.reshape(softmaxStatistics(rows, undefined, chunkRows, 'entropy'), leadingShape);
  });
}

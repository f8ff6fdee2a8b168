import type { ScoreRequestV1 } from '@hicra/spec';
import type { Tensor, Variable } from './tf.js';

/** Token statistics of a batch as tensors, inside a gradient closure. */
export interface TokenStatisticsTensors {
  /** float32 `[B, T]`: log-probs of the given response tokens (0 outside the response mask). */
  readonly logProbs: Tensor;
  /** float32 `[B, T]`: entropy (nats) of the next-token distribution at each response position. */
  readonly entropies: Tensor;
}

/**
 * The gradient path of a policy (DESIGN.md): tfjs-typed, so it lives here rather than in
 * `@hicra/spec`. `@hicra/policy` implements it; `@hicra/trainer` consumes it:
 *
 * ```ts
 * const { value, grads } = tf.variableGrads(() => {
 *   const { logProbs, entropies } = policy.tokenStatistics(batch);
 *   return policyLoss({ logProbs, ... }).loss;
 * }, policy.trainableVariables());
 * ```
 */
export interface DifferentiablePolicy {
  readonly vocabSize: number;
  /** Every trainable variable, in a stable order (for optimizers and checkpoints). */
  trainableVariables(): Variable[];
  /**
   * Teacher-forced forward pass over prompts + responses, returning per-token statistics at the
   * response positions, of `softmax(logits / batch.temperature)` (default 1). Call inside `tf.variableGrads`/`tf.tidy`; the caller owns the tensors.
   */
  tokenStatistics(batch: ScoreRequestV1): TokenStatisticsTensors;
}

import {
  type AdvantageEstimatorV1,
  definePlugin,
  defineSettings,
  type RolloutBatchV1,
} from '@hicra/spec';
import { segmentMeanStd } from '@hicra/tensor/kernels';
import { outcomeScores } from '../batch-checks.js';
import { defineEstimator } from '../define-estimator.js';

/**
 * RLOO: each response's baseline is the mean of the *other* responses of its group,
 * `r_i - mean_{j≠i} r_j = (r_i - mean_g) · n / (n - 1)`. A group of one keeps its raw score
 * (as verl's `compute_rloo_outcome_advantage`).
 */
export function createRlooEstimator(): AdvantageEstimatorV1 {
  // One value per response; defineEstimator broadcasts it over the valid tokens (a pipeline
  // defers that to its first assigner's pass).
  const perResponse = (batch: RolloutBatchV1): Float64Array => {
    const scores = outcomeScores(batch);
    const { mean, size } = segmentMeanStd(scores, batch.groupIds);
    const values = new Float64Array(batch.batchSize);
    for (let i = 0; i < batch.batchSize; i++) {
      const n = size[i]!;
      values[i] = n > 1 ? ((scores[i]! - mean[i]!) * n) / (n - 1) : scores[i]!;
    }
    return values;
  };
  return defineEstimator({
    name: 'rloo',
    perResponse,
  });
}

export const rloo: AdvantageEstimatorV1 = createRlooEstimator();

/** The registration of `rloo` (no settings). */
export const rlooRegistration = definePlugin({
  kind: 'estimator',
  name: 'rloo',
  description: 'leave-one-out group mean baseline',
  settings: defineSettings({}),
  invariants: ['group-shift-invariant'],
  create: () => createRlooEstimator(),
});

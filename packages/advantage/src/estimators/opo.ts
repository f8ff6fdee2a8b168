import {
  type AdvantageEstimatorV1,
  definePlugin,
  defineSettings,
  type RolloutBatchV1,
  responseLengths,
} from '@hicra/spec';
import { outcomeScores } from '../batch-checks.js';
import { defineEstimator } from '../define-estimator.js';

/**
 * OPO (optimal-baseline policy optimisation): the baseline is the length-weighted mean of the
 * group's rewards, `Σ L_j r_j / Σ L_j` with L the number of valid tokens. A group of one has
 * baseline 0 (as verl's `compute_opo_outcome_advantage`).
 */
export function createOpoEstimator(): AdvantageEstimatorV1 {
  // One value per response; defineEstimator broadcasts it over the valid tokens (a pipeline
  // defers that to its first assigner's pass).
  const perResponse = (batch: RolloutBatchV1): Float64Array => {
    const scores = outcomeScores(batch);
    const lengths = responseLengths(batch);
    const weighted = new Map<number, { sum: number; length: number; count: number }>();
    for (let i = 0; i < batch.batchSize; i++) {
      const id = batch.groupIds[i]!;
      const entry = weighted.get(id) ?? { sum: 0, length: 0, count: 0 };
      entry.sum += lengths[i]! * scores[i]!;
      entry.length += lengths[i]!;
      entry.count++;
      weighted.set(id, entry);
    }
    const values = new Float64Array(batch.batchSize);
    for (let i = 0; i < batch.batchSize; i++) {
      const entry = weighted.get(batch.groupIds[i]!)!;
      const baseline = entry.count > 1 && entry.length > 0 ? entry.sum / entry.length : 0;
      values[i] = scores[i]! - baseline;
    }
    return values;
  };
  return defineEstimator({
    name: 'opo',
    perResponse,
  });
}

export const opo: AdvantageEstimatorV1 = createOpoEstimator();

/** The registration of `opo` (no settings). */
export const opoRegistration = definePlugin({
  kind: 'estimator',
  name: 'opo',
  description: 'length-weighted group baseline',
  settings: defineSettings({}),
  invariants: ['group-shift-invariant'],
  create: () => createOpoEstimator(),
});

import { type AdvantageEstimatorV1, definePlugin, defineSettings } from '@hicra/spec';
import { maskedWhiten, segmentMeanStd } from '@hicra/tensor/kernels';
import { broadcastOverMask64, outcomeScores } from '../batch-checks.js';
import { defineEstimator } from '../define-estimator.js';

/**
 * REINFORCE++ with a group baseline: subtract the group mean (0 for a group of one), broadcast
 * over the response, then whiten over all valid tokens of the batch. As verl's
 * `compute_reinforce_plus_plus_baseline_outcome_advantage`.
 */
export function createReinforcePlusPlusBaselineEstimator(): AdvantageEstimatorV1 {
  return defineEstimator({
    name: 'reinforce-plus-plus-baseline',
    compute(batch) {
      const scores = outcomeScores(batch);
      const { mean } = segmentMeanStd(scores, batch.groupIds);
      const centred = new Float64Array(batch.batchSize);
      for (let i = 0; i < batch.batchSize; i++) centred[i] = scores[i]! - mean[i]!;
      return { advantages: maskedWhiten(broadcastOverMask64(batch, centred), batch.responseMask) };
    },
  });
}

export const reinforcePlusPlusBaseline: AdvantageEstimatorV1 =
  createReinforcePlusPlusBaselineEstimator();

/** The registration of `reinforce-plus-plus-baseline` (no settings). */
export const reinforcePlusPlusBaselineRegistration = definePlugin({
  kind: 'estimator',
  name: 'reinforce-plus-plus-baseline',
  description: 'group mean removed, then whitened over the batch',
  settings: defineSettings({}),
  invariants: ['group-shift-invariant'],
  create: () => createReinforcePlusPlusBaselineEstimator(),
});

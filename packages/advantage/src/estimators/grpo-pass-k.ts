import {
  type AdvantageEstimatorV1,
  definePlugin,
  defineSettings,
  type RolloutBatchV1,
  type SettingsInputV1,
} from '@hicra/spec';
import { segmentMeanStd } from '@hicra/tensor/kernels';
import { outcomeScores, readSettings } from '../batch-checks.js';
import { defineEstimator } from '../define-estimator.js';

/** `normByStd` (default true) and `epsilon`, added to the std: a finite number > 0, default 1e-6. */
export const grpoPassKSettings = defineSettings({
  normByStd: { type: 'boolean', default: true, description: "divide by the group's unbiased std" },
  epsilon: {
    type: 'number',
    greaterThan: 0,
    default: 1e-6,
    description: 'added to the std before dividing',
  },
});
export type GrpoPassKSettings = SettingsInputV1<typeof grpoPassKSettings>;

/**
 * GRPO for pass@k (as verl's `compute_grpo_passk_outcome_advantage`): only the best response of
 * each group gets a non-zero advantage, `r_max - r_second`, optionally divided by the group's
 * std + ε; ties for the best give 0. verl rejects groups of one; here a group of one gets 0
 * (nothing to compare with), so that groups of one stay valid data everywhere.
 */
export function createGrpoPassKEstimator(settings: GrpoPassKSettings = {}): AdvantageEstimatorV1 {
  const { normByStd, epsilon } = readSettings('grpo-pass-k', grpoPassKSettings, settings);
  // One value per response; defineEstimator broadcasts it over the valid tokens (a pipeline
  // defers that to its first assigner's pass).
  const perResponse = (batch: RolloutBatchV1): Float64Array => {
    const scores = outcomeScores(batch);
    const { std, size } = segmentMeanStd(scores, batch.groupIds);
    const best = new Map<number, { index: number; top: number; second: number }>();
    for (let i = 0; i < batch.batchSize; i++) {
      const id = batch.groupIds[i]!;
      const s = scores[i]!;
      const entry = best.get(id);
      if (entry === undefined) best.set(id, { index: i, top: s, second: Number.NEGATIVE_INFINITY });
      else if (s > entry.top) {
        entry.second = entry.top;
        entry.top = s;
        entry.index = i;
      } else if (s > entry.second) entry.second = s;
    }
    const values = new Float64Array(batch.batchSize);
    for (const entry of best.values()) {
      if (size[entry.index]! < 2) continue;
      const gap = entry.top - entry.second;
      values[entry.index] = normByStd ? gap / (std[entry.index]! + epsilon) : gap;
    }
    return values;
  };
  return defineEstimator({
    name: 'grpo-pass-k',
    perResponse,
  });
}

export const grpoPassK: AdvantageEstimatorV1 = createGrpoPassKEstimator();

/** The registration of `grpo-pass-k`. */
export const grpoPassKRegistration = definePlugin({
  kind: 'estimator',
  name: 'grpo-pass-k',
  description: 'only the best response of each group gets r_max - r_second',
  settings: grpoPassKSettings,
  invariants: ['group-shift-invariant'],
  create: (settings) => createGrpoPassKEstimator(settings),
});

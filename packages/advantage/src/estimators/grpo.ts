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

/**
 * GRPO's settings: `normByStd`, divide by the group's unbiased std (verl's default; false gives
 * Dr.GRPO), default true; `epsilon`, added to the std, a finite number > 0 so that a group whose
 * rewards are all equal (std 0) gets advantage 0 rather than 0/0 = NaN, default 1e-6.
 */
export const grpoSettings = defineSettings({
  normByStd: {
    type: 'boolean',
    default: true,
    description: "divide by the group's unbiased std (false: Dr.GRPO)",
  },
  epsilon: {
    type: 'number',
    greaterThan: 0,
    default: 1e-6,
    description: 'added to the std before dividing',
  },
});
export type GrpoSettings = SettingsInputV1<typeof grpoSettings>;

/** Dr.GRPO's settings: GRPO's `epsilon` (it never divides by the std). */
export const drGrpoSettings = defineSettings({ epsilon: grpoSettings.fields.epsilon });

/**
 * GRPO's group-relative outcome advantage, as verl's `compute_grpo_outcome_advantage`:
 * `(r - mean_g) / (std_g + ε)` with torch's unbiased std (or `r - mean_g` without the std),
 * broadcast over the response. A group of one gets mean 0 and std 1 (its raw score).
 */
export function createGrpoEstimator(
  settings: GrpoSettings = {},
  name = 'grpo',
): AdvantageEstimatorV1 {
  const { normByStd, epsilon } = readSettings(name, grpoSettings, settings);
  // One value per response; defineEstimator broadcasts it over the valid tokens (a pipeline
  // defers that to its first assigner's pass).
  const perResponse = (batch: RolloutBatchV1): Float64Array => {
    const scores = outcomeScores(batch);
    const { mean, std } = segmentMeanStd(scores, batch.groupIds);
    const values = new Float64Array(batch.batchSize);
    for (let i = 0; i < batch.batchSize; i++) {
      const centred = scores[i]! - mean[i]!;
      values[i] = normByStd ? centred / (std[i]! + epsilon) : centred;
    }
    return values;
  };
  return defineEstimator({
    name,
    perResponse,
  });
}

/** GRPO with verl's defaults. */
export const grpo: AdvantageEstimatorV1 = createGrpoEstimator();

/** Dr.GRPO: the group-mean baseline without the std division. */
export function createDrGrpoEstimator(
  settings: SettingsInputV1<typeof drGrpoSettings> = {},
): AdvantageEstimatorV1 {
  const { epsilon } = readSettings('dr-grpo', drGrpoSettings, settings);
  return createGrpoEstimator({ epsilon, normByStd: false }, 'dr-grpo');
}

export const drGrpo: AdvantageEstimatorV1 = createDrGrpoEstimator();

/** The registration of `grpo`. */
export const grpoRegistration = definePlugin({
  kind: 'estimator',
  name: 'grpo',
  description: 'group-relative outcome advantage (r - mean) / (std + eps), as verl',
  settings: grpoSettings,
  invariants: ['group-shift-invariant'],
  create: (settings) => createGrpoEstimator(settings),
});

/** The registration of `dr-grpo`. */
export const drGrpoRegistration = definePlugin({
  kind: 'estimator',
  name: 'dr-grpo',
  description: 'Dr.GRPO: the group-mean baseline without std division',
  settings: drGrpoSettings,
  invariants: ['group-shift-invariant'],
  create: (settings) => createDrGrpoEstimator(settings),
});

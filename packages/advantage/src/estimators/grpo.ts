import type { AdvantageEstimatorV1, SettingsSchemaV1 } from '@hicra/spec';
import { segmentMeanStd } from '@hicra/tensor/kernels';
import { broadcastOverMask, checkNumberSetting, outcomeScores } from '../batch-checks.js';
import { defineEstimator } from '../define-estimator.js';

export interface GrpoSettings {
  /** Divide by the group's unbiased std (verl's default). False gives Dr.GRPO. Default true. */
  readonly normByStd?: boolean;
  /**
   * Added to the std; a finite number > 0, so that a group whose rewards are all equal (std 0)
   * gets advantage 0 rather than 0/0 = NaN. Default 1e-6.
   */
  readonly epsilon?: number;
}

export const grpoSettingsSchema: SettingsSchemaV1 = {
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
};

/**
 * GRPO's group-relative outcome advantage, as verl's `compute_grpo_outcome_advantage`:
 * `(r - mean_g) / (std_g + ε)` with torch's unbiased std (or `r - mean_g` without the std),
 * broadcast over the response. A group of one gets mean 0 and std 1 (its raw score).
 */
export function createGrpoEstimator(
  settings: GrpoSettings = {},
  name = 'grpo',
): AdvantageEstimatorV1 {
  const normByStd = settings.normByStd ?? true;
  const epsilon = checkNumberSetting(name, 'epsilon', settings.epsilon ?? 1e-6, 'positive');
  return defineEstimator({
    name,
    compute(batch) {
      const scores = outcomeScores(batch);
      const { mean, std } = segmentMeanStd(scores, batch.groupIds);
      const perResponse = new Float64Array(batch.batchSize);
      for (let i = 0; i < batch.batchSize; i++) {
        const centred = scores[i]! - mean[i]!;
        perResponse[i] = normByStd ? centred / (std[i]! + epsilon) : centred;
      }
      return { advantages: broadcastOverMask(batch, perResponse, name) };
    },
  });
}

/** GRPO with verl's defaults. */
export const grpo: AdvantageEstimatorV1 = createGrpoEstimator();

/** Dr.GRPO: the group-mean baseline without the std division. */
export function createDrGrpoEstimator(
  settings: Omit<GrpoSettings, 'normByStd'> = {},
): AdvantageEstimatorV1 {
  return createGrpoEstimator({ ...settings, normByStd: false }, 'dr-grpo');
}

export const drGrpo: AdvantageEstimatorV1 = createDrGrpoEstimator();

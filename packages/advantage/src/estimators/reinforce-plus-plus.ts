import {
  type AdvantageEstimatorV1,
  definePlugin,
  defineSettings,
  type SettingsInputV1,
} from '@hicra/spec';
import { maskedDiscountedCumulativeSum, maskedWhiten } from '@hicra/tensor/kernels';
import { readSettings, throwNonFiniteResult, tokenLevelRewards } from '../batch-checks.js';
import { defineEstimator } from '../define-estimator.js';

/** `gamma`, the discount of the return-to-go, in [0, 1]; default 1. */
export const reinforcePlusPlusSettings = defineSettings({
  gamma: {
    type: 'number',
    min: 0,
    max: 1,
    default: 1,
    description: 'discount of the return-to-go',
  },
});
export type ReinforcePlusPlusSettings = SettingsInputV1<typeof reinforcePlusPlusSettings>;

/**
 * REINFORCE++: the discounted return-to-go of the token rewards (reset after the last valid
 * token), whitened over all valid tokens of the batch; no group baseline. `returns` holds the
 * un-whitened returns. As verl's `compute_reinforce_plus_plus_outcome_advantage`.
 */
export function createReinforcePlusPlusEstimator(
  settings: ReinforcePlusPlusSettings = {},
): AdvantageEstimatorV1 {
  const { gamma } = readSettings('reinforce-plus-plus', reinforcePlusPlusSettings, settings);
  return defineEstimator({
    name: 'reinforce-plus-plus',
    compute(batch) {
      const { batchSize, seqLen, responseMask } = batch;
      const raw = maskedDiscountedCumulativeSum(
        tokenLevelRewards(batch),
        responseMask,
        batchSize,
        seqLen,
        gamma,
      );
      const returns = new Float32Array(raw.length);
      for (let k = 0; k < raw.length; k++) {
        if (responseMask[k] !== 1) continue;
        returns[k] = raw[k]!;
        if (!Number.isFinite(returns[k]!)) {
          throwNonFiniteResult({
            who: 'reinforce-plus-plus',
            quantity: 'return',
            batch,
            response: Math.floor(k / seqLen),
            token: k % seqLen,
            value: raw[k]!,
          });
        }
      }
      return { advantages: maskedWhiten(raw, responseMask), returns };
    },
  });
}

export const reinforcePlusPlus: AdvantageEstimatorV1 = createReinforcePlusPlusEstimator();

/** The registration of `reinforce-plus-plus`. */
export const reinforcePlusPlusRegistration = definePlugin({
  kind: 'estimator',
  name: 'reinforce-plus-plus',
  description: 'discounted return-to-go whitened over the batch, no group baseline',
  settings: reinforcePlusPlusSettings,
  invariants: [],
  create: (settings) => createReinforcePlusPlusEstimator(settings),
});

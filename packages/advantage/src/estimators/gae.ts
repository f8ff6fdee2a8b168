import {
  type AdvantageEstimatorV1,
  definePlugin,
  defineSettings,
  type SettingsInputV1,
} from '@hicra/spec';
import { maskedWhiten } from '@hicra/tensor/kernels';
import { readSettings, throwNonFiniteResult, tokenLevelRewards } from '../batch-checks.js';
import { defineEstimator } from '../define-estimator.js';

/** `gamma`, the discount, and `lambda`, GAE's λ: both in [0, 1], default 1. */
export const gaeSettings = defineSettings({
  gamma: { type: 'number', min: 0, max: 1, default: 1, description: 'discount' },
  lambda: { type: 'number', min: 0, max: 1, default: 1, description: 'GAE lambda' },
});
export type GaeSettings = SettingsInputV1<typeof gaeSettings>;

/**
 * Generalised advantage estimation from critic values, as verl's `compute_gae_advantage_return`:
 * TD errors and the λ-recursion skip masked positions (a masked token passes the next value and
 * the running advantage through unchanged), `returns = advantages + values`, then advantages are
 * whitened over valid tokens. Unlike verl, advantages are set to 0 outside the mask (verl leaves
 * whitened values in padding); `returns` keep verl's values there (the values themselves).
 */
export function createGaeEstimator(settings: GaeSettings = {}): AdvantageEstimatorV1 {
  const { gamma, lambda } = readSettings('gae', gaeSettings, settings);
  return defineEstimator({
    name: 'gae',
    requires: ['values'],
    reads: ['values'],
    compute(batch) {
      const { batchSize, seqLen, responseMask } = batch;
      const values = batch.values!;
      const rewards = tokenLevelRewards(batch);
      const raw = new Float64Array(batchSize * seqLen);
      const returns = new Float32Array(batchSize * seqLen);
      for (let i = 0; i < batchSize; i++) {
        let nextValue = 0;
        let running = 0;
        for (let t = seqLen - 1; t >= 0; t--) {
          const k = i * seqLen + t;
          const value = values[k]!;
          const delta = rewards[k]! + gamma * nextValue - value;
          const candidate = delta + gamma * lambda * running;
          if (responseMask[k] === 1) {
            nextValue = value;
            running = candidate;
          }
          raw[k] = running;
          returns[k] = running + value;
          // Padding may hold any value (not validated); a finite sum float32 cannot hold is not.
          if (!Number.isFinite(returns[k]!) && Number.isFinite(running + value)) {
            throwNonFiniteResult({
              who: 'gae',
              quantity: 'return',
              batch,
              response: i,
              token: t,
              value: running + value,
              inputs: 'the rewards and values',
            });
          }
        }
      }
      return { advantages: maskedWhiten(raw, responseMask), returns };
    },
  });
}

export const gae: AdvantageEstimatorV1 = createGaeEstimator();

/** The registration of `gae`. */
export const gaeRegistration = definePlugin({
  kind: 'estimator',
  name: 'gae',
  description: 'generalised advantage estimation from critic values, whitened',
  settings: gaeSettings,
  invariants: [],
  create: (settings) => createGaeEstimator(settings),
});

import {
  type CreditAssignerV1,
  definePlugin,
  defineSettings,
  type SettingsInputV1,
} from '@hicra/spec';
import { readSettings } from '../batch-checks.js';
import { defineAssigner } from '../define-assigner.js';
import { amplify, amplifyBroadcast, amplifyFused } from './amplify.js';

/** HICRA's settings: `alpha` in [0, 1] (above 1 a negative advantage would flip sign), default 0.2 (the paper's). */
export const hicraSettings = defineSettings({
  alpha: {
    type: 'number',
    min: 0,
    max: 1,
    default: 0.2,
    description: 'planning-token amplification A + alpha·|A|',
  },
});
export type HicraSettings = SettingsInputV1<typeof hicraSettings>;

/**
 * HICRA (Wang et al. 2025): on planning tokens (the batch's `planningMask`, from any planning
 * classifier), the advantage becomes `A + alpha·|A|`; execution tokens are untouched. Planning
 * in successful responses gets (1 + alpha)× credit, in failed ones a (1 - alpha)× penalty; no
 * sign flips for alpha in [0, 1]. `lossMask` is unchanged.
 */
export function createHicraAssigner(settings: HicraSettings = {}): CreditAssignerV1 {
  const { alpha } = readSettings('hicra', hicraSettings, settings);
  return defineAssigner({
    name: 'hicra',
    requires: ['planningMask'],
    compute: (batch, credit) => amplify(credit.advantages, batch.planningMask!, alpha),
    fused: (batch, credit, inPlace) =>
      amplifyFused(batch, credit, batch.planningMask!, alpha, inPlace, 'assigner hicra'),
    fusedBroadcast: (batch, perResponse, lossMask) =>
      amplifyBroadcast(batch, perResponse, lossMask, batch.planningMask!, alpha, 'assigner hicra'),
  });
}

export const hicra: CreditAssignerV1 = createHicraAssigner();

/** The registration of `hicra`. */
export const hicraRegistration = definePlugin({
  kind: 'assigner',
  name: 'hicra',
  description: 'HICRA: A + alpha·|A| on planning tokens',
  settings: hicraSettings,
  invariants: ['never-flips-sign', 'execution-untouched', 'loss-mask-unchanged'],
  create: (settings) => createHicraAssigner(settings),
});

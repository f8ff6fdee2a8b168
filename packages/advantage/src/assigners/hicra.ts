import type { CreditAssignerV1, SettingsSchemaV1 } from '@hicra/spec';
import { defineAssigner } from '../define-assigner.js';
import { amplify, amplifyFused, checkAlpha } from './amplify.js';

export interface HicraSettings {
  /** Amplification of planning-token advantages, in [0, 1]. Default 0.2 (the paper's). */
  readonly alpha?: number;
}

export const hicraSettingsSchema: SettingsSchemaV1 = {
  alpha: {
    type: 'number',
    min: 0,
    max: 1,
    default: 0.2,
    description: 'planning-token amplification A + alpha·|A|',
  },
};

/**
 * HICRA (Wang et al. 2025): on planning tokens (the batch's `planningMask`, from any planning
 * classifier), the advantage becomes `A + alpha·|A|`; execution tokens are untouched. Planning
 * in successful responses gets (1 + alpha)× credit, in failed ones a (1 - alpha)× penalty; no
 * sign flips for alpha in [0, 1]. `lossMask` is unchanged.
 */
export function createHicraAssigner(settings: HicraSettings = {}): CreditAssignerV1 {
  const alpha = checkAlpha('hicra', settings.alpha ?? 0.2);
  return defineAssigner({
    name: 'hicra',
    requires: ['planningMask'],
    compute: (batch, credit) => amplify(credit.advantages, batch.planningMask!, alpha),
    fused: (batch, credit, inPlace) =>
      amplifyFused(batch, credit, batch.planningMask!, alpha, inPlace, 'assigner hicra'),
  });
}

export const hicra: CreditAssignerV1 = createHicraAssigner();

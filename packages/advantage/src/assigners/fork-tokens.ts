import type { CreditAssignerV1, SettingsSchemaV1 } from '@hicra/spec';
import { topQMask } from '@hicra/tensor/kernels';
import { defineAssigner } from '../define-assigner.js';
import { checkShare } from './amplify.js';

export interface ForkTokensSettings {
  /** Share of tokens that keep their gradient: those at or above the batch's (1 - rho) entropy quantile. Default 0.2. */
  readonly rho?: number;
}

export const forkTokensSettingsSchema: SettingsSchemaV1 = {
  rho: {
    type: 'number',
    greaterThan: 0,
    max: 1,
    default: 0.2,
    description: 'share of highest-entropy tokens that keep their gradient',
  },
};

/**
 * The 80/20 rule (Wang et al. 2025, arXiv 2506.01939): gradient only on "forking" tokens, whose
 * entropy is at or above the batch's (1 - rho) quantile over response tokens. Clears the other
 * tokens from `lossMask` (AND with the incoming mask); advantages are unchanged, and the loss
 * normaliser still counts every response token.
 */
export function createForkTokensAssigner(settings: ForkTokensSettings = {}): CreditAssignerV1 {
  const rho = checkShare('fork-tokens', 'rho', settings.rho ?? 0.2);
  return defineAssigner({
    name: 'fork-tokens',
    requires: ['entropies'],
    compute(batch, credit) {
      const forks = topQMask({
        values: batch.entropies!,
        mask: batch.responseMask,
        batchSize: batch.batchSize,
        seqLen: batch.seqLen,
        q: rho,
        scope: 'batch',
      });
      const lossMask = new Uint8Array(forks.length);
      for (let k = 0; k < forks.length; k++) lossMask[k] = forks[k]! & credit.lossMask[k]!;
      return { lossMask };
    },
  });
}

export const forkTokens: CreditAssignerV1 = createForkTokensAssigner();

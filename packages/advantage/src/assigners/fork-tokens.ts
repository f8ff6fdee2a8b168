import {
  type CreditAssignerV1,
  definePlugin,
  defineSettings,
  type SettingsInputV1,
} from '@hicra/spec';
import { topQMask } from '@hicra/tensor/kernels';
import { readSettings } from '../batch-checks.js';
import { defineAssigner } from '../define-assigner.js';

/** `rho`: share of tokens that keep their gradient, those at or above the batch's (1 - rho) entropy quantile; default 0.2. */
export const forkTokensSettings = defineSettings({
  rho: {
    type: 'number',
    greaterThan: 0,
    max: 1,
    default: 0.2,
    description: 'share of highest-entropy tokens that keep their gradient',
  },
});
export type ForkTokensSettings = SettingsInputV1<typeof forkTokensSettings>;

/**
 * The 80/20 rule (Wang et al. 2025, arXiv 2506.01939): gradient only on "forking" tokens, whose
 * entropy is at or above the batch's (1 - rho) quantile over response tokens. Clears the other
 * tokens from `lossMask` (AND with the incoming mask); advantages are unchanged, and the loss
 * normaliser still counts every response token.
 */
export function createForkTokensAssigner(settings: ForkTokensSettings = {}): CreditAssignerV1 {
  const { rho } = readSettings('fork-tokens', forkTokensSettings, settings);
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

/** The registration of `fork-tokens`. */
export const forkTokensRegistration = definePlugin({
  kind: 'assigner',
  name: 'fork-tokens',
  description: 'the 80/20 rule: gradient only on the top-rho entropy tokens',
  settings: forkTokensSettings,
  invariants: ['advantages-unchanged'],
  create: (settings) => createForkTokensAssigner(settings),
});

import {
  type CreditAssignerV1,
  definePlugin,
  defineSettings,
  type RolloutBatchV1,
  type SettingsInputV1,
} from '@hicra/spec';
import { type TopQScope, topQMask } from '@hicra/tensor/kernels';
import { readSettings } from '../batch-checks.js';
import { defineAssigner } from '../define-assigner.js';
import { amplify, amplifyBroadcast, amplifyFused } from './amplify.js';

/** `alpha` in [0, 1] (default 0.2), `q` the share amplified (top q by entropy, default 0.3), `scope` of the threshold. */
export const highEntropyAdvantageSettings = defineSettings({
  alpha: {
    type: 'number',
    min: 0,
    max: 1,
    default: 0.2,
    description: 'amplification A + alpha·|A|',
  },
  q: {
    type: 'number',
    greaterThan: 0,
    max: 1,
    default: 0.3,
    description: 'share of tokens amplified (top q by entropy)',
  },
  scope: {
    type: 'string',
    oneOf: ['batch', 'sequence'] satisfies TopQScope[],
    default: 'batch',
    description: 'where the entropy threshold is drawn',
  },
});
export type HighEntropyAdvantageSettings = SettingsInputV1<typeof highEntropyAdvantageSettings>;

/**
 * The paper's high-entropy baseline: HICRA's amplification applied to the top-q tokens by
 * entropy (the tensor core's top-q selection, ties kept) instead of planning tokens.
 */
export function createHighEntropyAdvantageAssigner(
  settings: HighEntropyAdvantageSettings = {},
): CreditAssignerV1 {
  const { alpha, q, scope } = readSettings(
    'high-entropy-advantage',
    highEntropyAdvantageSettings,
    settings,
  );
  const selectTop = (batch: RolloutBatchV1): Uint8Array =>
    topQMask({
      values: batch.entropies!,
      mask: batch.responseMask,
      batchSize: batch.batchSize,
      seqLen: batch.seqLen,
      q,
      scope,
    });
  return defineAssigner({
    name: 'high-entropy-advantage',
    requires: ['entropies'],
    compute: (batch, credit) => amplify(credit.advantages, selectTop(batch), alpha),
    fused: (batch, credit, inPlace) =>
      amplifyFused(
        batch,
        credit,
        selectTop(batch),
        alpha,
        inPlace,
        'assigner high-entropy-advantage',
      ),
    fusedBroadcast: (batch, perResponse, lossMask) =>
      amplifyBroadcast(
        batch,
        perResponse,
        lossMask,
        selectTop(batch),
        alpha,
        'assigner high-entropy-advantage',
      ),
  });
}

export const highEntropyAdvantage: CreditAssignerV1 = createHighEntropyAdvantageAssigner();

/** The registration of `high-entropy-advantage`. */
export const highEntropyAdvantageRegistration = definePlugin({
  kind: 'assigner',
  name: 'high-entropy-advantage',
  description: 'HICRA amplification on the top-q entropy tokens',
  settings: highEntropyAdvantageSettings,
  invariants: ['never-flips-sign', 'loss-mask-unchanged'],
  create: (settings) => createHighEntropyAdvantageAssigner(settings),
});

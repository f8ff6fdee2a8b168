import type { CreditAssignerV1, RolloutBatchV1, SettingsSchemaV1 } from '@hicra/spec';
import { type TopQScope, topQMask } from '@hicra/tensor/kernels';
import { defineAssigner } from '../define-assigner.js';
import { amplify, amplifyFused, checkAlpha, checkShare } from './amplify.js';

export interface HighEntropyAdvantageSettings {
  /** Amplification, in [0, 1]. Default 0.2. */
  readonly alpha?: number;
  /** Share of tokens amplified: the top q by entropy. Default 0.3. */
  readonly q?: number;
  /** Threshold over the whole batch or per response. Default `batch`. */
  readonly scope?: TopQScope;
}

export const highEntropyAdvantageSettingsSchema: SettingsSchemaV1 = {
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
    oneOf: ['batch', 'sequence'],
    default: 'batch',
    description: 'where the entropy threshold is drawn',
  },
};

/**
 * The paper's high-entropy baseline: HICRA's amplification applied to the top-q tokens by
 * entropy (the tensor core's top-q selection, ties kept) instead of planning tokens.
 */
export function createHighEntropyAdvantageAssigner(
  settings: HighEntropyAdvantageSettings = {},
): CreditAssignerV1 {
  const alpha = checkAlpha('high-entropy-advantage', settings.alpha ?? 0.2);
  const q = checkShare('high-entropy-advantage', 'q', settings.q ?? 0.3);
  const scope = settings.scope ?? 'batch';
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
  });
}

export const highEntropyAdvantage: CreditAssignerV1 = createHighEntropyAdvantageAssigner();

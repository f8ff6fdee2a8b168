import {
  type CreditAssignerV1,
  definePlugin,
  defineSettings,
  type SettingsInputV1,
} from '@hicra/spec';
import { topQMask } from '@hicra/tensor/kernels';
import { readSettings } from '../batch-checks.js';
import { defineAssigner } from '../define-assigner.js';

/** `alpha` in [0, 1] (default 0.2); `q`, the share of each response's tokens selected by entropy (default 0.3). */
export const hicraCodeVariantSettings = defineSettings({
  alpha: {
    type: 'number',
    min: 0,
    max: 1,
    default: 0.2,
    description: 'amplification A·(1 + alpha·sign(A))',
  },
  q: {
    type: 'number',
    greaterThan: 0,
    max: 1,
    default: 0.3,
    description: "share of each response's tokens selected by entropy",
  },
});
export type HicraCodeVariantSettings = SettingsInputV1<typeof hicraCodeVariantSettings>;

/**
 * The variant described second-hand for the HICRA authors' code (not verified; see HICRA.md
 * section 3): only responses whose advantage is positive (mean over their valid tokens) and
 * that are longer, in tokens, than their group's mean length are touched; within them, tokens
 * that are planning tokens OR in the response's top-q by entropy get `A·(1 + alpha·sign(A))`.
 * Negatives are never damped by this rule's selection.
 */
export function createHicraCodeVariantAssigner(
  settings: HicraCodeVariantSettings = {},
): CreditAssignerV1 {
  const { alpha, q } = readSettings('hicra-code-variant', hicraCodeVariantSettings, settings);
  return defineAssigner({
    name: 'hicra-code-variant',
    requires: ['planningMask', 'entropies'],
    compute(batch, credit) {
      const { batchSize, seqLen, responseMask, groupIds } = batch;
      const planning = batch.planningMask!;
      const topEntropy = topQMask({
        values: batch.entropies!,
        mask: responseMask,
        batchSize,
        seqLen,
        q,
        scope: 'sequence',
      });
      const lengths = new Int32Array(batchSize);
      const meanAdvantage = new Float64Array(batchSize);
      const groupLength = new Map<number, { sum: number; count: number }>();
      for (let i = 0; i < batchSize; i++) {
        let length = 0;
        let sum = 0;
        for (let t = 0; t < seqLen; t++) {
          const k = i * seqLen + t;
          if (responseMask[k] === 1) {
            length++;
            sum += credit.advantages[k]!;
          }
        }
        lengths[i] = length;
        meanAdvantage[i] = length > 0 ? sum / length : 0;
        const entry = groupLength.get(groupIds[i]!) ?? { sum: 0, count: 0 };
        entry.sum += length;
        entry.count++;
        groupLength.set(groupIds[i]!, entry);
      }
      const advantages = new Float32Array(credit.advantages);
      const amplified = new Uint8Array(advantages.length);
      for (let i = 0; i < batchSize; i++) {
        const group = groupLength.get(groupIds[i]!)!;
        if (!(meanAdvantage[i]! > 0 && lengths[i]! > group.sum / group.count)) continue;
        for (let t = 0; t < seqLen; t++) {
          const k = i * seqLen + t;
          const a = advantages[k]!;
          if (responseMask[k] === 1 && (planning[k] === 1 || topEntropy[k] === 1) && a !== 0) {
            advantages[k] = a * (1 + alpha * Math.sign(a));
            amplified[k] = 1;
          }
        }
      }
      return { advantages, amplified };
    },
  });
}

export const hicraCodeVariant: CreditAssignerV1 = createHicraCodeVariantAssigner();

/** The registration of `hicra-code-variant`. */
export const hicraCodeVariantRegistration = definePlugin({
  kind: 'assigner',
  name: 'hicra-code-variant',
  description:
    "the authors' code as described second-hand: long positive responses, planning or top-q entropy tokens",
  settings: hicraCodeVariantSettings,
  invariants: ['never-flips-sign', 'loss-mask-unchanged'],
  create: (settings) => createHicraCodeVariantAssigner(settings),
});

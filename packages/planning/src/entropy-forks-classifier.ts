import {
  definePlugin,
  defineSettings,
  InvalidValueError,
  type PlanningClassifierV1,
  type PlanningInputV1,
  type PlanningResultV1,
  parsePluginSettings,
  type SettingsInputV1,
} from '@hicra/spec';
import { type TopQScope, topQMask } from '@hicra/tensor/kernels';
import { checkPlanningInput } from './check-planning-input.js';
import { SOURCE } from './source.js';

/**
 * Settings of {@link createEntropyForksClassifier}: `q`, the share of valid tokens to mark, in
 * (0, 1], default 0.3 (decision 0013); `scope`, `batch` (one threshold over all valid tokens)
 * or `sequence` (one per response), default `batch`.
 */
export const entropyForksSettings = defineSettings({
  q: {
    type: 'number',
    greaterThan: 0,
    max: 1,
    default: 0.3,
    description: 'share of valid tokens to mark (top q by entropy)',
  },
  scope: {
    type: 'string',
    oneOf: ['batch', 'sequence'] satisfies TopQScope[],
    default: 'batch',
    description: 'one threshold over the batch, or one per response',
  },
});
export type EntropyForksSettings = SettingsInputV1<typeof entropyForksSettings>;

export interface EntropyForksClassifier extends PlanningClassifierV1 {
  readonly name: 'entropy-forks';
  readonly q: number;
  readonly scope: TopQScope;
}

/**
 * Entropy forks (`entropy-forks`): the planning mask is the top-q share of valid tokens by
 * next-token entropy, selected by `topQMask` of `@hicra/tensor/kernels`, the project's one
 * definition of top-q (threshold = the (1 - q) quantile with linear interpolation; ties at
 * the threshold kept). Needs `input.entropies`. Returns no matches (it has no phrases).
 */
export function createEntropyForksClassifier(
  settings: EntropyForksSettings = {},
): EntropyForksClassifier {
  const { q, scope } = parsePluginSettings(
    { name: 'entropy-forks', settings: entropyForksSettings },
    settings,
    { source: SOURCE },
  );
  return {
    name: 'entropy-forks',
    requires: ['entropies'],
    q,
    scope,
    classify(input: PlanningInputV1): PlanningResultV1 {
      const checked = checkPlanningInput(input, 'entropy-forks', { requireEntropies: true });
      const { batchSize, seqLen, valid } = checked;
      const entropies = checked.entropies!;
      for (let k = 0; k < batchSize * seqLen; k++) {
        if (valid[k] === 1 && !Number.isFinite(entropies[k])) {
          const row = Math.floor(k / seqLen);
          throw new InvalidValueError(
            `entropy-forks.classify: entropies is ${entropies[k]} at response ${row}, token ${k - row * seqLen}; entropies of valid tokens must be finite`,
            {
              source: SOURCE,
              details: { classifier: 'entropy-forks', field: 'entropies', index: k },
            },
          );
        }
      }
      const mask = topQMask({ values: entropies, mask: valid, batchSize, seqLen, q, scope });
      return { mask, matches: Array.from({ length: batchSize }, () => []) };
    },
  };
}

/** The default entropy-forks classifier: top 30% of the batch's valid tokens by entropy. */
export const entropyForks: EntropyForksClassifier = createEntropyForksClassifier();

/** The registration of `entropy-forks`. */
export const entropyForksRegistration = definePlugin({
  kind: 'classifier',
  name: 'entropy-forks',
  description: 'the top-q share of valid tokens by next-token entropy',
  settings: entropyForksSettings,
  create: (settings) => createEntropyForksClassifier(settings),
});

import { UnknownNameError } from '@hicra/spec';

/** A named credit-assignment strategy of the reference app. */
export interface Strategy {
  readonly name: string;
  readonly description: string;
  readonly credit: {
    estimator: { name: string; [k: string]: unknown };
    assigners: { name: string; [k: string]: unknown }[];
  };
  readonly classifier: 'strategic-grams' | 'placebo';
  readonly entropyCoefficient?: number;
  /** Loss settings the method itself changes (`update` keys of the RL config). */
  readonly update?: { readonly lossAggregation?: 'seq-mean-token-sum-norm' };
}

/** GRPO and HICRA, and the paper's baselines. */
export const STRATEGIES: readonly Strategy[] = [
  {
    name: 'grpo',
    description: 'GRPO (verl defaults: std-normalised group advantage)',
    credit: { estimator: { name: 'grpo' }, assigners: [] },
    classifier: 'strategic-grams',
  },
  {
    name: 'hicra',
    description:
      'HICRA: A + 0.2·|A| on Strategic-Gram planning tokens, over std-normalised GRPO (the paper-literal variant: --estimator dr-grpo)',
    credit: { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra', alpha: 0.2 }] },
    classifier: 'strategic-grams',
  },
  {
    name: 'dr-grpo',
    description:
      'Dr.GRPO, both changes: no std division, and a token-sum loss over a constant normaliser (update.lossScaleFactor, default the maximum response length)',
    credit: { estimator: { name: 'dr-grpo' }, assigners: [] },
    classifier: 'strategic-grams',
    update: { lossAggregation: 'seq-mean-token-sum-norm' },
  },
  {
    name: 'hicra-code-variant',
    description: "HICRA as described second-hand for the authors' code",
    credit: {
      estimator: { name: 'grpo' },
      assigners: [{ name: 'hicra-code-variant', alpha: 0.2 }],
    },
    classifier: 'strategic-grams',
  },
  {
    name: 'high-entropy',
    description: 'amplification on the top-30% entropy tokens',
    credit: {
      estimator: { name: 'grpo' },
      assigners: [{ name: 'high-entropy-advantage', alpha: 0.2 }],
    },
    classifier: 'strategic-grams',
  },
  {
    name: 'fork-tokens',
    description: 'the 80/20 rule: gradient only on the top-20% entropy tokens',
    credit: { estimator: { name: 'grpo' }, assigners: [{ name: 'fork-tokens', rho: 0.2 }] },
    classifier: 'strategic-grams',
  },
  {
    name: 'placebo',
    description:
      'control: HICRA on random spans marking as many tokens per response as the Strategic Grams do',
    credit: { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra', alpha: 0.2 }] },
    classifier: 'placebo',
  },
  {
    name: 'entropy-bonus',
    description: 'GRPO with an entropy bonus (coefficient 0.001)',
    credit: { estimator: { name: 'grpo' }, assigners: [] },
    classifier: 'strategic-grams',
    entropyCoefficient: 0.001,
  },
];

export function strategyByName(name: string): Strategy {
  const strategy = STRATEGIES.find((s) => s.name === name);
  if (!strategy)
    throw new UnknownNameError(
      'strategy',
      name,
      STRATEGIES.map((s) => s.name),
      { source: '@hicra/reference' },
    );
  return strategy;
}

/**
 * Registry names of the built-in plug-ins, defined once. Names are kebab-case strings; third
 * parties register their own names next to these.
 */

/** Advantage estimators (`@hicra/advantage`). */
export const ESTIMATOR_NAMES = [
  'grpo',
  'dr-grpo',
  'rloo',
  'reinforce-plus-plus',
  'reinforce-plus-plus-baseline',
  'opo',
  'gae',
  'grpo-pass-k',
] as const;

/** Credit assigners (`@hicra/advantage`). */
export const ASSIGNER_NAMES = [
  'hicra',
  'hicra-code-variant',
  'high-entropy-advantage',
  'fork-tokens',
] as const;

/** Planning classifiers (`@hicra/planning`). */
export const PLANNING_CLASSIFIER_NAMES = [
  'strategic-grams',
  'entropy-forks',
  'placebo-ngrams',
] as const;

/** Reward functions (`@hicra/tasks`). */
export const REWARD_NAMES = [
  'math-correctness',
  'countdown-correctness',
  'format',
  'countdown-format',
  'overlong-penalty',
  'weighted',
] as const;

/** Loss aggregation modes (`@hicra/tensor`), as in verl. */
export const LOSS_AGGREGATION_MODES = [
  'token-mean',
  'seq-mean-token-sum',
  'seq-mean-token-mean',
  'seq-mean-token-sum-norm',
] as const;

/** KL estimators against a reference policy (`@hicra/tensor`). */
export const KL_ESTIMATOR_NAMES = ['k1', 'abs', 'k2', 'k3'] as const;

export type BuiltinEstimatorName = (typeof ESTIMATOR_NAMES)[number];
export type BuiltinAssignerName = (typeof ASSIGNER_NAMES)[number];
export type BuiltinPlanningClassifierName = (typeof PLANNING_CLASSIFIER_NAMES)[number];
export type BuiltinRewardName = (typeof REWARD_NAMES)[number];
export type LossAggregationMode = (typeof LOSS_AGGREGATION_MODES)[number];
export type KlEstimatorName = (typeof KL_ESTIMATOR_NAMES)[number];

const KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** True when `name` is a valid registry name: kebab-case, starting with a letter. */
export function isRegistryName(name: unknown): name is string {
  return typeof name === 'string' && KEBAB_CASE.test(name);
}

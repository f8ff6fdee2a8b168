/**
 * @hicra/tasks: reasoning tasks and verifiable rewards. A seeded Countdown task with
 * difficulty levels and disjoint splits, solution traces with controllable execution and
 * strategic errors, final-answer extraction and math equivalence with a time limit, reward
 * functions (`RewardFunctionV1`) with a registry, streamed JSON Lines dataset loaders, and a streamed Parquet reader with verl's dataset columns.
 */

export * from './countdown/countdown-expression.js';
export * from './countdown/countdown-json-lines.js';
export * from './countdown/countdown-levels.js';
export * from './countdown/countdown-problem.js';
export * from './countdown/countdown-solver.js';
export * from './countdown/countdown-task.js';
export * from './countdown/countdown-templates.js';
export * from './countdown/countdown-trace-generator.js';
export * from './countdown/countdown-verifier.js';
export * from './countdown/countdown-vocabulary.js';
export * from './datasets/load-math-dataset.js';
export * from './datasets/load-verl-dataset.js';
export * from './datasets/read-json-lines.js';
export * from './datasets/read-parquet.js';
export * from './datasets/verl-parquet-schema.js';
export * from './math/extract-final-answer.js';
export * from './math/math-verifier.js';
export * from './math/normalise-answer.js';
export * from './math/run-with-time-limit.js';
export { RATIONAL_MAX_BITS, Rational } from './rational.js';
export * from './rewards/correctness-reward.js';
export * from './rewards/format-reward.js';
export * from './rewards/overlong-penalty-reward.js';
export type { CorrectnessRewardSettings } from './rewards/reward-input.js';
export * from './rewards/reward-registry.js';
export * from './rewards/weighted-reward.js';

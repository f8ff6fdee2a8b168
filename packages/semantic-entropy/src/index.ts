/**
 * @hicra/semantic-entropy: the measurements that make the paper's two-phase story visible.
 *
 * - Strategy diversity (the paper's "semantic entropy" of planning phrases), its clustered
 *   variant, the conditional procedural entropy and matches per response, from a planning
 *   classifier's matches.
 * - Token-class statistics (mean entropy and perplexity of all, planning and execution
 *   tokens) and the fork-token overlap with the shared top-q selection.
 * - Answer-level semantic entropy (Kuhn et al. 2023, Farquhar et al. 2024): greedy
 *   equivalence clustering of a prompt's answers with a pluggable judge.
 * - Mergeable accumulators, and `stepMetrics`, which returns a training step's record under
 *   the metric keys of @hicra/spec.
 */

export {
  type AnswerEntropyEstimator,
  type AnswerGroupEntropy,
  type AnswerSemanticEntropyInput,
  type AnswerSemanticEntropyResult,
  type AnswerSemanticEntropySettings,
  answerSemanticEntropy,
  answerSemanticEntropyMetrics,
  answerSemanticEntropySync,
  discreteAnswerEntropy,
  likelihoodWeightedAnswerEntropy,
} from './answer-semantic-entropy.js';
export type { GramClassMap } from './class-map.js';
export {
  type AnswerClusters,
  type AnswerComparator,
  clusterAnswers,
  clusterAnswersSync,
  type EquivalenceJudge,
} from './cluster-answers.js';
export { type CountKey, CountMap } from './count-map.js';
export { type EntropyOptions, entropyFromCounts, type LogBase } from './entropy-from-counts.js';
export {
  type CosineJudgeSettings,
  createCosineJudge,
  createExactMatchJudge,
  createPairwiseJudge,
  DEFAULT_COSINE_THRESHOLD,
  type ExactMatchJudgeSettings,
  exactMatchJudge,
  normalizeAnswer,
  type PairwiseJudgeSettings,
} from './equivalence-judges.js';
export {
  RELATIVE_METRIC_KEYS,
  relativeMetrics,
  relativeToBaseline,
} from './relative-to-baseline.js';
export { splitWords } from './split-words.js';
export {
  createStepMetricsAccumulator,
  StepMetricsAccumulator,
  type StepMetricsAccumulatorJson,
  type StepMetricsInput,
  type StepMetricsSettings,
  stepMetrics,
} from './step-metrics.js';
export {
  DEFAULT_CONTINUATION_LENGTH,
  type GramProceduralEntropy,
  StrategyAccumulator,
  type StrategyAccumulatorJson,
  type StrategyInput,
  type StrategySettings,
} from './strategy-accumulator.js';
export {
  clusteredStrategySemanticEntropy,
  conditionalProceduralEntropy,
  type PlanningMatches,
  strategySemanticEntropy,
} from './strategy-semantic-entropy.js';
export {
  DEFAULT_TOP_Q,
  type ForkOverlapSummary,
  TokenClassAccumulator,
  type TokenClassAccumulatorJson,
  type TokenClassInput,
  type TokenClassSettings,
  type TokenClassSummary,
} from './token-class-accumulator.js';
export {
  forkOverlap,
  type TokenClassStatistics,
  tokenClassStatistics,
} from './token-class-statistics.js';

/**
 * @hicra/trainer: supervised warm start and GRPO/HICRA policy-gradient training.
 */

export {
  checkSftSettings,
  MAX_EPOCHS,
  MAX_REFILLS,
  MAX_RESPONSES_PER_STEP,
  MAX_TOKENS_PER_STEP,
  parseRlConfig,
  type RlConfig,
  type RlConfigInput,
  rlConfigSchema,
  sftSettingsSchema,
} from './config.js';
export { checkEngineCapabilities } from './engine-checks.js';
export {
  defaultAnswerOf,
  type EvaluationResult,
  type EvaluationSettings,
  evaluateProblems,
} from './evaluation.js';
export {
  type JsonlRepair,
  JsonlSink,
  readJsonl,
  repairJsonl,
  truncateJsonlAfterStep,
} from './jsonl-sink.js';
export {
  aggregationWeights,
  type DatumFields,
  datumsOf,
  type GroupRow,
  type KeptGroup,
  responseValues,
  type StepBatch,
} from './phases/build-batch.js';
export {
  type RewardErrorPolicy,
  type ScoredResponse,
  sampleAndScore,
  scoreResponse,
} from './phases/sample-and-score.js';
export {
  lossSpec,
  RL_LOSS_NAMES,
  type RlLossName,
  ratioStatistics,
  type UpdateMetrics,
  type UpdateSettings,
} from './phases/update.js';
export type { Problem } from './problem.js';
export {
  defaultStrategyMetrics,
  RlTrainer,
  type RlTrainerOptions,
  type StrategyMetricsInput,
  type TrainerHooks,
  type TrainerState,
} from './rl-trainer.js';
export { decodeWithSpans, passAtK, toRagged } from './rollouts.js';
export {
  RUN_FILES,
  type RunOptions,
  type RunProgress,
  type RunResult,
  readRunState,
  restoreCheckpoint,
  runRl,
  TRAINER_STATE_SCHEMA,
} from './run.js';
export {
  acquireRunLock,
  type OpenRun,
  type OpenRunOptions,
  openRunDirectory,
  type RunLock,
  type RunLockHolder,
  type RunRepairReport,
  repairRunDirectory,
} from './run-directory.js';
export {
  PolicyRolloutSource,
  SamplerRolloutSource,
  type SamplerRolloutSourceOptions,
} from './sampler-rollout-source.js';
export { learningRateAt, type ScheduleSettings } from './schedule.js';
export {
  type OptimizerSettings,
  type SftExample,
  type SftOptions,
  type SftSettings,
  trainSupervised,
} from './sft-trainer.js';

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
export {
  type JsonlRepair,
  JsonlSink,
  readJsonl,
  repairJsonl,
  truncateJsonlAfterStep,
} from './jsonl-sink.js';
export {
  AdamOptimizer,
  clipByGlobalNorm,
  type OptimizerSettings,
  type OptimizerState,
} from './optimizer.js';
export { PolicyRolloutSource } from './policy-rollout-source.js';
export {
  defaultAnswerOf,
  defaultStrategyMetrics,
  type Problem,
  RlTrainer,
  type RlTrainerOptions,
  type StrategyMetricsInput,
  type TrainablePolicy,
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
  runRl,
  saveRunCheckpoint,
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
export { learningRateAt, type ScheduleSettings } from './schedule.js';
export {
  type SftExample,
  type SftOptions,
  type SftSettings,
  trainSupervised,
} from './sft-trainer.js';
export {
  type NonFinitePolicy,
  type PolicyUpdateBatch,
  type PolicyUpdateSettings,
  policyUpdate,
  supervisedUpdate,
  type UpdateContext,
  type UpdateMetrics,
} from './update-steps.js';

/**
 * @hicra/reference: the reference app. Programmatic entry points of the `hicra` command line.
 */

export {
  type AnnotateOptions,
  type AnnotateResult,
  annotateRollouts,
  readRolloutRecords,
} from './annotate.js';
export {
  ANNOTATED_PARQUET_FORMAT,
  readAnnotatedParquet,
  type WriteAnnotatedParquetOptions,
  writeAnnotatedParquet,
} from './annotated-parquet.js';
export {
  type AppLevel,
  countdownReward,
  countdownSetup,
  levelOfCheckpoint,
  planningClassifier,
  WARM_UP_LEVEL,
} from './countdown-setup.js';
export { type EvaluateOptions, type EvaluationResult, evaluatePolicy } from './evaluate.js';
export { smallModel, tinyModel } from './model-presets.js';
export { type PretrainOptions, type PretrainResult, pretrain } from './pretrain.js';
export * from './report/index.js';
export { STRATEGIES, type Strategy, strategyByName } from './strategies.js';

/**
 * @hicra/advantage: advantage estimators and composable credit assignment on typed arrays.
 * Every estimator reproduces verl's function of the same name; HICRA and its baselines are
 * credit assigners; a pipeline is one estimator followed by assigners, built from JSON.
 */

export { amplify } from './assigners/amplify.js';
export {
  createForkTokensAssigner,
  type ForkTokensSettings,
  forkTokens,
} from './assigners/fork-tokens.js';
export { createHicraAssigner, type HicraSettings, hicra } from './assigners/hicra.js';
export {
  createHicraCodeVariantAssigner,
  type HicraCodeVariantSettings,
  hicraCodeVariant,
} from './assigners/hicra-code-variant.js';
export {
  createHighEntropyAdvantageAssigner,
  type HighEntropyAdvantageSettings,
  highEntropyAdvantage,
} from './assigners/high-entropy-advantage.js';
export { outcomeScores, tokenLevelRewards } from './batch-checks.js';
export { builtinAssigners, builtinEstimators } from './builtins.js';
export { type AssignerDefinition, checkCredit, defineAssigner } from './define-assigner.js';
export { defineEstimator, type EstimatorDefinition } from './define-estimator.js';
export { advantageStatistics, creditStatistics } from './diagnostics.js';
export { createGaeEstimator, type GaeSettings, gae } from './estimators/gae.js';
export {
  createDrGrpoEstimator,
  createGrpoEstimator,
  drGrpo,
  type GrpoSettings,
  grpo,
} from './estimators/grpo.js';
export {
  createGrpoPassKEstimator,
  type GrpoPassKSettings,
  grpoPassK,
} from './estimators/grpo-pass-k.js';
export { createOpoEstimator, opo } from './estimators/opo.js';
export {
  createReinforcePlusPlusEstimator,
  type ReinforcePlusPlusSettings,
  reinforcePlusPlus,
} from './estimators/reinforce-plus-plus.js';
export {
  createReinforcePlusPlusBaselineEstimator,
  reinforcePlusPlusBaseline,
} from './estimators/reinforce-plus-plus-baseline.js';
export { createRlooEstimator, rloo } from './estimators/rloo.js';
export {
  type CreditPipeline,
  CreditRegistry,
  composeCredit,
  createCreditPipeline,
  creditFromEstimate,
  defaultRegistry,
  type PipelineCreditV1,
} from './registry.js';

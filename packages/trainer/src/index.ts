/**
 * @hicra/trainer: supervised warm start and GRPO/HICRA policy-gradient training.
 */
export {
  AdamOptimizer,
  clipByGlobalNorm,
  type OptimizerSettings,
  type OptimizerState,
} from './optimizer.js';
export { learningRateAt, type ScheduleSettings } from './schedule.js';
export {
  type NonFinitePolicy,
  type PolicyUpdateBatch,
  type PolicyUpdateSettings,
  policyUpdate,
  supervisedUpdate,
  type UpdateMetrics,
} from './update-steps.js';

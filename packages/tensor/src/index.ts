/**
 * @hicra/tensor: the tensor core. TensorFlow.js enters hicra here and nowhere else.
 *
 * - `tf`: the one tfjs-core instance (types, optimizers, ops) for the packages above;
 * - `initBackend`: choose `auto | cpu | wasm | tensorflow | tensorflow-gpu` at run time;
 * - differentiable RL ops: token log-probs and entropy (chunked), loss aggregation, KL
 *   estimators, the clipped policy loss, the engine losses (Tinker's built-ins, verl's PPO and
 *   GSPO as token sums), a transpose-free matMul, a WASM-safe embedding lookup;
 * - typed-array kernels and the seeded generator (also from `@hicra/tensor/kernels`, without tfjs);
 * - the `DifferentiablePolicy` interface.
 */

export {
  BACKEND_NAMES,
  type BackendInfo,
  type BackendName,
  backendFromEnvironment,
  type ConcreteBackendName,
  currentBackend,
  type InitBackendOptions,
  initBackend,
  wasmBinaryDirectory,
} from './backend.js';
export type { DifferentiablePolicy, TokenStatisticsTensors } from './differentiable-policy.js';
export * from './kernels/index.js';
export { type AggregateLossOptions, aggregateLoss } from './ops/aggregate-loss.js';
export { mergeHeads, splitHeads } from './ops/attention-heads.js';
export { DEFAULT_CHUNK_ELEMENTS, defaultChunkRows } from './ops/chunk-rows.js';
export { decodeAttention, type KvCacheBuffers } from './ops/decode-attention.js';
export { embeddingLookup } from './ops/embedding-lookup.js';
export {
  type EngineLossInput,
  type EngineLossResult,
  engineLoss,
} from './ops/engine-loss.js';
export { hostMemoryBackend } from './ops/host-memory.js';
export { klPenalty } from './ops/kl-penalty.js';
export { matMul } from './ops/mat-mul.js';
export { geluTanh, layerNorm, rmsNorm } from './ops/norm.js';
export {
  type PolicyLossInput,
  type PolicyLossOptions,
  type PolicyLossResult,
  policyLoss,
} from './ops/policy-loss.js';
export { rotaryEmbedding } from './ops/rotary.js';
export type { Labels, SoftmaxStatisticsOptions } from './ops/softmax-statistics.js';
export { tokenEntropy } from './ops/token-entropy.js';
export { tokenLogProbs } from './ops/token-log-probs.js';
export { tokenLogProbsAndEntropy } from './ops/token-log-probs-and-entropy.js';
export {
  type DataType,
  type NamedTensorMap,
  type Optimizer,
  type Rank,
  type Scalar,
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor3D,
  type Tensor4D,
  type TensorLike,
  tf,
  type Variable,
} from './tf.js';

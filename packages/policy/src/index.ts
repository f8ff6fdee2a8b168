/**
 * @hicra/policy: a decoder-only transformer policy for RL on language models: training forward,
 * teacher-forced scoring, seeded KV-cache sampling, tokenizers and checkpoints.
 */

export {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
} from './checkpoint/float-formats.js';
export {
  CHECKPOINT_FILES,
  type CheckpointSwapRecovery,
  type CheckpointTokenizer,
  type LoadedCheckpoint,
  loadCheckpoint,
  POLICY_CHECKPOINT_SCHEMA,
  recoverCheckpointSwap,
  type SaveCheckpointOptions,
  saveCheckpoint,
} from './checkpoint/policy-checkpoint.js';
export {
  decodeSafetensors,
  encodeSafetensors,
  MAX_SAFETENSORS_HEADER_BYTES,
  readSafetensorsFile,
  SAFETENSORS_DTYPES,
  type SafetensorsContent,
  type SafetensorsData,
  type SafetensorsDtype,
  type SafetensorsEntries,
  type SafetensorsTensor,
  type SafetensorsTensorInput,
  writeAtomic,
  writeFileAtomic,
  writeSafetensorsFile,
} from './checkpoint/safetensors.js';
export {
  DEFAULT_SAFETENSORS_SHARD_BYTES,
  openSafetensorsModel,
  SAFETENSORS_MODEL_FILES,
  type SafetensorsModelReader,
  type SafetensorsModelTensorInfo,
  type WriteSafetensorsModelOptions,
  writeSafetensorsModel,
} from './checkpoint/safetensors-model.js';
export {
  openSafetensorsFile,
  type SafetensorsFileReader,
  type SafetensorsReader,
  type SafetensorsTensorInfo,
} from './checkpoint/safetensors-reader.js';
export {
  parameterCount,
  parameterShapes,
  resolveTransformerConfig,
  type TransformerConfig,
  type TransformerConfigInput,
} from './model/config.js';
export { layoutSequences, type SequenceLayout } from './model/layout.js';
export {
  type ForwardInput,
  type ForwardOutput,
  type LayerCache,
  Transformer,
} from './model/transformer.js';
export { sampleToken, type TokenSamplingOptions } from './sampling.js';
export * from './tokenizers/index.js';
export { TransformerPolicy, type TransformerPolicyOptions } from './transformer-policy.js';

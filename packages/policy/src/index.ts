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
  loadCheckpointTokenizer,
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
  ENGINE_STATE_FILES,
  ENGINE_STATE_SCHEMA,
  type EngineStateJson,
} from './engine/engine-state.js';
export {
  LocalSamplingClient,
  type LocalSamplingClientOptions,
} from './engine/local-sampling-client.js';
export {
  LOCAL_ENGINE_CAPABILITIES,
  LocalTrainingClient,
  type LocalTrainingClientOptions,
  lossRequirements,
  type StateFiles,
} from './engine/local-training-client.js';
export {
  type ChatMessage,
  type ChatRenderOptions,
  type ChatTemplate,
  type ReadChatTemplateOptions,
  readChatTemplate,
} from './hugging-face/chat-template.js';
export {
  HUGGING_FACE_DTYPES,
  HUGGING_FACE_MODEL_TYPES,
  type HuggingFaceConfig,
  type HuggingFaceDtype,
  type HuggingFaceModelType,
  huggingFaceConfigJson,
  huggingFaceModelTypeOf,
  parseHuggingFaceConfig,
} from './hugging-face/config.js';
export {
  eosTokenIdsOf,
  type GenerationDefaults,
  readGenerationConfig,
} from './hugging-face/generation-config.js';
export {
  HUGGING_FACE_SIDE_FILES,
  isHuggingFaceModelFolder,
  type LoadedHuggingFaceModel,
  type LoadHuggingFaceModelOptions,
  loadHuggingFaceModel,
  type SaveHuggingFaceModelOptions,
  saveHuggingFaceModel,
} from './hugging-face/load.js';
export {
  type AttentionBias,
  parameterCount,
  parameterShapes,
  type RopeScaling,
  resolveTransformerConfig,
  ropeInverseFrequencies,
  type TransformerConfig,
  type TransformerConfigInput,
} from './model/config.js';
export { layoutSequences, type SequenceLayout } from './model/layout.js';
export {
  backendMemoryLimit,
  checkModelFits,
  formatBytes,
  MEMORY_FACTORS,
  type MemoryPurpose,
  type ModelMemory,
  modelMemory,
  WASM_HEAP_LIMIT_BYTES,
} from './model/memory.js';
export {
  type ForwardInput,
  type ForwardOutput,
  type LayerCache,
  Transformer,
} from './model/transformer.js';
export { sampleToken, type TokenSamplingOptions } from './sampling.js';
export * from './tokenizers/index.js';
export {
  type SequenceScoreRequest,
  TransformerPolicy,
  type TransformerPolicyOptions,
} from './transformer-policy.js';

/**
 * The OpenAI-compatible side of @hicra/remote: a `SamplingClientV1` and a `RolloutSourceV1`
 * over vLLM (`/v1/completions`) or SGLang (`/generate`), and a vLLM-shaped completions server
 * over any `SamplingClientV1`.
 */
export { OpenAIHttpError, type OpenAIHttpErrorKind } from './errors.js';
export type { OpenAITokenIdMode, SglangSamplingMode } from './requests.js';
export {
  OpenAIRolloutSource,
  type OpenAIRolloutSourceOptions,
} from './rollout-source.js';
export {
  type OpenAICallOptions,
  type OpenAIFlavor,
  type OpenAISampleDetails,
  type OpenAISampleRequest,
  OpenAISamplingClient,
  type OpenAISamplingClientOptions,
  type VllmLogprobsMode,
} from './sampling-client.js';
export {
  createOpenAICompletionsServer,
  installOpenAICompletions,
  OPENAI_COMPLETION_FIELDS,
  OPENAI_COMPLETIONS_BODY_LIMIT_BYTES,
  type OpenAICompletionsOptions,
  type OpenAICompletionsServer,
  type OpenAICompletionsServerOptions,
  openaiErrorBody,
} from './server.js';
export type { OpenAIRetryEvent } from './transport.js';
export type {
  SglangFinishReason,
  SglangGenerateResult,
  SglangLogprobEntry,
  SglangMetaInfo,
  VllmCompletionChoice,
  VllmCompletionLogprobs,
  VllmCompletionResponse,
  VllmErrorResponse,
  VllmPromptLogprob,
  VllmUsage,
} from './wire.js';

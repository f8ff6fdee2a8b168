/**
 * The Tinker training API's JSON shapes (SDK <= 0.24, as `verl_tinker` serves them), in
 * snake_case as on the wire, plus the hicra extensions (fields whose names start with
 * `hicra_`; see `docs/tinker.md`). Arrays of numbers may be typed arrays on the way out: the
 * client and server write them with `encodeJson`.
 */

/** Every path of the API, under the base URL. */
export const TINKER_PATHS = {
  healthz: '/api/v1/healthz',
  getServerCapabilities: '/api/v1/get_server_capabilities',
  clientConfig: '/api/v1/client/config',
  createSession: '/api/v1/create_session',
  sessionHeartbeat: '/api/v1/session_heartbeat',
  createModel: '/api/v1/create_model',
  getInfo: '/api/v1/get_info',
  unloadModel: '/api/v1/unload_model',
  forward: '/api/v1/forward',
  forwardBackward: '/api/v1/forward_backward',
  optimStep: '/api/v1/optim_step',
  saveWeights: '/api/v1/save_weights',
  loadWeights: '/api/v1/load_weights',
  saveWeightsForSampler: '/api/v1/save_weights_for_sampler',
  createSamplingSession: '/api/v1/create_sampling_session',
  samplers: '/api/v1/samplers',
  asample: '/api/v1/asample',
  retrieveFuture: '/api/v1/retrieve_future',
  weightsInfo: '/api/v1/weights_info',
  trainingRuns: '/api/v1/training_runs',
  telemetry: '/api/v1/telemetry',
  /** hicra extension: releases a sampling session (and its frozen weights). */
  releaseSamplingSession: '/api/v1/hicra_release_sampling_session',
} as const;

/** The request types `retrieve_future` names in `X-Tinker-Request-Type`. */
export type TinkerRequestType =
  | 'ForwardBackward'
  | 'Forward'
  | 'OptimStep'
  | 'SaveWeights'
  | 'LoadWeights'
  | 'SaveWeightsForSampler'
  | 'Sample'
  | 'CreateModel'
  | 'UnloadModel';

/** Numbers as they travel: plain arrays when parsed, typed arrays when written. */
export type WireNumbers = readonly number[] | Int32Array | Float32Array | Float64Array;

export type WireDtype = 'int64' | 'float32';

export interface WireTensorData {
  readonly data: WireNumbers;
  readonly dtype: WireDtype;
  readonly shape?: readonly number[];
  readonly sparse_crow_indices?: readonly number[];
  readonly sparse_col_indices?: readonly number[];
}

export interface WireEncodedTextChunk {
  readonly tokens: WireNumbers;
  readonly type: 'encoded_text';
}

/** Other chunk kinds the SDK knows (images, audio): accepted by the schema, not served. */
export interface WireOtherChunk {
  readonly type: 'image' | 'image_asset_pointer' | 'dmel';
  readonly [key: string]: unknown;
}

export interface WireModelInput {
  readonly chunks: readonly (WireEncodedTextChunk | WireOtherChunk)[];
}

export interface WireDatum {
  readonly loss_fn_inputs: Readonly<Record<string, WireTensorData>>;
  readonly model_input: WireModelInput;
}

/** hicra extension of a forward(-backward) input, sent only to a server that advertises it. */
export interface WireHicraOptions {
  /** Score `softmax(logits / temperature)` (capability `temperature`). */
  readonly temperature?: number;
  /** The KL estimator of a `kl_coefficient` term (capability `kl_term`). */
  readonly kl_estimator?: string;
}

export interface WireForwardBackwardInput {
  readonly data: readonly WireDatum[];
  readonly loss_fn: string;
  readonly loss_fn_config?: Readonly<Record<string, number>>;
  readonly hicra_options?: WireHicraOptions;
}

export interface WireForwardBackwardRequest {
  readonly forward_backward_input: WireForwardBackwardInput;
  readonly model_id: string;
  readonly seq_id?: number;
}

export interface WireForwardRequest {
  readonly forward_input: WireForwardBackwardInput;
  readonly model_id: string;
  readonly seq_id?: number;
}

export interface WireForwardBackwardOutput {
  readonly loss_fn_output_type: string;
  readonly loss_fn_outputs: readonly Readonly<Record<string, WireTensorData>>[];
  readonly metrics: Readonly<Record<string, number | null>>;
}

export interface WireAdamParams {
  readonly learning_rate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weight_decay: number;
  readonly grad_clip_norm: number;
}

export interface WireOptimStepRequest {
  readonly adam_params: WireAdamParams;
  readonly model_id: string;
  readonly seq_id?: number;
  readonly type: 'optim_step';
}

export interface WireOptimStepResponse {
  readonly metrics?: Readonly<Record<string, number | null>> | null;
}

export interface WireUntypedFuture {
  readonly request_id: string;
  readonly model_id: string | null;
}

export interface WireLoraConfig {
  readonly rank: number;
  readonly seed?: number;
  readonly train_unembed?: boolean;
  readonly train_mlp?: boolean;
  readonly train_attn?: boolean;
}

export interface WireCreateSessionRequest {
  readonly tags: readonly string[];
  readonly user_metadata: Readonly<Record<string, unknown>> | null;
  readonly sdk_version: string;
  readonly project_id?: string;
  readonly type: 'create_session';
}

export interface WireCreateSessionResponse {
  readonly type: 'create_session';
  readonly session_id: string;
  readonly info_message?: string | null;
  readonly warning_message?: string | null;
  readonly error_message?: string | null;
}

export interface WireCreateModelRequest {
  readonly session_id: string;
  readonly model_seq_id: number;
  readonly base_model: string;
  readonly user_metadata?: Readonly<Record<string, unknown>>;
  readonly lora_config?: WireLoraConfig;
  readonly type: 'create_model';
}

export interface WireCreateModelResponse {
  readonly model_id: string;
  readonly type: 'create_model';
}

/** The hicra extension of `get_info` (and of `get_server_capabilities` entries). */
export interface WireHicraCapabilities {
  /** Version of this extension; 1. */
  readonly version: number;
  readonly vocab_size: number;
  readonly context_length?: number | null;
  readonly entropies: boolean;
  readonly kl_term: boolean;
  readonly entropy_bonus: boolean;
  readonly temperature: boolean;
  /** Loss names, snake_case. */
  readonly losses: readonly string[];
  /** The `loss_fn_config` keys the server reads (snake_case). */
  readonly loss_fn_config_keys?: readonly string[];
  /** Extension endpoints the server serves (`hicra_release_sampling_session`). */
  readonly endpoints?: readonly string[];
}

export interface WireGetInfoResponse {
  readonly type?: 'get_info';
  readonly model_data: {
    readonly arch?: string | null;
    readonly model_name?: string | null;
    readonly tokenizer_id?: string | null;
  };
  readonly model_id: string;
  readonly is_lora?: boolean;
  readonly lora_rank?: number | null;
  readonly model_name?: string | null;
  readonly hicra_capabilities?: WireHicraCapabilities;
}

export interface WireSaveWeightsRequest {
  readonly model_id: string;
  readonly path?: string;
  readonly seq_id?: number;
  readonly ttl_seconds?: number;
  readonly overwrite?: boolean;
  readonly type: 'save_weights';
}

export interface WireSaveWeightsResponse {
  readonly path: string;
  readonly type?: 'save_weights';
}

export interface WireLoadWeightsRequest {
  readonly model_id?: string;
  readonly seq_id?: number;
  readonly path: string;
  readonly optimizer: boolean;
  readonly type: 'load_weights';
}

export interface WireSaveWeightsForSamplerRequest {
  readonly model_id: string;
  readonly path?: string;
  readonly sampling_session_seq_id?: number;
  readonly seq_id?: number;
  readonly ttl_seconds?: number;
  readonly type: 'save_weights_for_sampler';
}

export interface WireSaveWeightsForSamplerResponse {
  readonly path?: string | null;
  readonly sampling_session_id?: string | null;
  readonly type?: 'save_weights_for_sampler';
}

export interface WireCreateSamplingSessionRequest {
  readonly session_id: string;
  readonly sampling_session_seq_id: number;
  readonly base_model?: string;
  readonly model_path?: string;
  readonly type: 'create_sampling_session';
}

export interface WireSamplingParams {
  readonly max_tokens?: number;
  readonly seed?: number;
  readonly stop?: string | readonly string[] | readonly number[];
  readonly temperature: number;
  readonly top_k: number;
  readonly top_p: number;
}

export interface WireSampleRequest {
  readonly num_samples: number;
  readonly prompt: WireModelInput;
  readonly sampling_params: WireSamplingParams;
  readonly base_model?: string;
  readonly model_path?: string;
  readonly sampling_session_id?: string;
  readonly seq_id?: number;
  readonly prompt_logprobs?: boolean;
  readonly topk_prompt_logprobs: number;
  readonly type: 'sample';
}

export interface WireSampledSequence {
  readonly stop_reason: 'length' | 'stop';
  readonly tokens: WireNumbers;
  readonly logprobs?: WireNumbers | null;
}

export interface WireSampleResponse {
  readonly sequences: readonly WireSampledSequence[];
  readonly type: 'sample';
  readonly prompt_logprobs?: readonly (number | null)[] | null;
  readonly topk_prompt_logprobs?: readonly ([number, number][] | null)[] | null;
  readonly prompt_cache_hit_tokens: number;
}

export interface WireTryAgainResponse {
  readonly type: 'try_again';
  readonly request_id?: string;
  readonly queue_state?: 'active' | 'paused_capacity' | 'paused_rate_limit';
  readonly queue_state_reason?: string | null;
}

export interface WireRequestFailedResponse {
  readonly error: string;
  readonly category: string;
  /** hicra extension: the implementation's typed error. */
  readonly hicra_error?: unknown;
}

/** Kebab-case loss name -> snake_case wire name. */
export function wireLossName(name: string): string {
  return name.replace(/-/g, '_');
}

/** Snake_case wire loss name -> kebab-case contract name. */
export function contractLossName(name: string): string {
  return name.replace(/_/g, '-');
}

/**
 * `LossSettingsV1` keys and their `loss_fn_config` names. The first three are Tinker's own;
 * the rest are hicra extensions (sent only to a server that lists them in
 * `hicra_capabilities.loss_fn_config_keys`). `klEstimator` is a string and travels in
 * `hicra_options.kl_estimator` instead.
 */
export const LOSS_CONFIG_KEYS = {
  clipLowThreshold: 'clip_low_threshold',
  clipHighThreshold: 'clip_high_threshold',
  beta: 'beta',
  clipRatioLow: 'clip_ratio_low',
  clipRatioHigh: 'clip_ratio_high',
  clipRatioC: 'clip_ratio_c',
  logRatioClamp: 'log_ratio_clamp',
  entropyCoefficient: 'entropy_coefficient',
  klCoefficient: 'kl_coefficient',
} as const;

/** The `loss_fn_config` keys of Tinker's built-in losses. */
export const TINKER_LOSS_CONFIG_KEYS: Readonly<Record<string, readonly string[]>> = {
  cross_entropy: [],
  importance_sampling: [],
  ppo: ['clip_low_threshold', 'clip_high_threshold'],
  cispo: ['clip_low_threshold', 'clip_high_threshold'],
  dro: ['beta'],
};

/** `DatumV1` float fields and their `loss_fn_inputs` keys (`ref_logprobs` is a hicra extension). */
export const DATUM_INPUT_KEYS = {
  weights: 'weights',
  logProbs: 'logprobs',
  advantages: 'advantages',
  refLogProbs: 'ref_logprobs',
} as const;

/** The version of the `hicra_capabilities` extension this package writes and reads. */
export const HICRA_CAPABILITIES_VERSION = 1;

/** The Tinker SDK version whose JSON protocol this package speaks (sent as `sdk_version`). */
export const TINKER_SDK_VERSION = '0.24.1';

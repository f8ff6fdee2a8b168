/**
 * JSON schemas of the Tinker request bodies a server of this package accepts: every field the
 * SDK (<= 0.24) sends, nothing else (unknown fields are refused, as the SDK's own request
 * models do), types checked without coercion.
 */
import { KL_ESTIMATOR_NAMES, LOSS_NAMES } from '@hicra/spec';
import { LOSS_CONFIG_KEYS, wireLossName } from './wire.js';

type Schema = Record<string, unknown>;

const string: Schema = { type: 'string' };
const nonEmptyString: Schema = { type: 'string', minLength: 1 };
const integer = (minimum?: number): Schema =>
  minimum === undefined ? { type: 'integer' } : { type: 'integer', minimum };
const boolean: Schema = { type: 'boolean' };
const anyObject: Schema = { type: 'object' };

/** Token ids: non-negative 32-bit integers (the vocabulary bound is checked per model). */
const tokenIds: Schema = {
  type: 'array',
  items: { type: 'integer', minimum: 0, maximum: 2147483647 },
};

/** A state or sampler name: one plain path segment. */
const name: Schema = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 200 };

const object = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
});

const typeConst = (value: string): Schema => ({ const: value });

const tensorData = object(
  {
    data: { type: 'array', items: { type: 'number' } },
    dtype: { enum: ['int64', 'float32'] },
    shape: { type: 'array', items: integer(0) },
    sparse_crow_indices: { type: 'array', items: integer(0) },
    sparse_col_indices: { type: 'array', items: integer(0) },
  },
  ['data', 'dtype'],
);

const chunk = object(
  {
    type: { enum: ['encoded_text', 'image', 'image_asset_pointer', 'dmel'] },
    tokens: tokenIds,
    data: string,
    format: string,
    location: string,
    expected_tokens: integer(0),
    dmel: {},
  },
  ['type'],
);

const modelInput = object({ chunks: { type: 'array', items: chunk } }, ['chunks']);

const datum = object(
  {
    loss_fn_inputs: { type: 'object', additionalProperties: tensorData },
    model_input: modelInput,
  },
  ['loss_fn_inputs', 'model_input'],
);

const forwardInput = object(
  {
    data: { type: 'array', minItems: 1, items: datum },
    loss_fn: { enum: LOSS_NAMES.map(wireLossName) },
    loss_fn_config: object(
      Object.fromEntries(Object.values(LOSS_CONFIG_KEYS).map((k) => [k, { type: 'number' }])),
    ),
    hicra_options: object({
      temperature: { type: 'number', exclusiveMinimum: 0 },
      kl_estimator: { enum: [...KL_ESTIMATOR_NAMES] },
    }),
  },
  ['data', 'loss_fn'],
);

const userMetadata: Schema = { type: ['object', 'null'] };

/** The body schema of each POST route. */
export const TINKER_BODY_SCHEMAS = {
  clientConfig: object({ sdk_version: string }),
  createSession: object({
    tags: { type: 'array', items: string },
    user_metadata: userMetadata,
    sdk_version: string,
    project_id: string,
    type: typeConst('create_session'),
  }),
  sessionHeartbeat: object({ session_id: nonEmptyString, type: typeConst('session_heartbeat') }, [
    'session_id',
  ]),
  createModel: object(
    {
      session_id: nonEmptyString,
      model_seq_id: integer(0),
      base_model: nonEmptyString,
      user_metadata: userMetadata,
      lora_config: object({
        rank: integer(1),
        seed: integer(),
        train_unembed: boolean,
        train_mlp: boolean,
        train_attn: boolean,
      }),
      type: typeConst('create_model'),
    },
    ['session_id', 'base_model'],
  ),
  getInfo: object({ model_id: nonEmptyString, type: typeConst('get_info') }, ['model_id']),
  unloadModel: object({ model_id: nonEmptyString, type: typeConst('unload_model') }, ['model_id']),
  forward: object({ forward_input: forwardInput, model_id: nonEmptyString, seq_id: integer() }, [
    'forward_input',
    'model_id',
  ]),
  forwardBackward: object(
    { forward_backward_input: forwardInput, model_id: nonEmptyString, seq_id: integer() },
    ['forward_backward_input', 'model_id'],
  ),
  optimStep: object(
    {
      adam_params: object({
        learning_rate: { type: 'number', exclusiveMinimum: 0 },
        beta1: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
        beta2: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
        eps: { type: 'number', exclusiveMinimum: 0 },
        weight_decay: { type: 'number', minimum: 0 },
        grad_clip_norm: { type: 'number', minimum: 0 },
      }),
      model_id: nonEmptyString,
      seq_id: integer(),
      type: typeConst('optim_step'),
    },
    ['adam_params', 'model_id'],
  ),
  saveWeights: object(
    {
      model_id: nonEmptyString,
      path: name,
      seq_id: integer(),
      ttl_seconds: { type: 'number', minimum: 0 },
      overwrite: boolean,
      type: typeConst('save_weights'),
    },
    ['model_id'],
  ),
  loadWeights: object(
    {
      model_id: nonEmptyString,
      seq_id: integer(),
      session_id: nonEmptyString,
      model_seq_id: integer(0),
      base_model: nonEmptyString,
      user_metadata: userMetadata,
      path: nonEmptyString,
      optimizer: boolean,
      weights_access_token: string,
      type: typeConst('load_weights'),
    },
    ['path'],
  ),
  saveWeightsForSampler: object(
    {
      model_id: nonEmptyString,
      path: name,
      sampling_session_seq_id: integer(0),
      seq_id: integer(),
      ttl_seconds: { type: 'number', minimum: 0 },
      type: typeConst('save_weights_for_sampler'),
    },
    ['model_id'],
  ),
  createSamplingSession: object(
    {
      session_id: nonEmptyString,
      sampling_session_seq_id: integer(0),
      base_model: nonEmptyString,
      model_path: nonEmptyString,
      type: typeConst('create_sampling_session'),
    },
    ['session_id', 'sampling_session_seq_id'],
  ),
  asample: object(
    {
      num_samples: integer(0),
      prompt: modelInput,
      sampling_params: object({
        max_tokens: integer(1),
        seed: integer(),
        // Items (token ids, or strings this server refuses) are checked by the handler.
        stop: { type: ['string', 'array'] },
        temperature: { type: 'number', minimum: 0 },
        top_k: integer(-1),
        top_p: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
      }),
      base_model: nonEmptyString,
      model_path: nonEmptyString,
      sampling_session_id: nonEmptyString,
      seq_id: integer(),
      prompt_logprobs: boolean,
      topk_prompt_logprobs: integer(0),
      type: typeConst('sample'),
    },
    ['prompt', 'sampling_params'],
  ),
  retrieveFuture: object({ request_id: nonEmptyString, allow_metadata_only: boolean }, [
    'request_id',
  ]),
  weightsInfo: object({ tinker_path: nonEmptyString }, ['tinker_path']),
  telemetry: anyObject,
  releaseSamplingSession: object({ sampling_session_id: nonEmptyString }, ['sampling_session_id']),
} as const;

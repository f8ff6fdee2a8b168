/**
 * An OpenAI-compatible completions server over any `SamplingClientV1`: vLLM's
 * `/v1/completions` request fields and response shape, and its error body for bad input. Built
 * on {@link createHttpServer}: installed on a shared server with
 * {@link installOpenAICompletions} (next to the Tinker protocol, say), or alone with
 * {@link createOpenAICompletionsServer}.
 */
import { randomInt, randomUUID } from 'node:crypto';
import {
  InvalidArgumentError,
  type SampleResultV1,
  type SamplingClientV1,
  type TokenizerV1,
} from '@hicra/spec';
import type { FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { type HttpErrorInfo, HttpStatusError } from '../http/errors.js';
import {
  createHttpServer,
  type HttpRequestLogEntry,
  type HttpRouteConfig,
  type HttpServer,
  type InstalledProtocol,
} from '../http/server.js';
import { SOURCE } from './errors.js';
import type {
  VllmCompletionChoice,
  VllmCompletionLogprobs,
  VllmCompletionResponse,
  VllmErrorResponse,
  VllmPromptLogprob,
} from './wire.js';

/** 4 MiB: the default body limit of `/v1/completions`. */
export const OPENAI_COMPLETIONS_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

/** The paths of the completions protocol; errors under `/v1/` get {@link openaiErrorBody}. */
const OPENAI_PREFIX = '/v1/';

/** What the completions protocol serves, on its own server or on a shared one. */
export interface OpenAICompletionsOptions {
  /** The engine: a sampling client, or a function returning the current one. */
  readonly sampler: SamplingClientV1 | (() => SamplingClientV1);
  /** Tokenises text prompts, decodes response texts; its `vocabSize` bounds token ids. */
  readonly tokenizer: TokenizerV1;
  /** The model id served (`model` of requests must be it or absent). */
  readonly model: string;
  /** Prompt + `max_tokens` limit, when the engine has one. */
  readonly contextLength?: number;
  /** Largest `max_tokens`. Default 16384. */
  readonly maxTokensLimit?: number;
  /** Largest prompts × `n` of one request. Default 256. */
  readonly maxSequencesPerRequest?: number;
  /**
   * Ids that end a sample besides `stop_token_ids`, unless `ignore_eos` (vLLM's EOS rule).
   * Default: the tokenizer's EOS, when it has one.
   */
  readonly eosTokenIds?: readonly number[];
  /**
   * Largest body of a `/v1/completions` request (fastify's route option `bodyLimit`), in
   * bytes; larger ones get a 413. Default {@link OPENAI_COMPLETIONS_BODY_LIMIT_BYTES}
   * (4 MiB), whatever the server's own limit.
   */
  readonly bodyLimitBytes?: number;
}

export interface OpenAICompletionsServerOptions
  extends Omit<OpenAICompletionsOptions, 'bodyLimitBytes'> {
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0: a free port (see `url`). */
  readonly port?: number;
  /**
   * When set, every path but `/health` requires the key, as `Authorization: Bearer <apiKey>`
   * or in an `X-API-Key` header.
   */
  readonly apiKey?: string;
  /** Largest request body in bytes. Default 4 MiB. */
  readonly bodyLimit?: number;
  /** Writes one JSON line per answered request to stdout. Default false. */
  readonly logger?: boolean;
}

export interface OpenAICompletionsServer {
  /** `http://host:port`, the root to give a client. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stops accepting connections and resolves once the requests in flight are answered. */
  close(): Promise<void>;
}

/** The request fields the server reads (vLLM's names); any other field is refused. */
export const OPENAI_COMPLETION_FIELDS = [
  'model',
  'prompt',
  'n',
  'seed',
  'max_tokens',
  'temperature',
  'top_k',
  'top_p',
  'stop_token_ids',
  'logprobs',
  'prompt_logprobs',
  'return_token_ids',
  'return_tokens_as_token_ids',
  'ignore_eos',
  'add_special_tokens',
  'skip_special_tokens',
  'stream',
] as const;

type CompletionField = (typeof OPENAI_COMPLETION_FIELDS)[number];

interface CompletionBody {
  model?: string | null;
  prompt: string | string[] | number[] | number[][];
  n?: number | null;
  seed?: number | null;
  max_tokens?: number | null;
  temperature?: number | null;
  top_k?: number | null;
  top_p?: number | null;
  stop_token_ids?: number[] | null;
  logprobs?: number | null;
  prompt_logprobs?: number | null;
  return_token_ids?: boolean | null;
  return_tokens_as_token_ids?: boolean | null;
  ignore_eos?: boolean | null;
  add_special_tokens?: boolean | null;
  skip_special_tokens?: boolean | null;
  stream?: boolean | null;
}

const ids = { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } };
const nullable = (type: string) => [type, 'null'];

const COMPLETION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt'],
  properties: {
    model: { type: nullable('string') },
    prompt: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        ids,
        { type: 'array', minItems: 1, items: ids },
      ],
    },
    n: { type: nullable('integer'), minimum: 1 },
    seed: { type: nullable('integer'), minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    max_tokens: { type: nullable('integer'), minimum: 1 },
    temperature: { type: nullable('number'), minimum: 0 },
    top_k: { type: nullable('integer'), minimum: -1 },
    top_p: { type: nullable('number'), exclusiveMinimum: 0, maximum: 1 },
    stop_token_ids: { type: nullable('array'), items: { type: 'integer', minimum: 0 } },
    logprobs: { type: nullable('integer') },
    prompt_logprobs: { type: nullable('integer') },
    return_token_ids: { type: nullable('boolean') },
    return_tokens_as_token_ids: { type: nullable('boolean') },
    ignore_eos: { type: nullable('boolean') },
    add_special_tokens: { type: nullable('boolean') },
    skip_special_tokens: { type: nullable('boolean') },
    stream: { type: nullable('boolean') },
  } satisfies Record<CompletionField, unknown>,
} as const;

/** A request the server refuses: vLLM's error body with this status and `param`. */
class ApiError extends HttpStatusError {
  constructor(status: number, message: string, param: string | null) {
    super(status, message, param === null ? {} : { field: param });
  }
}

/** vLLM's `type` of an error status. */
function errorType(status: number): string {
  switch (status) {
    case 400:
      return 'BadRequestError';
    case 401:
    case 403:
      return 'AuthenticationError';
    case 404:
      return 'NotFoundError';
    case 413:
      return 'RequestTooLargeError';
    case 415:
      return 'UnsupportedMediaTypeError';
    case 429:
      return 'RateLimitError';
    case 503:
      return 'ServiceUnavailableError';
    default:
      return status >= 500 ? 'InternalServerError' : 'BadRequestError';
  }
}

/**
 * vLLM's error body, `{"error": {message, type, param, code}}`: `type` vLLM's name of the
 * status (`BadRequestError`, ...), `param` the field at fault (null when none), `code` the
 * status, plus `hicra_error` when a typed error of `@hicra/spec` is behind it.
 */
export function openaiErrorBody(
  error: HttpErrorInfo,
): VllmErrorResponse & { readonly error: { readonly hicra_error?: unknown } } {
  return {
    error: {
      message: error.message,
      type: errorType(error.status),
      param: error.field ?? null,
      code: error.status,
      ...(error.hicra === undefined ? {} : { hicra_error: error.hicra }),
    },
  };
}

type AjvError = Pick<
  FastifySchemaValidationError,
  'instancePath' | 'keyword' | 'params' | 'message'
>;

/** A schema failure as the field it concerns and a message naming it. */
function validationError(errors: readonly AjvError[]): ApiError {
  const first = errors[0];
  if (first === undefined) return new ApiError(400, 'the request body is invalid', 'body');
  if (first.keyword === 'additionalProperties') {
    const field = String(first.params['additionalProperty']);
    return new ApiError(
      400,
      `unknown field ${JSON.stringify(field)}; this server reads ${OPENAI_COMPLETION_FIELDS.join(', ')}`,
      field,
    );
  }
  if (first.keyword === 'required') {
    const field = String(first.params['missingProperty']);
    return new ApiError(400, `field ${JSON.stringify(field)} is required`, field);
  }
  const segments = first.instancePath.split('/').slice(1);
  const field = segments[0];
  if (field === undefined) return new ApiError(400, `the request body ${first.message}`, 'body');
  if (field === 'prompt') {
    return new ApiError(
      400,
      'prompt must be a non-empty string, a list of non-empty strings, a list of token ids (integers >= 0) or a list of such lists',
      'prompt',
    );
  }
  const path = segments
    .map((s, k) => (k === 0 ? s : /^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join('');
  const message = (first.message ?? 'is invalid').replace(/,/g, ' or ');
  return new ApiError(400, `${path} ${message}`, field);
}

interface Settings {
  readonly tokenizer: TokenizerV1;
  readonly model: string;
  readonly sampler: () => SamplingClientV1;
  readonly contextLength: number | undefined;
  readonly maxTokensLimit: number;
  readonly maxSequencesPerRequest: number;
  readonly eosTokenIds: readonly number[];
}

function prompts(body: CompletionBody, settings: Settings): number[][] {
  const { tokenizer } = settings;
  const addSpecialTokens = body.add_special_tokens ?? true;
  const raw = body.prompt;
  const list: (string | number[])[] =
    typeof raw === 'string'
      ? [raw]
      : typeof raw[0] === 'number'
        ? [raw as number[]]
        : (raw as (string | number[])[]);
  return list.map((prompt, p) => {
    if (typeof prompt !== 'string') {
      prompt.forEach((id, k) => {
        if (id >= tokenizer.vocabSize) {
          const at = list.length === 1 && typeof raw[0] === 'number' ? `[${k}]` : `[${p}][${k}]`;
          throw new ApiError(
            400,
            `prompt${at} = ${id} is outside the vocabulary [0, ${tokenizer.vocabSize})`,
            'prompt',
          );
        }
      });
      return prompt;
    }
    let encoded: number[];
    try {
      encoded = Array.from(tokenizer.encode(prompt, { addSpecialTokens }).ids);
    } catch (error) {
      throw new ApiError(
        400,
        `prompt ${p} cannot be tokenized: ${error instanceof Error ? error.message : String(error)}`,
        'prompt',
      );
    }
    if (encoded.length === 0) throw new ApiError(400, `prompt ${p} encodes to no tokens`, 'prompt');
    return encoded;
  });
}

function toRagged(sequences: readonly (readonly number[])[]): {
  tokenIds: Int32Array;
  offsets: Int32Array;
} {
  const offsets = new Int32Array(sequences.length + 1);
  sequences.forEach((s, i) => {
    offsets[i + 1] = offsets[i]! + s.length;
  });
  const tokenIds = new Int32Array(offsets[sequences.length]!);
  sequences.forEach((s, i) => {
    tokenIds.set(s, offsets[i]!);
  });
  return { tokenIds, offsets };
}

function checkSample(result: SampleResultV1, B: number, T: number): void {
  const problems: string[] = [];
  if (result.batchSize !== B) problems.push(`batchSize ${result.batchSize}, expected ${B}`);
  if (result.seqLen !== T) problems.push(`seqLen ${result.seqLen}, expected ${T}`);
  for (const [name, array, length] of [
    ['tokenIds', result.tokenIds, B * T],
    ['responseMask', result.responseMask, B * T],
    ['logProbs', result.logProbs, B * T],
    ['finished', result.finished, B],
  ] as const) {
    if (array?.length !== length)
      problems.push(`${name} has ${array?.length} entries, expected ${length}`);
  }
  if (problems.length > 0)
    throw new ApiError(
      500,
      `the sampler returned a malformed result: ${problems.join('; ')}`,
      null,
    );
}

/** Log-probs of every prompt token after the first, at temperature 1 (vLLM's prompt_logprobs). */
async function promptLogprobs(
  sampler: SamplingClientV1,
  promptIds: readonly number[][],
): Promise<number[][]> {
  const B = promptIds.length;
  const T = Math.max(0, ...promptIds.map((p) => p.length - 1));
  if (T === 0) return promptIds.map(() => []);
  const tokenIds = new Int32Array(B * T);
  const responseMask = new Uint8Array(B * T);
  promptIds.forEach((ids, r) => {
    tokenIds.set(ids.slice(1), r * T);
    responseMask.fill(1, r * T, r * T + ids.length - 1);
  });
  const scored = await sampler.computeLogProbs({
    prompts: toRagged(promptIds.map((ids) => ids.slice(0, 1))),
    batchSize: B,
    seqLen: T,
    tokenIds,
    responseMask,
    temperature: 1,
  });
  if (scored.length !== B * T)
    throw new ApiError(
      500,
      `the sampler scored ${scored.length} positions, expected ${B * T}`,
      null,
    );
  return promptIds.map((ids, r) => Array.from(scored.subarray(r * T, r * T + ids.length - 1)));
}

async function complete(body: CompletionBody, settings: Settings): Promise<VllmCompletionResponse> {
  const { tokenizer } = settings;
  if (body.model !== undefined && body.model !== null && body.model !== settings.model)
    throw new ApiError(
      404,
      `the model ${JSON.stringify(body.model)} does not exist; this server serves ${JSON.stringify(settings.model)}`,
      'model',
    );
  if (body.stream === true)
    throw new ApiError(400, 'stream: streaming is not supported by this server', 'stream');
  const logprobs = body.logprobs ?? null;
  if (logprobs !== null && logprobs !== 0)
    throw new ApiError(
      400,
      `logprobs = ${logprobs} is not supported: the sampler gives the sampled token's log-prob only, so logprobs must be 0 or null`,
      'logprobs',
    );
  const wantPromptLogprobs = body.prompt_logprobs ?? null;
  if (wantPromptLogprobs !== null && wantPromptLogprobs !== 0)
    throw new ApiError(
      400,
      `prompt_logprobs = ${wantPromptLogprobs} is not supported: the sampler scores the prompt's own tokens only, so prompt_logprobs must be 0 or null`,
      'prompt_logprobs',
    );
  const n = body.n ?? 1;
  const maxTokens = body.max_tokens ?? 16;
  if (maxTokens > settings.maxTokensLimit)
    throw new ApiError(
      400,
      `max_tokens = ${maxTokens} is more than this server's limit ${settings.maxTokensLimit}`,
      'max_tokens',
    );
  for (const id of body.stop_token_ids ?? []) {
    if (id >= tokenizer.vocabSize)
      throw new ApiError(
        400,
        `stop_token_ids contains ${id}, outside the vocabulary [0, ${tokenizer.vocabSize})`,
        'stop_token_ids',
      );
  }
  const promptIds = prompts(body, settings);
  const P = promptIds.length;
  if (P * n > settings.maxSequencesPerRequest)
    throw new ApiError(
      400,
      `${P} prompt(s) x n = ${n} is ${P * n} samples, more than this server's limit ${settings.maxSequencesPerRequest}`,
      'n',
    );
  if (settings.contextLength !== undefined) {
    promptIds.forEach((ids, p) => {
      if (ids.length + maxTokens > settings.contextLength!)
        throw new ApiError(
          400,
          `this model's maximum context length is ${settings.contextLength} tokens, but prompt ${p} has ${ids.length} tokens and max_tokens is ${maxTokens}`,
          ids.length >= settings.contextLength! ? 'prompt' : 'max_tokens',
        );
    });
  }
  const explicitStops = body.stop_token_ids ?? [];
  const ignoreEos = body.ignore_eos ?? false;
  const eos = ignoreEos ? [] : settings.eosTokenIds;
  const topK = body.top_k ?? 0;
  const sampler = settings.sampler();
  const sampled = await sampler.sample({
    prompts: toRagged(promptIds),
    samplesPerPrompt: n,
    maxNewTokens: maxTokens,
    temperature: body.temperature ?? 1,
    topK: Math.max(topK, 0),
    topP: body.top_p ?? 1,
    stopTokenIds: [...new Set([...explicitStops, ...eos])],
    seed: body.seed ?? randomInt(0, 2 ** 31),
  });
  const T = maxTokens;
  checkSample(sampled, P * n, T);
  const scoredPrompts =
    wantPromptLogprobs === null ? undefined : await promptLogprobs(sampler, promptIds);
  const returnIds = body.return_token_ids ?? false;
  const asIds = body.return_tokens_as_token_ids ?? false;
  const skipSpecialTokens = body.skip_special_tokens ?? true;
  const tokenText = (id: number) =>
    asIds ? `token_id:${id}` : tokenizer.decode([id], { skipSpecialTokens: false });
  const choices: VllmCompletionChoice[] = [];
  let completionTokens = 0;
  for (let r = 0; r < P * n; r++) {
    const p = Math.floor(r / n);
    let length = 0;
    while (length < T && sampled.responseMask[r * T + length] === 1) length++;
    completionTokens += length;
    const generated = Array.from(sampled.tokenIds.subarray(r * T, r * T + length));
    const values = Array.from(sampled.logProbs.subarray(r * T, r * T + length));
    const finished = sampled.finished[r] === 1;
    const last = generated[generated.length - 1];
    const stopReason =
      !finished || last === undefined || eos.includes(last)
        ? null
        : explicitStops.includes(last)
          ? last
          : null;
    const visible = finished ? generated.slice(0, -1) : generated;
    let logprobsBody: VllmCompletionLogprobs | null = null;
    if (logprobs !== null) {
      const tokens = generated.map(tokenText);
      const offsets: number[] = [];
      let offset = 0;
      for (const token of tokens) {
        offsets.push(offset);
        offset += token.length;
      }
      logprobsBody = {
        text_offset: offsets,
        token_logprobs: values,
        tokens,
        top_logprobs: tokens.map((token, k) => ({ [token]: values[k]! })),
      };
    }
    const prompt = promptIds[p]!;
    let promptLogprobsBody: (Record<string, VllmPromptLogprob> | null)[] | null = null;
    if (scoredPrompts !== undefined) {
      const scores = scoredPrompts[p]!;
      promptLogprobsBody = [
        null,
        ...scores.map((logprob, k) => {
          const id = prompt[k + 1]!;
          return {
            [String(id)]: {
              logprob,
              rank: null,
              decoded_token: tokenizer.decode([id], { skipSpecialTokens: false }),
            },
          };
        }),
      ];
    }
    choices.push({
      index: r,
      text: tokenizer.decode(visible, { skipSpecialTokens }),
      logprobs: logprobsBody,
      finish_reason: finished ? 'stop' : 'length',
      stop_reason: stopReason,
      token_ids: returnIds ? generated : null,
      prompt_logprobs: promptLogprobsBody,
      prompt_token_ids: returnIds ? [...prompt] : null,
      routed_experts: null,
    });
  }
  const promptTokens = promptIds.reduce((sum, ids) => sum + ids.length, 0);
  return {
    id: `cmpl-${randomUUID().replace(/-/g, '')}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: settings.model,
    choices,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: null,
    },
    service_tier: null,
    system_fingerprint: null,
    kv_transfer_params: null,
    ec_transfer_params: null,
    metrics: null,
  };
}

function positiveInteger(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new InvalidArgumentError(`option ${name} must be an integer >= ${min}, got ${value}`, {
      source: SOURCE,
      details: { option: name, value },
    });
  return value;
}

/**
 * Installs the OpenAI-compatible completions protocol on `server`: `POST /v1/completions`
 * (prompts as token ids or text; `n`, `seed`, `max_tokens`, `temperature`, `top_k`, `top_p`,
 * `stop_token_ids`, `logprobs` 0, `prompt_logprobs` 0, `return_token_ids`,
 * `return_tokens_as_token_ids`, `ignore_eos`, `add_special_tokens`, `skip_special_tokens`)
 * with vLLM's response shape, `GET /v1/models` and `GET /health` (served without a key), over
 * `options.sampler`. Bad input gets vLLM's error body `{"error": {message, type, param, code}}`
 * ({@link openaiErrorBody}, for every error under `/v1/`) with a 4xx status and `param` naming
 * the field; the server keeps serving. Call it before `server.listen()`; other protocols
 * (`installTinkerProtocol`) can share the server.
 *
 * The protocol's `close()` refuses new requests to its paths (503) and resolves once the
 * completions in flight are done with the sampler; it leaves the sampler, which stays the
 * caller's, and the server alone.
 */
export function installOpenAICompletions(
  server: HttpServer,
  options: OpenAICompletionsOptions,
): InstalledProtocol {
  const settings = settingsOf(options, 'installOpenAICompletions');
  const bodyLimit = positiveInteger(
    'bodyLimitBytes',
    options.bodyLimitBytes ?? OPENAI_COMPLETIONS_BODY_LIMIT_BYTES,
  );
  const { app } = server;
  for (const [method, path] of [
    ['GET', '/health'],
    ['GET', '/v1/models'],
    ['POST', '/v1/completions'],
  ] as const) {
    if (app.hasRoute({ method, url: path }))
      throw new InvalidArgumentError(
        `installOpenAICompletions: ${method} ${path} is already served on this server (the completions protocol installed twice?)`,
        { source: SOURCE, details: { argument: 'server', path } },
      );
  }
  server.setErrorFormat(OPENAI_PREFIX, openaiErrorBody);

  let closed = false;
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const shared = {
    bodyLimit,
    onRequest: (_request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
      if (closed)
        done(new ApiError(503, 'the completions protocol of this server is closed', null));
      else done();
    },
  };
  const created = Math.floor(Date.now() / 1000);
  app.get(
    '/health',
    { ...shared, config: { public: true } satisfies HttpRouteConfig },
    async (_request, reply) => reply.code(200).send(''),
  );
  app.get('/v1/models', shared, async () => ({
    object: 'list',
    data: [
      {
        id: settings.model,
        object: 'model',
        created,
        owned_by: 'hicra',
        root: settings.model,
        parent: null,
        max_model_len: settings.contextLength ?? null,
      },
    ],
  }));
  app.post<{ Body: CompletionBody }>(
    '/v1/completions',
    {
      ...shared,
      schema: { body: COMPLETION_SCHEMA },
      schemaErrorFormatter: (errors) => validationError(errors),
    },
    async (request) => {
      inFlight++;
      try {
        return await complete(request.body, settings);
      } finally {
        inFlight--;
        if (inFlight === 0) idle?.();
      }
    },
  );

  let closing: Promise<void> | undefined;
  return {
    paths: ['/v1/completions', '/v1/models', '/health'],
    close() {
      closing ??= (async () => {
        closed = true;
        if (inFlight > 0)
          await new Promise<void>((resolve) => {
            idle = resolve;
          });
      })();
      return closing;
    },
  };
}

function settingsOf(options: OpenAICompletionsOptions, where: string): Settings {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError(`${where}: options must be an object`, {
      source: SOURCE,
      details: { argument: 'options' },
    });
  const tokenizer = options.tokenizer;
  if (typeof options.model !== 'string' || options.model.length === 0)
    throw new InvalidArgumentError('option model must be a non-empty string', {
      source: SOURCE,
      details: { option: 'model' },
    });
  const eosTokenIds =
    options.eosTokenIds ??
    (tokenizer.specialTokens.eos === undefined ? [] : [tokenizer.specialTokens.eos]);
  return {
    tokenizer,
    model: options.model,
    sampler:
      typeof options.sampler === 'function'
        ? (options.sampler as () => SamplingClientV1)
        : () => options.sampler as SamplingClientV1,
    contextLength:
      options.contextLength === undefined
        ? undefined
        : positiveInteger('contextLength', options.contextLength),
    maxTokensLimit: positiveInteger('maxTokensLimit', options.maxTokensLimit ?? 16_384),
    maxSequencesPerRequest: positiveInteger(
      'maxSequencesPerRequest',
      options.maxSequencesPerRequest ?? 256,
    ),
    eosTokenIds,
  };
}

/** One request as a JSON line on stdout (`logger: true`). */
function logLine(entry: HttpRequestLogEntry): void {
  process.stdout.write(
    `${JSON.stringify({ msg: 'request completed', time: Date.now(), ...entry })}\n`,
  );
}

/**
 * An OpenAI-compatible completions server alone on its port: a {@link createHttpServer} with
 * {@link installOpenAICompletions} on it (see there for what it serves), vLLM's error body for
 * every error. Listens on 127.0.0.1 by default; resolves once listening.
 */
export async function createOpenAICompletionsServer(
  options: OpenAICompletionsServerOptions,
): Promise<OpenAICompletionsServer> {
  const bodyLimit = positiveInteger(
    'bodyLimit',
    options.bodyLimit ?? OPENAI_COMPLETIONS_BODY_LIMIT_BYTES,
  );
  const http = createHttpServer({
    host: options.host ?? '127.0.0.1',
    port: positiveInteger('port', options.port ?? 0, 0),
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    bodyLimitBytes: bodyLimit,
    formatError: openaiErrorBody,
    ...(options.logger === true ? { onRequestLog: logLine } : {}),
  });
  const completions = installOpenAICompletions(http, { ...options, bodyLimitBytes: bodyLimit });
  const address = await http.listen();
  let closing: Promise<void> | undefined;
  return {
    url: address.url,
    host: address.host,
    port: address.port,
    close: () => {
      closing ??= (async () => {
        await http.close();
        await completions.close();
      })();
      return closing;
    },
  };
}

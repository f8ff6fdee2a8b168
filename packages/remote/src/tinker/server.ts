/**
 * A Tinker-protocol server (the JSON API of SDK <= 0.24) in front of any `TrainingClientV1`
 * and the sampling clients it returns: `TinkerTrainingClient` -> this server -> any engine.
 * Long work (`create_model`, `forward`, `forward_backward`, `optim_step`, `save_weights`,
 * `load_weights`, `save_weights_for_sampler`, `asample`, `unload_model`) answers a future id at
 * once; `retrieve_future` long-polls it. Built on {@link createHttpServer}: installed on a shared
 * server with {@link installTinkerProtocol}, or alone with {@link createTinkerServer}.
 */
import { randomInt } from 'node:crypto';
import {
  type DatumV1,
  type EngineInfoV1,
  HicraError,
  InvalidArgumentError,
  type SamplingClientV1,
  type TrainingClientV1,
  UnknownNameError,
  validateDatums,
} from '@hicra/spec';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type HttpErrorInfo, HttpStatusError, statusForHicraError } from '../http/errors.js';
import {
  createHttpServer,
  type HttpRouteConfig,
  type HttpServer,
  type HttpServerAddress,
  type HttpServerOptions,
  type InstalledProtocol,
} from '../http/server.js';
import { writeHicraCapabilities } from './capabilities.js';
import { decodeAdam, decodeDatum, decodeLoss, encodeForwardOutput } from './codec.js';
import { FutureStore } from './future-store.js';
import { decodeSampleRequest, encodeSampleResult } from './sample-codec.js';
import { TINKER_BODY_SCHEMAS } from './server-schemas.js';
import {
  LOSS_CONFIG_KEYS,
  TINKER_PATHS,
  type WireAdamParams,
  type WireCreateModelRequest,
  type WireCreateSamplingSessionRequest,
  type WireForwardBackwardInput,
  type WireLoadWeightsRequest,
  type WireSampleRequest,
  type WireSaveWeightsForSamplerRequest,
  type WireSaveWeightsRequest,
} from './wire.js';

const SOURCE = '@hicra/remote';

/** 64 MiB: a few forward_backward chunks of the SDK's 5 MB estimate, with room. */
export const TINKER_SERVER_BODY_LIMIT_BYTES = 64 << 20;

/** Where the Tinker routes live; errors under it get {@link tinkerErrorBody}. */
const TINKER_PREFIX = '/api/v1/';

/** What the Tinker protocol serves, on its own server or on a shared one. */
export interface TinkerProtocolOptions {
  /** The engine served. Every `create_model` of its model name trains this one engine. */
  readonly training: TrainingClientV1;
  /** A sampler of the base weights, for sampling sessions opened with `base_model`. */
  readonly sampling?: SamplingClientV1;
  /** The model name clients ask for (`base_model`). Default: `training.info().modelName`. */
  readonly modelName?: string;
  /**
   * Advertise the engine's real capabilities in `hicra_capabilities` (`get_info`,
   * `get_server_capabilities`). Default true; false makes the server look like a plain
   * Tinker server to clients (its engine still does whatever it is asked).
   */
  readonly advertiseCapabilities?: boolean;
  /** How long one `retrieve_future` waits for a pending result. Default 10 000 ms. */
  readonly longPollMs?: number;
  /** How long an unfetched result is kept. Default 10 minutes. */
  readonly futureRetentionMs?: number;
  /** Sampler weights kept (ephemeral and named); the oldest are released first. Default 16. */
  readonly maxSamplers?: number;
  /** `asample` requests run at once. Default 16. */
  readonly maxConcurrentSamples?: number;
  /** `max_tokens` when a sample request has none. Default 256. */
  readonly defaultMaxTokens?: number;
  /** Called with engine failures that are not `HicraError`s (they fail the future as "server"). */
  readonly onEngineError?: (error: unknown, operation: string) => void;
  /**
   * Largest body of a Tinker request (fastify's route option `bodyLimit`), in bytes; larger
   * ones get a 413. Default {@link TINKER_SERVER_BODY_LIMIT_BYTES} (64 MiB), whatever the
   * server's own limit.
   */
  readonly bodyLimitBytes?: number;
}

export interface TinkerServerOptions extends HttpServerOptions, TinkerProtocolOptions {
  /** The server's body limit and the Tinker routes'. Default 64 MiB. */
  readonly bodyLimitBytes?: number;
}

/** A running (or ready to run) Tinker server. */
export interface TinkerServer extends HttpServer {
  /** The engine's description, as read at creation. */
  readonly info: EngineInfoV1;
  /** The model name served. */
  readonly modelName: string;
}

/** The Tinker protocol installed on a server ({@link installTinkerProtocol}). */
export interface InstalledTinkerProtocol extends InstalledProtocol {
  /** The engine's description, as read at installation. */
  readonly info: EngineInfoV1;
  /** The model name served. */
  readonly modelName: string;
}

interface SessionEntry {
  readonly id: string;
  lastHeartbeat: number;
  readonly models: string[];
  readonly samplers: string[];
}

interface ModelEntry {
  readonly id: string;
  readonly sessionId: string;
  /** Saved states: tinker path -> the engine's location. */
  readonly states: Map<string, string>;
  readonly checkpoints: { id: string; type: 'training' | 'sampler'; path: string; time: string }[];
}

interface SamplerWeights {
  readonly path: string | null;
  readonly client: SamplingClientV1;
  readonly modelId: string | null;
  /** Owned by the server (released on eviction and close). */
  readonly owned: boolean;
  released: boolean;
}

interface SamplingSessionEntry {
  readonly id: string;
  readonly weights: SamplerWeights;
}

/**
 * Creates a Tinker-protocol server over `options.training` (reads its `info()` first): a
 * {@link createHttpServer} with the Tinker protocol alone installed on it
 * ({@link installTinkerProtocol}). Call `listen()` to serve; `close()` stops it and releases
 * the sampler weights it made (not the engine, which stays the caller's).
 *
 * Requests are validated against the SDK's request shapes (unknown fields, wrong types and
 * out-of-range values are 400s naming the field), datums against the engine's vocabulary and
 * context length (`validateDatums`, also at submission), so bad input never reaches the
 * engine; what the engine refuses later fails the future with its typed error
 * (`hicra_error`), which `TinkerTrainingClient` rethrows as the same class.
 */
export async function createTinkerServer(options: TinkerServerOptions): Promise<TinkerServer> {
  checkTraining(options, 'createTinkerServer');
  const bodyLimitBytes = options.bodyLimitBytes ?? TINKER_SERVER_BODY_LIMIT_BYTES;
  const formatError = options.formatError ?? tinkerErrorBody;
  const http = createHttpServer({ ...options, bodyLimitBytes, formatError });
  const tinker = await install(http, { ...options, bodyLimitBytes }, formatError);
  let closing: Promise<void> | undefined;
  return {
    app: http.app,
    info: tinker.info,
    modelName: tinker.modelName,
    get address(): HttpServerAddress | undefined {
      return http.address;
    },
    setErrorFormat: (pathPrefix, format) => http.setErrorFormat(pathPrefix, format),
    listen: () => http.listen(),
    close() {
      closing ??= (async () => {
        await http.close();
        await tinker.close();
      })();
      return closing;
    },
  };
}

/**
 * Installs the Tinker protocol (the JSON API of SDK <= 0.24) on `server`, over
 * `options.training` (reads its `info()` first): its routes under `/api/v1/` (`healthz`
 * served without a key), each with the body limit `options.bodyLimitBytes` (64 MiB), and
 * Tinker's error body ({@link tinkerErrorBody}) for every error under `/api/v1/`. Call it
 * before `server.listen()`; other protocols (`installOpenAICompletions`) can share the server.
 *
 * The server's `close()` ends pending long polls and then releases the sampler weights the
 * protocol made; the protocol's own `close()` does the same without closing the server (later
 * Tinker requests get a 503).
 */
export async function installTinkerProtocol(
  server: HttpServer,
  options: TinkerProtocolOptions,
): Promise<InstalledTinkerProtocol> {
  checkTraining(options, 'installTinkerProtocol');
  return install(server, options, tinkerErrorBody);
}

function checkTraining(options: TinkerProtocolOptions, where: string): void {
  const training = options?.training;
  if (typeof training !== 'object' || training === null || typeof training.info !== 'function') {
    throw new InvalidArgumentError(`${where}: training must be a TrainingClientV1`, {
      source: SOURCE,
      details: { argument: 'training' },
    });
  }
}

async function install(
  server: HttpServer,
  options: TinkerProtocolOptions,
  formatError: (error: HttpErrorInfo) => unknown,
): Promise<InstalledTinkerProtocol> {
  const { training } = options;
  const bodyLimit = options.bodyLimitBytes ?? TINKER_SERVER_BODY_LIMIT_BYTES;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1) {
    throw new InvalidArgumentError(
      `installTinkerProtocol: bodyLimitBytes must be a positive integer, got ${String(bodyLimit)}`,
      { source: SOURCE, details: { argument: 'bodyLimitBytes' } },
    );
  }
  const info = await training.info();
  const modelName = options.modelName ?? info.modelName;
  const advertise = options.advertiseCapabilities ?? true;
  const hicraCapabilities = writeHicraCapabilities(info);
  const maxSamplers = options.maxSamplers ?? 16;
  const defaultMaxTokens = options.defaultMaxTokens ?? 256;
  const futures = new FutureStore({
    ...(options.longPollMs === undefined ? {} : { longPollMs: options.longPollMs }),
    ...(options.futureRetentionMs === undefined ? {} : { retentionMs: options.futureRetentionMs }),
  });
  const sampleSlots = new Slots(options.maxConcurrentSamples ?? 16);
  const { app } = server;
  server.setErrorFormat(TINKER_PREFIX, formatError);

  // Every Tinker route: the protocol's body limit, a 503 once the protocol is closed.
  const paths: string[] = [];
  let closed = false;
  const shared = {
    bodyLimit,
    onRequest: (_request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
      if (closed) done(new HttpStatusError(503, 'the Tinker protocol of this server is closed'));
      else done();
    },
  };
  type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  const routes = {
    get(path: string, handler: Handler, config: HttpRouteConfig = {}): void {
      claim('GET', path);
      app.get(path, { ...shared, config }, handler);
    },
    post(path: string, route: { schema: { body: unknown } }, handler: Handler): void {
      claim('POST', path);
      app.post(path, { ...shared, ...route }, handler);
    },
  };
  function claim(method: 'GET' | 'POST', path: string): void {
    if (app.hasRoute({ method, url: path })) {
      throw new InvalidArgumentError(
        `installTinkerProtocol: ${method} ${path} is already served on this server (the Tinker protocol installed twice?)`,
        { source: SOURCE, details: { argument: 'server', path } },
      );
    }
    if (!paths.includes(path)) paths.push(path);
  }

  const sessions = new Map<string, SessionEntry>();
  const models = new Map<string, ModelEntry>();
  const samplingSessions = new Map<string, SamplingSessionEntry>();
  const namedWeights = new Map<string, SamplerWeights>();
  const owned: SamplerWeights[] = [];
  const baseWeights: SamplerWeights | undefined =
    options.sampling === undefined
      ? undefined
      : { path: null, client: options.sampling, modelId: null, owned: false, released: false };
  let sessionCounter = 0;
  let stateCounter = 0;
  let samplerCounter = 0;
  let trainingQueue: Promise<unknown> = Promise.resolve();

  /** Engine calls run one at a time, in submission order. */
  function serial<T>(work: () => Promise<T>): () => Promise<T> {
    const run = trainingQueue.then(work);
    trainingQueue = run.catch(() => undefined);
    return () => run;
  }

  const idempotent = new IdempotencyCache();

  function session(id: string, field: string): SessionEntry {
    const entry = sessions.get(id);
    if (entry === undefined) {
      throw new HttpStatusError(404, `${field}: no session "${id}" on this server`, { field });
    }
    return entry;
  }

  function model(id: string | undefined, field = 'model_id'): ModelEntry {
    const entry = id === undefined ? undefined : models.get(id);
    if (entry === undefined) {
      throw new HttpStatusError(
        id === undefined ? 400 : 404,
        id === undefined
          ? `${field}: required field missing`
          : `${field}: no model "${id}" on this server (create it with create_model)`,
        { field },
      );
    }
    return entry;
  }

  function checkBaseModel(name: string, field: string): void {
    if (name !== modelName) {
      throw new HttpStatusError(
        400,
        `${field}: this server serves "${modelName}", not ${JSON.stringify(name)}`,
        { field },
      );
    }
  }

  function addOwned(weights: SamplerWeights): void {
    owned.push(weights);
    while (owned.length > maxSamplers) {
      const oldest = owned.shift()!;
      release(oldest);
    }
  }

  function release(weights: SamplerWeights): void {
    if (weights.released || !weights.owned) return;
    weights.released = true;
    if (weights.path !== null && namedWeights.get(weights.path) === weights)
      namedWeights.delete(weights.path);
    Promise.resolve(weights.client.dispose?.()).catch((error: unknown) =>
      options.onEngineError?.(error, 'dispose sampler'),
    );
  }

  /** Submits `work` as a future; the answer is `{request_id, model_id}`. */
  function future(modelId: string | null, operation: string, work: () => Promise<unknown>) {
    const id = futures.submit(modelId, async () => {
      try {
        return await work();
      } catch (error) {
        if (!HicraError.isInstance(error)) options.onEngineError?.(error, operation);
        throw error;
      }
    });
    return { request_id: id, model_id: modelId };
  }

  function datumsOf(input: WireForwardBackwardInput, where: string): DatumV1[] {
    const data = input.data.map((d, i) => decodeDatum(d, `${where}.data[${i}]`));
    const loss = decodeLoss(input, where);
    if (!(info.capabilities.losses as readonly string[]).includes(loss.name)) {
      throw new HttpStatusError(
        400,
        `${where}.loss_fn: the engine does not offer "${input.loss_fn}"; it offers ${info.capabilities.losses.map((l) => l.replace(/-/g, '_')).join(', ')}`,
        {
          field: `${where}.loss_fn`,
          cause: new UnknownNameError('loss', loss.name, info.capabilities.losses, {
            source: SOURCE,
          }),
        },
      );
    }
    const temperature = input.hicra_options?.temperature ?? 1;
    if (temperature !== 1 && !info.capabilities.temperature) {
      throw new HttpStatusError(
        400,
        `${where}.hicra_options.temperature: the engine scores at temperature 1 only`,
        { field: `${where}.hicra_options.temperature` },
      );
    }
    const settings = loss.settings ?? {};
    if ((settings.entropyCoefficient ?? 0) !== 0 && !info.capabilities.entropyBonus) {
      throw new HttpStatusError(
        400,
        `${where}.loss_fn_config.${LOSS_CONFIG_KEYS.entropyCoefficient}: the engine has no entropy bonus`,
        { field: `${where}.loss_fn_config.${LOSS_CONFIG_KEYS.entropyCoefficient}` },
      );
    }
    if ((settings.klCoefficient ?? 0) !== 0 && !info.capabilities.klTerm) {
      throw new HttpStatusError(
        400,
        `${where}.loss_fn_config.${LOSS_CONFIG_KEYS.klCoefficient}: the engine has no KL term`,
        { field: `${where}.loss_fn_config.${LOSS_CONFIG_KEYS.klCoefficient}` },
      );
    }
    const requires =
      loss.name === 'cross-entropy'
        ? []
        : (['logProbs', 'advantages'] as ('logProbs' | 'advantages' | 'refLogProbs')[]);
    if ((settings.klCoefficient ?? 0) !== 0) requires.push('refLogProbs');
    try {
      validateDatums(data, {
        vocabSize: info.vocabSize,
        ...(info.contextLength === undefined ? {} : { contextLength: info.contextLength }),
        requires,
        source: SOURCE,
      });
    } catch (error) {
      throw datumError(error, where);
    }
    return data;
  }

  function forwardRoute(kind: 'forward' | 'forward_backward') {
    return async (request: FastifyRequest) => {
      const body = request.body as Record<string, unknown>;
      const inputKey = kind === 'forward' ? 'forward_input' : 'forward_backward_input';
      const input = body[inputKey] as WireForwardBackwardInput;
      const entry = model(body.model_id as string);
      const data = datumsOf(input, inputKey);
      const loss = decodeLoss(input, inputKey);
      const temperature = input.hicra_options?.temperature ?? 1;
      const forwardOptions = temperature === 1 ? {} : { temperature };
      const run = serial(() =>
        kind === 'forward'
          ? training.forward(data, loss, forwardOptions)
          : training.forwardBackward(data, loss, forwardOptions),
      );
      return future(entry.id, kind, async () =>
        encodeForwardOutput(await run(), advertise && info.capabilities.entropies),
      );
    };
  }

  // -------------------------------------------------------------------------------------------
  // Routes.

  routes.get(TINKER_PATHS.healthz, async () => ({ status: 'ok' }), { public: true });

  routes.get(TINKER_PATHS.getServerCapabilities, async () => ({
    supported_models: [
      {
        model_name: modelName,
        ...(info.contextLength === undefined ? {} : { max_context_length: info.contextLength }),
        ...(advertise ? { hicra_capabilities: hicraCapabilities } : {}),
      },
    ],
  }));

  routes.post(
    TINKER_PATHS.clientConfig,
    { schema: { body: TINKER_BODY_SCHEMAS.clientConfig } },
    async () => ({
      pjwt_auth_enabled: false,
      credential_default_source: 'api_key',
      sample_dispatch_bytes_semaphore_size: 10 * 1024 * 1024,
      inflight_response_bytes_semaphore_size: 50 * 1024 * 1024,
      parallel_fwdbwd_chunks: false,
      proto_write_fwdbwd: false,
      proto_compress_fwdbwd: false,
      fwd_via_fwdbwd: false,
      fwdbwd_max_chunk_len: 1024,
      fwdbwd_max_chunk_bytes_count: 5_000_000,
      billing_exception_max_pause_duration_sec: 3600,
      sample_no_retries: false,
      use_pyqwest_transport: true,
      create_model_via_load_weights: false,
    }),
  );

  routes.post(
    TINKER_PATHS.createSession,
    { schema: { body: TINKER_BODY_SCHEMAS.createSession } },
    async (request) =>
      idempotent.run(request, () => {
        const id = `hicra-session:${sessionCounter++}`;
        sessions.set(id, { id, lastHeartbeat: Date.now(), models: [], samplers: [] });
        return {
          type: 'create_session',
          info_message: null,
          warning_message: null,
          error_message: null,
          session_id: id,
        };
      }),
  );

  routes.post(
    TINKER_PATHS.sessionHeartbeat,
    { schema: { body: TINKER_BODY_SCHEMAS.sessionHeartbeat } },
    async (request) => {
      const body = request.body as { session_id: string };
      session(body.session_id, 'session_id').lastHeartbeat = Date.now();
      return { type: 'session_heartbeat' };
    },
  );

  routes.post(
    TINKER_PATHS.createModel,
    { schema: { body: TINKER_BODY_SCHEMAS.createModel } },
    async (request) =>
      idempotent.run(request, () => {
        const body = request.body as WireCreateModelRequest;
        const owner = session(body.session_id, 'session_id');
        checkBaseModel(body.base_model, 'base_model');
        const seq = body.model_seq_id ?? owner.models.length;
        const id = `${owner.id}:train:${seq}`;
        if (!models.has(id)) {
          models.set(id, { id, sessionId: owner.id, states: new Map(), checkpoints: [] });
          owner.models.push(id);
        }
        return future(id, 'create_model', async () => ({ model_id: id, type: 'create_model' }));
      }),
  );

  routes.post(
    TINKER_PATHS.getInfo,
    { schema: { body: TINKER_BODY_SCHEMAS.getInfo } },
    async (request) => {
      const entry = model((request.body as { model_id: string }).model_id);
      return {
        type: 'get_info',
        model_data: { arch: null, model_name: modelName, tokenizer_id: modelName },
        model_id: entry.id,
        is_lora: false,
        lora_rank: null,
        model_name: modelName,
        ...(advertise ? { hicra_capabilities: hicraCapabilities } : {}),
      };
    },
  );

  routes.post(
    TINKER_PATHS.unloadModel,
    { schema: { body: TINKER_BODY_SCHEMAS.unloadModel } },
    async (request) =>
      idempotent.run(request, () => {
        const entry = model((request.body as { model_id: string }).model_id);
        models.delete(entry.id);
        return future(entry.id, 'unload_model', async () => ({
          model_id: entry.id,
          type: 'unload_model',
        }));
      }),
  );

  routes.post(
    TINKER_PATHS.forward,
    { schema: { body: TINKER_BODY_SCHEMAS.forward } },
    async (request) => idempotent.run(request, () => forwardRoute('forward')(request)),
  );

  routes.post(
    TINKER_PATHS.forwardBackward,
    { schema: { body: TINKER_BODY_SCHEMAS.forwardBackward } },
    async (request) => idempotent.run(request, () => forwardRoute('forward_backward')(request)),
  );

  routes.post(
    TINKER_PATHS.optimStep,
    { schema: { body: TINKER_BODY_SCHEMAS.optimStep } },
    async (request) =>
      idempotent.run(request, () => {
        const body = request.body as { adam_params: Partial<WireAdamParams>; model_id: string };
        const entry = model(body.model_id);
        const adam = decodeAdam({
          learning_rate: 1e-4,
          beta1: 0.9,
          beta2: 0.95,
          eps: 1e-12,
          weight_decay: 0,
          grad_clip_norm: 0,
          ...body.adam_params,
        });
        const run = serial(() => training.optimStep(adam));
        return future(entry.id, 'optim_step', async () => ({ metrics: (await run()).metrics }));
      }),
  );

  routes.post(
    TINKER_PATHS.saveWeights,
    { schema: { body: TINKER_BODY_SCHEMAS.saveWeights } },
    async (request) =>
      idempotent.run(request, () => {
        const body = request.body as WireSaveWeightsRequest;
        const entry = model(body.model_id);
        const name = body.path ?? `state-${stateCounter++}`;
        const path = `tinker://${entry.id}/weights/${name}`;
        if (entry.states.has(path) && body.overwrite !== true) {
          throw new HttpStatusError(
            409,
            `path: a state named "${name}" exists (${path}); send overwrite: true to replace it`,
            { field: 'path' },
          );
        }
        const run = serial(() => training.saveState(name));
        return future(entry.id, 'save_weights', async () => {
          const location = await run();
          entry.states.set(path, location);
          const existing = entry.checkpoints.findIndex((c) => c.path === path);
          if (existing >= 0) entry.checkpoints.splice(existing, 1);
          entry.checkpoints.push({
            id: `weights/${name}`,
            type: 'training',
            path,
            time: new Date().toISOString(),
          });
          return { path, type: 'save_weights' };
        });
      }),
  );

  routes.post(
    TINKER_PATHS.loadWeights,
    { schema: { body: TINKER_BODY_SCHEMAS.loadWeights } },
    async (request) =>
      idempotent.run(request, () => {
        const body = request.body as WireLoadWeightsRequest;
        const entry = model(body.model_id);
        if (body.optimizer === false) {
          throw new HttpStatusError(
            400,
            'optimizer: false (weights without the optimizer state) is not offered; the engine contract restores both',
            { field: 'optimizer' },
          );
        }
        const location = resolveState(body.path, entry, models);
        const run = serial(() => training.loadState(location));
        return future(entry.id, 'load_weights', async () => {
          await run();
          return { path: body.path, type: 'load_weights' };
        });
      }),
  );

  routes.post(
    TINKER_PATHS.saveWeightsForSampler,
    { schema: { body: TINKER_BODY_SCHEMAS.saveWeightsForSampler } },
    async (request) =>
      idempotent.run(request, () => {
        const body = request.body as WireSaveWeightsForSamplerRequest;
        const entry = model(body.model_id);
        const owner = session(entry.sessionId, 'model_id');
        if (body.path === undefined && body.sampling_session_seq_id === undefined) {
          throw new HttpStatusError(
            400,
            'path or sampling_session_seq_id: give a name to save sampler weights under, or a sampling_session_seq_id for an ephemeral sampler',
            { field: 'path' },
          );
        }
        const name = body.path ?? `sampler-${samplerCounter++}`;
        const run = serial(() => training.saveWeightsForSampler(name));
        return future(entry.id, 'save_weights_for_sampler', async () => {
          const client = await run();
          if (body.path !== undefined) {
            const path = `tinker://${entry.id}/sampler_weights/${body.path}`;
            const previous = namedWeights.get(path);
            const weights: SamplerWeights = {
              path,
              client,
              modelId: entry.id,
              owned: true,
              released: false,
            };
            namedWeights.set(path, weights);
            if (previous !== undefined) release(previous);
            addOwned(weights);
            entry.checkpoints.push({
              id: `sampler_weights/${body.path}`,
              type: 'sampler',
              path,
              time: new Date().toISOString(),
            });
            return { path, sampling_session_id: null, type: 'save_weights_for_sampler' };
          }
          const id = `${owner.id}:sample:${body.sampling_session_seq_id}`;
          const weights: SamplerWeights = {
            path: null,
            client,
            modelId: entry.id,
            owned: true,
            released: false,
          };
          const previous = samplingSessions.get(id);
          samplingSessions.set(id, { id, weights });
          if (previous !== undefined) release(previous.weights);
          owner.samplers.push(id);
          addOwned(weights);
          return { path: null, sampling_session_id: id, type: 'save_weights_for_sampler' };
        });
      }),
  );

  routes.post(
    TINKER_PATHS.createSamplingSession,
    { schema: { body: TINKER_BODY_SCHEMAS.createSamplingSession } },
    async (request) =>
      idempotent.run(request, () => {
        const body = request.body as WireCreateSamplingSessionRequest;
        const owner = session(body.session_id, 'session_id');
        const weights = samplerTarget(body.model_path, body.base_model);
        const id = `${owner.id}:sample:${body.sampling_session_seq_id}`;
        samplingSessions.set(id, { id, weights });
        owner.samplers.push(id);
        return { type: 'create_sampling_session', sampling_session_id: id };
      }),
  );

  function samplerTarget(modelPath: string | undefined, baseModel: string | undefined) {
    if (modelPath !== undefined && baseModel !== undefined) {
      throw new HttpStatusError(400, 'model_path and base_model: give one, not both', {
        field: 'model_path',
      });
    }
    if (modelPath !== undefined) {
      const weights = namedWeights.get(modelPath);
      if (weights === undefined || weights.released) {
        throw new HttpStatusError(
          404,
          `model_path: no sampler weights at ${JSON.stringify(modelPath)} (never saved, or released to stay within maxSamplers)`,
          { field: 'model_path' },
        );
      }
      return weights;
    }
    if (baseModel !== undefined) {
      checkBaseModel(baseModel, 'base_model');
      if (baseWeights === undefined) {
        throw new HttpStatusError(
          404,
          'base_model: this server has no sampler of the base weights; save weights for a sampler (save_weights_for_sampler) first',
          { field: 'base_model' },
        );
      }
      return baseWeights;
    }
    throw new HttpStatusError(400, 'model_path or base_model: required (which weights to sample)', {
      field: 'model_path',
    });
  }

  routes.get(`${TINKER_PATHS.samplers}/:id`, async (request) => {
    const id = (request.params as { id: string }).id;
    const entry = samplingSessions.get(id);
    if (entry === undefined) {
      throw new HttpStatusError(404, `no sampling session "${id}" on this server`, {
        field: 'sampler_id',
      });
    }
    return { sampler_id: id, base_model: modelName, model_path: entry.weights.path };
  });

  routes.post(
    TINKER_PATHS.asample,
    { schema: { body: TINKER_BODY_SCHEMAS.asample } },
    async (request) =>
      idempotent.run(request, () => {
        const body = request.body as WireSampleRequest;
        let weights: SamplerWeights;
        if (body.sampling_session_id !== undefined) {
          const entry = samplingSessions.get(body.sampling_session_id);
          if (entry === undefined) {
            throw new HttpStatusError(
              404,
              `sampling_session_id: no sampling session "${body.sampling_session_id}" on this server`,
              { field: 'sampling_session_id' },
            );
          }
          weights = entry.weights;
        } else {
          weights = samplerTarget(body.model_path, body.base_model);
        }
        if (weights.released) {
          throw new HttpStatusError(
            404,
            'sampling_session_id: the sampler weights of this session were released (dispose, or more than maxSamplers kept)',
            { field: 'sampling_session_id' },
          );
        }
        if ((body.topk_prompt_logprobs ?? 0) > 0) {
          throw new HttpStatusError(
            400,
            'topk_prompt_logprobs: top-k prompt log-probs are not served',
            {
              field: 'topk_prompt_logprobs',
            },
          );
        }
        const numSamples = body.num_samples ?? 1;
        const wantPrompt = body.prompt_logprobs === true;
        if (numSamples === 0 && !wantPrompt) {
          throw new HttpStatusError(
            400,
            'num_samples: 0 samples are only meaningful with prompt_logprobs: true',
            { field: 'num_samples' },
          );
        }
        const { request: sampleRequest, prompt } = decodeSampleRequest(
          { ...body, num_samples: Math.max(numSamples, 1) },
          { defaultMaxTokens, seed: () => randomInt(0, 2 ** 31 - 1) },
        );
        checkPromptIds(prompt, body, info.vocabSize);
        const temperature = body.sampling_params.temperature ?? 1;
        return future(null, 'asample', () =>
          sampleSlots.run(async () => {
            const client = weights.client;
            const result = numSamples > 0 ? await client.sample(sampleRequest) : undefined;
            let promptLogprobs: (number | null)[] | null = null;
            if (wantPrompt) promptLogprobs = await scorePrompt(client, prompt, temperature);
            return encodeSampleResult(result, promptLogprobs);
          }),
        );
      }),
  );

  routes.post(
    TINKER_PATHS.retrieveFuture,
    { schema: { body: TINKER_BODY_SCHEMAS.retrieveFuture } },
    async (request, reply: FastifyReply) => {
      const id = (request.body as { request_id: string }).request_id;
      const outcome = await futures.retrieve(id);
      switch (outcome.state) {
        case 'unknown':
          throw new HttpStatusError(
            404,
            `request_id: no future "${id}" on this server (never created, or its result expired)`,
            { field: 'request_id' },
          );
        case 'pending':
          return reply.send({
            type: 'try_again',
            request_id: id,
            queue_state: 'active',
            queue_state_reason: null,
          });
        case 'done':
          return reply.send(outcome.value);
        case 'failed':
          return reply.send(failedFuture(outcome.error));
      }
    },
  );

  routes.post(
    TINKER_PATHS.weightsInfo,
    { schema: { body: TINKER_BODY_SCHEMAS.weightsInfo } },
    async (request) => {
      const path = (request.body as { tinker_path: string }).tinker_path;
      const known = namedWeights.has(path) || [...models.values()].some((m) => m.states.has(path));
      if (!known) {
        throw new HttpStatusError(404, `tinker_path: nothing saved at ${JSON.stringify(path)}`, {
          field: 'tinker_path',
        });
      }
      return {
        base_model: modelName,
        is_lora: false,
        lora_rank: null,
        train_unembed: true,
        train_mlp: true,
        train_attn: true,
      };
    },
  );

  routes.get(`${TINKER_PATHS.trainingRuns}/:modelId/checkpoints`, async (request) => {
    const entry = model((request.params as { modelId: string }).modelId, 'model_id');
    return {
      checkpoints: entry.checkpoints.map((c) => ({
        checkpoint_id: c.id,
        checkpoint_type: c.type,
        time: c.time,
        tinker_path: c.path,
        size_bytes: null,
        public: false,
        expires_at: null,
      })),
      cursor: null,
    };
  });

  routes.get('/api/v1/sessions', async () => ({ sessions: [...sessions.keys()] }));

  routes.get('/api/v1/sessions/:id', async (request) => {
    const entry = session((request.params as { id: string }).id, 'session_id');
    return { training_run_ids: [...entry.models], sampler_ids: [...entry.samplers] };
  });

  routes.post(
    TINKER_PATHS.telemetry,
    { schema: { body: TINKER_BODY_SCHEMAS.telemetry } },
    async () => ({ status: 'accepted' }),
  );

  routes.post(
    TINKER_PATHS.releaseSamplingSession,
    { schema: { body: TINKER_BODY_SCHEMAS.releaseSamplingSession } },
    async (request) => {
      const id = (request.body as { sampling_session_id: string }).sampling_session_id;
      const entry = samplingSessions.get(id);
      if (entry !== undefined) {
        samplingSessions.delete(id);
        // Ephemeral weights belong to their one session; named weights stay (other sessions).
        if (entry.weights.path === null) release(entry.weights);
      }
      return { type: 'hicra_release_sampling_session', released: entry !== undefined };
    },
  );

  // The server's close ends pending long polls first, then (requests answered) releases.
  app.addHook('preClose', async () => {
    futures.close();
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      futures.close();
      for (const weights of [...owned]) release(weights);
      owned.length = 0;
    })();
    return closing;
  };
  app.addHook('onClose', async () => {
    await close();
  });

  return { paths, info, modelName, close };
}

/** The Tinker server's error body: FastAPI's `{detail}`, plus the field and the typed error. */
export function tinkerErrorBody(error: HttpErrorInfo): unknown {
  return {
    detail: error.message,
    type: error.type,
    field: error.field ?? null,
    ...(error.hicra === undefined ? {} : { hicra_error: error.hicra }),
  };
}

/** `{error, category, hicra_error}` of a failed future. */
function failedFuture(error: unknown): Record<string, unknown> {
  if (HicraError.isInstance(error)) {
    return {
      error: error.message,
      category: statusForHicraError(error) < 500 ? 'user' : 'server',
      hicra_error: error.toJSON(),
    };
  }
  return {
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    category: 'server',
  };
}

/** A datum validation error as a 400 naming the wire field. */
function datumError(error: unknown, where: string): unknown {
  if (!HicraError.isInstance(error)) return error;
  const details = error.details as { datum?: number; field?: string; index?: number };
  const wireField: Record<string, string> = {
    inputTokens: 'model_input.chunks',
    targetTokens: 'loss_fn_inputs.target_tokens',
    weights: 'loss_fn_inputs.weights',
    logProbs: 'loss_fn_inputs.logprobs',
    advantages: 'loss_fn_inputs.advantages',
    refLogProbs: 'loss_fn_inputs.ref_logprobs',
  };
  let field = `${where}.data`;
  if (details.datum !== undefined) {
    field += `[${details.datum}]`;
    if (details.field !== undefined) {
      field += `.${wireField[details.field] ?? details.field}`;
      if (details.index !== undefined && details.field !== 'inputTokens')
        field += `.data[${details.index}]`;
    }
  }
  const message = error.message.startsWith(`${SOURCE}: `)
    ? error.message.slice(SOURCE.length + 2)
    : error.message;
  return new HttpStatusError(statusForHicraError(error), `${field}: ${message}`, {
    field,
    cause: error,
  });
}

/** The `loadState` location of a `load_weights` path. */
function resolveState(path: string, entry: ModelEntry, models: Map<string, ModelEntry>): string {
  for (const m of [entry, ...models.values()]) {
    const location = m.states.get(path);
    if (location !== undefined) return location;
  }
  const match = /^tinker:\/\/[^/]+\/weights\/([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(path);
  if (match === null) {
    throw new HttpStatusError(
      400,
      `path: ${JSON.stringify(path)} is not a training-state path (tinker://<model_id>/weights/<name>, as save_weights returns)`,
      { field: 'path' },
    );
  }
  // Saved before this server started: the engine resolves the name itself.
  return match[1]!;
}

function checkPromptIds(prompt: Int32Array, body: WireSampleRequest, vocabSize: number): void {
  let offset = 0;
  body.prompt.chunks.forEach((chunk, c) => {
    const tokens = (chunk as { tokens: readonly number[] }).tokens;
    for (let i = 0; i < tokens.length; i++) {
      if (prompt[offset + i]! >= vocabSize) {
        throw new HttpStatusError(
          400,
          `prompt.chunks[${c}].tokens[${i}] = ${prompt[offset + i]} is outside the vocabulary [0, ${vocabSize})`,
          { field: `prompt.chunks[${c}].tokens[${i}]` },
        );
      }
    }
    offset += tokens.length;
  });
}

/** `prompt_logprobs` of a prompt: null, then log p(x_i | x_<i) for i >= 1. */
async function scorePrompt(
  client: SamplingClientV1,
  prompt: Int32Array,
  temperature: number,
): Promise<(number | null)[]> {
  const L = prompt.length;
  if (L < 2) return [null];
  const scored = await client.computeLogProbs({
    prompts: { tokenIds: prompt.subarray(0, 1), offsets: Int32Array.of(0, 1) },
    batchSize: 1,
    seqLen: L - 1,
    tokenIds: prompt.subarray(1),
    responseMask: new Uint8Array(L - 1).fill(1),
    ...(temperature > 0 && temperature !== 1 ? { temperature } : {}),
  });
  const out: (number | null)[] = [null];
  for (let i = 0; i < L - 1; i++) out.push(scored[i]!);
  return out;
}

/**
 * Replays of a request with the same `X-Idempotency-Key` (a client retrying after a lost
 * answer) get the first answer, and the work runs once. Bounded: the oldest keys go first.
 */
class IdempotencyCache {
  readonly #entries = new Map<string, { at: number; answer: Promise<unknown> }>();
  readonly #max = 4096;
  readonly #ttlMs = 600_000;

  async run<T>(request: FastifyRequest, work: () => T | Promise<T>): Promise<T> {
    const header = request.headers['x-idempotency-key'];
    const key = typeof header === 'string' && header.length > 0 ? header : undefined;
    if (key === undefined) return work();
    const id = `${request.url} ${key}`;
    const now = Date.now();
    const hit = this.#entries.get(id);
    if (hit !== undefined && now - hit.at < this.#ttlMs) return hit.answer as Promise<T>;
    const answer = Promise.resolve().then(work);
    this.#entries.set(id, { at: now, answer });
    answer.catch(() => this.#entries.delete(id));
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return answer;
  }
}

/** At most `size` tasks at once. */
class Slots {
  #free: number;
  readonly #queue: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#queue.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

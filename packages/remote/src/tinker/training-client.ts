/**
 * `TrainingClientV1` over a Tinker server's JSON API (SDK <= 0.24, `verl_tinker`, or
 * {@link createTinkerServer} of this package in front of any engine).
 */
import {
  type AdamParamsV1,
  BackendUnavailableError,
  type DatumFloatField,
  type DatumV1,
  type EngineInfoV1,
  type ForwardOptionsV1,
  type ForwardResultV1,
  InvalidArgumentError,
  InvalidValueError,
  type LossSpecV1,
  MissingInputError,
  type OptimStepResultV1,
  type TrainingClientV1,
  validateDatums,
} from '@hicra/spec';
import {
  readHicraCapabilities,
  TINKER_BUILTIN_FEATURES,
  type TinkerServerFeatures,
} from './capabilities.js';
import {
  decodeForwardOutput,
  decodeMetrics,
  encodeAdam,
  encodeForwardInput,
  estimateDatumBytes,
  mergeForwardResults,
  resolveLoss,
} from './codec.js';
import { TinkerSamplingClient } from './sampling-client.js';
import { type TinkerCallOptions, TinkerSession, type TinkerSessionOptions } from './session.js';
import {
  TINKER_PATHS,
  type TinkerRequestType,
  type WireGetInfoResponse,
  type WireSaveWeightsForSamplerResponse,
  type WireSaveWeightsResponse,
} from './wire.js';

const SOURCE = '@hicra/remote';

/** A state or sampler name: one plain path segment. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The largest id `validateDatums` accepts when the vocabulary is unknown. */
const UNKNOWN_VOCAB = 0x7fffffff;

export interface TinkerTrainingClientOptions extends TinkerSessionOptions {
  /** A session to share (its connection settings apply); default: a new one, owned. */
  readonly session?: TinkerSession;
  /** The model to train. Default: the first model `get_server_capabilities` lists. */
  readonly baseModel?: string;
  /** Attach to this existing model instead of `create_model`. */
  readonly modelId?: string;
  /** LoRA rank (`lora_config.rank`); absent: the server's default. */
  readonly loraRank?: number;
  /** `user_metadata` of the model. */
  readonly modelMetadata?: Readonly<Record<string, unknown>>;
  /**
   * Vocabulary size, for `info()` and for checking token ids before sending. A hicra server
   * reports it; a Tinker server does not, so `info()` rejects without it.
   */
  readonly vocabSize?: number;
  /** Context length, when the server does not report one. */
  readonly contextLength?: number;
  /**
   * `saveWeightsForSampler(name)` saves named sampler weights (`tinker://.../sampler_weights/
   * name`, kept by the server) and opens a sampling session on them. Default false: an
   * ephemeral sampler (the SDK's `save_weights_and_get_sampling_client`), one request.
   */
  readonly namedSamplerWeights?: boolean;
  /** `overwrite` of `save_weights`: replace a state of the same name. Default true. */
  readonly overwriteStates?: boolean;
  /** Most datums per `forward_backward` request. Default: the server's `fwdbwd_max_chunk_len`, else 1024. */
  readonly maxChunkDatums?: number;
  /** Most estimated bytes per request. Default: the server's `fwdbwd_max_chunk_bytes_count`, else 5 000 000. */
  readonly maxChunkBytes?: number;
  /** `dispose()` also unloads the model (`unload_model`). Default false. */
  readonly unloadOnDispose?: boolean;
}

/** `forward` / `forwardBackward` options: the contract's, plus a signal. */
export interface TinkerForwardOptions extends ForwardOptionsV1, TinkerCallOptions {}

/**
 * `TrainingClientV1` over HTTP. Create with {@link TinkerTrainingClient.create}.
 *
 * - Calls are submitted in call order, each with the next `seq_id` (from 1), and their
 *   futures polled concurrently; a server runs a model's requests in that order.
 * - `forwardBackward` checks the datums (`validateDatums`) and the loss against the server's
 *   capabilities before sending; large calls go as several requests (chunks of at most
 *   `maxChunkDatums` datums and `maxChunkBytes`), whose results are merged as Tinker merges
 *   them. A chunk the server refuses after earlier chunks succeeded leaves those chunks'
 *   gradients accumulated (Tinker's behaviour): the rejection says which chunk.
 * - `forward` without a loss is sent as `cross_entropy` (Tinker needs a loss) and returns no
 *   metrics.
 * - `saveState` / `loadState` are `save_weights` / `load_weights` (weights and optimizer
 *   state); `saveState` resolves to the server's `tinker://` path, which `loadState` takes.
 * - `saveWeightsForSampler` returns a {@link TinkerSamplingClient}.
 *
 * Every method takes an optional `{ signal }`: an aborted call rejects with the signal's
 * reason (the server may still run what it accepted).
 */
export class TinkerTrainingClient implements TrainingClientV1 {
  readonly session: TinkerSession;
  readonly modelId: string;
  readonly baseModel: string;
  readonly #options: TinkerTrainingClientOptions;
  readonly #ownsSession: boolean;
  readonly #features: TinkerServerFeatures;
  readonly #info: WireGetInfoResponse | undefined;
  readonly #contextFromServer: number | undefined;
  #seq = 0;
  #gate: Promise<void> = Promise.resolve();
  #disposed = false;

  private constructor(args: {
    session: TinkerSession;
    ownsSession: boolean;
    modelId: string;
    baseModel: string;
    info: WireGetInfoResponse | undefined;
    features: TinkerServerFeatures;
    contextFromServer: number | undefined;
    options: TinkerTrainingClientOptions;
  }) {
    this.session = args.session;
    this.#ownsSession = args.ownsSession;
    this.modelId = args.modelId;
    this.baseModel = args.baseModel;
    this.#info = args.info;
    this.#features = args.features;
    this.#contextFromServer = args.contextFromServer;
    this.#options = args.options;
  }

  /**
   * Connects (or uses `session`), creates the model (`create_model`, a future) unless
   * `modelId` is given, and reads `get_info` (with the hicra extension, when the server has
   * it, the engine's real capabilities).
   */
  static async create(options: TinkerTrainingClientOptions = {}): Promise<TinkerTrainingClient> {
    for (const key of ['vocabSize', 'contextLength', 'loraRank'] as const) {
      const value = options[key];
      if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
        throw new InvalidArgumentError(
          `TinkerTrainingClient: ${key} must be a positive integer, got ${String(value)}`,
          { source: SOURCE, details: { argument: key } },
        );
      }
    }
    const ownsSession = options.session === undefined;
    const session = options.session ?? (await TinkerSession.create(options));
    try {
      const signal = options.signal;
      let baseModel = options.baseModel;
      const listed = await session
        .modelFeatures(baseModel, signal ? { signal } : {})
        .catch((error: unknown) => {
          if (baseModel === undefined) throw error;
          return { features: undefined, models: [] as string[] };
        });
      if (baseModel === undefined) {
        baseModel = listed.models[0];
        if (baseModel === undefined) {
          throw new MissingInputError(
            'TinkerTrainingClient: the server lists no model in get_server_capabilities; pass baseModel',
            { source: SOURCE, details: { argument: 'baseModel' } },
          );
        }
      }
      let modelId = options.modelId;
      if (modelId === undefined) {
        const { result } = await session.callFuture({
          path: TINKER_PATHS.createModel,
          requestType: 'CreateModel',
          body: {
            session_id: session.sessionId,
            model_seq_id: session.nextModelSeqId(),
            base_model: baseModel,
            ...(options.modelMetadata === undefined
              ? {}
              : { user_metadata: options.modelMetadata }),
            ...(options.loraRank === undefined
              ? {}
              : {
                  lora_config: {
                    rank: options.loraRank,
                    train_unembed: true,
                    train_mlp: true,
                    train_attn: true,
                  },
                }),
            type: 'create_model',
          },
          ...(signal === undefined ? {} : { signal }),
        });
        modelId = (result as { model_id?: unknown }).model_id as string;
        if (typeof modelId !== 'string' || modelId.length === 0) {
          throw new BackendUnavailableError(
            `Tinker create_model: the result has no model_id: ${JSON.stringify(result)?.slice(0, 200)}`,
            { source: SOURCE, details: { endpoint: `POST ${TINKER_PATHS.createModel}` } },
          );
        }
      }
      const response = await session.request({
        method: 'POST',
        path: TINKER_PATHS.getInfo,
        body: { model_id: modelId, type: 'get_info' },
        ...(signal === undefined ? {} : { signal }),
      });
      const info = response.body as WireGetInfoResponse | undefined;
      const features =
        readHicraCapabilities(info?.hicra_capabilities) ??
        listed.features ??
        TINKER_BUILTIN_FEATURES;
      const entry = (await session.serverCapabilities().catch(() => undefined)) as
        | { supported_models?: { model_name?: string; max_context_length?: number }[] }
        | undefined;
      const contextFromServer = entry?.supported_models?.find(
        (m) => m?.model_name === baseModel,
      )?.max_context_length;
      return new TinkerTrainingClient({
        session,
        ownsSession,
        modelId,
        baseModel,
        info,
        features,
        contextFromServer:
          Number.isInteger(contextFromServer) && (contextFromServer as number) > 0
            ? contextFromServer
            : undefined,
        options,
      });
    } catch (error) {
      if (ownsSession) session.close();
      throw error;
    }
  }

  /** What the server offers (its capabilities and extensions). */
  get features(): TinkerServerFeatures {
    return this.#features;
  }

  /** Submitted training-side requests so far (the last `seq_id`). */
  get lastSeqId(): number {
    return this.#seq;
  }

  /**
   * The engine's description. Vocabulary size and context length come from the hicra
   * extension, else the options (`vocabSize` is required then: a Tinker server does not
   * report it), else `get_server_capabilities`' `max_context_length`.
   */
  async info(_options: TinkerCallOptions = {}): Promise<EngineInfoV1> {
    this.#checkOpen('info');
    const vocabSize = this.#features.vocabSize ?? this.#options.vocabSize;
    if (vocabSize === undefined) {
      throw new MissingInputError(
        `TinkerTrainingClient.info: the server (model ${this.modelId}) does not report a vocabulary size (a Tinker server does not); pass vocabSize`,
        { source: SOURCE, details: { argument: 'vocabSize', modelId: this.modelId } },
      );
    }
    const contextLength =
      this.#features.contextLength ?? this.#options.contextLength ?? this.#contextFromServer;
    return {
      modelName: this.#info?.model_data?.model_name ?? this.#info?.model_name ?? this.baseModel,
      vocabSize,
      ...(contextLength === undefined ? {} : { contextLength }),
      capabilities: this.#features.capabilities,
    };
  }

  forwardBackward(
    data: readonly DatumV1[],
    loss: LossSpecV1,
    options: TinkerForwardOptions = {},
  ): Promise<ForwardResultV1> {
    return this.#forward('forwardBackward', data, loss, options);
  }

  forward(
    data: readonly DatumV1[],
    loss?: LossSpecV1,
    options: TinkerForwardOptions = {},
  ): Promise<ForwardResultV1> {
    return this.#forward('forward', data, loss, options);
  }

  async optimStep(adam: AdamParamsV1, options: TinkerCallOptions = {}): Promise<OptimStepResultV1> {
    this.#checkOpen('optimStep');
    const adamParams = encodeAdam(adam);
    const { result } = await this.#call(
      TINKER_PATHS.optimStep,
      'OptimStep',
      (seqId) => ({
        adam_params: adamParams,
        model_id: this.modelId,
        seq_id: seqId,
        type: 'optim_step',
      }),
      options,
    );
    return { metrics: decodeMetrics((result as { metrics?: unknown }).metrics) };
  }

  async saveState(name: string, options: TinkerCallOptions = {}): Promise<string> {
    this.#checkOpen('saveState');
    checkName(name, 'saveState');
    const { result } = await this.#call(
      TINKER_PATHS.saveWeights,
      'SaveWeights',
      (seqId) => ({
        model_id: this.modelId,
        path: name,
        seq_id: seqId,
        overwrite: this.#options.overwriteStates ?? true,
        type: 'save_weights',
      }),
      options,
      [409],
    );
    const path = (result as Partial<WireSaveWeightsResponse>).path;
    if (typeof path !== 'string' || path.length === 0) {
      throw new BackendUnavailableError(
        `Tinker save_weights: the result has no path: ${JSON.stringify(result)?.slice(0, 200)}`,
        { source: SOURCE, details: { endpoint: `POST ${TINKER_PATHS.saveWeights}` } },
      );
    }
    return path;
  }

  async loadState(location: string, options: TinkerCallOptions = {}): Promise<void> {
    this.#checkOpen('loadState');
    if (typeof location !== 'string' || location.length === 0) {
      throw new InvalidArgumentError(
        `loadState: location must be a non-empty string (what saveState returned), got ${String(location)}`,
        { source: SOURCE, details: { argument: 'location' } },
      );
    }
    await this.#call(
      TINKER_PATHS.loadWeights,
      'LoadWeights',
      (seqId) => ({
        model_id: this.modelId,
        path: location,
        optimizer: true,
        seq_id: seqId,
        type: 'load_weights',
      }),
      options,
    );
  }

  async saveWeightsForSampler(
    name: string,
    options: TinkerCallOptions = {},
  ): Promise<TinkerSamplingClient> {
    this.#checkOpen('saveWeightsForSampler');
    checkName(name, 'saveWeightsForSampler');
    const named = this.#options.namedSamplerWeights ?? false;
    const samplingSeq = named ? undefined : this.session.nextSamplingSessionSeqId();
    const { result } = await this.#call(
      TINKER_PATHS.saveWeightsForSampler,
      'SaveWeightsForSampler',
      (seqId) => ({
        model_id: this.modelId,
        ...(named ? { path: name } : { sampling_session_seq_id: samplingSeq }),
        seq_id: seqId,
        type: 'save_weights_for_sampler',
      }),
      options,
    );
    const saved = result as WireSaveWeightsForSamplerResponse;
    const vocabSize = this.#features.vocabSize ?? this.#options.vocabSize;
    const common = {
      session: this.session,
      features: this.#features,
      name,
      ...(vocabSize === undefined ? {} : { vocabSize }),
    };
    if (typeof saved.sampling_session_id === 'string' && saved.sampling_session_id.length > 0) {
      return TinkerSamplingClient.attach({
        ...common,
        samplingSessionId: saved.sampling_session_id,
        ...(typeof saved.path === 'string' ? { modelPath: saved.path } : {}),
      });
    }
    if (typeof saved.path !== 'string' || saved.path.length === 0) {
      throw new BackendUnavailableError(
        `Tinker save_weights_for_sampler: the result has neither sampling_session_id nor path: ${JSON.stringify(result)?.slice(0, 200)}`,
        { source: SOURCE, details: { endpoint: `POST ${TINKER_PATHS.saveWeightsForSampler}` } },
      );
    }
    return TinkerSamplingClient.open({
      ...common,
      modelPath: saved.path,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  /** `unload_model`: the server releases the model. The client is disposed. */
  async unload(options: TinkerCallOptions = {}): Promise<void> {
    this.#checkOpen('unload');
    await this.session.callFuture({
      path: TINKER_PATHS.unloadModel,
      requestType: 'UnloadModel',
      body: { model_id: this.modelId, type: 'unload_model' },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    await this.dispose();
  }

  /**
   * Stops the session's heartbeat when the client created the session (a shared one stays
   * open), after unloading the model when `unloadOnDispose` is set. Later calls reject.
   */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    if (this.#options.unloadOnDispose) {
      await this.session
        .callFuture({
          path: TINKER_PATHS.unloadModel,
          requestType: 'UnloadModel',
          body: { model_id: this.modelId, type: 'unload_model' },
        })
        .catch((error: unknown) =>
          this.session.options.onWarning?.(
            `Tinker: unload_model ${this.modelId} failed: ${(error as Error)?.message}`,
            error,
          ),
        );
    }
    this.#disposed = true;
    if (this.#ownsSession) this.session.close();
  }

  async #forward(
    call: 'forward' | 'forwardBackward',
    data: readonly DatumV1[],
    loss: LossSpecV1 | undefined,
    options: TinkerForwardOptions,
  ): Promise<ForwardResultV1> {
    this.#checkOpen(call);
    const temperature = options?.temperature ?? 1;
    if (!(typeof temperature === 'number' && Number.isFinite(temperature) && temperature > 0)) {
      throw new InvalidValueError(
        `${call}: options.temperature must be a finite number > 0, got ${String(temperature)}`,
        { source: SOURCE, details: { argument: 'temperature', value: String(temperature) } },
      );
    }
    if (call === 'forwardBackward' && (typeof loss !== 'object' || loss === null)) {
      throw new InvalidArgumentError(`forwardBackward: loss must be a LossSpecV1 object`, {
        source: SOURCE,
        details: { argument: 'loss' },
      });
    }
    const wireLoss = resolveLoss(loss, temperature, this.#features, call);
    const vocabSize = this.#features.vocabSize ?? this.#options.vocabSize ?? UNKNOWN_VOCAB;
    const contextLength = this.#features.contextLength ?? this.#options.contextLength;
    const checked = validateDatums(data, {
      vocabSize,
      ...(contextLength === undefined ? {} : { contextLength }),
      requires: lossRequirements(loss),
      source: SOURCE,
    });
    const path = call === 'forward' ? TINKER_PATHS.forward : TINKER_PATHS.forwardBackward;
    const requestType: TinkerRequestType = call === 'forward' ? 'Forward' : 'ForwardBackward';
    const chunks = this.#chunks(checked);
    const inputs = chunks.map((chunk) => encodeForwardInput(chunk, wireLoss));
    const pending = chunks.map((chunk, index) => {
      const input = inputs[index]!;
      const where =
        chunks.length === 1 ? call : `${call} (request ${index + 1} of ${chunks.length})`;
      return this.#call(
        path,
        requestType,
        (seqId) =>
          call === 'forward'
            ? { forward_input: input, model_id: this.modelId, seq_id: seqId }
            : { forward_backward_input: input, model_id: this.modelId, seq_id: seqId },
        options,
      ).then(
        ({ result }) => ({
          result: decodeForwardOutput(result, chunk, where, loss !== undefined),
          datums: chunk.length,
        }),
        (error: unknown) => {
          if (chunks.length > 1 && error instanceof Error) {
            error.message = `${error.message} [${where}; the ${index} requests before it were accepted]`;
          }
          throw error;
        },
      );
    });
    const settled = await Promise.allSettled(pending);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    return mergeForwardResults(
      settled.map(
        (s) => (s as PromiseFulfilledResult<{ result: ForwardResultV1; datums: number }>).value,
      ),
    );
  }

  /** Splits a call's datums into requests, as the SDK does. */
  #chunks(data: readonly DatumV1[]): DatumV1[][] {
    const config = this.session.clientConfig;
    const maxDatums =
      this.#options.maxChunkDatums ??
      (Number.isInteger(config.fwdbwd_max_chunk_len) && (config.fwdbwd_max_chunk_len as number) > 0
        ? (config.fwdbwd_max_chunk_len as number)
        : 1024);
    const maxBytes =
      this.#options.maxChunkBytes ??
      (Number.isFinite(config.fwdbwd_max_chunk_bytes_count) &&
      (config.fwdbwd_max_chunk_bytes_count as number) > 0
        ? (config.fwdbwd_max_chunk_bytes_count as number)
        : 5_000_000);
    const chunks: DatumV1[][] = [];
    let current: DatumV1[] = [];
    let bytes = 0;
    for (const datum of data) {
      const size = estimateDatumBytes(datum, 4);
      if (current.length > 0 && (current.length >= maxDatums || bytes + size > maxBytes)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(datum);
      bytes += size;
    }
    if (current.length > 0) chunks.push(current);
    return chunks;
  }

  /**
   * Submits a training-side request after the previous one was submitted (so `seq_id`s reach
   * the server in order), then waits for its future.
   */
  async #call(
    path: string,
    requestType: TinkerRequestType,
    body: (seqId: number) => unknown,
    options: TinkerCallOptions,
    noRetryStatuses?: readonly number[],
  ) {
    let release!: () => void;
    const previous = this.#gate;
    this.#gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    let seqId: number;
    let payload: unknown;
    try {
      seqId = ++this.#seq;
      payload = body(seqId);
    } catch (error) {
      release();
      throw error;
    }
    return this.session.callFuture({
      path,
      requestType,
      body: payload,
      onSubmitted: release,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(noRetryStatuses === undefined ? {} : { noRetryStatuses }),
    });
  }

  #checkOpen(call: string): void {
    if (this.#disposed) {
      throw new InvalidArgumentError(`TinkerTrainingClient.${call}: the client was disposed`, {
        source: SOURCE,
        details: { call, modelId: this.modelId },
      });
    }
  }
}

/** The datum fields a loss reads (`validateDatums`' `requires`). */
function lossRequirements(loss: LossSpecV1 | undefined): DatumFloatField[] {
  if (loss === undefined) return [];
  const fields: DatumFloatField[] = loss.name === 'cross-entropy' ? [] : ['logProbs', 'advantages'];
  if ((loss.settings?.klCoefficient ?? 0) !== 0) fields.push('refLogProbs');
  return fields;
}

function checkName(name: string, call: string): void {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `${call}: name must be a plain name (letters, digits, '.', '_', '-', not starting with '.' or '-'), got ${JSON.stringify(name)}`,
      { source: SOURCE, details: { argument: 'name', value: String(name) } },
    );
  }
}

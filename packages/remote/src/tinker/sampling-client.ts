/**
 * `SamplingClientV1` over a Tinker sampling session: `sample` is one `asample` per prompt,
 * `computeLogProbs` is Tinker's `compute_logprobs` (prompt log-probs of prompt + response).
 */
import {
  BackendUnavailableError,
  InvalidArgumentError,
  InvalidValueError,
  type SampleRequestV1,
  type SampleResultV1,
  type SamplingClientV1,
  type ScoreRequestV1,
} from '@hicra/spec';
import { TINKER_BUILTIN_FEATURES, type TinkerServerFeatures } from './capabilities.js';
import {
  assembleSampleResult,
  checkRagged,
  checkScoreRequest,
  encodeSampleRequest,
  encodeSamplingParams,
  readPromptLogprobs,
  scoreSequence,
  seedOfPrompt,
} from './sample-codec.js';
import { type TinkerCallOptions, TinkerSession, type TinkerSessionOptions } from './session.js';
import { TINKER_PATHS, type WireSampleRequest } from './wire.js';

const SOURCE = '@hicra/remote';

/** A sampler of a base model or of saved sampler weights, in a new or shared session. */
export interface TinkerSamplingClientOptions extends TinkerSessionOptions {
  /** A session to share; default: a new one, owned (closed by `dispose()`). */
  readonly session?: TinkerSession;
  /** Sample the untuned base model. */
  readonly baseModel?: string;
  /** Sample saved sampler weights (`tinker://...`). */
  readonly modelPath?: string;
  /** Vocabulary size, to check prompt ids before sending (a hicra server reports it). */
  readonly vocabSize?: number;
}

interface AttachArgs {
  readonly session: TinkerSession;
  readonly samplingSessionId: string;
  readonly features: TinkerServerFeatures;
  readonly name?: string;
  readonly modelPath?: string;
  readonly vocabSize?: number;
  readonly ownsSession?: boolean;
}

/**
 * `SamplingClientV1` over HTTP. From `TinkerTrainingClient.saveWeightsForSampler`, or
 * {@link TinkerSamplingClient.create} for a base model or a saved path.
 *
 * - `sample`: prompt p goes as one `asample` with `num_samples` = G and seed `seed + p·G`
 *   (the server draws its G samples from consecutive seeds), up to `maxConcurrentRequests`
 *   at a time; responses are right-padded with id 0 to `maxNewTokens`. Log-probs are the
 *   server's (a hicra server returns them after temperature, before top-k/top-p; Tinker does
 *   not document which). The server must return one per token.
 * - `computeLogProbs`: each row as prompt + response (up to its last masked token) with
 *   `prompt_logprobs`; masked positions read from the result, 0 elsewhere. A temperature
 *   other than 1 needs the server's `temperature` capability. A hicra server is asked for the
 *   log-probs only (`num_samples` 0); a Tinker server samples one token besides.
 * - `dispose()` releases the sampling session on a hicra server (its frozen weights), and
 *   closes the session when the client created it.
 */
export class TinkerSamplingClient implements SamplingClientV1 {
  readonly session: TinkerSession;
  readonly samplingSessionId: string;
  /** The sampler weights' path, when known. */
  readonly modelPath: string | undefined;
  /** The name given to `saveWeightsForSampler`. */
  readonly name: string | undefined;
  readonly features: TinkerServerFeatures;
  readonly #vocabSize: number | undefined;
  readonly #ownsSession: boolean;
  #seq = 0;
  #disposed = false;
  readonly #inFlight = new Set<Promise<unknown>>();

  private constructor(args: AttachArgs) {
    this.session = args.session;
    this.samplingSessionId = args.samplingSessionId;
    this.features = args.features;
    this.name = args.name;
    this.modelPath = args.modelPath;
    this.#vocabSize = args.vocabSize;
    this.#ownsSession = args.ownsSession ?? false;
  }

  /** A client over an existing sampling session. */
  static attach(args: AttachArgs): TinkerSamplingClient {
    return new TinkerSamplingClient(args);
  }

  /** `create_sampling_session` in `session` for a saved path or a base model. */
  static async open(args: {
    readonly session: TinkerSession;
    readonly modelPath?: string;
    readonly baseModel?: string;
    readonly features: TinkerServerFeatures;
    readonly name?: string;
    readonly vocabSize?: number;
    readonly ownsSession?: boolean;
    readonly signal?: AbortSignal;
  }): Promise<TinkerSamplingClient> {
    if ((args.modelPath === undefined) === (args.baseModel === undefined)) {
      throw new InvalidArgumentError(
        'TinkerSamplingClient: give exactly one of modelPath (saved sampler weights) and baseModel',
        { source: SOURCE, details: { argument: 'modelPath' } },
      );
    }
    const response = await args.session.request({
      method: 'POST',
      path: TINKER_PATHS.createSamplingSession,
      body: {
        session_id: args.session.sessionId,
        sampling_session_seq_id: args.session.nextSamplingSessionSeqId(),
        ...(args.modelPath === undefined
          ? { base_model: args.baseModel }
          : { model_path: args.modelPath }),
        type: 'create_sampling_session',
      },
      ...(args.signal === undefined ? {} : { signal: args.signal }),
    });
    const id = (response.body as { sampling_session_id?: unknown } | undefined)
      ?.sampling_session_id;
    if (typeof id !== 'string' || id.length === 0) {
      throw new BackendUnavailableError(
        `Tinker create_sampling_session: the answer has no sampling_session_id: ${JSON.stringify(response.body)?.slice(0, 200)}`,
        { source: SOURCE, details: { endpoint: `POST ${TINKER_PATHS.createSamplingSession}` } },
      );
    }
    return new TinkerSamplingClient({
      session: args.session,
      samplingSessionId: id,
      features: args.features,
      ...(args.name === undefined ? {} : { name: args.name }),
      ...(args.modelPath === undefined ? {} : { modelPath: args.modelPath }),
      ...(args.vocabSize === undefined ? {} : { vocabSize: args.vocabSize }),
      ownsSession: args.ownsSession ?? false,
    });
  }

  /**
   * Connects (or uses `session`) and opens a sampling session on `baseModel` or `modelPath`;
   * the server's capabilities come from `get_server_capabilities` (the hicra extension).
   */
  static async create(options: TinkerSamplingClientOptions): Promise<TinkerSamplingClient> {
    const ownsSession = options.session === undefined;
    const session = options.session ?? (await TinkerSession.create(options));
    try {
      const listed = await session
        .modelFeatures(options.baseModel)
        .catch(() => ({ features: undefined, models: [] as string[] }));
      const features = listed.features ?? TINKER_BUILTIN_FEATURES;
      const vocabSize = options.vocabSize ?? features.vocabSize;
      return await TinkerSamplingClient.open({
        session,
        features,
        ...(options.modelPath === undefined ? {} : { modelPath: options.modelPath }),
        ...(options.baseModel === undefined ? {} : { baseModel: options.baseModel }),
        ...(vocabSize === undefined ? {} : { vocabSize }),
        ownsSession,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      if (ownsSession) session.close();
      throw error;
    }
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  sample(request: SampleRequestV1, options: TinkerCallOptions = {}): Promise<SampleResultV1> {
    return this.#track('sample', async () => {
      if (typeof request !== 'object' || request === null) {
        throw new InvalidArgumentError('sample: request must be a SampleRequestV1 object', {
          source: SOURCE,
          details: { argument: 'request' },
        });
      }
      const P = checkRagged(request.prompts, 'sample');
      const G = request.samplesPerPrompt;
      if (!(Number.isInteger(G) && G >= 1)) {
        throw new InvalidValueError(
          `sample: samplesPerPrompt must be an integer >= 1, got ${String(G)}`,
          { source: SOURCE, details: { argument: 'samplesPerPrompt' } },
        );
      }
      if (!Number.isSafeInteger(request.seed)) {
        throw new InvalidValueError(
          `sample: seed must be an integer, got ${String(request.seed)}`,
          {
            source: SOURCE,
            details: { argument: 'seed' },
          },
        );
      }
      encodeSamplingParams(request, request.seed);
      this.#checkIds(request.prompts.tokenIds, 'sample: prompts.tokenIds');
      const { tokenIds, offsets } = request.prompts;
      const bodies: WireSampleRequest[] = [];
      for (let p = 0; p < P; p++) {
        bodies.push(
          encodeSampleRequest({
            prompt: tokenIds.subarray(offsets[p]!, offsets[p + 1]!),
            numSamples: G,
            params: encodeSamplingParams(request, seedOfPrompt(request.seed, p, G)),
            samplingSessionId: this.samplingSessionId,
            seqId: this.#seq++,
            promptLogprobs: false,
          }),
        );
      }
      const results = await Promise.all(bodies.map((body) => this.#asample(body, options)));
      return assembleSampleResult(results, G, request.maxNewTokens, 'sample');
    });
  }

  computeLogProbs(request: ScoreRequestV1, options: TinkerCallOptions = {}): Promise<Float32Array> {
    return this.#track('computeLogProbs', async () => {
      if (typeof request !== 'object' || request === null) {
        throw new InvalidArgumentError('computeLogProbs: request must be a ScoreRequestV1 object', {
          source: SOURCE,
          details: { argument: 'request' },
        });
      }
      const lengths = checkScoreRequest(request);
      const temperature = request.temperature ?? 1;
      if (!(Number.isFinite(temperature) && temperature > 0)) {
        throw new InvalidValueError(
          `computeLogProbs: temperature must be a finite number > 0, got ${String(temperature)}`,
          { source: SOURCE, details: { argument: 'temperature' } },
        );
      }
      if (temperature !== 1 && !this.features.capabilities.temperature) {
        throw new InvalidArgumentError(
          `computeLogProbs: the server does not score at a temperature other than 1 (got ${temperature}; capabilities.temperature is false)`,
          { source: SOURCE, details: { capability: 'temperature' } },
        );
      }
      this.#checkIds(request.prompts.tokenIds, 'computeLogProbs: prompts.tokenIds');
      const out = new Float32Array(request.batchSize * request.seqLen);
      const { offsets } = request.prompts;
      const jobs: Promise<void>[] = [];
      for (let b = 0; b < request.batchSize; b++) {
        const length = lengths[b]!;
        if (length === 0) continue;
        const sequence = scoreSequence(request, b, length);
        this.#checkIds(sequence, `computeLogProbs: row ${b}`);
        const promptLength = offsets[b + 1]! - offsets[b]!;
        const body = encodeSampleRequest({
          prompt: sequence,
          numSamples: this.features.hicra ? 0 : 1,
          params: { max_tokens: 1, temperature, top_k: -1, top_p: 1 },
          samplingSessionId: this.samplingSessionId,
          seqId: this.#seq++,
          promptLogprobs: true,
        });
        jobs.push(
          this.#asample(body, options).then((result) => {
            readPromptLogprobs(result, request, b, promptLength, length, out, 'computeLogProbs');
          }),
        );
      }
      const settled = await Promise.allSettled(jobs);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      return out;
    });
  }

  /**
   * Releases the sampling session on a hicra server (once the calls in flight have finished)
   * and closes the session if this client created it. Later calls reject. Idempotent.
   */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.allSettled([...this.#inFlight]);
    if (this.features.releaseSamplingSession && !this.session.closed) {
      await this.session
        .request({
          method: 'POST',
          path: TINKER_PATHS.releaseSamplingSession,
          body: { sampling_session_id: this.samplingSessionId },
          retry: { maxRetries: 2 },
        })
        .catch((error: unknown) =>
          this.session.options.onWarning?.(
            `Tinker: releasing sampling session ${this.samplingSessionId} failed: ${(error as Error)?.message}`,
            error,
          ),
        );
    }
    if (this.#ownsSession) this.session.close();
  }

  async #asample(body: WireSampleRequest, options: TinkerCallOptions): Promise<unknown> {
    const { result } = await this.session.limit(() =>
      this.session.callFuture({
        path: TINKER_PATHS.asample,
        requestType: 'Sample',
        body,
        headers: { 'X-Tinker-Sampling-Backpressure': '1' },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      }),
    );
    return result;
  }

  #checkIds(ids: Int32Array, where: string): void {
    const vocab = this.#vocabSize;
    if (vocab === undefined) return;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i]! >= vocab) {
        throw new InvalidValueError(
          `${where}[${i}] = ${ids[i]} is outside the vocabulary [0, ${vocab})`,
          { source: SOURCE, details: { index: i, value: ids[i], vocabSize: vocab } },
        );
      }
    }
  }

  #track<T>(call: string, body: () => Promise<T>): Promise<T> {
    if (this.#disposed) {
      return Promise.reject(
        new InvalidArgumentError(
          `TinkerSamplingClient ${this.samplingSessionId}.${call}: the client was disposed`,
          { source: SOURCE, details: { call, samplingSessionId: this.samplingSessionId } },
        ),
      );
    }
    const run = body();
    this.#inFlight.add(run);
    const forget = () => this.#inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }
}

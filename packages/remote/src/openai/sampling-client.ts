/**
 * A `SamplingClientV1` over an OpenAI-compatible inference server: vLLM's `/v1/completions`
 * (token-id prompts, `n` samples per request) or SGLang's native `/generate`.
 */
import {
  BackendUnavailableError,
  InvalidArgumentError,
  InvalidValueError,
  type RaggedTokensV1,
  type SampleRequestV1,
  type SampleResultV1,
  type SamplingClientV1,
  type SamplingOptionsV1,
  type ScoreRequestV1,
  ShapeError,
} from '@hicra/spec';
import { OpenAIHttpError, SOURCE } from './errors.js';
import {
  type OpenAITokenIdMode,
  type SglangSamplingMode,
  sglangSampleBody,
  sglangScoreBody,
  type VllmBodyOptions,
  vllmSampleBody,
  vllmScoreBody,
  type WireSamplingSettings,
} from './requests.js';
import {
  checkIntegerOption,
  JsonTransport,
  linkedController,
  type OpenAIRetryEvent,
} from './transport.js';
import {
  ResponseShapeError,
  readSglangGenerate,
  readSglangInputLogprobs,
  readVllmCompletion,
  readVllmPromptLogprobs,
  ServerAbortError,
  type WireSequence,
} from './wire.js';

/** Which server protocol the client speaks. */
export type OpenAIFlavor = 'vllm' | 'sglang';

/**
 * What vLLM's log-probs describe: the server's `--logprobs-mode`. Only the two log-prob modes
 * give log-probabilities; the client refuses requests whose log-probs would not be the
 * contract's (after temperature, before top-k/top-p) under the mode:
 * - `processed_logprobs` (what RL needs; vLLM's default is raw): after temperature **and** after
 *   top-k/top-p renormalisation, so exact only without top-k/top-p;
 * - `raw_logprobs` (vLLM's default): before temperature, so exact only at temperature 1 (and
 *   greedy, which the contract scores at temperature 1).
 */
export type VllmLogprobsMode = 'processed_logprobs' | 'raw_logprobs';

export interface OpenAISamplingClientOptions {
  /** Server root, e.g. `http://127.0.0.1:8000` (a trailing `/v1` is dropped). */
  readonly baseUrl: string;
  /** Default `vllm`. */
  readonly flavor?: OpenAIFlavor;
  /** vLLM `model` field; left out when absent (vLLM then uses its one served model). */
  readonly model?: string;
  /** Sent as `Authorization: Bearer <apiKey>` (vLLM `--api-key`, SGLang `--api-key`). */
  readonly apiKey?: string;
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** vLLM: how generated ids come back. Default `both`. */
  readonly tokenIdMode?: OpenAITokenIdMode;
  /** vLLM: the server's `--logprobs-mode`. Default `processed_logprobs`. */
  readonly logprobsMode?: VllmLogprobsMode;
  /** Alternatives per token the server adds (vLLM `logprobs`/`prompt_logprobs`, SGLang `top_logprobs_num`); unused here. Default 0. */
  readonly topLogprobs?: number;
  /** SGLang: how G samples of a prompt are drawn. Default `batch`. */
  readonly sglangSampling?: SglangSamplingMode;
  /**
   * vLLM: `ignore_eos`, so that only `stopTokenIds` end a sample (the contract's rule); by
   * default the server also stops at the model's EOS tokens. Not offered for SGLang, where
   * `ignore_eos` disables `stop_token_ids` too. Default false.
   */
  readonly ignoreEos?: boolean;
  /** Id written after the end of each response in `tokenIds`. Default 0. */
  readonly padId?: number;
  /** Requests in flight at once. Default 16. */
  readonly maxConcurrency?: number;
  /** Retries on 408, 429, 5xx and broken connections. Default 3. */
  readonly maxRetries?: number;
  /** Default 500 ms. */
  readonly retryBaseDelayMs?: number;
  /** Default 30 000 ms; a longer `retry-after` fails the call. */
  readonly retryMaxDelayMs?: number;
  /** Per HTTP attempt. Default 600 000 ms. */
  readonly timeoutMs?: number;
  /** Aborts every call of this client. */
  readonly signal?: AbortSignal;
  /** Told about every retry before its wait. */
  readonly onRetry?: (event: OpenAIRetryEvent) => void;
}

/** Per-call options. */
export interface OpenAICallOptions {
  /** Aborts this call: its requests in flight and queued. */
  readonly signal?: AbortSignal;
}

/** A sampling request whose prompts are token ids or texts the server tokenises. */
export interface OpenAISampleRequest extends SamplingOptionsV1 {
  readonly prompts: readonly (ArrayLike<number> | string)[];
  readonly samplesPerPrompt: number;
  /**
   * Text prompts: whether the server adds its tokenizer's special tokens (BOS). Default true
   * (vLLM's and SGLang's own default); false is vLLM only (`add_special_tokens`).
   */
  readonly addSpecialTokens?: boolean;
}

/** `SampleResultV1` plus what the server said about texts and prompts. */
export interface OpenAISampleDetails extends SampleResultV1 {
  /** `[B]` response texts as the server decoded them. */
  readonly texts: readonly string[];
  /** `[P]` each prompt's ids: as sent, or as the server reported them for a text prompt (undefined when it did not). */
  readonly promptTokenIds: readonly (Int32Array | undefined)[];
}

const MAX_TOKEN_ID = 2 ** 31 - 1;

function invalid(message: string, details: Record<string, unknown>): InvalidArgumentError {
  return new InvalidArgumentError(message, { source: SOURCE, details });
}

function checkIds(ids: ArrayLike<number>, what: string): void {
  for (let k = 0; k < ids.length; k++) {
    const id = ids[k]!;
    if (!Number.isInteger(id) || id < 0 || id > MAX_TOKEN_ID) {
      throw new InvalidValueError(`${what}[${k}] = ${id} is not a token id (an integer >= 0)`, {
        source: SOURCE,
        details: { argument: what, index: k, value: id },
      });
    }
  }
}

function checkRagged(ragged: RaggedTokensV1, count: number | undefined, what: string): number {
  const { offsets, tokenIds } = ragged;
  if (offsets.length < 1 || (count !== undefined && offsets.length !== count + 1)) {
    throw new ShapeError(
      `${what}.offsets has ${offsets.length} entries, expected ${count === undefined ? 'at least 1' : `${count + 1} (one per sequence + 1)`}`,
      {
        source: SOURCE,
        details: {
          field: `${what}.offsets`,
          expected: count === undefined ? undefined : count + 1,
          actual: offsets.length,
        },
      },
    );
  }
  if (offsets[0] !== 0 || offsets[offsets.length - 1] !== tokenIds.length) {
    throw new ShapeError(
      `${what}.offsets must run from 0 to tokenIds.length = ${tokenIds.length}, got ${offsets[0]} .. ${offsets[offsets.length - 1]}`,
      { source: SOURCE, details: { field: `${what}.offsets` } },
    );
  }
  for (let s = 0; s + 1 < offsets.length; s++) {
    if (offsets[s + 1]! < offsets[s]!) {
      throw new ShapeError(`${what}.offsets decreases at ${s + 1}`, {
        source: SOURCE,
        details: { field: `${what}.offsets`, index: s + 1 },
      });
    }
  }
  checkIds(tokenIds, `${what}.tokenIds`);
  return offsets.length - 1;
}

function raggedToList(ragged: RaggedTokensV1, count: number): Int32Array[] {
  return Array.from({ length: count }, (_, p) =>
    ragged.tokenIds.subarray(ragged.offsets[p]!, ragged.offsets[p + 1]!),
  );
}

function settingsOf(request: SamplingOptionsV1): WireSamplingSettings {
  const temperature = request.temperature ?? 1;
  const topK = request.topK ?? 0;
  const topP = request.topP ?? 1;
  if (!Number.isSafeInteger(request.maxNewTokens) || request.maxNewTokens < 1)
    throw invalid(`sample: maxNewTokens must be a positive integer, got ${request.maxNewTokens}`, {
      field: 'maxNewTokens',
      value: request.maxNewTokens,
    });
  if (!Number.isFinite(temperature) || temperature < 0)
    throw invalid(`sample: temperature must be a finite number >= 0, got ${temperature}`, {
      field: 'temperature',
      value: temperature,
    });
  if (!Number.isSafeInteger(topK) || topK < 0)
    throw invalid(`sample: topK must be an integer >= 0, got ${topK}`, {
      field: 'topK',
      value: topK,
    });
  if (!(topP > 0 && topP <= 1))
    throw invalid(`sample: topP must be in (0, 1], got ${topP}`, { field: 'topP', value: topP });
  if (!Number.isSafeInteger(request.seed) || request.seed < 0)
    throw invalid(`sample: seed must be an integer >= 0, got ${request.seed}`, {
      field: 'seed',
      value: request.seed,
    });
  const stopTokenIds = request.stopTokenIds ?? [];
  checkIds(stopTokenIds, 'stopTokenIds');
  return { maxNewTokens: request.maxNewTokens, temperature, topK, topP, stopTokenIds };
}

/** Runs `tasks` together; the first failure aborts the rest (through `controller`) and is thrown. */
async function allOrAbort<T>(
  controller: AbortController,
  tasks: readonly (() => Promise<T>)[],
): Promise<T[]> {
  let failure: { error: unknown } | undefined;
  const results = await Promise.all(
    tasks.map(async (task) => {
      try {
        return await task();
      } catch (error) {
        if (failure === undefined) {
          failure = { error };
          controller.abort(error);
        }
        return undefined as T;
      }
    }),
  );
  if (failure !== undefined) throw failure.error;
  return results;
}

/**
 * A `SamplingClientV1` over vLLM (`/v1/completions`) or SGLang (`/generate`).
 *
 * `sample` sends one request per prompt (P requests, at most `maxConcurrency` at once) for G
 * samples each; prompt p is seeded `seed + p·G` and its sample j draws with `seed + p·G + j`
 * (vLLM derives `seed + j` for the j-th of `n`; SGLang `batch` mode sets it per copy), so every
 * row of the batch has its own seed and the same request gives the same samples on a
 * deterministic server. `finished` is 1 for finish reason `stop` (a stop token, or the model's
 * EOS unless `ignoreEos`), 0 for `length`. Log-probs are the server's (see
 * {@link VllmLogprobsMode} for when vLLM's are the contract's); requests that cannot be served
 * exactly are refused before anything is sent.
 *
 * `computeLogProbs` scores prompt + response through the server's prompt log-probs, which are
 * those of the untempered model: only `temperature` 1 (or absent) is exact, and other
 * temperatures are refused. Response masks must be prefixes (a server scores one contiguous
 * sequence).
 */
export class OpenAISamplingClient implements SamplingClientV1 {
  readonly flavor: OpenAIFlavor;
  readonly #transport: JsonTransport;
  readonly #vllm: VllmBodyOptions;
  readonly #logprobsMode: VllmLogprobsMode;
  readonly #topLogprobs: number;
  readonly #sglangSampling: SglangSamplingMode;
  readonly #padId: number;
  readonly #inflight = new Set<Promise<unknown>>();
  #disposed = false;

  constructor(options: OpenAISamplingClientOptions) {
    const flavor = options.flavor ?? 'vllm';
    if (flavor !== 'vllm' && flavor !== 'sglang')
      throw invalid(`option flavor must be "vllm" or "sglang", got ${JSON.stringify(flavor)}`, {
        option: 'flavor',
        value: flavor,
      });
    this.flavor = flavor;
    const tokenIdMode = options.tokenIdMode ?? 'both';
    if (!['return_token_ids', 'return_tokens_as_token_ids', 'both'].includes(tokenIdMode))
      throw invalid(
        `option tokenIdMode must be "return_token_ids", "return_tokens_as_token_ids" or "both", got ${JSON.stringify(tokenIdMode)}`,
        { option: 'tokenIdMode', value: tokenIdMode },
      );
    this.#logprobsMode = options.logprobsMode ?? 'processed_logprobs';
    if (this.#logprobsMode !== 'processed_logprobs' && this.#logprobsMode !== 'raw_logprobs')
      throw invalid(
        `option logprobsMode must be "processed_logprobs" or "raw_logprobs" (the logits modes give no log-probs), got ${JSON.stringify(this.#logprobsMode)}`,
        { option: 'logprobsMode', value: this.#logprobsMode },
      );
    this.#sglangSampling = options.sglangSampling ?? 'batch';
    if (this.#sglangSampling !== 'batch' && this.#sglangSampling !== 'n')
      throw invalid(
        `option sglangSampling must be "batch" or "n", got ${JSON.stringify(this.#sglangSampling)}`,
        { option: 'sglangSampling', value: this.#sglangSampling },
      );
    if (options.ignoreEos && flavor === 'sglang')
      throw invalid(
        'option ignoreEos is not offered for SGLang: its ignore_eos also disables stop_token_ids',
        { option: 'ignoreEos' },
      );
    this.#topLogprobs = checkIntegerOption('topLogprobs', options.topLogprobs ?? 0, 0);
    this.#padId = checkIntegerOption('padId', options.padId ?? 0, 0);
    this.#vllm = {
      ...(options.model === undefined ? {} : { model: options.model }),
      tokenIdMode,
      topLogprobs: this.#topLogprobs,
      ignoreEos: options.ignoreEos ?? false,
      addSpecialTokens: true,
    };
    this.#transport = new JsonTransport({
      baseUrl: options.baseUrl,
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      maxConcurrency: options.maxConcurrency ?? 16,
      maxRetries: options.maxRetries ?? 3,
      retryBaseDelayMs: options.retryBaseDelayMs ?? 500,
      retryMaxDelayMs: options.retryMaxDelayMs ?? 30_000,
      timeoutMs: options.timeoutMs ?? 600_000,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
    });
  }

  /** The server root the client calls. */
  get baseUrl(): string {
    return this.#transport.baseUrl;
  }

  /** The ids of the models the server serves (`GET /v1/models`; vLLM and SGLang both have it). */
  async listModels(options: OpenAICallOptions = {}): Promise<string[]> {
    return this.#track(async () => {
      const path = '/v1/models';
      const body = await this.#transport.get(path, options.signal);
      return this.#read('GET', path, () => {
        const data = (body as { data?: unknown })?.data;
        if (!Array.isArray(data))
          throw new ResponseShapeError('data', 'expected an array of models');
        return data.map((model, k) => {
          const id = (model as { id?: unknown })?.id;
          if (typeof id !== 'string')
            throw new ResponseShapeError(`data[${k}].id`, 'expected a string');
          return id;
        });
      });
    });
  }

  async sample(request: SampleRequestV1, options: OpenAICallOptions = {}): Promise<SampleResultV1> {
    const count = checkRagged(request.prompts, undefined, 'prompts');
    const details = await this.sampleDetailed(
      { ...request, prompts: raggedToList(request.prompts, count) },
      options,
    );
    const { batchSize, seqLen, promptIndex, tokenIds, responseMask, logProbs, finished } = details;
    return { batchSize, seqLen, promptIndex, tokenIds, responseMask, logProbs, finished };
  }

  /**
   * {@link sample} with prompts as a list (token ids, or texts the server tokenises with its
   * tokenizer's special tokens), giving back the server's response texts and prompt ids too.
   */
  async sampleDetailed(
    request: OpenAISampleRequest,
    options: OpenAICallOptions = {},
  ): Promise<OpenAISampleDetails> {
    const settings = settingsOf(request);
    const G = request.samplesPerPrompt;
    if (!Number.isSafeInteger(G) || G < 1)
      throw invalid(`sample: samplesPerPrompt must be a positive integer, got ${G}`, {
        field: 'samplesPerPrompt',
        value: G,
      });
    this.#checkLogprobSemantics(settings);
    const prompts = request.prompts;
    prompts.forEach((prompt, p) => {
      if (typeof prompt === 'string') {
        if (prompt.length === 0)
          throw new InvalidValueError(`sample: prompt ${p} is an empty text`, {
            source: SOURCE,
            details: { field: 'prompts', index: p },
          });
      } else {
        if (prompt.length === 0)
          throw new InvalidValueError(`sample: prompt ${p} has no tokens`, {
            source: SOURCE,
            details: { field: 'prompts', index: p },
          });
        checkIds(prompt, `prompts[${p}]`);
      }
    });
    const addSpecialTokens = request.addSpecialTokens ?? true;
    if (
      !addSpecialTokens &&
      this.flavor === 'sglang' &&
      prompts.some((prompt) => typeof prompt === 'string')
    )
      throw invalid(
        'sample: addSpecialTokens false is not offered for SGLang: /generate tokenizes text prompts with its special tokens; send token ids (or use a tokenizer) to leave them out',
        { field: 'addSpecialTokens' },
      );
    const vllm = { ...this.#vllm, addSpecialTokens };
    const P = prompts.length;
    const B = P * G;
    const T = settings.maxNewTokens;
    if (!Number.isSafeInteger(request.seed + B))
      throw invalid(`sample: seed ${request.seed} + ${B} samples exceeds the safe integers`, {
        field: 'seed',
        value: request.seed,
      });
    if (B * T > 2 ** 31 - 1)
      throw invalid(`sample: ${B} samples x ${T} tokens is too large a batch`, {
        field: 'maxNewTokens',
      });
    return this.#track(async () => {
      const { controller, release } = linkedController(options.signal);
      try {
        const perPrompt = await allOrAbort(
          controller,
          prompts.map(
            (prompt, p) => () =>
              this.#samplePrompt(
                typeof prompt === 'string' ? prompt : Array.from(prompt),
                G,
                request.seed + p * G,
                settings,
                vllm,
                controller.signal,
              ),
          ),
        );
        const promptIndex = new Int32Array(B);
        const tokenIds = new Int32Array(B * T).fill(this.#padId);
        const responseMask = new Uint8Array(B * T);
        const logProbs = new Float32Array(B * T);
        const finished = new Uint8Array(B);
        const texts: string[] = [];
        const promptTokenIds: (Int32Array | undefined)[] = [];
        perPrompt.forEach(({ sequences, path }, p) => {
          const prompt = prompts[p]!;
          const reported = sequences.find((s) => s.promptTokenIds !== undefined)?.promptTokenIds;
          promptTokenIds.push(
            typeof prompt === 'string'
              ? reported === undefined
                ? undefined
                : Int32Array.from(reported)
              : Int32Array.from(prompt),
          );
          sequences.forEach((sequence, j) => {
            const r = p * G + j;
            const n = sequence.tokenIds.length;
            if (n > T)
              throw new OpenAIHttpError({
                kind: 'bad-response',
                method: 'POST',
                endpoint: this.#transport.url(path),
                status: 200,
                message: `sample ${j} of prompt ${p} has ${n} tokens, more than maxNewTokens = ${T}`,
              });
            promptIndex[r] = p;
            tokenIds.set(sequence.tokenIds, r * T);
            responseMask.fill(1, r * T, r * T + n);
            logProbs.set(sequence.logProbs, r * T);
            finished[r] = sequence.finish === 'stop' ? 1 : 0;
            texts.push(sequence.text);
          });
        });
        return {
          batchSize: B,
          seqLen: T,
          promptIndex,
          tokenIds,
          responseMask,
          logProbs,
          finished,
          texts,
          promptTokenIds,
        };
      } finally {
        release();
      }
    });
  }

  async computeLogProbs(
    request: ScoreRequestV1,
    options: OpenAICallOptions = {},
  ): Promise<Float32Array> {
    const { batchSize: B, seqLen: T } = request;
    if (!Number.isSafeInteger(B) || B < 0 || !Number.isSafeInteger(T) || T < 0)
      throw invalid(
        `computeLogProbs: batchSize and seqLen must be integers >= 0, got ${B} and ${T}`,
        {
          field: 'batchSize',
        },
      );
    checkRagged(request.prompts, B, 'prompts');
    for (const [field, array] of [
      ['tokenIds', request.tokenIds],
      ['responseMask', request.responseMask],
    ] as const) {
      if (array.length !== B * T)
        throw new ShapeError(
          `computeLogProbs: ${field} has ${array.length} entries, expected batchSize·seqLen = ${B}·${T} = ${B * T}`,
          { source: SOURCE, details: { field, expected: B * T, actual: array.length } },
        );
    }
    const temperature = request.temperature ?? 1;
    if (temperature !== 1)
      throw invalid(
        `computeLogProbs: temperature ${temperature} cannot be scored exactly: the server's prompt log-probs are those of the untempered model (vLLM's prompt_logprobs are the same under every --logprobs-mode; SGLang's input log-probs are not documented as tempered). Score at temperature 1`,
        { field: 'temperature', value: temperature },
      );
    const rows: { row: number; ids: number[]; promptLength: number; length: number }[] = [];
    for (let r = 0; r < B; r++) {
      let length = 0;
      while (length < T && request.responseMask[r * T + length] === 1) length++;
      for (let t = length; t < T; t++) {
        const m = request.responseMask[r * T + t];
        if (m === 1)
          throw new InvalidValueError(
            `computeLogProbs: responseMask row ${r} is not a prefix (token ${t} is in the response after a gap at ${length}); a server scores one contiguous sequence, so a response with holes cannot be scored exactly`,
            { source: SOURCE, details: { field: 'responseMask', row: r, index: t } },
          );
        if (m !== 0)
          throw new InvalidValueError(
            `computeLogProbs: responseMask[${r * T + t}] = ${m}, expected 0 or 1`,
            {
              source: SOURCE,
              details: { field: 'responseMask', index: r * T + t, value: m },
            },
          );
      }
      if (length === 0) continue;
      const prompt = request.prompts.tokenIds.subarray(
        request.prompts.offsets[r]!,
        request.prompts.offsets[r + 1]!,
      );
      if (prompt.length === 0)
        throw new InvalidValueError(
          `computeLogProbs: prompt ${r} has no tokens, so its first response token has no context to be scored in`,
          { source: SOURCE, details: { field: 'prompts', index: r } },
        );
      const response = request.tokenIds.subarray(r * T, r * T + length);
      checkIds(response, `tokenIds (row ${r})`);
      rows.push({ row: r, ids: [...prompt, ...response], promptLength: prompt.length, length });
    }
    return this.#track(async () => {
      const out = new Float32Array(B * T);
      const { controller, release } = linkedController(options.signal);
      try {
        await allOrAbort(
          controller,
          rows.map((row) => async () => {
            const values = await this.#scoreRow(row.ids, row.promptLength, controller.signal);
            out.set(values, row.row * T);
          }),
        );
      } finally {
        release();
      }
      return out;
    });
  }

  /** Waits for the calls in flight, then refuses new ones. Holds no server-side state. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    await Promise.allSettled([...this.#inflight]);
  }

  #checkLogprobSemantics(settings: WireSamplingSettings): void {
    if (this.flavor !== 'vllm') return;
    const filtered = settings.topK > 0 || settings.topP < 1;
    if (this.#logprobsMode === 'processed_logprobs' && filtered) {
      throw invalid(
        `sample: with --logprobs-mode processed_logprobs vLLM returns log-probs renormalised after top-k/top-p (topK ${settings.topK}, topP ${settings.topP}), but SamplingClientV1 log-probs are before top-k/top-p; sample without topK/topP, or run vLLM with raw_logprobs (option logprobsMode) at temperature 1`,
        { field: 'topK/topP', logprobsMode: this.#logprobsMode },
      );
    }
    if (
      this.#logprobsMode === 'raw_logprobs' &&
      settings.temperature !== 1 &&
      settings.temperature !== 0
    ) {
      throw invalid(
        `sample: with --logprobs-mode raw_logprobs vLLM returns log-probs before temperature, but SamplingClientV1 log-probs are after temperature ${settings.temperature}; run vLLM with --logprobs-mode processed_logprobs (and option logprobsMode) or sample at temperature 1`,
        { field: 'temperature', logprobsMode: this.#logprobsMode },
      );
    }
  }

  async #track<T>(work: () => Promise<T>): Promise<T> {
    if (this.#disposed)
      throw new BackendUnavailableError('this OpenAISamplingClient was disposed', {
        source: SOURCE,
      });
    const promise = work();
    this.#inflight.add(promise);
    try {
      return await promise;
    } finally {
      this.#inflight.delete(promise);
    }
  }

  /** Runs a reader, turning shape problems into errors that name the endpoint. */
  #read<T>(method: string, path: string, reader: () => T): T {
    try {
      return reader();
    } catch (error) {
      const endpoint = this.#transport.url(path);
      if (error instanceof ResponseShapeError)
        throw new OpenAIHttpError({
          kind: 'bad-response',
          method,
          endpoint,
          status: 200,
          message: `the response does not have the ${this.flavor === 'vllm' ? 'vLLM' : 'SGLang'} shape: ${error.message}`,
          cause: error,
        });
      if (error instanceof ServerAbortError)
        throw new OpenAIHttpError({
          kind: 'server-abort',
          method,
          endpoint,
          ...(error.status === undefined ? {} : { status: error.status }),
          message: error.message,
          serverMessage: error.serverMessage,
          cause: error,
        });
      throw error;
    }
  }

  async #samplePrompt(
    prompt: number[] | string,
    G: number,
    seed: number,
    settings: WireSamplingSettings,
    vllm: VllmBodyOptions,
    signal: AbortSignal,
  ): Promise<{ sequences: WireSequence[]; path: string }> {
    if (this.flavor === 'vllm') {
      const path = '/v1/completions';
      const body = await this.#transport.post(
        path,
        vllmSampleBody(prompt, G, seed, settings, vllm),
        signal,
      );
      return { sequences: this.#read('POST', path, () => readVllmCompletion(body, G)), path };
    }
    const path = '/generate';
    const body = await this.#transport.post(
      path,
      sglangSampleBody(prompt, G, seed, settings, {
        topLogprobs: this.#topLogprobs,
        sampling: this.#sglangSampling,
      }),
      signal,
    );
    return { sequences: this.#read('POST', path, () => readSglangGenerate(body, G)), path };
  }

  async #scoreRow(ids: number[], promptLength: number, signal: AbortSignal): Promise<number[]> {
    if (this.flavor === 'vllm') {
      const path = '/v1/completions';
      const body = await this.#transport.post(path, vllmScoreBody(ids, this.#vllm), signal);
      return this.#read('POST', path, () => readVllmPromptLogprobs(body, ids, promptLength));
    }
    const path = '/generate';
    const body = await this.#transport.post(path, sglangScoreBody(ids, promptLength), signal);
    return this.#read('POST', path, () => readSglangInputLogprobs(body, ids.slice(promptLength)));
  }
}

/**
 * Sampling and scoring (`SampleRequestV1`, `ScoreRequestV1`) to and from Tinker's `asample`:
 * one request per prompt with `num_samples` = G, and scoring as Tinker's `compute_logprobs`
 * (one sample of one token with `prompt_logprobs`, reading the prompt log-probs of the
 * prompt + response sequence).
 */
import {
  InvalidArgumentError,
  InvalidValueError,
  type RaggedTokensV1,
  type SampleRequestV1,
  type SampleResultV1,
  type ScoreRequestV1,
  ShapeError,
} from '@hicra/spec';
import { HttpStatusError } from '../http/errors.js';
import { decodeModelInput } from './codec.js';
import type { WireSampleRequest, WireSampleResponse, WireSamplingParams } from './wire.js';

const SOURCE = '@hicra/remote';

/** The pad id of token positions after a response's end in a `SampleResultV1` built here. */
export const SAMPLE_PAD_ID = 0;

/** Checks ragged prompts; returns the number of prompts. */
export function checkRagged(prompts: RaggedTokensV1, where: string): number {
  if (
    typeof prompts !== 'object' ||
    prompts === null ||
    !(prompts.tokenIds instanceof Int32Array) ||
    !(prompts.offsets instanceof Int32Array)
  ) {
    throw new InvalidArgumentError(
      `${where}: prompts must be { tokenIds: Int32Array, offsets: Int32Array }`,
      { source: SOURCE, details: { argument: 'prompts' } },
    );
  }
  const { tokenIds, offsets } = prompts;
  const count = offsets.length - 1;
  if (count < 1 || offsets[0] !== 0 || offsets[count] !== tokenIds.length) {
    throw new ShapeError(
      `${where}: prompts.offsets must run from 0 to tokenIds.length (${tokenIds.length}) with at least one prompt, got [${Array.from(offsets.subarray(0, 8)).join(', ')}${offsets.length > 8 ? ', ...' : ''}]`,
      { source: SOURCE, details: { field: 'prompts.offsets' } },
    );
  }
  for (let p = 0; p < count; p++) {
    if (offsets[p + 1]! <= offsets[p]!) {
      throw new InvalidValueError(
        `${where}: prompt ${p} is empty or offsets decrease (offsets[${p}] = ${offsets[p]}, offsets[${p + 1}] = ${offsets[p + 1]})`,
        { source: SOURCE, details: { field: 'prompts.offsets', index: p } },
      );
    }
  }
  for (let i = 0; i < tokenIds.length; i++) {
    if (tokenIds[i]! < 0) {
      throw new InvalidValueError(`${where}: prompts.tokenIds[${i}] = ${tokenIds[i]} is negative`, {
        source: SOURCE,
        details: { field: 'prompts.tokenIds', index: i },
      });
    }
  }
  return count;
}

function checkInteger(value: unknown, name: string, min: number, where: string): number {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= min)) {
    throw new InvalidValueError(
      `${where}: ${name} must be an integer >= ${min}, got ${String(value)}`,
      { source: SOURCE, details: { argument: name, value: String(value) } },
    );
  }
  return value;
}

/** The sampling parameters of a request, checked (Tinker's defaults for what is absent). */
export function encodeSamplingParams(request: SampleRequestV1, seed: number): WireSamplingParams {
  const where = 'sample';
  checkInteger(request.maxNewTokens, 'maxNewTokens', 1, where);
  const temperature = request.temperature ?? 1;
  if (!(Number.isFinite(temperature) && temperature >= 0)) {
    throw new InvalidValueError(`${where}: temperature must be a finite number >= 0`, {
      source: SOURCE,
      details: { argument: 'temperature', value: String(temperature) },
    });
  }
  const topK = request.topK ?? 0;
  checkInteger(topK, 'topK', 0, where);
  const topP = request.topP ?? 1;
  if (!(Number.isFinite(topP) && topP > 0 && topP <= 1)) {
    throw new InvalidValueError(`${where}: topP must be in (0, 1], got ${String(topP)}`, {
      source: SOURCE,
      details: { argument: 'topP', value: String(topP) },
    });
  }
  const stop = request.stopTokenIds ?? [];
  stop.forEach((id, i) => {
    checkInteger(id, `stopTokenIds[${i}]`, 0, where);
  });
  return {
    max_tokens: request.maxNewTokens,
    seed,
    ...(stop.length > 0 ? { stop: [...stop] } : {}),
    temperature,
    top_k: topK > 0 ? topK : -1,
    top_p: topP,
  };
}

/** The seed of prompt `p`'s request: G consecutive seeds per prompt, from `seed`. */
export function seedOfPrompt(seed: number, prompt: number, samplesPerPrompt: number): number {
  return seed + prompt * samplesPerPrompt;
}

/** One `asample` request body. */
export function encodeSampleRequest(args: {
  readonly prompt: Int32Array;
  readonly numSamples: number;
  readonly params: WireSamplingParams;
  readonly samplingSessionId: string;
  readonly seqId: number;
  readonly promptLogprobs: boolean;
}): WireSampleRequest {
  return {
    num_samples: args.numSamples,
    prompt: { chunks: [{ tokens: args.prompt, type: 'encoded_text' }] },
    sampling_params: args.params,
    sampling_session_id: args.samplingSessionId,
    seq_id: args.seqId,
    prompt_logprobs: args.promptLogprobs,
    topk_prompt_logprobs: 0,
    type: 'sample',
  };
}

/**
 * The `SampleResultV1` of P prompts from their `asample` results (prompt p's G sequences are
 * rows p·G .. p·G + G - 1), right-padded with {@link SAMPLE_PAD_ID} to T = `maxNewTokens`.
 */
export function assembleSampleResult(
  responses: readonly unknown[],
  samplesPerPrompt: number,
  maxNewTokens: number,
  where: string,
): SampleResultV1 {
  const G = samplesPerPrompt;
  const T = maxNewTokens;
  const B = responses.length * G;
  const promptIndex = new Int32Array(B);
  const tokenIds = new Int32Array(B * T).fill(SAMPLE_PAD_ID);
  const responseMask = new Uint8Array(B * T);
  const logProbs = new Float32Array(B * T);
  const finished = new Uint8Array(B);
  responses.forEach((response, p) => {
    const sequences = (response as Partial<WireSampleResponse> | null)?.sequences;
    if (!Array.isArray(sequences) || sequences.length !== G) {
      throw new ShapeError(
        `${where}: prompt ${p}: the server returned ${Array.isArray(sequences) ? sequences.length : 'no'} sequences for num_samples = ${G}`,
        { source: SOURCE, details: { prompt: p, expected: G } },
      );
    }
    sequences.forEach((sequence, g) => {
      const row = p * G + g;
      const at = `${where}: prompt ${p}, sequence ${g}`;
      const tokens = sequence?.tokens;
      const lps = sequence?.logprobs;
      if (!Array.isArray(tokens) || tokens.length > T) {
        throw new ShapeError(
          `${at}: tokens must be a list of at most max_tokens = ${T} ids, got ${Array.isArray(tokens) ? `${tokens.length}` : typeof tokens}`,
          { source: SOURCE, details: { prompt: p, sequence: g, field: 'tokens' } },
        );
      }
      if (!Array.isArray(lps) || lps.length !== tokens.length) {
        throw new InvalidValueError(
          `${at}: the server returned no log-prob per sampled token (logprobs ${Array.isArray(lps) ? `has ${lps.length} values for ${tokens.length} tokens` : 'absent'}); SampleResultV1 needs them`,
          { source: SOURCE, details: { prompt: p, sequence: g, field: 'logprobs' } },
        );
      }
      promptIndex[row] = p;
      tokenIds.set(tokens as number[], row * T);
      responseMask.fill(1, row * T, row * T + tokens.length);
      logProbs.set(lps as number[], row * T);
      finished[row] = sequence.stop_reason === 'stop' ? 1 : 0;
    });
  });
  return { batchSize: B, seqLen: T, promptIndex, tokenIds, responseMask, logProbs, finished };
}

/** Checks a score request; returns the length of each row's response (up to its last masked token). */
export function checkScoreRequest(request: ScoreRequestV1): Int32Array {
  const where = 'computeLogProbs';
  const count = checkRagged(request.prompts, where);
  const B = checkInteger(request.batchSize, 'batchSize', 1, where);
  const T = checkInteger(request.seqLen, 'seqLen', 1, where);
  if (count !== B) {
    throw new ShapeError(`${where}: ${count} prompts for batchSize ${B}; one prompt per row`, {
      source: SOURCE,
      details: { field: 'prompts', expected: B, actual: count },
    });
  }
  for (const [field, array, type] of [
    ['tokenIds', request.tokenIds, Int32Array],
    ['responseMask', request.responseMask, Uint8Array],
  ] as const) {
    if (!(array instanceof type)) {
      throw new InvalidArgumentError(`${where}: ${field} must be a ${type.name}`, {
        source: SOURCE,
        details: { argument: field },
      });
    }
    if (array.length !== B * T) {
      throw new ShapeError(
        `${where}: ${field} has ${array.length} values, expected batchSize·seqLen = ${B * T}`,
        { source: SOURCE, details: { field, expected: B * T, actual: array.length } },
      );
    }
  }
  const lengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let last = -1;
    for (let t = 0; t < T; t++) {
      if (request.responseMask[b * T + t] !== 0) last = t;
      const id = request.tokenIds[b * T + t]!;
      if (request.responseMask[b * T + t] !== 0 && id < 0) {
        throw new InvalidValueError(`${where}: tokenIds[${b * T + t}] = ${id} is negative`, {
          source: SOURCE,
          details: { field: 'tokenIds', index: b * T + t },
        });
      }
    }
    lengths[b] = last + 1;
  }
  return lengths;
}

/** Row b's prompt followed by its first `length` response tokens. */
export function scoreSequence(request: ScoreRequestV1, b: number, length: number): Int32Array {
  const { tokenIds, offsets } = request.prompts;
  const prompt = tokenIds.subarray(offsets[b]!, offsets[b + 1]!);
  const out = new Int32Array(prompt.length + length);
  out.set(prompt, 0);
  out.set(
    request.tokenIds.subarray(b * request.seqLen, b * request.seqLen + length),
    prompt.length,
  );
  return out;
}

/** Writes row b's response log-probs (masked positions) from a `prompt_logprobs` list. */
export function readPromptLogprobs(
  response: unknown,
  request: ScoreRequestV1,
  b: number,
  promptLength: number,
  length: number,
  into: Float32Array,
  where: string,
): void {
  const list = (response as Partial<WireSampleResponse> | null)?.prompt_logprobs;
  if (!Array.isArray(list) || list.length !== promptLength + length) {
    throw new ShapeError(
      `${where}: row ${b}: prompt_logprobs must list ${promptLength + length} values (one per token of prompt + response), got ${Array.isArray(list) ? list.length : 'none'}`,
      {
        source: SOURCE,
        details: {
          row: b,
          field: 'prompt_logprobs',
          expected: promptLength + length,
          actual: Array.isArray(list) ? list.length : null,
        },
      },
    );
  }
  const T = request.seqLen;
  for (let t = 0; t < length; t++) {
    if (request.responseMask[b * T + t] === 0) continue;
    const value = list[promptLength + t];
    if (typeof value !== 'number') {
      throw new InvalidValueError(
        `${where}: row ${b}: prompt_logprobs[${promptLength + t}] is ${JSON.stringify(value)}, expected a number`,
        { source: SOURCE, details: { row: b, field: 'prompt_logprobs', index: promptLength + t } },
      );
    }
    into[b * T + t] = value;
  }
}

// ---------------------------------------------------------------------------------------------
// Server side.

/** A wire sample request as `SampleRequestV1` for its one prompt. */
export function decodeSampleRequest(
  body: WireSampleRequest,
  options: { readonly defaultMaxTokens: number; readonly seed: () => number },
): { readonly request: SampleRequestV1; readonly prompt: Int32Array } {
  const prompt = decodeModelInput(body.prompt, 'prompt');
  if (prompt.length === 0) {
    throw new HttpStatusError(400, 'prompt: the prompt has no tokens', { field: 'prompt.chunks' });
  }
  const params = body.sampling_params;
  const stop = params.stop;
  let stopTokenIds: number[] = [];
  if (stop !== undefined) {
    const list: readonly unknown[] = typeof stop === 'string' ? [stop] : stop;
    list.forEach((s, i) => {
      if (typeof s === 'string') {
        throw new HttpStatusError(
          400,
          `sampling_params.stop[${i}] is a string: this server stops on token ids only (integers), it has no tokenizer`,
          { field: `sampling_params.stop[${i}]` },
        );
      }
      if (!(typeof s === 'number' && Number.isInteger(s) && s >= 0)) {
        throw new HttpStatusError(
          400,
          `sampling_params.stop[${i}] = ${JSON.stringify(s)} is not a token id (an integer >= 0)`,
          { field: `sampling_params.stop[${i}]` },
        );
      }
    });
    stopTokenIds = list as number[];
  }
  const request: SampleRequestV1 = {
    prompts: { tokenIds: prompt, offsets: Int32Array.of(0, prompt.length) },
    samplesPerPrompt: body.num_samples,
    maxNewTokens: params.max_tokens ?? options.defaultMaxTokens,
    temperature: params.temperature,
    ...(params.top_k > 0 ? { topK: params.top_k } : {}),
    ...(params.top_p < 1 ? { topP: params.top_p } : {}),
    ...(stopTokenIds.length > 0 ? { stopTokenIds } : {}),
    seed: params.seed ?? options.seed(),
  };
  return { request, prompt };
}

/** A `SampleResultV1` of one prompt as the wire's `SampleResponse`. */
export function encodeSampleResult(
  result: SampleResultV1 | undefined,
  promptLogprobs: (number | null)[] | null,
): WireSampleResponse {
  const sequences: WireSampleResponse['sequences'][number][] = [];
  if (result !== undefined) {
    const T = result.seqLen;
    for (let row = 0; row < result.batchSize; row++) {
      let length = 0;
      for (let t = 0; t < T; t++) if (result.responseMask[row * T + t] !== 0) length = t + 1;
      sequences.push({
        stop_reason: result.finished[row] === 1 ? 'stop' : 'length',
        tokens: result.tokenIds.subarray(row * T, row * T + length),
        logprobs: result.logProbs.subarray(row * T, row * T + length),
      });
    }
  }
  return {
    sequences,
    type: 'sample',
    prompt_logprobs: promptLogprobs,
    topk_prompt_logprobs: null,
    prompt_cache_hit_tokens: 0,
  };
}

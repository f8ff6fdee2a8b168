/**
 * Request bodies the client sends: vLLM `/v1/completions` (sampling, and scoring through
 * `prompt_logprobs`) and SGLang `/generate` (sampling, and scoring through
 * `logprob_start_len`). Every sampling setting is sent explicitly: a field left out takes the
 * server's default, which comes from the model's `generation_config.json` (Qwen's sets
 * `top_k` 20, `top_p` 0.95), not the neutral value the contract means.
 */

/**
 * How the client learns vLLM's generated ids:
 * - `return_token_ids`: `choices[].token_ids` (and `prompt_token_ids`); newer vLLM, SGLang;
 * - `return_tokens_as_token_ids`: logprob tokens rendered `token_id:<id>`; older vLLM too;
 * - `both` (default): asks for both, reads `token_ids` when present and checks it against the
 *   rendered tokens; works with any vLLM version that knows either field (unknown fields are
 *   ignored by vLLM).
 */
export type OpenAITokenIdMode = 'return_token_ids' | 'return_tokens_as_token_ids' | 'both';

/** The sampling settings of one request, after defaults. */
export interface WireSamplingSettings {
  readonly maxNewTokens: number;
  readonly temperature: number;
  /** 0: off. */
  readonly topK: number;
  readonly topP: number;
  readonly stopTokenIds: readonly number[];
}

export interface VllmBodyOptions {
  /** `model`; left out when undefined (vLLM then serves its only model). */
  readonly model?: string;
  readonly tokenIdMode: OpenAITokenIdMode;
  /** `logprobs` (sampling) and `prompt_logprobs` (scoring): alternatives per token. */
  readonly topLogprobs: number;
  /** `ignore_eos: true`: only `stop_token_ids` end a sample (vLLM only). */
  readonly ignoreEos: boolean;
  /** For text prompts: `add_special_tokens` (vLLM's default true is left implicit). */
  readonly addSpecialTokens: boolean;
}

/**
 * A vLLM `/v1/completions` body for `n` samples of one prompt (ids, or text the server
 * tokenises). vLLM seeds sample j of the request with `seed + j`.
 */
export function vllmSampleBody(
  prompt: readonly number[] | string,
  n: number,
  seed: number,
  settings: WireSamplingSettings,
  options: VllmBodyOptions,
): Record<string, unknown> {
  return {
    ...(options.model === undefined ? {} : { model: options.model }),
    prompt,
    max_tokens: settings.maxNewTokens,
    temperature: settings.temperature,
    top_p: settings.topP,
    top_k: settings.topK > 0 ? settings.topK : -1,
    n,
    seed,
    ...(settings.stopTokenIds.length > 0 ? { stop_token_ids: [...settings.stopTokenIds] } : {}),
    logprobs: options.topLogprobs,
    ...(options.tokenIdMode !== 'return_token_ids' ? { return_tokens_as_token_ids: true } : {}),
    ...(options.tokenIdMode !== 'return_tokens_as_token_ids' ? { return_token_ids: true } : {}),
    ...(options.ignoreEos ? { ignore_eos: true } : {}),
    ...(typeof prompt === 'string' && !options.addSpecialTokens
      ? { add_special_tokens: false }
      : {}),
  };
}

/**
 * A vLLM body that scores `ids` (prompt + response): `prompt_logprobs` over the whole sequence,
 * one throw-away generated token (`max_tokens` 1).
 */
export function vllmScoreBody(
  ids: readonly number[],
  options: VllmBodyOptions,
): Record<string, unknown> {
  return {
    ...(options.model === undefined ? {} : { model: options.model }),
    prompt: [...ids],
    max_tokens: 1,
    temperature: 1,
    prompt_logprobs: options.topLogprobs,
    ...(options.tokenIdMode !== 'return_tokens_as_token_ids' ? { return_token_ids: true } : {}),
  };
}

/**
 * How SGLang draws G samples of a prompt:
 * - `batch` (default): one batched `/generate` request with G copies of the prompt and G
 *   `sampling_params`, sample j seeded `seed + j` (SGLang documents `n` as discouraged in
 *   favour of repeated prompts, and copies would otherwise share one seed);
 * - `n`: one request with `sampling_params.n = G` and one `sampling_seed`.
 */
export type SglangSamplingMode = 'batch' | 'n';

export interface SglangBodyOptions {
  readonly topLogprobs: number;
  readonly sampling: SglangSamplingMode;
}

function sglangParams(
  settings: WireSamplingSettings,
  seed: number,
  n: number | undefined,
): Record<string, unknown> {
  return {
    temperature: settings.temperature,
    top_p: settings.topP,
    top_k: settings.topK > 0 ? settings.topK : -1,
    max_new_tokens: settings.maxNewTokens,
    ...(settings.stopTokenIds.length > 0 ? { stop_token_ids: [...settings.stopTokenIds] } : {}),
    sampling_seed: seed,
    ...(n === undefined ? {} : { n }),
  };
}

/** A SGLang `/generate` body for `n` samples of one prompt (ids, or text). */
export function sglangSampleBody(
  prompt: readonly number[] | string,
  n: number,
  seed: number,
  settings: WireSamplingSettings,
  options: SglangBodyOptions,
): Record<string, unknown> {
  const key = typeof prompt === 'string' ? 'text' : 'input_ids';
  const input = typeof prompt === 'string' ? prompt : [...prompt];
  const batched = n > 1 && options.sampling === 'batch';
  return {
    [key]: batched ? Array.from({ length: n }, () => input) : input,
    sampling_params: batched
      ? Array.from({ length: n }, (_, j) => sglangParams(settings, seed + j, undefined))
      : sglangParams(settings, seed, n > 1 ? n : undefined),
    return_logprob: true,
    logprob_start_len: -1,
    top_logprobs_num: options.topLogprobs,
    return_text_in_logprobs: false,
    stream: false,
  };
}

/**
 * A SGLang body that scores the last tokens of `ids` (prompt of `promptLength` + response):
 * input log-probs from the last prompt position on, one throw-away generated token.
 */
export function sglangScoreBody(
  ids: readonly number[],
  promptLength: number,
): Record<string, unknown> {
  return {
    input_ids: [...ids],
    sampling_params: { temperature: 1, max_new_tokens: 1 },
    return_logprob: true,
    logprob_start_len: Math.max(0, promptLength - 1),
    top_logprobs_num: 0,
    return_text_in_logprobs: false,
    stream: false,
  };
}

/**
 * The wire shapes of vLLM's `/v1/completions` and SGLang's native `/generate` (PROTOCOLS.md
 * Part 2), and readers that turn a response into token ids, log-probs and finish states, or
 * fail naming the JSON path that does not fit.
 */

// ---------------------------------------------------------------------------------------------
// vLLM (and SGLang's OpenAI layer) /v1/completions

/** `choices[].logprobs` of a completion. */
export interface VllmCompletionLogprobs {
  readonly text_offset: number[];
  readonly token_logprobs: (number | null)[];
  /** Decoded token texts, or `token_id:<id>` with `return_tokens_as_token_ids`. */
  readonly tokens: string[];
  readonly top_logprobs: (Record<string, number> | null)[];
}

/** One entry of `choices[].prompt_logprobs`, keyed by token id. */
export interface VllmPromptLogprob {
  readonly logprob: number;
  readonly rank: number | null;
  readonly decoded_token: string | null;
}

export interface VllmCompletionChoice {
  readonly index: number;
  readonly text: string;
  readonly logprobs: VllmCompletionLogprobs | null;
  readonly finish_reason: string | null;
  readonly stop_reason: number | string | null;
  readonly token_ids: number[] | null;
  readonly prompt_logprobs: (Record<string, VllmPromptLogprob> | null)[] | null;
  readonly prompt_token_ids: number[] | null;
  readonly routed_experts: string | null;
}

export interface VllmUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { cached_tokens: number } | null;
}

/** A non-streaming `/v1/completions` body (null fields present, as vLLM dumps them). */
export interface VllmCompletionResponse {
  readonly id: string;
  readonly object: 'text_completion';
  readonly created: number;
  readonly model: string;
  readonly choices: VllmCompletionChoice[];
  readonly usage: VllmUsage;
  readonly service_tier: null;
  readonly system_fingerprint: null;
  readonly kv_transfer_params: null;
  readonly ec_transfer_params: null;
  readonly metrics: null;
}

/** vLLM's error body; the HTTP status equals `code`. */
export interface VllmErrorResponse {
  readonly error: {
    readonly message: string;
    readonly type: string;
    readonly param: string | null;
    readonly code: number;
  };
}

// ---------------------------------------------------------------------------------------------
// SGLang /generate

/** `[logprob, token id, text or null]`. */
export type SglangLogprobEntry = [number | null, number, string | null];

export type SglangFinishReason =
  | { readonly type: 'stop'; readonly matched: number | string }
  | { readonly type: 'length'; readonly length: number }
  | {
      readonly type: 'abort';
      readonly message: string;
      readonly status_code: number | null;
      readonly err_type: string | null;
    };

export interface SglangMetaInfo {
  readonly id: string;
  readonly finish_reason: SglangFinishReason | null;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly cached_tokens: number;
  readonly input_token_logprobs?: SglangLogprobEntry[];
  readonly output_token_logprobs?: SglangLogprobEntry[];
  readonly [key: string]: unknown;
}

/** One `/generate` result; a batch or `n > 1` answers a JSON array of these. */
export interface SglangGenerateResult {
  readonly text: string;
  readonly output_ids: number[];
  readonly prompt_token_ids?: number[];
  readonly meta_info: SglangMetaInfo;
}

// ---------------------------------------------------------------------------------------------
// Readers

/** A response that does not have the documented shape; `path` points into the JSON. */
export class ResponseShapeError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.path = path;
  }
}

/** The server finished a request with `abort` (or `error`): not a result. */
export class ServerAbortError extends Error {
  readonly path: string;
  readonly status: number | undefined;
  readonly serverMessage: string;
  constructor(path: string, serverMessage: string, status: number | undefined) {
    super(`${path}: the server aborted the request: ${serverMessage}`);
    this.path = path;
    this.status = status;
    this.serverMessage = serverMessage;
  }
}

/** One sampled sequence read off a response. */
export interface WireSequence {
  /** Generated ids, the matched stop token included when the server reports it. */
  readonly tokenIds: readonly number[];
  /** Log-prob of each generated id. */
  readonly logProbs: readonly number[];
  /** `stop`: a stop token or EOS ended it; `length`: the token limit did. */
  readonly finish: 'stop' | 'length';
  /** The server's text of the response. */
  readonly text: string;
  /** The prompt's ids as the server saw them, when it says. */
  readonly promptTokenIds?: readonly number[];
}

type Json = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ResponseShapeError(path, `expected an object, got ${describe(value)}`);
  return value as Json;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value))
    throw new ResponseShapeError(path, `expected an array, got ${describe(value)}`);
  return value;
}

function tokenId(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw new ResponseShapeError(
      path,
      `expected a token id (integer >= 0), got ${describe(value)}`,
    );
  return value;
}

function logProb(value: unknown, path: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value > 0)
    throw new ResponseShapeError(
      path,
      `expected a log-probability (a number <= 0), got ${describe(value)}`,
    );
  return value;
}

function tokenIds(value: unknown, path: string): number[] {
  return array(value, path).map((id, k) => tokenId(id, `${path}[${k}]`));
}

const TOKEN_ID_PLACEHOLDER = /^token_id:(\d+)$/;

/** The ids of `token_id:<id>` strings, or undefined when any string is not one. */
function placeholderIds(tokens: readonly unknown[]): number[] | undefined {
  const ids: number[] = [];
  for (const token of tokens) {
    const match = typeof token === 'string' ? TOKEN_ID_PLACEHOLDER.exec(token) : null;
    if (match === null) return undefined;
    ids.push(Number(match[1]));
  }
  return ids;
}

function vllmFinish(value: unknown, path: string): 'stop' | 'length' {
  if (value === 'stop' || value === 'length') return value;
  if (value === 'abort' || value === 'error')
    throw new ServerAbortError(path, `finish_reason ${JSON.stringify(value)}`, undefined);
  throw new ResponseShapeError(
    path,
    `finish_reason ${describe(value)} is not supported: a sample must end with "stop" (a stop token) or "length"`,
  );
}

/** Sorts choices by `index`, which must be 0 .. count-1 exactly once each. */
function choicesInOrder(body: Json, expected: number): Json[] {
  const choices = array(body['choices'], 'choices').map((c, k) => object(c, `choices[${k}]`));
  if (choices.length !== expected)
    throw new ResponseShapeError(
      'choices',
      `expected ${expected} choice(s) (n), got ${choices.length}`,
    );
  const ordered: Json[] = new Array(expected);
  choices.forEach((choice, k) => {
    const index = choice['index'];
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= expected)
      throw new ResponseShapeError(
        `choices[${k}].index`,
        `expected an integer in [0, ${expected}), got ${describe(index)}`,
      );
    if (ordered[index] !== undefined)
      throw new ResponseShapeError(`choices[${k}].index`, `index ${index} appears twice`);
    ordered[index] = choice;
  });
  return ordered;
}

/**
 * The samples of a `/v1/completions` response for one prompt with `n = expected`: ids from
 * `choices[].token_ids` (`return_token_ids`) or from `token_id:<id>` logprob tokens
 * (`return_tokens_as_token_ids`), both checked against each other when both are there;
 * log-probs from `logprobs.token_logprobs`. Choices are returned in `index` order.
 */
export function readVllmCompletion(body: unknown, expected: number): WireSequence[] {
  const root = object(body, '(body)');
  return choicesInOrder(root, expected).map((choice) => {
    const path = `choices[${choice['index']}]`;
    const finish = vllmFinish(choice['finish_reason'], `${path}.finish_reason`);
    const logprobs = choice['logprobs'];
    if (logprobs === null || logprobs === undefined)
      throw new ResponseShapeError(
        `${path}.logprobs`,
        'is null: the request must set logprobs (the client sends logprobs >= 0)',
      );
    const lp = object(logprobs, `${path}.logprobs`);
    const values = array(lp['token_logprobs'], `${path}.logprobs.token_logprobs`).map((v, k) =>
      logProb(v, `${path}.logprobs.token_logprobs[${k}]`),
    );
    const tokens = lp['tokens'] === undefined ? [] : array(lp['tokens'], `${path}.logprobs.tokens`);
    const fromTokens = tokens.length === values.length ? placeholderIds(tokens) : undefined;
    const rawIds = choice['token_ids'];
    let ids: number[];
    if (rawIds !== null && rawIds !== undefined) {
      ids = tokenIds(rawIds, `${path}.token_ids`);
      if (fromTokens !== undefined) {
        const at = ids.findIndex((id, k) => id !== fromTokens[k]);
        if (at >= 0 || ids.length !== fromTokens.length)
          throw new ResponseShapeError(
            `${path}.token_ids`,
            `disagree with the token_id:<id> strings of logprobs.tokens (at position ${at >= 0 ? at : Math.min(ids.length, fromTokens.length)})`,
          );
      }
    } else if (fromTokens !== undefined) {
      ids = fromTokens;
    } else {
      throw new ResponseShapeError(
        path,
        'has neither token_ids nor token_id:<id> strings in logprobs.tokens: the server ignored return_token_ids and return_tokens_as_token_ids (check the tokenIdMode option against the vLLM version)',
      );
    }
    if (values.length !== ids.length)
      throw new ResponseShapeError(
        `${path}.logprobs.token_logprobs`,
        `has ${values.length} entries for ${ids.length} generated tokens`,
      );
    const text = typeof choice['text'] === 'string' ? choice['text'] : '';
    const prompt = choice['prompt_token_ids'];
    return {
      tokenIds: ids,
      logProbs: values,
      finish,
      text,
      ...(Array.isArray(prompt)
        ? { promptTokenIds: tokenIds(prompt, `${path}.prompt_token_ids`) }
        : {}),
    };
  });
}

/**
 * The log-probs of `ids[from ..]` from a `prompt_logprobs` response (the prompt was `ids`):
 * `choices[0].prompt_logprobs[t][String(ids[t])].logprob`. Position 0 has none (it is null),
 * so `from` must be >= 1.
 */
export function readVllmPromptLogprobs(
  body: unknown,
  ids: readonly number[],
  from: number,
): number[] {
  const root = object(body, '(body)');
  const choice = object(array(root['choices'], 'choices')[0], 'choices[0]');
  const echoed = choice['prompt_token_ids'];
  if (Array.isArray(echoed)) {
    const seen = tokenIds(echoed, 'choices[0].prompt_token_ids');
    const at = seen.findIndex((id, k) => id !== ids[k]);
    if (at >= 0 || seen.length !== ids.length)
      throw new ResponseShapeError(
        'choices[0].prompt_token_ids',
        `differ from the ${ids.length} ids sent (at position ${at >= 0 ? at : Math.min(seen.length, ids.length)})`,
      );
  }
  const path = 'choices[0].prompt_logprobs';
  const entries = choice['prompt_logprobs'];
  if (entries === null || entries === undefined)
    throw new ResponseShapeError(path, 'is null: the server ignored prompt_logprobs');
  const list = array(entries, path);
  if (list.length !== ids.length)
    throw new ResponseShapeError(
      path,
      `has ${list.length} entries for a prompt of ${ids.length} tokens`,
    );
  const out: number[] = [];
  for (let t = from; t < ids.length; t++) {
    const entry = object(list[t], `${path}[${t}]`);
    const key = String(ids[t]);
    const item = entry[key];
    if (item === undefined)
      throw new ResponseShapeError(`${path}[${t}]`, `has no entry for the prompt token ${key}`);
    out.push(
      logProb(
        object(item, `${path}[${t}]["${key}"]`)['logprob'],
        `${path}[${t}]["${key}"].logprob`,
      ),
    );
  }
  return out;
}

function sglangEntries(value: unknown, path: string): Array<[number | null, number]> {
  return array(value, path).map((raw, k) => {
    const entry = array(raw, `${path}[${k}]`);
    if (entry.length < 2)
      throw new ResponseShapeError(
        `${path}[${k}]`,
        `expected [logprob, token_id, text], got ${entry.length} item(s)`,
      );
    const id = tokenId(entry[1], `${path}[${k}][1]`);
    return [entry[0] === null ? null : logProb(entry[0], `${path}[${k}][0]`), id];
  });
}

function sglangFinish(value: unknown, path: string): 'stop' | 'length' {
  const finish = object(value, path);
  const type = finish['type'];
  if (type === 'stop' || type === 'length') return type;
  if (type === 'abort') {
    const message = typeof finish['message'] === 'string' ? finish['message'] : 'no message';
    const status = typeof finish['status_code'] === 'number' ? finish['status_code'] : undefined;
    throw new ServerAbortError(path, message, status);
  }
  throw new ResponseShapeError(
    `${path}.type`,
    `${describe(type)} is not supported: a sample must end with "stop" or "length"`,
  );
}

/**
 * The samples of a `/generate` response: `expected` results (an object when 1, an array
 * otherwise). Ids from `output_ids`, checked against `meta_info.output_token_logprobs`, whose
 * log-probs are returned.
 */
export function readSglangGenerate(body: unknown, expected: number): WireSequence[] {
  const items = Array.isArray(body) ? body : [body];
  if (items.length !== expected)
    throw new ResponseShapeError(
      '(body)',
      `expected ${expected === 1 ? 'one result' : `an array of ${expected} results`}, got ${Array.isArray(body) ? `an array of ${items.length}` : describe(body)}`,
    );
  return items.map((raw, k) => {
    const path = Array.isArray(body) ? `[${k}]` : '(body)';
    const item = object(raw, path);
    const meta = object(item['meta_info'], `${path}.meta_info`);
    const finish = sglangFinish(meta['finish_reason'], `${path}.meta_info.finish_reason`);
    const lpPath = `${path}.meta_info.output_token_logprobs`;
    if (meta['output_token_logprobs'] === undefined || meta['output_token_logprobs'] === null)
      throw new ResponseShapeError(lpPath, 'is missing: the request must set return_logprob');
    const entries = sglangEntries(meta['output_token_logprobs'], lpPath);
    const logProbs = entries.map(([value], t) => {
      if (value === null) throw new ResponseShapeError(`${lpPath}[${t}][0]`, 'is null');
      return value;
    });
    const fromEntries = entries.map(([, id]) => id);
    let ids = fromEntries;
    if (item['output_ids'] !== undefined) {
      ids = tokenIds(item['output_ids'], `${path}.output_ids`);
      const at = ids.findIndex((id, t) => id !== fromEntries[t]);
      if (at >= 0 || ids.length !== fromEntries.length)
        throw new ResponseShapeError(
          `${path}.output_ids`,
          `disagree with the ids of meta_info.output_token_logprobs (${ids.length} vs ${fromEntries.length} tokens, first difference at ${at >= 0 ? at : Math.min(ids.length, fromEntries.length)})`,
        );
    }
    const prompt = item['prompt_token_ids'];
    return {
      tokenIds: ids,
      logProbs,
      finish,
      text: typeof item['text'] === 'string' ? item['text'] : '',
      ...(Array.isArray(prompt)
        ? { promptTokenIds: tokenIds(prompt, `${path}.prompt_token_ids`) }
        : {}),
    };
  });
}

/**
 * The log-probs of `responseIds` from a `/generate` response with `return_logprob` and a
 * `logprob_start_len` inside the prompt: the last `responseIds.length` entries of
 * `meta_info.input_token_logprobs`, whose ids must be `responseIds`.
 */
export function readSglangInputLogprobs(body: unknown, responseIds: readonly number[]): number[] {
  const root = object(Array.isArray(body) ? body[0] : body, Array.isArray(body) ? '[0]' : '(body)');
  const path = 'meta_info.input_token_logprobs';
  const meta = object(root['meta_info'], 'meta_info');
  if (meta['input_token_logprobs'] === undefined || meta['input_token_logprobs'] === null)
    throw new ResponseShapeError(
      path,
      'is missing: the server ignored return_logprob / logprob_start_len',
    );
  const entries = sglangEntries(meta['input_token_logprobs'], path);
  const n = responseIds.length;
  if (entries.length < n)
    throw new ResponseShapeError(
      path,
      `has ${entries.length} entries, fewer than the ${n} response tokens`,
    );
  const offset = entries.length - n;
  return responseIds.map((id, t) => {
    const [value, seen] = entries[offset + t]!;
    if (seen !== id)
      throw new ResponseShapeError(
        `${path}[${offset + t}][1]`,
        `is token ${seen}, expected response token ${t} = ${id}`,
      );
    if (value === null) throw new ResponseShapeError(`${path}[${offset + t}][0]`, 'is null');
    return value;
  });
}

/**
 * The samples of a chat-completion response (vLLM or SGLang), for callers that use chat:
 * ids from `token_ids`; log-probs from SGLang's `meta_info.output_token_logprobs` when present
 * (it covers every generated id), else from `logprobs.content[].logprob`, which must then
 * cover every id.
 */
export function readChatCompletion(body: unknown, expected: number): WireSequence[] {
  const root = object(body, '(body)');
  const topPrompt = root['prompt_token_ids'];
  return choicesInOrder(root, expected).map((choice) => {
    const path = `choices[${choice['index']}]`;
    const finish = vllmFinish(choice['finish_reason'], `${path}.finish_reason`);
    const ids = tokenIds(choice['token_ids'], `${path}.token_ids`);
    let logProbs: number[];
    const meta = choice['meta_info'];
    if (typeof meta === 'object' && meta !== null && 'output_token_logprobs' in meta) {
      const lpPath = `${path}.meta_info.output_token_logprobs`;
      const entries = sglangEntries((meta as Json)['output_token_logprobs'], lpPath);
      if (entries.length !== ids.length || entries.some(([, id], t) => id !== ids[t]))
        throw new ResponseShapeError(lpPath, `ids disagree with ${path}.token_ids`);
      logProbs = entries.map(([value], t) => {
        if (value === null) throw new ResponseShapeError(`${lpPath}[${t}][0]`, 'is null');
        return value;
      });
    } else {
      const lpPath = `${path}.logprobs.content`;
      const content = array(object(choice['logprobs'], `${path}.logprobs`)['content'], lpPath);
      if (content.length !== ids.length)
        throw new ResponseShapeError(
          lpPath,
          `has ${content.length} entries for ${ids.length} token_ids; ask for meta_info (SGLang return_meta_info) to get every token`,
        );
      logProbs = content.map((entry, t) =>
        logProb(object(entry, `${lpPath}[${t}]`)['logprob'], `${lpPath}[${t}].logprob`),
      );
    }
    const message = object(choice['message'], `${path}.message`);
    const prompt = choice['prompt_token_ids'] ?? topPrompt;
    return {
      tokenIds: ids,
      logProbs,
      finish,
      text: typeof message['content'] === 'string' ? message['content'] : '',
      ...(Array.isArray(prompt) ? { promptTokenIds: tokenIds(prompt, 'prompt_token_ids') } : {}),
    };
  });
}

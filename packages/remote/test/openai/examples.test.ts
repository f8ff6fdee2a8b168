/**
 * The vLLM and SGLang example exchanges of PROTOCOLS.md (copied unchanged into
 * test/data/openai/): every response parses, and the client sends the examples' requests
 * field by field (fields the examples leave out are only the neutral ones the client always
 * sends explicitly).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { ErrorCode } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenAIHttpError, OpenAISamplingClient } from '../../src/index.js';
import { sglangSampleBody } from '../../src/openai/requests.js';
import {
  readChatCompletion,
  readSglangGenerate,
  readVllmCompletion,
  readVllmPromptLogprobs,
} from '../../src/openai/wire.js';
import { ragged, type ScriptedServer, sendJson, startScriptedServer } from './fakes.js';

const DATA = new URL('../data/openai/', import.meta.url);

interface Example {
  readonly _source: string;
  readonly request: { method: string; path: string; body: Record<string, unknown> };
  readonly response: { status: number; body: unknown };
}

function example(name: string): Example {
  return JSON.parse(readFileSync(new URL(name, DATA), 'utf8')) as Example;
}

/** Every field of `expected` is in `sent` with the same value; `sent`'s others are `extras`. */
function expectFields(
  sent: Record<string, unknown>,
  expected: Record<string, unknown>,
  extras: Record<string, unknown> = {},
): void {
  for (const [key, value] of Object.entries(expected)) {
    expect(sent, `field ${key}`).toHaveProperty([key]);
    expect(sent[key], `field ${key}`).toEqual(value);
  }
  const others = Object.fromEntries(Object.entries(sent).filter(([key]) => !(key in expected)));
  expect(others).toEqual(extras);
}

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server that answers every request with the example's response. */
async function replay(ex: Example): Promise<ScriptedServer> {
  server = await startScriptedServer((_request, response) =>
    sendJson(response, ex.response.status, ex.response.body),
  );
  return server;
}

describe('example files', () => {
  it('holds every vLLM and SGLang example, each with its source, request and response', () => {
    const names = readdirSync(DATA).filter((n) => n.endsWith('.json'));
    expect(names.sort()).toEqual([
      'sglang-generate-logprobs.json',
      'sglang-generate-n.json',
      'sglang-openai-chat-meta_info.json',
      'sglang-openai-completions.json',
      'vllm-chat-logprobs.json',
      'vllm-completions-prompt_logprobs.json',
      'vllm-completions-tokens-logprobs.json',
      'vllm-error.json',
    ]);
    for (const name of names) {
      const ex = example(name);
      expect(typeof ex._source, name).toBe('string');
      expect(ex.request.method, name).toBe('POST');
      expect(typeof ex.response.status, name).toBe('number');
    }
  });
});

describe('vllm-completions-tokens-logprobs.json (n = 2, token-id mode)', () => {
  const ex = example('vllm-completions-tokens-logprobs.json');
  const prompt = ex.request.body['prompt'] as number[];

  it('parses both choices: ids, log-probs, finish reasons', () => {
    const [first, second] = readVllmCompletion(ex.response.body, 2);
    expect(first!.tokenIds).toEqual([19, 151645]);
    expect(first!.logProbs).toEqual([-0.0312, -0.0009]);
    expect(first!.finish).toBe('stop');
    expect(first!.text).toBe('4');
    expect(first!.promptTokenIds).toEqual(prompt);
    expect(second!.tokenIds).toEqual([17, 488, 220, 17, 284, 220, 19, 13]);
    expect(second!.logProbs).toEqual([-3.51, -0.22, -0.05, -0.31, -0.02, -0.11, -0.01, -0.4]);
    expect(second!.finish).toBe('length');
  });

  it('is the request the client sends, and the batch it gives back', async () => {
    const s = await replay(ex);
    const client = new OpenAISamplingClient({
      baseUrl: `${s.url}/v1`,
      model: 'Qwen/Qwen3-8B',
      apiKey: 'secret',
      topLogprobs: 1,
      maxRetries: 0,
    });
    const result = await client.sample({
      prompts: ragged([prompt]),
      samplesPerPrompt: 2,
      maxNewTokens: 8,
      temperature: 1,
      topP: 1,
      stopTokenIds: [151645],
      seed: 1234,
    });
    expect(s.requests).toHaveLength(1);
    const sent = s.requests[0]!;
    expect(sent.method).toBe(ex.request.method);
    expect(sent.url).toBe(ex.request.path);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.headers.authorization).toBe('Bearer secret');
    // top_k is sent explicitly (-1: off) so that the model's generation_config cannot set it.
    expectFields(sent.body as Record<string, unknown>, ex.request.body, { top_k: -1 });

    expect(result.batchSize).toBe(2);
    expect(result.seqLen).toBe(8);
    expect(Array.from(result.promptIndex)).toEqual([0, 0]);
    expect(Array.from(result.tokenIds)).toEqual([
      19, 151645, 0, 0, 0, 0, 0, 0, 17, 488, 220, 17, 284, 220, 19, 13,
    ]);
    expect(Array.from(result.responseMask)).toEqual([
      1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
    ]);
    expect(result.logProbs).toEqual(
      Float32Array.from([
        -0.0312, -0.0009, 0, 0, 0, 0, 0, 0, -3.51, -0.22, -0.05, -0.31, -0.02, -0.11, -0.01, -0.4,
      ]),
    );
    expect(Array.from(result.finished)).toEqual([1, 0]);
  });
});

describe('vllm-completions-prompt_logprobs.json (scoring)', () => {
  const ex = example('vllm-completions-prompt_logprobs.json');
  const ids = ex.request.body['prompt'] as number[];

  it('parses the prompt log-probs of every position after the first', () => {
    expect(readVllmPromptLogprobs(ex.response.body, ids, 1)).toEqual([
      -0.912, -2.31, -0.77, -0.41, -0.03, -1.6,
    ]);
  });

  it('is the request computeLogProbs sends, and its scores', async () => {
    const s = await replay(ex);
    const client = new OpenAISamplingClient({
      baseUrl: s.url,
      model: 'Qwen/Qwen3-8B',
      topLogprobs: 1,
      maxRetries: 0,
    });
    // Prompt = the first token; response = the other six, right-padded to T = 8.
    const response = ids.slice(1);
    const T = 8;
    const tokenIds = new Int32Array(T);
    tokenIds.set(response);
    const responseMask = new Uint8Array(T).fill(1, 0, response.length);
    const scores = await client.computeLogProbs({
      prompts: ragged([ids.slice(0, 1)]),
      batchSize: 1,
      seqLen: T,
      tokenIds,
      responseMask,
    });
    expect(s.requests).toHaveLength(1);
    expect(s.requests[0]!.url).toBe('/v1/completions');
    expectFields(s.requests[0]!.body as Record<string, unknown>, ex.request.body);
    expect(scores).toEqual(Float32Array.from([-0.912, -2.31, -0.77, -0.41, -0.03, -1.6, 0, 0]));
  });
});

describe('vllm-chat-logprobs.json', () => {
  it('parses the chat choice: token_ids, content log-probs, top-level prompt ids', () => {
    const ex = example('vllm-chat-logprobs.json');
    const [choice] = readChatCompletion(ex.response.body, 1);
    expect(choice!.tokenIds).toEqual([19, 151645]);
    expect(choice!.logProbs).toEqual([-0.0312, -0.0009]);
    expect(choice!.finish).toBe('stop');
    expect(choice!.text).toBe('4');
    expect(choice!.promptTokenIds).toHaveLength(15);
  });
});

describe('vllm-error.json', () => {
  it("surfaces vLLM's error body: message, type, param, status and endpoint; no retry on 400", async () => {
    const ex = example('vllm-error.json');
    const s = await replay(ex);
    const client = new OpenAISamplingClient({ baseUrl: s.url, maxRetries: 3, retryBaseDelayMs: 1 });
    const error = await expectHicraRejection(
      client.sample({
        prompts: ragged([[1, 2, 3]]),
        samplesPerPrompt: 1,
        maxNewTokens: 4,
        seed: 0,
      }),
    );
    expect(OpenAIHttpError.isInstance(error)).toBe(true);
    const e = error as OpenAIHttpError;
    expect(e.code).toBe(ErrorCode.InvalidArgument);
    expect(e.status).toBe(400);
    expect(e.param).toBe('logprobs');
    expect(e.serverType).toBe('BadRequestError');
    expect(e.serverMessage).toBe('`logprobs` must be a positive value or -1.');
    expect(e.attempts).toBe(1);
    expect(e.message).toContain(`POST ${s.url}/v1/completions`);
    expect(e.message).toContain('HTTP 400');
    expect(e.message).toContain('`logprobs` must be a positive value or -1.');
    expect(s.requests).toHaveLength(1);
  });
});

describe('sglang-generate-logprobs.json', () => {
  const ex = example('sglang-generate-logprobs.json');

  it('parses output ids and output log-probs', () => {
    const [result] = readSglangGenerate(ex.response.body, 1);
    expect(result!.tokenIds).toEqual([19, 151645]);
    expect(result!.logProbs).toEqual([-0.0312, -0.0009]);
    expect(result!.finish).toBe('stop');
  });

  it('is the request the client sends (exactly), and the batch it gives back', async () => {
    const s = await replay(ex);
    const client = new OpenAISamplingClient({
      baseUrl: s.url,
      flavor: 'sglang',
      topLogprobs: 2,
      maxRetries: 0,
    });
    const result = await client.sample({
      prompts: ragged([ex.request.body['input_ids'] as number[]]),
      samplesPerPrompt: 1,
      maxNewTokens: 256,
      temperature: 1,
      topP: 1,
      stopTokenIds: [151645],
      seed: 1234,
    });
    expect(s.requests[0]!.url).toBe('/generate');
    const sent = s.requests[0]!.body as Record<string, unknown>;
    expectFields(sent, ex.request.body);
    expectFields(
      sent['sampling_params'] as Record<string, unknown>,
      ex.request.body['sampling_params'] as Record<string, unknown>,
    );
    expect(result.seqLen).toBe(256);
    expect(Array.from(result.tokenIds.subarray(0, 3))).toEqual([19, 151645, 0]);
    expect(Array.from(result.logProbs.subarray(0, 2))).toEqual(
      Array.from(Float32Array.from([-0.0312, -0.0009])),
    );
    expect(Array.from(result.finished)).toEqual([1]);
  });
});

describe('sglang-generate-n.json', () => {
  const ex = example('sglang-generate-n.json');

  it('parses the array of samples (the stop token may be absent from output_ids)', () => {
    const results = readSglangGenerate(ex.response.body, 2);
    expect(results.map((r) => r.tokenIds)).toEqual([[220, 19], [3040]]);
    expect(results.map((r) => r.logProbs)).toEqual([[-0.2, -0.04], [-2.9]]);
    expect(results.map((r) => r.finish)).toEqual(['length', 'stop']);
  });

  it('is the request of sglangSampling "n", and the batch it gives back', async () => {
    const s = await replay(ex);
    const client = new OpenAISamplingClient({
      baseUrl: s.url,
      flavor: 'sglang',
      sglangSampling: 'n',
      maxRetries: 0,
    });
    const result = await client.sample({
      prompts: ragged([ex.request.body['input_ids'] as number[]]),
      samplesPerPrompt: 2,
      maxNewTokens: 4,
      temperature: 1,
      seed: 0,
    });
    const sent = s.requests[0]!.body as Record<string, unknown>;
    const { sampling_params: params, ...top } = ex.request.body;
    expectFields(
      Object.fromEntries(Object.entries(sent).filter(([k]) => k !== 'sampling_params')),
      top,
      { logprob_start_len: -1, top_logprobs_num: 0, return_text_in_logprobs: false, stream: false },
    );
    expectFields(
      sent['sampling_params'] as Record<string, unknown>,
      params as Record<string, unknown>,
      { top_p: 1, top_k: -1, sampling_seed: 0 },
    );
    expect(Array.from(result.tokenIds)).toEqual([220, 19, 0, 0, 3040, 0, 0, 0]);
    expect(Array.from(result.responseMask)).toEqual([1, 1, 0, 0, 1, 0, 0, 0]);
    expect(Array.from(result.finished)).toEqual([0, 1]);
  });

  it('in the default "batch" mode sends G copies of the prompt, seeded seed + j', () => {
    const body = sglangSampleBody(
      [1, 2],
      3,
      40,
      { maxNewTokens: 4, temperature: 0.7, topK: 0, topP: 1, stopTokenIds: [] },
      { topLogprobs: 0, sampling: 'batch' },
    );
    expect(body['input_ids']).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
    expect(
      (body['sampling_params'] as { sampling_seed: number }[]).map((p) => p.sampling_seed),
    ).toEqual([40, 41, 42]);
  });
});

describe('sglang-openai-completions.json (SGLang OpenAI layer)', () => {
  const ex = example('sglang-openai-completions.json');

  it("the vllm flavour with tokenIdMode return_token_ids sends the example's request and reads its answer", async () => {
    const s = await replay(ex);
    const client = new OpenAISamplingClient({
      baseUrl: s.url,
      model: 'default',
      tokenIdMode: 'return_token_ids',
      topLogprobs: 1,
      maxRetries: 0,
    });
    const result = await client.sample({
      prompts: ragged([ex.request.body['prompt'] as number[]]),
      samplesPerPrompt: 1,
      maxNewTokens: 8,
      temperature: 1,
      stopTokenIds: [151645],
      seed: 3,
    });
    expectFields(s.requests[0]!.body as Record<string, unknown>, ex.request.body, {
      top_p: 1,
      top_k: -1,
    });
    expect(Array.from(result.tokenIds.subarray(0, 3))).toEqual([220, 19, 0]);
    expect(Array.from(result.logProbs.subarray(0, 2))).toEqual(
      Array.from(Float32Array.from([-0.2, -0.04])),
    );
    expect(Array.from(result.finished)).toEqual([1]);
  });
});

describe('sglang-openai-chat-meta_info.json', () => {
  it('reads every generated token from meta_info.output_token_logprobs', () => {
    const ex = example('sglang-openai-chat-meta_info.json');
    const [choice] = readChatCompletion(ex.response.body, 1);
    expect(choice!.tokenIds).toEqual([19, 151645]);
    expect(choice!.logProbs).toEqual([-0.0312, -0.0009]);
    expect(choice!.promptTokenIds).toHaveLength(15);
  });
});

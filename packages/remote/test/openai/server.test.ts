/**
 * createOpenAICompletionsServer over raw HTTP: vLLM's response shape, and a 4xx JSON error
 * naming the field for every kind of bad input, after each of which the server still serves.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAICompletionsServer, type OpenAICompletionsServer } from '../../src/index.js';
import { readVllmCompletion } from '../../src/openai/wire.js';
import { BigramSampler, CharTokenizer, EOS, ragged, VOCAB } from './fakes.js';

const tokenizer = new CharTokenizer();
const sampler = new BigramSampler();
const direct = new BigramSampler();
const KEY = 'sk-test';
let server: OpenAICompletionsServer;

beforeAll(async () => {
  server = await createOpenAICompletionsServer({
    sampler,
    tokenizer,
    model: 'bigram',
    apiKey: KEY,
    bodyLimit: 4096,
    contextLength: 64,
    maxSequencesPerRequest: 32,
  });
});

afterAll(async () => {
  await server.close();
});

interface Sent {
  readonly method?: string;
  readonly path?: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

async function send(sent: Sent): Promise<{ status: number; type: string | null; body: unknown }> {
  const response = await fetch(`${server.url}${sent.path ?? '/v1/completions'}`, {
    method: sent.method ?? 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${KEY}`,
      ...sent.headers,
    },
    ...(sent.body === undefined ? {} : { body: sent.body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: text.length > 0 ? JSON.parse(text) : undefined,
  };
}

const json = (body: unknown): string => JSON.stringify(body);
const valid = { prompt: [2, 3, 4], max_tokens: 4, seed: 1, temperature: 0.5 };

describe('responses', () => {
  it("have vLLM's shape: every key of the example, null fields included", async () => {
    const example = JSON.parse(
      readFileSync(
        new URL('../data/openai/vllm-completions-tokens-logprobs.json', import.meta.url),
        'utf8',
      ),
    );
    const { status, body } = await send({
      body: json({
        model: 'bigram',
        prompt: [
          [2, 3],
          [4, 5, 6],
        ],
        n: 2,
        max_tokens: 6,
        seed: 9,
        stop_token_ids: [EOS],
        logprobs: 0,
        prompt_logprobs: 0,
        return_token_ids: true,
        return_tokens_as_token_ids: true,
      }),
    });
    expect(status).toBe(200);
    const response = body as Record<string, unknown> & {
      choices: Record<string, unknown>[];
      usage: Record<string, unknown>;
    };
    expect(Object.keys(response).sort()).toEqual(Object.keys(example.response.body).sort());
    expect(response['object']).toBe('text_completion');
    expect(response['model']).toBe('bigram');
    expect(response['id']).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(response.choices.map((c) => c['index'])).toEqual([0, 1, 2, 3]);
    for (const choice of response.choices)
      expect(Object.keys(choice).sort()).toEqual(
        Object.keys(example.response.body.choices[0]).sort(),
      );

    const expected = await direct.sample({
      prompts: ragged([
        [2, 3],
        [4, 5, 6],
      ]),
      samplesPerPrompt: 2,
      maxNewTokens: 6,
      stopTokenIds: [EOS],
      seed: 9,
    });
    let completion = 0;
    response.choices.forEach((choice, r) => {
      const ids = choice['token_ids'] as number[];
      completion += ids.length;
      expect(ids).toEqual(Array.from(expected.tokenIds.subarray(r * 6, r * 6 + ids.length)));
      const logprobs = choice['logprobs'] as {
        tokens: string[];
        token_logprobs: number[];
        text_offset: number[];
        top_logprobs: Record<string, number>[];
      };
      expect(logprobs.tokens).toEqual(ids.map((id) => `token_id:${id}`));
      expect(Float32Array.from(logprobs.token_logprobs)).toEqual(
        expected.logProbs.subarray(r * 6, r * 6 + ids.length),
      );
      // text_offset advances by the length of each rendered token, as vLLM's does.
      let offset = 0;
      expect(logprobs.text_offset).toEqual(
        logprobs.tokens.map((token) => {
          const at = offset;
          offset += token.length;
          return at;
        }),
      );
      expect(logprobs.top_logprobs).toEqual(
        logprobs.tokens.map((token, k) => ({ [token]: logprobs.token_logprobs[k] })),
      );
      expect(choice['finish_reason']).toBe(expected.finished[r] === 1 ? 'stop' : 'length');
      const prompt = r < 2 ? [2, 3] : [4, 5, 6];
      expect(choice['prompt_token_ids']).toEqual(prompt);
      const promptLogprobs = choice['prompt_logprobs'] as (Record<
        string,
        { logprob: number; rank: null; decoded_token: string }
      > | null)[];
      expect(promptLogprobs).toHaveLength(prompt.length);
      expect(promptLogprobs[0]).toBeNull();
      for (let k = 1; k < prompt.length; k++) {
        const entry = promptLogprobs[k]![String(prompt[k])]!;
        expect(entry.logprob).toBe(Math.fround(sampler.logSoftmax(prompt[k - 1]!, 1)[prompt[k]!]!));
        expect(entry.decoded_token).toBe(tokenizer.decode([prompt[k]!]));
      }
    });
    expect(response.usage).toEqual({
      prompt_tokens: 5,
      completion_tokens: completion,
      total_tokens: 5 + completion,
      prompt_tokens_details: null,
    });
    // The client's reader reads it back.
    expect(readVllmCompletion(body, 4).map((s) => s.tokenIds.length)).toEqual(
      response.choices.map((c) => (c['token_ids'] as number[]).length),
    );
  });

  it('text prompts, decoded tokens, stop_reason of a stop token, the text without it', async () => {
    const first = await send({
      body: json({ prompt: 'hello', max_tokens: 1, temperature: 0, return_token_ids: true }),
    });
    const greedy = (first.body as { choices: { token_ids: number[] }[] }).choices[0]!.token_ids[0]!;
    expect(greedy).not.toBe(EOS);
    const { status, body } = await send({
      body: json({
        prompt: 'hello',
        max_tokens: 5,
        temperature: 0,
        stop_token_ids: [greedy],
        logprobs: 0,
        return_token_ids: true,
      }),
    });
    expect(status).toBe(200);
    const choice = (body as { choices: Record<string, unknown>[] }).choices[0]!;
    expect(choice['prompt_token_ids']).toEqual(
      Array.from(tokenizer.encode('hello', { addSpecialTokens: true }).ids),
    );
    expect(choice['token_ids']).toEqual([greedy]);
    expect(choice['finish_reason']).toBe('stop');
    expect(choice['stop_reason']).toBe(greedy);
    expect(choice['text']).toBe('');
    expect((choice['logprobs'] as { tokens: string[] }).tokens).toEqual([
      tokenizer.decode([greedy]),
    ]);
    expect(choice['prompt_logprobs']).toBeNull();
  });

  it('without return_token_ids and logprobs, those fields are null', async () => {
    const { body } = await send({ body: json(valid) });
    const choice = (body as { choices: Record<string, unknown>[] }).choices[0]!;
    expect(choice['token_ids']).toBeNull();
    expect(choice['prompt_token_ids']).toBeNull();
    expect(choice['logprobs']).toBeNull();
    expect(typeof choice['text']).toBe('string');
  });

  it('accepts the key in an X-API-Key header too; /health needs none', async () => {
    const response = await fetch(`${server.url}/v1/models`, { headers: { 'x-api-key': KEY } });
    expect(response.status).toBe(200);
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('serves /v1/models and /health', async () => {
    const models = await send({ method: 'GET', path: '/v1/models' });
    expect(models.status).toBe(200);
    expect(models.body).toMatchObject({
      object: 'list',
      data: [{ id: 'bigram', object: 'model', owned_by: 'hicra', max_model_len: 64 }],
    });
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
  });
});

describe('bad input', () => {
  const cases: readonly [string, Sent, number, string | null, string][] = [
    // Refusals of the shared HTTP base (src/http/server.ts) before the route: its messages, and
    // `param` null for the body as a whole, the header's name for headers.
    ['malformed JSON', { body: '{"prompt": [1, 2' }, 400, null, 'malformed JSON'],
    ['an empty body', { body: '' }, 400, null, 'body is empty'],
    ['a JSON array body', { body: '[1, 2]' }, 400, 'body', 'must be object'],
    [
      'an unknown field',
      { body: json({ ...valid, temprature: 1 }) },
      400,
      'temprature',
      'unknown field "temprature"',
    ],
    ['a missing prompt', { body: json({ max_tokens: 3 }) }, 400, 'prompt', 'prompt" is required'],
    [
      'max_tokens as a string',
      { body: json({ ...valid, max_tokens: '4' }) },
      400,
      'max_tokens',
      'max_tokens must be integer or null',
    ],
    ['a fractional n', { body: json({ ...valid, n: 1.5 }) }, 400, 'n', 'n must be integer'],
    ['n = 0', { body: json({ ...valid, n: 0 }) }, 400, 'n', 'n must be >= 1'],
    ['too many samples', { body: json({ ...valid, n: 33 }) }, 400, 'n', 'limit 32'],
    ['temperature < 0', { body: json({ ...valid, temperature: -1 }) }, 400, 'temperature', '>= 0'],
    ['top_p = 0', { body: json({ ...valid, top_p: 0 }) }, 400, 'top_p', 'top_p must be > 0'],
    ['top_k = -2', { body: json({ ...valid, top_k: -2 }) }, 400, 'top_k', 'top_k must be >= -1'],
    ['a negative seed', { body: json({ ...valid, seed: -3 }) }, 400, 'seed', 'seed must be >= 0'],
    ['prompt as a number', { body: json({ prompt: 7 }) }, 400, 'prompt', 'prompt must be'],
    ['a negative token id', { body: json({ prompt: [2, -1] }) }, 400, 'prompt', 'prompt must be'],
    [
      'a token id outside the vocabulary',
      { body: json({ prompt: [2, 9999] }) },
      400,
      'prompt',
      `prompt[1] = 9999 is outside the vocabulary [0, ${VOCAB})`,
    ],
    [
      'a nested token id outside the vocabulary',
      { body: json({ prompt: [[2], [3, VOCAB]] }) },
      400,
      'prompt',
      `prompt[1][1] = ${VOCAB} is outside the vocabulary`,
    ],
    [
      'a text the tokenizer cannot encode',
      { body: json({ prompt: 'héllo' }) },
      400,
      'prompt',
      'prompt 0 cannot be tokenized',
    ],
    [
      'a stop token outside the vocabulary',
      { body: json({ ...valid, stop_token_ids: [VOCAB + 1] }) },
      400,
      'stop_token_ids',
      'outside the vocabulary',
    ],
    [
      'logprobs = 2',
      { body: json({ ...valid, logprobs: 2 }) },
      400,
      'logprobs',
      'must be 0 or null',
    ],
    [
      'prompt_logprobs = -1',
      { body: json({ ...valid, prompt_logprobs: -1 }) },
      400,
      'prompt_logprobs',
      'must be 0 or null',
    ],
    ['stream = true', { body: json({ ...valid, stream: true }) }, 400, 'stream', 'not supported'],
    [
      'a prompt past the context length',
      { body: json({ ...valid, max_tokens: 62 }) },
      400,
      'max_tokens',
      'maximum context length is 64',
    ],
    [
      'another model',
      { body: json({ ...valid, model: 'gpt-4' }) },
      404,
      'model',
      '"gpt-4" does not exist',
    ],
    [
      'an oversized body',
      { body: json({ prompt: Array.from({ length: 3000 }, () => 2) }) },
      413,
      null,
      "larger than this server's limit of 4096 bytes",
    ],
    [
      'a non-JSON content type',
      { body: json(valid), headers: { 'content-type': 'text/plain' } },
      415,
      'Content-Type',
      'application/json bodies only',
    ],
    [
      'no API key',
      { body: json(valid), headers: { authorization: '' } },
      401,
      'X-API-Key',
      'missing API key',
    ],
    [
      'a wrong API key',
      { body: json(valid), headers: { authorization: 'Bearer sk-wrong' } },
      401,
      'X-API-Key',
      'API key is not accepted',
    ],
    [
      'an unknown route',
      { path: '/v1/chat/completions', body: json(valid) },
      404,
      null,
      'no route',
    ],
  ];

  for (const [name, sent, status, param, message] of cases) {
    it(`${name}: ${status} naming ${param ?? 'the route'}, then a valid request is served`, async () => {
      const headers = { ...sent.headers };
      // An empty authorization header means "send none".
      const init: Sent =
        headers.authorization === ''
          ? {
              ...sent,
              headers: Object.fromEntries(
                Object.entries(headers).filter(([k]) => k !== 'authorization'),
              ),
            }
          : sent;
      const refused =
        headers.authorization === ''
          ? await fetch(`${server.url}${init.path ?? '/v1/completions'}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: init.body!,
            }).then(async (r) => ({
              status: r.status,
              type: r.headers.get('content-type'),
              body: JSON.parse(await r.text()),
            }))
          : await send(init);
      expect(refused.status).toBe(status);
      expect(refused.type).toMatch(/^application\/json/);
      const error = (refused.body as { error: Record<string, unknown> }).error;
      expect(error['code']).toBe(status);
      expect(error['param']).toBe(param);
      expect(error['type']).toMatch(/^[A-Za-z]+Error$/);
      expect(error['message']).toContain(message);
      const ok = await send({ body: json(valid) });
      expect(ok.status).toBe(200);
    });
  }
});

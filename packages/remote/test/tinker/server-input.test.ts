/**
 * Bad input to the Tinker server (and the HTTP base under it): each case is a 4xx JSON error
 * naming the field, and the request after it is still served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTinkerServer,
  type HttpRequestLogEntry,
  type TinkerServer,
} from '../../src/index.js';
import { RecordingEngine, RecordingSampler } from './fakes.js';

type Json = Record<string, unknown>;

const KEY = 'tml-test-key';
const VOCAB = 1000;

let server: TinkerServer;
let url: string;
let modelId: string;
const engine = new RecordingEngine({ vocabSize: VOCAB });
const log: HttpRequestLogEntry[] = [];

async function send(
  path: string,
  body: unknown,
  options: { headers?: Record<string, string>; raw?: string; method?: string } = {},
): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${url}${path}`, {
    method: options.method ?? 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, ...options.headers },
    body: options.raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Json) : {} };
}

/** A valid request: the server must still serve it after each bad one. */
async function stillServes(): Promise<void> {
  const info = await send('/api/v1/get_info', { model_id: modelId, type: 'get_info' });
  expect(info.status).toBe(200);
  expect(info.body.model_id).toBe(modelId);
}

const datum = (overrides: Json = {}) => ({
  loss_fn_inputs: {
    target_tokens: { data: [2, 3, 4], dtype: 'int64', shape: [3] },
    weights: { data: [0, 1, 1], dtype: 'float32', shape: [3] },
  },
  model_input: { chunks: [{ tokens: [1, 2, 3], type: 'encoded_text' }] },
  ...overrides,
});

const forwardBackward = (input: Json = {}, top: Json = {}) => ({
  forward_backward_input: { data: [datum()], loss_fn: 'cross_entropy', ...input },
  model_id: modelId,
  seq_id: 1,
  ...top,
});

beforeAll(async () => {
  server = await createTinkerServer({
    training: engine,
    sampling: new RecordingSampler([]),
    apiKey: KEY,
    bodyLimitBytes: 20_000,
    longPollMs: 200,
    onRequestLog: (entry) => log.push(entry),
  });
  url = (await server.listen()).url;
  const session = await send('/api/v1/create_session', { tags: [], sdk_version: '0.24.1' });
  const created = await send('/api/v1/create_model', {
    session_id: session.body.session_id,
    model_seq_id: 0,
    base_model: 'Qwen/Qwen3-8B',
  });
  modelId = created.body.model_id as string;
});

afterAll(async () => {
  await server?.close();
});

describe('the server refuses bad input with a 4xx naming the field, and keeps serving', () => {
  const cases: {
    name: string;
    path?: string;
    body?: unknown | (() => unknown);
    raw?: string;
    headers?: Record<string, string>;
    status: number;
    field: string | null;
    message: RegExp;
  }[] = [
    {
      name: 'malformed JSON',
      raw: '{"model_id": "x", "type": ',
      path: '/api/v1/get_info',
      status: 400,
      field: null,
      message: /malformed JSON: .*JSON/,
    },
    {
      name: 'an empty body',
      raw: '',
      path: '/api/v1/get_info',
      status: 400,
      field: null,
      message: /body is empty/,
    },
    {
      name: 'an unknown top-level field',
      body: () => forwardBackward({}, { sneaky: true }),
      status: 400,
      field: 'sneaky',
      message: /unknown field "sneaky"/,
    },
    {
      name: 'an unknown nested field',
      body: () => forwardBackward({ data: [datum({ extra: 1 })] }),
      status: 400,
      field: 'forward_backward_input.data[0].extra',
      message: /forward_backward_input\.data\[0\]\.extra: unknown field "extra"/,
    },
    {
      name: 'a wrong type (seq_id as a string)',
      body: () => forwardBackward({}, { seq_id: '1' }),
      status: 400,
      field: 'seq_id',
      message: /seq_id must be an integer, got a string/,
    },
    {
      name: 'a wrong type deep inside (a token id as a float)',
      body: () =>
        forwardBackward({
          data: [
            datum({ model_input: { chunks: [{ tokens: [1, 2.5, 3], type: 'encoded_text' }] } }),
          ],
        }),
      status: 400,
      field: 'forward_backward_input.data[0].model_input.chunks[0].tokens[1]',
      message: /tokens\[1\] must be an integer/,
    },
    {
      name: 'a missing required field',
      body: { forward_backward_input: { data: [datum()], loss_fn: 'cross_entropy' } },
      status: 400,
      field: 'model_id',
      message: /model_id: required field missing/,
    },
    {
      name: 'mismatched array lengths (target_tokens shorter than model_input)',
      body: () =>
        forwardBackward({
          data: [
            datum({
              loss_fn_inputs: { target_tokens: { data: [2, 3], dtype: 'int64' } },
            }),
          ],
        }),
      status: 400,
      field: 'forward_backward_input.data[0].loss_fn_inputs.target_tokens.data',
      message: /has 2 values, but model_input has 3 tokens/,
    },
    {
      name: 'a shape that disagrees with the model input',
      body: () =>
        forwardBackward({
          data: [
            datum({
              loss_fn_inputs: { target_tokens: { data: [2, 3, 4], dtype: 'int64', shape: [1, 3] } },
            }),
          ],
        }),
      status: 400,
      field: 'forward_backward_input.data[0].loss_fn_inputs.target_tokens.shape',
      message: /every loss_fn_inputs tensor is \[N\]/,
    },
    {
      name: 'a token id outside the vocabulary',
      body: () =>
        forwardBackward({
          data: [
            datum({
              loss_fn_inputs: { target_tokens: { data: [2, VOCAB, 4], dtype: 'int64' } },
            }),
          ],
        }),
      status: 400,
      field: 'forward_backward_input.data[0].loss_fn_inputs.target_tokens.data[1]',
      message: /targetTokens\[1\] = 1000 is outside the vocabulary \[0, 1000\)/,
    },
    {
      name: 'a negative token id',
      body: () =>
        forwardBackward({
          data: [
            datum({ model_input: { chunks: [{ tokens: [1, -2, 3], type: 'encoded_text' }] } }),
          ],
        }),
      status: 400,
      field: 'forward_backward_input.data[0].model_input.chunks[0].tokens[1]',
      message: /out of range/,
    },
    {
      name: 'a wrong dtype',
      body: () =>
        forwardBackward({
          data: [
            datum({
              loss_fn_inputs: { target_tokens: { data: [2, 3, 4], dtype: 'float32' } },
            }),
          ],
        }),
      status: 400,
      field: 'forward_backward_input.data[0].loss_fn_inputs.target_tokens.dtype',
      message: /dtype must be "int64"/,
    },
    {
      name: 'an input the loss needs but is absent',
      body: () => forwardBackward({ loss_fn: 'importance_sampling' }),
      status: 400,
      field: 'forward_backward_input.data[0].loss_fn_inputs.logprobs',
      message: /logProbs is required by this loss but absent/,
    },
    {
      name: 'an unknown loss',
      body: () => forwardBackward({ loss_fn: 'custom_from_config' }),
      status: 400,
      field: 'forward_backward_input.loss_fn',
      message: /must be one of "cross_entropy", .*"gspo"/,
    },
    {
      name: 'a loss the engine does not offer',
      body: () => forwardBackward({ loss_fn: 'gspo' }),
      status: 400,
      field: 'forward_backward_input.loss_fn',
      message: /does not offer "gspo"/,
    },
    {
      name: 'an unknown loss_fn_config key',
      body: () => forwardBackward({ loss_fn: 'ppo', loss_fn_config: { clip_ratio: 0.2 } }),
      status: 400,
      field: 'forward_backward_input.loss_fn_config.clip_ratio',
      message: /unknown field "clip_ratio"/,
    },
    {
      name: 'a learning rate out of range',
      path: '/api/v1/optim_step',
      body: { adam_params: { learning_rate: 0 }, model_id: 'm', type: 'optim_step' },
      status: 400,
      field: 'adam_params.learning_rate',
      message: /adam_params\.learning_rate = 0 is out of range/,
    },
    {
      name: 'a wrong discriminator',
      path: '/api/v1/optim_step',
      body: { adam_params: { learning_rate: 1e-4 }, model_id: 'm', type: 'optim' },
      status: 400,
      field: 'type',
      message: /type must be "optim_step", got "optim"/,
    },
    {
      name: 'an unknown model id',
      path: '/api/v1/optim_step',
      body: { adam_params: { learning_rate: 1e-4 }, model_id: 'nobody:train:0' },
      status: 404,
      field: 'model_id',
      message: /no model "nobody:train:0"/,
    },
    {
      name: 'a string stop (no tokenizer here)',
      path: '/api/v1/asample',
      body: {
        prompt: { chunks: [{ tokens: [1, 2], type: 'encoded_text' }] },
        sampling_params: { max_tokens: 4, stop: ['\n'], temperature: 1, top_k: -1, top_p: 1 },
        base_model: 'Qwen/Qwen3-8B',
      },
      status: 400,
      field: 'sampling_params.stop[0]',
      message: /stops on token ids only/,
    },
    {
      name: 'an image chunk',
      path: '/api/v1/asample',
      body: {
        prompt: { chunks: [{ data: 'AAAA', format: 'png', type: 'image' }] },
        sampling_params: { max_tokens: 4, temperature: 1, top_k: -1, top_p: 1 },
        base_model: 'Qwen/Qwen3-8B',
      },
      status: 400,
      field: 'prompt.chunks[0].type',
      message: /serves token input only/,
    },
    {
      name: 'an oversized body',
      raw: JSON.stringify(
        forwardBackward({
          data: Array.from({ length: 200 }, () => datum()),
        }),
      ),
      status: 413,
      field: null,
      message: /larger than this server's limit of 20000 bytes/,
    },
    {
      name: 'another content type (a protobuf request of SDK 0.25)',
      raw: 'binary',
      headers: { 'content-type': 'application/x-protobuf' },
      status: 415,
      field: 'Content-Type',
      message: /application\/x-protobuf.*application\/json bodies only/,
    },
    {
      name: 'a missing API key',
      body: () => forwardBackward(),
      headers: { 'x-api-key': '' },
      status: 401,
      field: 'X-API-Key',
      message: /missing API key/,
    },
    {
      name: 'a wrong API key',
      body: () => forwardBackward(),
      headers: { 'x-api-key': 'tml-someone-else' },
      status: 401,
      field: 'X-API-Key',
      message: /not accepted/,
    },
    {
      name: 'a "__proto__" key',
      path: '/api/v1/get_info',
      raw: '{"model_id": "m", "__proto__": {"polluted": true}}',
      status: 400,
      field: null,
      message: /__proto__/,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.status}`, async () => {
      const before = engine.calls.length;
      const body = typeof c.body === 'function' ? (c.body as () => unknown)() : c.body;
      const answer = await send(c.path ?? '/api/v1/forward_backward', body, {
        ...(c.raw === undefined ? {} : { raw: c.raw }),
        ...(c.headers === undefined ? {} : { headers: c.headers }),
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(c.status);
      expect(answer.body.detail).toMatch(c.message);
      expect(answer.body.field).toBe(c.field);
      expect(engine.calls.length).toBe(before);
      await stillServes();
    });
  }

  it('a validation refusal carries the typed error of @hicra/spec', async () => {
    const answer = await send(
      '/api/v1/forward_backward',
      forwardBackward({ loss_fn: 'importance_sampling' }),
    );
    expect(answer.body.hicra_error).toMatchObject({
      code: 'HICRA_MISSING_INPUT',
      details: { datum: 0, field: 'logProbs' },
    });
  });

  it('accepts the key as Authorization: Bearer, and Tinker-style keys in either header', async () => {
    const bearer = await send(
      '/api/v1/get_info',
      { model_id: modelId },
      { headers: { 'x-api-key': '', authorization: `Bearer ${KEY}` } },
    );
    expect(bearer.status).toBe(200);
    const health = await fetch(`${url}/api/v1/healthz`);
    expect(health.status).toBe(200);
  });

  it('logs each request with its status and, for errors, the message', async () => {
    await send('/api/v1/get_info', { model_id: 'nobody' });
    const entry = log.findLast((e) => e.path === '/api/v1/get_info' && e.status === 404);
    expect(entry).toMatchObject({ method: 'POST', status: 404 });
    expect(entry!.error).toMatch(/no model "nobody"/);
    expect(entry!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(entry!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('binds to 127.0.0.1 by default', () => {
    expect(server.address?.host).toBe('127.0.0.1');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('replays of a request with the same idempotency key get the first answer, and the engine runs once', async () => {
    const headers = { 'x-idempotency-key': 'replay-1' };
    const first = await send('/api/v1/forward_backward', forwardBackward(), { headers });
    const second = await send('/api/v1/forward_backward', forwardBackward(), { headers });
    expect(first.status).toBe(200);
    expect(second.body.request_id).toBe(first.body.request_id);
    const third = await send('/api/v1/forward_backward', forwardBackward(), {
      headers: { 'x-idempotency-key': 'replay-2' },
    });
    expect(third.body.request_id).not.toBe(first.body.request_id);
    // Wait for both futures; count the engine's forwardBackward calls.
    for (const id of [first.body.request_id, third.body.request_id]) {
      for (let i = 0; i < 20; i++) {
        const polled = await send('/api/v1/retrieve_future', { request_id: id });
        if (polled.body.type !== 'try_again') break;
      }
    }
    const runs = engine.calls.filter((c) => c.method === 'forwardBackward').length;
    expect(runs).toBe(2);
  });
});

describe('closing', () => {
  it('close() ends pending long polls at once and resolves', async () => {
    const slow = new RecordingEngine({ vocabSize: VOCAB });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    slow.saveState = async (name: string) => {
      await gate;
      return name;
    };
    const other = await createTinkerServer({ training: slow, longPollMs: 10_000 });
    const base = (await other.listen()).url;
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }));
    const session = await post('/api/v1/create_session', {});
    const model = await post('/api/v1/create_model', {
      session_id: session.body.session_id,
      base_model: 'Qwen/Qwen3-8B',
    });
    const saving = await post('/api/v1/save_weights', {
      model_id: model.body.model_id,
      path: 'slow',
    });
    const poll = post('/api/v1/retrieve_future', { request_id: saving.body.request_id });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    await other.close();
    expect(performance.now() - started).toBeLessThan(2000);
    const answered = await poll;
    expect(answered.body.type).toBe('try_again');
    release();
  });
});

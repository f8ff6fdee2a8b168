/**
 * The protocol's example files (test/data/tinker, copied unchanged from the shared protocol
 * notes) against this package: the requests `TinkerTrainingClient` / `TinkerSamplingClient`
 * send, and the responses `createTinkerServer` returns, field by field (names, nesting, types).
 */
import { readFileSync } from 'node:fs';
import type { DatumV1 } from '@hicra/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTinkerServer, type TinkerServer, TinkerTrainingClient } from '../../src/index.js';
import { RecordingEngine, RecordingSampler } from './fakes.js';
import { shapeDifferences } from './shape.js';

type Json = Record<string, unknown>;

function example(name: string): Json {
  return JSON.parse(
    readFileSync(new URL(`../data/tinker/tinker-${name}.json`, import.meta.url), 'utf8'),
  ) as Json;
}

const get = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)?.[k], value);

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** A `fetch` that records what the client sends, then sends it. */
function recordingFetch(sent: Sent[]): typeof fetch {
  return async (input, init) => {
    const url = new URL(String(input));
    sent.push({
      method: init?.method ?? 'GET',
      path: url.pathname,
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    });
    return fetch(input, init);
  };
}

/** The example forward_backward / forward datum as a DatumV1. */
function datumOf(body: unknown, input: string): DatumV1 {
  const d = get(body, input, 'data', 0) as Json;
  const inputs = d.loss_fn_inputs as Record<string, { data: number[] }>;
  const tokens = get(d, 'model_input', 'chunks', 0, 'tokens') as number[];
  return {
    inputTokens: Int32Array.from(tokens),
    targetTokens: Int32Array.from(inputs.target_tokens!.data),
    ...(inputs.weights ? { weights: Float32Array.from(inputs.weights.data) } : {}),
    ...(inputs.logprobs ? { logProbs: Float32Array.from(inputs.logprobs.data) } : {}),
    ...(inputs.advantages ? { advantages: Float32Array.from(inputs.advantages.data) } : {}),
  };
}

function expectSameHeaders(sent: Sent, exampleHeaders: unknown): void {
  const names = Object.keys(exampleHeaders as Json).map((h) => h.toLowerCase());
  for (const name of names) {
    if (name === 'user-agent') continue; // ours names this package
    expect(sent.headers, `header ${name} of ${sent.path}`).toHaveProperty(name);
  }
}

describe('requests the client sends, against the examples', () => {
  const sent: Sent[] = [];
  let server: TinkerServer;
  const engine = new RecordingEngine();

  beforeAll(async () => {
    server = await createTinkerServer({
      training: engine,
      apiKey: 'tml-REDACTED',
      advertiseCapabilities: false,
      longPollMs: 1000,
    });
    const { url } = await server.listen();
    const fb = example('forward_backward');
    const fwd = example('forward');
    const client = await TinkerTrainingClient.create({
      baseUrl: url,
      apiKey: 'tml-REDACTED',
      fetch: recordingFetch(sent),
      heartbeatIntervalMs: 0,
      tags: ['exp-gsm8k'],
      userMetadata: { owner: 'ts-team' },
      baseModel: 'Qwen/Qwen3-8B',
      modelMetadata: { run: 'grpo-1' },
      loraRank: 32,
      vocabSize: 152_000,
    });
    await client.forwardBackward([datumOf(get(fb, 'request', 'body'), 'forward_backward_input')], {
      name: 'importance-sampling',
    });
    await client.forward([datumOf(get(fwd, 'request', 'body'), 'forward_input')], {
      name: 'cross-entropy',
    });
    await client.optimStep({ learningRate: 4e-5, eps: 1e-8 });
    const path = await client.saveState('step_000100');
    await client.loadState(path);
    const sampler = await client.saveWeightsForSampler('ephemeral');
    const prompt = get(example('asample'), 'request', 'body', 'prompt', 'chunks', 0, 'tokens');
    const tokenIds = Int32Array.from(prompt as number[]);
    await sampler.sample({
      prompts: { tokenIds, offsets: Int32Array.of(0, tokenIds.length) },
      samplesPerPrompt: 2,
      maxNewTokens: 256,
      seed: 1234,
      stopTokenIds: [151645],
    });
    const named = await TinkerTrainingClient.create({
      session: client.session,
      modelId: client.modelId,
      baseModel: 'Qwen/Qwen3-8B',
      namedSamplerWeights: true,
      vocabSize: 152_000,
    });
    await named.saveWeightsForSampler('step_000100');
    await client.session.heartbeat();
    await client.unload();
  });

  afterAll(async () => {
    await server?.close();
  });

  const first = (path: string, where?: (s: Sent) => boolean) => {
    const found = sent.find((s) => s.path === path && (where?.(s) ?? true));
    expect(found, `a request to ${path}`).toBeDefined();
    return found!;
  };

  const cases: [string, string, string[]][] = [
    ['client_config', '/api/v1/client/config', ['request']],
    ['create_session', '/api/v1/create_session', ['request']],
    ['create_model', '/api/v1/create_model', ['request']],
    ['get_info', '/api/v1/get_info', ['request']],
    ['forward_backward', '/api/v1/forward_backward', ['request']],
    ['forward', '/api/v1/forward', ['request']],
    ['optim_step', '/api/v1/optim_step', ['request']],
    ['save_weights', '/api/v1/save_weights', ['request']],
    ['load_weights', '/api/v1/load_weights', ['request']],
    ['create_sampling_session', '/api/v1/create_sampling_session', ['request']],
    ['asample', '/api/v1/asample', ['request']],
    ['retrieve_future', '/api/v1/retrieve_future', ['request']],
    ['session_heartbeat', '/api/v1/session_heartbeat', ['request']],
    ['unload_model', '/api/v1/unload_model', ['request']],
  ];
  for (const [name, path, at] of cases) {
    it(`${name}: the body has the example's fields and types, the headers its names`, () => {
      const request = get(example(name), ...at) as Json;
      const actual = first(path);
      expect(actual.method).toBe(request.method);
      expect(shapeDifferences(actual.body, request.body)).toEqual([]);
      expectSameHeaders(actual, request.headers);
    });
  }

  it('save_weights_for_sampler: both forms (ephemeral and named) as in the example', () => {
    const file = example('save_weights_for_sampler');
    const ephemeral = first(
      '/api/v1/save_weights_for_sampler',
      (s) => (s.body as Json).sampling_session_seq_id !== undefined,
    );
    const named = first(
      '/api/v1/save_weights_for_sampler',
      (s) => (s.body as Json).path !== undefined,
    );
    expect(shapeDifferences(ephemeral.body, get(file, 'request_ephemeral', 'body'))).toEqual([]);
    expect(shapeDifferences(named.body, get(file, 'request_named', 'body'))).toEqual([]);
    expectSameHeaders(named, get(file, 'request_named', 'headers'));
  });

  it('the values follow the protocol: seq_id from 1 in call order, ids from the server, int64/float32 dtypes', () => {
    const training = sent.filter((s) =>
      [
        '/api/v1/forward_backward',
        '/api/v1/forward',
        '/api/v1/optim_step',
        '/api/v1/save_weights',
        '/api/v1/load_weights',
        '/api/v1/save_weights_for_sampler',
      ].includes(s.path),
    );
    // The first client's requests number 1..6; the second client (same model) starts again.
    expect(training.slice(0, 6).map((s) => (s.body as Json).seq_id)).toEqual([1, 2, 3, 4, 5, 6]);
    const fb = first('/api/v1/forward_backward').body;
    expect(get(fb, 'forward_backward_input', 'loss_fn')).toBe('importance_sampling');
    expect(
      get(fb, 'forward_backward_input', 'data', 0, 'loss_fn_inputs', 'target_tokens', 'dtype'),
    ).toBe('int64');
    expect(
      get(fb, 'forward_backward_input', 'data', 0, 'loss_fn_inputs', 'advantages', 'dtype'),
    ).toBe('float32');
    // The example's datum, value for value: typed arrays in, the same JSON out.
    expect(get(fb, 'forward_backward_input', 'data')).toEqual(
      get(example('forward_backward'), 'request', 'body', 'forward_backward_input', 'data'),
    );
    expect(get(first('/api/v1/create_model').body, 'model_seq_id')).toBe(0);
    const asample = first('/api/v1/asample');
    expect(asample.headers['x-tinker-sampling-backpressure']).toBe('1');
    expect(get(asample.body, 'seq_id')).toBe(0);
    expect(get(asample.body, 'sampling_params', 'seed')).toBe(1234);
    const poll = first('/api/v1/retrieve_future');
    expect(poll.headers['x-tinker-request-iteration']).toBe('0');
    expect(poll.headers['x-tinker-request-type']).toBe('CreateModel');
    expect(Number(poll.headers['x-tinker-create-promise-roundtrip-time'])).toBeGreaterThanOrEqual(
      0,
    );
    const keys = sent.filter((s) => s.method === 'POST').map((s) => s.headers['x-idempotency-key']);
    expect(keys.every((k) => typeof k === 'string' && k.startsWith('hicra-retry-'))).toBe(true);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('the engine got what the client sent (typed arrays, the contract names)', () => {
    const fb = engine.calls.find((c) => c.method === 'forwardBackward')!;
    const [data, loss] = fb.args as [DatumV1[], { name: string }];
    expect(loss).toEqual({ name: 'importance-sampling' });
    expect(data[0]!.targetTokens).toBeInstanceOf(Int32Array);
    expect(Array.from(data[0]!.targetTokens)).toEqual(
      get(
        example('forward_backward'),
        'request',
        'body',
        'forward_backward_input',
        'data',
        0,
        'loss_fn_inputs',
        'target_tokens',
        'data',
      ),
    );
    expect(engine.calls.find((c) => c.method === 'optimStep')!.args[0]).toEqual({
      learningRate: 4e-5,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0,
      gradClipNorm: 0,
    });
    expect(engine.calls.find((c) => c.method === 'saveState')!.args[0]).toBe('step_000100');
    expect(engine.calls.find((c) => c.method === 'loadState')!.args[0]).toBe(
      '/tmp/fake-engine/step_000100',
    );
  });
});

describe('responses the server returns, against the examples (example requests sent verbatim)', () => {
  let server: TinkerServer;
  let url: string;
  const engine = new RecordingEngine();
  let gate: { open: () => void } | undefined;

  beforeAll(async () => {
    server = await createTinkerServer({
      training: engine,
      sampling: new RecordingSampler([]),
      apiKey: 'tml-REDACTED',
      longPollMs: 100,
    });
    url = (await server.listen()).url;
  });

  afterAll(async () => {
    gate?.open();
    await server?.close();
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        'X-API-Key': 'tml-REDACTED',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Json };
  }

  /** Sends a future-returning example request, checks the immediate answer, returns the result. */
  async function viaFuture(file: Json, requestKey: string, body: unknown): Promise<Json> {
    const request = file[requestKey] as Json;
    const immediate = await call(request.method as string, request.path as string, body);
    expect(immediate.status, JSON.stringify(immediate.body)).toBe(200);
    expect(
      shapeDifferences(immediate.body, get(file, 'immediate_response', 'body'), {
        nullable: ['model_id'],
      }),
    ).toEqual([]);
    for (let i = 0; i < 50; i++) {
      const polled = await call('POST', '/api/v1/retrieve_future', {
        request_id: immediate.body.request_id,
        allow_metadata_only: true,
      });
      expect(polled.status).toBe(200);
      if (polled.body.type !== 'try_again') return polled.body;
    }
    throw new Error('the future did not complete in 50 polls');
  }

  const replaceIds = (value: unknown, ids: Record<string, string>): unknown =>
    JSON.parse(
      Object.entries(ids).reduce(
        (text, [from, to]) => text.split(from).join(to),
        JSON.stringify(value),
      ),
    );

  it('every Tinker example the server implements: accepted verbatim, answered in the example shape', async () => {
    // Sessions and model.
    const config = example('client_config');
    const configAnswer = await call(
      'POST',
      '/api/v1/client/config',
      get(config, 'request', 'body'),
    );
    expect(
      shapeDifferences(configAnswer.body, get(config, 'response_hosted_defaults_if_empty', 'body')),
    ).toEqual([]);

    const createSession = example('create_session');
    const session = await call(
      'POST',
      '/api/v1/create_session',
      get(createSession, 'request', 'body'),
    );
    expect(session.status).toBe(200);
    expect(
      shapeDifferences(session.body, get(createSession, 'response', 'body'), {
        nullable: ['info_message', 'warning_message', 'error_message'],
      }),
    ).toEqual([]);
    const sessionId = session.body.session_id as string;
    const ids = { 'verl-tinker-session:0': sessionId };

    const capabilities = await call('GET', '/api/v1/get_server_capabilities');
    expect(
      shapeDifferences(
        capabilities.body,
        get(example('get_server_capabilities'), 'response_verl_tinker', 'body'),
      ),
    ).toEqual([]);

    const createModel = example('create_model');
    const created = await viaFuture(
      createModel,
      'request',
      replaceIds(get(createModel, 'request', 'body'), ids),
    );
    expect(shapeDifferences(created, createModel.retrieve_future_result)).toEqual([]);
    const modelId = created.model_id as string;
    expect(modelId).toBe(`${sessionId}:train:0`);

    const getInfo = example('get_info');
    const info = await call(
      'POST',
      '/api/v1/get_info',
      replaceIds(get(getInfo, 'request', 'body'), ids),
    );
    expect(
      shapeDifferences(info.body, get(getInfo, 'response', 'body'), {
        nullable: ['model_data.arch', 'lora_rank'],
      }),
    ).toEqual([]);
    expect(info.body.hicra_capabilities).toMatchObject({ version: 1, vocab_size: 152_000 });

    // Training.
    const fb = example('forward_backward');
    const fbResult = await viaFuture(fb, 'request', replaceIds(get(fb, 'request', 'body'), ids));
    expect(shapeDifferences(fbResult, fb.retrieve_future_result, { records: ['metrics'] })).toEqual(
      [],
    );

    const fwd = example('forward');
    const fwdResult = await viaFuture(fwd, 'request', replaceIds(get(fwd, 'request', 'body'), ids));
    expect(
      shapeDifferences(fwdResult, fwd.retrieve_future_result_verl_tinker, {
        records: ['metrics'],
        optional: ['type'],
      }),
    ).toEqual([]);

    const optim = example('optim_step');
    const optimResult = await viaFuture(
      optim,
      'request',
      replaceIds(get(optim, 'request', 'body'), ids),
    );
    expect(
      shapeDifferences(optimResult, optim.retrieve_future_result, { records: ['metrics'] }),
    ).toEqual([]);

    const save = example('save_weights');
    const saved = await viaFuture(save, 'request', replaceIds(get(save, 'request', 'body'), ids));
    expect(shapeDifferences(saved, save.retrieve_future_result_hosted)).toEqual([]);
    expect(saved.path).toBe(`tinker://${modelId}/weights/step_000100`);

    const load = example('load_weights');
    const loaded = await viaFuture(load, 'request', replaceIds(get(load, 'request', 'body'), ids));
    expect(shapeDifferences(loaded, load.retrieve_future_result)).toEqual([]);

    // Sampling.
    const sfs = example('save_weights_for_sampler');
    const namedResult = await viaFuture(
      { ...sfs, request: sfs.request_named },
      'request',
      replaceIds(get(sfs, 'request_named', 'body'), ids),
    );
    expect(
      shapeDifferences(namedResult, sfs.result_named, { nullable: ['sampling_session_id'] }),
    ).toEqual([]);
    const ephemeralResult = await viaFuture(
      { ...sfs, request: sfs.request_ephemeral },
      'request',
      replaceIds(get(sfs, 'request_ephemeral', 'body'), ids),
    );
    expect(shapeDifferences(ephemeralResult, sfs.result_ephemeral, { nullable: ['path'] })).toEqual(
      [],
    );
    expect(ephemeralResult.sampling_session_id).toBe(`${sessionId}:sample:1`);

    const css = example('create_sampling_session');
    const cssBody = replaceIds(get(css, 'request', 'body'), ids) as Json;
    const samplingSession = await call('POST', '/api/v1/create_sampling_session', {
      ...cssBody,
      model_path: namedResult.path,
    });
    expect(samplingSession.status, JSON.stringify(samplingSession.body)).toBe(200);
    expect(shapeDifferences(samplingSession.body, get(css, 'response', 'body'))).toEqual([]);
    const samplerId = samplingSession.body.sampling_session_id as string;

    const sampler = await call('GET', `/api/v1/samplers/${encodeURIComponent(samplerId)}`);
    expect(shapeDifferences(sampler.body, get(example('get_sampler'), 'response', 'body'))).toEqual(
      [],
    );

    const asample = example('asample');
    const sampleResult = await viaFuture(
      asample,
      'request',
      replaceIds(get(asample, 'request', 'body'), { 'verl-tinker-session:0:sample:0': samplerId }),
    );
    expect(
      shapeDifferences(sampleResult, asample.retrieve_future_result, {
        nullable: ['prompt_logprobs', 'topk_prompt_logprobs'],
      }),
    ).toEqual([]);
    expect((sampleResult.sequences as unknown[]).length).toBe(2);

    // The rest of the catalogue.
    const heartbeat = example('session_heartbeat');
    const beat = await call(
      'POST',
      '/api/v1/session_heartbeat',
      replaceIds(get(heartbeat, 'request', 'body'), ids),
    );
    expect(shapeDifferences(beat.body, get(heartbeat, 'response', 'body'))).toEqual([]);

    const weightsInfo = example('weights_info');
    const wi = await call('POST', '/api/v1/weights_info', {
      tinker_path: saved.path,
    });
    expect(
      shapeDifferences(wi.body, get(weightsInfo, 'response_hosted', 'body'), {
        nullable: ['lora_rank'],
      }),
    ).toEqual([]);

    const checkpoints = await call(
      'GET',
      `/api/v1/training_runs/${encodeURIComponent(modelId)}/checkpoints`,
    );
    expect(
      shapeDifferences(checkpoints.body, get(example('list_checkpoints'), 'response', 'body'), {
        nullable: ['checkpoints[].size_bytes', 'checkpoints[].expires_at', 'cursor'],
      }),
    ).toEqual([]);

    const healthz = await fetch(`${url}/api/v1/healthz`);
    expect(
      shapeDifferences(await healthz.json(), get(example('healthz'), 'response_hosted', 'body')),
    ).toEqual([]);

    const extras = example('verl_tinker-extras');
    const telemetry = await call(
      'POST',
      '/api/v1/telemetry',
      get(extras, 'telemetry', 'request', 'body'),
    );
    expect(shapeDifferences(telemetry.body, get(extras, 'telemetry', 'response', 'body'))).toEqual(
      [],
    );
    const sessionInfo = await call('GET', `/api/v1/sessions/${encodeURIComponent(sessionId)}`);
    expect(
      shapeDifferences(sessionInfo.body, get(extras, 'get_session', 'response', 'body')),
    ).toEqual([]);
    const sessions = await call('GET', '/api/v1/sessions');
    expect(
      shapeDifferences(sessions.body, get(extras, 'list_sessions', 'response', 'body')),
    ).toEqual([]);

    const unload = example('unload_model');
    const unloaded = await viaFuture(
      unload,
      'request',
      replaceIds(get(unload, 'request', 'body'), ids),
    );
    expect(shapeDifferences(unloaded, unload.retrieve_future_result)).toEqual([]);
  });

  it('retrieve_future: pending (try_again) and failed answers in the example shapes', async () => {
    const file = example('retrieve_future');
    const session = await call('POST', '/api/v1/create_session', {
      tags: [],
      sdk_version: '0.24.1',
    });
    const sessionId = session.body.session_id as string;
    const created = await call('POST', '/api/v1/create_model', {
      session_id: sessionId,
      model_seq_id: 0,
      base_model: 'Qwen/Qwen3-8B',
      type: 'create_model',
    });
    const modelId = created.body.model_id as string;

    // An optim_step before any forward_backward: the engine refuses; the future reports it.
    const failing = await call('POST', '/api/v1/optim_step', {
      adam_params: { learning_rate: 1e-4 },
      model_id: modelId,
      type: 'optim_step',
    });
    let failed: Json | undefined;
    for (let i = 0; i < 50 && failed === undefined; i++) {
      const polled = await call('POST', '/api/v1/retrieve_future', {
        request_id: failing.body.request_id,
        allow_metadata_only: true,
      });
      if (polled.body.type !== 'try_again') failed = polled.body;
    }
    expect(shapeDifferences(failed, get(file, 'responses', 'failed', 'body'))).toEqual([]);
    expect(failed!.category).toBe('user');
    expect(failed!.error).toMatch(/no gradient is accumulated/);
    expect(failed!.hicra_error).toMatchObject({ code: 'HICRA_MISSING_INPUT' });

    // A pending future: the engine waits on a gate; the poll answers try_again after the long poll.
    let open!: () => void;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    gate = { open };
    const original = engine.saveState.bind(engine);
    engine.saveState = async (name: string) => {
      await opened;
      return original(name);
    };
    const slow = await call('POST', '/api/v1/save_weights', {
      model_id: modelId,
      path: 'pending',
      type: 'save_weights',
    });
    const pending = await call('POST', '/api/v1/retrieve_future', {
      request_id: slow.body.request_id,
      allow_metadata_only: true,
    });
    expect(
      shapeDifferences(pending.body, get(file, 'responses', 'pending_try_again', 'body'), {
        nullable: ['queue_state_reason'],
      }),
    ).toEqual([]);
    expect(pending.body.request_id).toBe(slow.body.request_id);
    open();
    engine.saveState = original;

    // An unknown future: a 404 naming the field (verl_tinker answers 200 with an error).
    const unknown = await call('POST', '/api/v1/retrieve_future', { request_id: 'deadbeef' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.field).toBe('request_id');
    expect(unknown.body.detail).toMatch(/no future "deadbeef"/);
  });

  it('answers the endpoints it does not implement with a JSON 404 naming the route', async () => {
    const token = await call('POST', '/api/v1/auth/token', {});
    expect(token.status).toBe(404);
    expect(token.body.detail).toMatch(/no route POST \/api\/v1\/auth\/token/);
  });
});

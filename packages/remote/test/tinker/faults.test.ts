/**
 * Faults between the Tinker client and a server: a scripted node:http server (loopback) that
 * answers 429s, 5xx, broken and truncated bodies, failing futures, or nothing at all; and a
 * real server that dies mid-run.
 */
import {
  BackendUnavailableError,
  ConfigError,
  type DatumV1,
  ErrorCode,
  InvalidArgumentError,
  ShapeError,
} from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { TinkerTrainingClient, type TinkerTrainingClientOptions } from '../../src/index.js';
import { RecordingEngine } from './fakes.js';
import { loopback } from './helpers.js';
import { type Handler, MODEL_ID, type Scripted, scriptedServer } from './scripted-server.js';

const datum = (): DatumV1 => ({
  inputTokens: Int32Array.of(1, 2, 3),
  targetTokens: Int32Array.of(2, 3, 4),
});

const opened: Scripted[] = [];
const clients: TinkerTrainingClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.dispose();
  for (const server of opened.splice(0)) await server.close();
});

async function scripted(routes: Record<string, Handler>): Promise<Scripted> {
  const server = await scriptedServer(routes);
  opened.push(server);
  return server;
}

async function connect(
  server: Scripted,
  options: Partial<TinkerTrainingClientOptions> = {},
): Promise<TinkerTrainingClient> {
  const client = await TinkerTrainingClient.create({
    baseUrl: server.url,
    heartbeatIntervalMs: 0,
    vocabSize: 100,
    timeoutMs: 2000,
    pollTimeoutMs: 2000,
    retry: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
  clients.push(client);
  return client;
}

const submitted =
  (id: string): Handler =>
  ({ reply }) =>
    reply(200, { request_id: id, model_id: MODEL_ID });

describe('retries', () => {
  it('429 with retry-after: waits as told (not the long back-off), same idempotency key, then succeeds', async () => {
    const server = await scripted({
      '/api/v1/optim_step': (c) =>
        c.count < 2
          ? c.reply(429, { detail: 'rate limited' }, { 'retry-after': '0.1' })
          : submitted('f-opt')(c),
    });
    server.futures.set('f-opt', { metrics: { 'grad_norm:mean': 0.5 } });
    // A computed back-off of 10 s per retry: only honouring retry-after keeps this fast.
    const client = await connect(server, {
      retry: { maxRetries: 3, baseDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    const started = performance.now();
    const result = await client.optimStep({ learningRate: 1e-4 });
    const elapsed = performance.now() - started;
    expect(result.metrics).toEqual({ 'grad_norm:mean': 0.5 });
    expect(elapsed).toBeGreaterThanOrEqual(180);
    expect(elapsed).toBeLessThan(3000);
    const attempts = server.to('/api/v1/optim_step');
    expect(attempts).toHaveLength(3);
    const keys = attempts.map((r) => r.headers['x-idempotency-key']);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^hicra-retry-/);
  });

  it('503 and a connection reset are retried; x-should-retry: false is not', async () => {
    const server = await scripted({
      '/api/v1/optim_step': (c) => {
        if (c.count === 0) c.reply(503, { detail: 'warming up' });
        else if (c.count === 1) c.req.socket.destroy();
        else submitted('f-opt')(c);
      },
      '/api/v1/forward_backward': ({ reply }) =>
        reply(503, { detail: 'do not retry me' }, { 'x-should-retry': 'false' }),
    });
    server.futures.set('f-opt', { metrics: {} });
    const client = await connect(server);
    await expect(client.optimStep({ learningRate: 1e-4 })).resolves.toEqual({ metrics: {} });
    expect(server.to('/api/v1/optim_step')).toHaveLength(3);

    const error = await expectHicraRejection(
      client.forwardBackward([datum()], { name: 'cross-entropy' }),
    );
    expect(BackendUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/POST \/api\/v1\/forward_backward \(HTTP 503/);
    expect(error.message).toMatch(/do not retry me/);
    expect(server.to('/api/v1/forward_backward')).toHaveLength(1);
  });
});

describe('futures', () => {
  it('try_again, HTTP 408 and complete_metadata poll again; the result comes through', async () => {
    const server = await scripted({ '/api/v1/optim_step': submitted('f-opt') });
    let polls = 0;
    server.futures.set('f-opt', ((c) => {
      const n = polls++;
      if (n === 0) c.reply(200, { type: 'try_again', request_id: 'f-opt', queue_state: 'active' });
      else if (n === 1) c.reply(408, { type: 'try_again', queue_state: 'paused_capacity' });
      else if (n === 2) c.reply(200, { status: 'complete_metadata', response_payload_size: 12 });
      else c.reply(200, { metrics: { 'lr:mean': 1e-4 } });
    }) as Handler);
    const client = await connect(server);
    await expect(client.optimStep({ learningRate: 1e-4 })).resolves.toEqual({
      metrics: { 'lr:mean': 1e-4 },
    });
    const retrieves = server
      .to('/api/v1/retrieve_future')
      .filter((r) => r.body.request_id === 'f-opt');
    expect(retrieves.map((r) => r.headers['x-tinker-request-iteration'])).toEqual([
      '0',
      '1',
      '2',
      '3',
    ]);
    expect(retrieves.map((r) => r.body.allow_metadata_only)).toEqual([true, true, true, false]);
    expect(retrieves.every((r) => r.headers['x-tinker-request-type'] === 'OptimStep')).toBe(true);
  });

  it('HTTP 410 (an expired promise) re-submits the original request', async () => {
    const server = await scripted({
      '/api/v1/save_weights': (c) => submitted(`f-save-${c.count}`)(c),
    });
    server.futures.set('f-save-0', ((c) => c.reply(410, { detail: 'promise expired' })) as Handler);
    server.futures.set('f-save-1', { path: 'tinker://m/weights/ckpt', type: 'save_weights' });
    const client = await connect(server);
    await expect(client.saveState('ckpt')).resolves.toBe('tinker://m/weights/ckpt');
    const submissions = server.to('/api/v1/save_weights');
    expect(submissions).toHaveLength(2);
    expect(submissions[1]!.body).toEqual(submissions[0]!.body);
  });

  it('a future that reports an error: a typed error with the server message, the endpoint and the request id', async () => {
    const server = await scripted({
      '/api/v1/forward_backward': (c) => submitted(`f-fb-${c.count}`)(c),
    });
    server.futures.set('f-fb-0', {
      error: 'target_tokens length 15 != model_input length 16',
      category: 'user',
    });
    server.futures.set('f-fb-1', {
      error:
        "HTTPException(status_code=422, detail=\"loss_fn='dro' requires a positive loss_fn_config['beta']\")",
      category: 'Application',
    });
    server.futures.set('f-fb-2', { error: 'CUDA out of memory', category: 'server' });
    server.futures.set('f-fb-3', {
      error: 'datum 0: weights has length 2, but inputTokens has 3',
      category: 'user',
      hicra_error: {
        name: 'ShapeError',
        code: ErrorCode.ShapeMismatch,
        message: 'datum 0: weights has length 2, but inputTokens has 3',
        details: { datum: 0, field: 'weights', expected: 3, actual: 2 },
      },
    });
    const client = await connect(server);
    const call = () => client.forwardBackward([datum()], { name: 'cross-entropy' });

    const user = await expectHicraRejection(call());
    expect(InvalidArgumentError.isInstance(user)).toBe(true);
    expect(user.message).toContain('target_tokens length 15 != model_input length 16');
    expect(user.message).toContain('POST /api/v1/forward_backward');
    expect(user.message).toContain('f-fb-0');
    expect(user.details).toMatchObject({
      endpoint: 'POST /api/v1/forward_backward',
      requestId: 'f-fb-0',
      category: 'user',
      serverMessage: 'target_tokens length 15 != model_input length 16',
    });

    const verl = await expectHicraRejection(call());
    expect(InvalidArgumentError.isInstance(verl)).toBe(true);
    expect(verl.message).toContain("requires a positive loss_fn_config['beta']");

    const serverSide = await expectHicraRejection(call());
    expect(BackendUnavailableError.isInstance(serverSide)).toBe(true);
    expect(serverSide.details).toMatchObject({ requestId: 'f-fb-2', category: 'server' });

    const typed = await expectHicraRejection(call());
    expect(ShapeError.isInstance(typed)).toBe(true);
    expect(typed.details).toMatchObject({ field: 'weights', requestId: 'f-fb-3' });
    expect(typed.message).toContain('weights has length 2');
  });
});

describe('broken answers', () => {
  it('a non-JSON or truncated JSON body is a clear error naming the endpoint (not retried)', async () => {
    const server = await scripted({
      '/api/v1/optim_step': ({ res }) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"request_id": "f-');
      },
      '/api/v1/save_weights': ({ res }) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>502 Bad Gateway</body></html>');
      },
    });
    const client = await connect(server);
    const truncated = await expectHicraRejection(client.optimStep({ learningRate: 1e-4 }));
    expect(BackendUnavailableError.isInstance(truncated)).toBe(true);
    expect(truncated.message).toMatch(/POST \/api\/v1\/optim_step .*not valid JSON/);
    expect(truncated.message).toContain('{\\"request_id\\": \\"f-');
    expect(server.to('/api/v1/optim_step')).toHaveLength(1);

    const html = await expectHicraRejection(client.saveState('x'));
    expect(BackendUnavailableError.isInstance(html)).toBe(true);
    expect(html.message).toMatch(/save_weights .*not valid JSON.*502 Bad Gateway/);
  });

  it('a body cut off mid-transfer is a broken connection: retried with the same key, then served', async () => {
    const server = await scripted({
      '/api/v1/optim_step': (c) => {
        if (c.count === 0) {
          c.res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
          c.res.write('{"request_id": "f-o');
          setTimeout(() => c.res.destroy(), 10);
        } else submitted('f-opt')(c);
      },
    });
    server.futures.set('f-opt', { metrics: { x: 1 } });
    const client = await connect(server);
    await expect(client.optimStep({ learningRate: 1e-4 })).resolves.toEqual({ metrics: { x: 1 } });
    const attempts = server.to('/api/v1/optim_step');
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.headers['x-idempotency-key']).toBe(
      attempts[1]!.headers['x-idempotency-key'],
    );
  });

  it('a server slower than the timeout: each attempt times out, is retried, then a clear error', async () => {
    const server = await scripted({ '/api/v1/optim_step': () => undefined });
    const client = await connect(server, {
      timeoutMs: 150,
      retry: { maxRetries: 1, baseDelayMs: 5, maxDelayMs: 10 },
    });
    const started = performance.now();
    const error = await expectHicraRejection(client.optimStep({ learningRate: 1e-4 }));
    expect(performance.now() - started).toBeLessThan(2000);
    expect(BackendUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/POST \/api\/v1\/optim_step.*timeout after 150 ms/);
    expect(error.message).toMatch(/gave up after 2 attempts/);
    expect(error.details).toMatchObject({ endpoint: 'POST /api/v1/optim_step', attempts: 2 });
    expect(server.to('/api/v1/optim_step')).toHaveLength(2);
  });

  it('a server that dies mid-run: the calls after retry, then fail clearly', async () => {
    const link = await loopback(new RecordingEngine({ vocabSize: 100 }), {
      client: { retry: { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 10 } },
    });
    try {
      await link.client.forwardBackward([datum()], { name: 'cross-entropy' });
      await link.server.close();
      const error = await expectHicraRejection(link.client.optimStep({ learningRate: 1e-4 }));
      expect(BackendUnavailableError.isInstance(error)).toBe(true);
      expect(error.message).toMatch(/POST \/api\/v1\/optim_step.*connection error/);
      expect(error.message).toMatch(/is the server running/);
      expect(error.details).toMatchObject({ attempts: 3, endpoint: 'POST /api/v1/optim_step' });
    } finally {
      await link.close();
    }
  });
});

describe('cancellation, auth, heartbeats', () => {
  it('an AbortSignal cancels a call waiting for its future; polling stops', async () => {
    const server = await scripted({ '/api/v1/optim_step': submitted('f-never') });
    server.futures.set('f-never', ((c) =>
      setTimeout(() => c.reply(200, { type: 'try_again' }), 20)) as Handler);
    const client = await connect(server);
    const controller = new AbortController();
    const reason = new Error('stop waiting');
    setTimeout(() => controller.abort(reason), 150);
    const started = performance.now();
    await expect(
      client.optimStep({ learningRate: 1e-4 }, { signal: controller.signal }),
    ).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1000);
    const polls = server.to('/api/v1/retrieve_future').length;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(server.to('/api/v1/retrieve_future').length).toBeLessThanOrEqual(polls + 1);
    // The client still works for the next call.
    server.routes.set('/api/v1/forward', submitted('f-fwd'));
    server.futures.set('f-fwd', {
      loss_fn_output_type: 'ArrayRecord',
      loss_fn_outputs: [{ logprobs: { data: [-1, -2, -3], dtype: 'float32', shape: [3] } }],
      metrics: {},
    });
    const result = await client.forward([datum()]);
    expect(Array.from(result.outputs[0]!.logProbs)).toEqual([-1, -2, -3]);
  });

  it('X-API-Key from the option, else from TINKER_API_KEY; none when neither is set', async () => {
    const server = await scripted({});
    await connect(server, { apiKey: 'tml-from-option' });
    expect(server.to('/api/v1/create_session')[0]!.headers['x-api-key']).toBe('tml-from-option');
    const saved = process.env.TINKER_API_KEY;
    try {
      process.env.TINKER_API_KEY = 'tml-from-env';
      await connect(server);
      expect(server.to('/api/v1/create_session')[1]!.headers['x-api-key']).toBe('tml-from-env');
      delete process.env.TINKER_API_KEY;
      await connect(server);
      expect(server.to('/api/v1/create_session')[2]!.headers).not.toHaveProperty('x-api-key');
    } finally {
      if (saved === undefined) delete process.env.TINKER_API_KEY;
      else process.env.TINKER_API_KEY = saved;
    }
  });

  it('a wrong key is a ConfigError at apiKey carrying the server message (not retried)', async () => {
    const error = await expectHicraRejection(
      loopback(new RecordingEngine({ vocabSize: 100 }), {
        server: { apiKey: 'tml-right' },
        client: { apiKey: 'tml-wrong' },
      }),
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/HTTP 401/);
    expect(error.message).toMatch(/not accepted/);
    expect(error.details).toMatchObject({ path: 'apiKey', status: 401, attempts: 1 });
  });

  it('heartbeats every heartbeatIntervalMs with the session id; dispose stops them', async () => {
    const server = await scripted({});
    const client = await connect(server, { heartbeatIntervalMs: 40 });
    // Bounded wait (2 s at most) for two beats.
    for (let i = 0; i < 100 && server.to('/api/v1/session_heartbeat').length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const beats = server.to('/api/v1/session_heartbeat');
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats[0]!.body).toEqual({ session_id: 'scripted-session', type: 'session_heartbeat' });
    await client.dispose();
    const after = server.to('/api/v1/session_heartbeat').length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(server.to('/api/v1/session_heartbeat').length).toBe(after);
    await expect(client.optimStep({ learningRate: 1e-4 })).rejects.toThrow(/disposed/);
  });

  it('a server without client/config (404) is fine', async () => {
    const server = await scripted({
      '/api/v1/client/config': ({ reply }) => reply(404, { detail: 'Not Found' }),
    });
    const client = await connect(server);
    expect(client.modelId).toBe(MODEL_ID);
    expect(server.to('/api/v1/client/config')).toHaveLength(1);
  });
});

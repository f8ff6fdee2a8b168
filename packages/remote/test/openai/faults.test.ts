/**
 * The client against a scripted node:http server that misbehaves: throttling, failures,
 * broken and non-JSON bodies, slowness, aborts, and the concurrency bound.
 */
import { ErrorCode } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OpenAIHttpError,
  type OpenAIRetryEvent,
  OpenAISamplingClient,
  type OpenAISamplingClientOptions,
} from '../../src/index.js';
import {
  ragged,
  type ScriptedHandler,
  type ScriptedServer,
  sendJson,
  startScriptedServer,
} from './fakes.js';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(handler: ScriptedHandler): Promise<ScriptedServer> {
  server = await startScriptedServer(handler);
  return server;
}

/** A well-formed vLLM answer for a request of `n` samples: ids [5, 6], finish "length". */
function completion(n: number): unknown {
  return {
    id: 'cmpl-x',
    object: 'text_completion',
    created: 0,
    model: 'm',
    choices: Array.from({ length: n }, (_, index) => ({
      index,
      text: 'xy',
      logprobs: {
        text_offset: [0, 10],
        token_logprobs: [-0.5, -0.25],
        tokens: ['token_id:5', 'token_id:6'],
        top_logprobs: [{ 'token_id:5': -0.5 }, { 'token_id:6': -0.25 }],
      },
      finish_reason: 'length',
      stop_reason: null,
      token_ids: [5, 6],
      prompt_logprobs: null,
      prompt_token_ids: null,
      routed_experts: null,
    })),
    usage: {
      prompt_tokens: 1,
      completion_tokens: 2 * n,
      total_tokens: 1 + 2 * n,
      prompt_tokens_details: null,
    },
  };
}

const answer: ScriptedHandler = (request, response) =>
  sendJson(response, 200, completion((request.body as { n: number }).n));

function client(url: string, extra: Partial<OpenAISamplingClientOptions> = {}) {
  return new OpenAISamplingClient({
    baseUrl: url,
    maxRetries: 2,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 2000,
    timeoutMs: 5000,
    ...extra,
  });
}

const small = {
  prompts: ragged([[1, 2, 3]]),
  samplesPerPrompt: 2,
  maxNewTokens: 2,
  seed: 0,
};

/** The OpenAIHttpError `promise` rejects with; any other outcome fails the test. */
const failure = (promise: Promise<unknown>) =>
  expectHicraRejection(promise, { errorClass: OpenAIHttpError });

describe('retries', () => {
  it("waits the server's retry-after on 429, then succeeds", async () => {
    const s = await serve((request, response) => {
      if (request.index === 0)
        sendJson(
          response,
          429,
          { error: { message: 'slow down', type: 'RateLimit', param: null, code: 429 } },
          { 'retry-after': '1' },
        );
      else answer(request, response);
    });
    const retries: OpenAIRetryEvent[] = [];
    const result = await client(s.url, { onRetry: (e) => retries.push(e) }).sample(small);
    expect(s.requests).toHaveLength(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({
      attempt: 1,
      status: 429,
      retryAfterMs: 1000,
      delayMs: 1000,
    });
    expect(retries[0]!.reason).toContain('slow down');
    expect(Array.from(result.tokenIds)).toEqual([5, 6, 5, 6]);
  });

  it('fails at once when retry-after is longer than retryMaxDelayMs', async () => {
    const s = await serve((_request, response) =>
      sendJson(
        response,
        429,
        { error: { message: 'busy', type: 'RateLimit', param: null, code: 429 } },
        { 'retry-after': '120' },
      ),
    );
    const e = await failure(client(s.url).sample(small));
    expect(e.status).toBe(429);
    expect(e.message).toContain('retry after 120000 ms');
    expect(e.message).toContain('busy');
    expect(s.requests).toHaveLength(1);
  });

  it('retries a 500 with back-off, then succeeds', async () => {
    const s = await serve((request, response) => {
      if (request.index === 0)
        sendJson(response, 500, {
          error: { message: 'engine hiccup', type: 'InternalServerError', param: null, code: 500 },
        });
      else answer(request, response);
    });
    const retries: OpenAIRetryEvent[] = [];
    const result = await client(s.url, { onRetry: (e) => retries.push(e) }).sample(small);
    expect(retries.map((r) => r.status)).toEqual([500]);
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(2);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(5);
    expect(Array.from(result.finished)).toEqual([0, 0]);
  });

  it('gives up after maxRetries, with the status, the server message and the attempts', async () => {
    const s = await serve((_request, response) =>
      sendJson(response, 503, {
        object: 'error',
        message: 'model is loading',
        type: 'ServiceUnavailable',
        param: null,
        code: 503,
      }),
    );
    const e = await failure(client(s.url).sample(small));
    expect(e.code).toBe(ErrorCode.BackendUnavailable);
    expect(e.status).toBe(503);
    expect(e.attempts).toBe(3);
    expect(e.serverMessage).toBe('model is loading');
    expect(e.message).toContain(`POST ${s.url}/v1/completions`);
    expect(e.message).toContain('after 3 attempts');
    expect(s.requests).toHaveLength(3);
  });

  it('retries a connection cut in the middle of the body, then succeeds', async () => {
    const s = await serve((request, response) => {
      if (request.index === 0) {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
        response.write('{"id": "cmpl-x", "choices": [');
        setTimeout(() => response.socket?.destroy(), 5);
      } else answer(request, response);
    });
    const retries: OpenAIRetryEvent[] = [];
    const result = await client(s.url, { onRetry: (e) => retries.push(e) }).sample(small);
    expect(retries).toHaveLength(1);
    expect(retries[0]!.reason).toMatch(/^network: /);
    expect(Array.from(result.tokenIds)).toEqual([5, 6, 5, 6]);
  });

  it('reports a connection that keeps breaking as a network error', async () => {
    const s = await serve((_request, response) => {
      response.socket?.destroy();
    });
    const e = await failure(client(s.url, { maxRetries: 1 }).sample(small));
    expect(e.kind).toBe('network');
    expect(e.code).toBe(ErrorCode.BackendUnavailable);
    expect(e.attempts).toBe(2);
    expect(e.message).toContain(`${s.url}/v1/completions`);
  });
});

describe('bad answers', () => {
  it('a complete body that is truncated JSON is a bad response, not retried', async () => {
    const s = await serve((_request, response) => {
      const text = '{"id": "cmpl-x", "choices": [{"index": 0';
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      response.end(text);
    });
    const e = await failure(client(s.url).sample(small));
    expect(e.kind).toBe('bad-response');
    expect(e.status).toBe(200);
    expect(e.message).toContain('not valid JSON');
    expect(e.message).toContain('{\\"id\\": \\"cmpl-x\\"');
    expect(s.requests).toHaveLength(1);
  });

  it('an HTML answer is reported with its start', async () => {
    const s = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html><body>proxy login</body></html>');
    });
    const e = await failure(client(s.url).sample(small));
    expect(e.kind).toBe('bad-response');
    expect(e.message).toContain('<html><body>proxy login');
  });

  it('an HTML 502 from a proxy is retried, then reported with its text', async () => {
    const s = await serve((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end('<html>Bad Gateway</html>');
    });
    const e = await failure(client(s.url, { maxRetries: 1 }).sample(small));
    expect(e.status).toBe(502);
    expect(e.serverMessage).toBe('<html>Bad Gateway</html>');
    expect(s.requests).toHaveLength(2);
  });

  it('a JSON answer of the wrong shape names the path that is wrong', async () => {
    const s = await serve((_request, response) => sendJson(response, 200, completion(1)));
    const e = await failure(client(s.url).sample(small));
    expect(e.kind).toBe('bad-response');
    expect(e.message).toContain('choices: expected 2 choice(s) (n), got 1');
  });

  it('a finish reason "abort" is a server abort', async () => {
    const s = await serve((_request, response) => {
      const body = completion(2) as { choices: { finish_reason: string }[] };
      body.choices[1]!.finish_reason = 'abort';
      sendJson(response, 200, body);
    });
    const e = await failure(client(s.url).sample(small));
    expect(e.kind).toBe('server-abort');
    expect(e.message).toContain('choices[1].finish_reason');
  });

  it("FastAPI's validation detail and a missing key are surfaced", async () => {
    const s = await serve((request, response) => {
      if (request.headers.authorization !== 'Bearer right')
        sendJson(response, 401, { error: 'Unauthorized' });
      else
        sendJson(response, 422, {
          detail: [{ loc: ['body', 'max_tokens'], msg: 'Input should be a valid integer' }],
        });
    });
    const unauthorised = await failure(client(s.url).sample(small));
    expect(unauthorised.code).toBe(ErrorCode.InvalidConfig);
    expect(unauthorised.message).toContain('HTTP 401 Unauthorized');
    const invalid = await failure(client(s.url, { apiKey: 'right' }).sample(small));
    expect(invalid.code).toBe(ErrorCode.InvalidArgument);
    expect(invalid.message).toContain('body.max_tokens: Input should be a valid integer');
  });
});

describe('time limits and cancellation', () => {
  /** Answers only when the test is over (the server is closed under it). */
  const never: ScriptedHandler = () => {};

  it('a server slower than timeoutMs fails with a timeout naming the endpoint', async () => {
    const s = await serve(never);
    const e = await failure(client(s.url, { timeoutMs: 150 }).sample(small));
    expect(e.kind).toBe('timeout');
    expect(e.code).toBe(ErrorCode.BackendUnavailable);
    expect(e.message).toContain('timeoutMs = 150 ms');
    expect(e.message).toContain(`${s.url}/v1/completions`);
    expect(s.requests).toHaveLength(1);
  });

  it('a call signal aborts the request in flight with its reason', async () => {
    const s = await serve(never);
    const controller = new AbortController();
    const pending = client(s.url).sample(small, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop now')), 30);
    await expect(pending).rejects.toThrow('stop now');
  });

  it('the client signal aborts every call, queued ones included', async () => {
    const s = await serve(never);
    const controller = new AbortController();
    const c = client(s.url, { signal: controller.signal, maxConcurrency: 1 });
    const first = c.sample(small);
    const queued = c.sample(small);
    setTimeout(() => controller.abort(new Error('shutting down')), 30);
    await expect(first).rejects.toThrow('shutting down');
    await expect(queued).rejects.toThrow('shutting down');
    expect(s.requests).toHaveLength(1);
  });

  it('keeps at most maxConcurrency requests in flight', async () => {
    let inflight = 0;
    let peak = 0;
    const s = await serve((request, response) => {
      inflight += 1;
      peak = Math.max(peak, inflight);
      setTimeout(() => {
        inflight -= 1;
        answer(request, response);
      }, 20);
    });
    const result = await client(s.url, { maxConcurrency: 2 }).sample({
      ...small,
      prompts: ragged([[1], [2], [3], [4], [5], [6]]),
    });
    expect(result.batchSize).toBe(12);
    expect(s.requests).toHaveLength(6);
    expect(peak).toBe(2);
  });

  it('dispose waits for the calls in flight, then refuses new ones', async () => {
    const s = await serve((request, response) => {
      setTimeout(() => answer(request, response), 20);
    });
    const c = client(s.url);
    const pending = c.sample(small);
    await c.dispose();
    expect((await pending).batchSize).toBe(2);
    await expect(c.sample(small)).rejects.toThrow('disposed');
  });
});

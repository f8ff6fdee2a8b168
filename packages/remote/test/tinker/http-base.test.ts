/** The shared HTTP pieces: JSON text from typed arrays, retry timing, the generic server. */
import { InvalidArgumentError, InvalidValueError } from '@hicra/spec';
import { describe, expect, it } from 'vitest';
import {
  createHttpServer,
  DEFAULT_RETRY_POLICY,
  encodeJson,
  retryAfterOf,
  retryDelay,
} from '../../src/index.js';

describe('encodeJson', () => {
  it('writes typed arrays as JSON arrays, float32 values as their shortest round-trip decimals', () => {
    const value = {
      ids: Int32Array.of(1, -2, 3),
      lp: Float32Array.of(-0.0312, 0.5, 0, -1, 1 / 3),
      wide: Float64Array.of(0.1, 1e-300),
      mask: Uint8Array.of(1, 0),
      nested: [{ a: undefined, b: null, c: 'x"y' }],
    };
    const text = encodeJson(value);
    expect(text).toBe(
      '{"ids":[1,-2,3],"lp":[-0.0312,0.5,0,-1,0.33333334],"wide":[0.1,1e-300],"mask":[1,0],"nested":[{"b":null,"c":"x\\"y"}]}',
    );
    const back = JSON.parse(text) as { lp: number[] };
    expect(Float32Array.from(back.lp)).toEqual(value.lp);
  });

  it('round-trips every float32 bit pattern it is given (random values, subnormals, extremes)', () => {
    const values = new Float32Array(5000);
    const bits = new Uint32Array(values.buffer);
    let state = 12345;
    for (let i = 0; i < bits.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      bits[i] = state;
    }
    values[0] = 1.4e-45;
    values[1] = 3.4028234663852886e38;
    values[2] = -0;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) values[i] = i;
    const back = Float32Array.from(JSON.parse(encodeJson(values)) as number[]);
    for (let i = 0; i < values.length; i++) {
      if (values[i] !== back[i])
        throw new Error(`index ${i}: ${values[i]} came back as ${back[i]}`);
    }
  });

  it('refuses NaN and ±Infinity naming the path, or writes null when asked', () => {
    const bad = { data: [{ weights: Float32Array.of(1, Number.NaN) }] };
    expect(() => encodeJson(bad, { what: 'forward_backward' })).toThrow(
      /forward_backward: data\[0\]\.weights\[1\] is NaN/,
    );
    expect(() => encodeJson(bad)).toThrow(InvalidValueError);
    expect(encodeJson({ x: Number.POSITIVE_INFINITY }, { nonFinite: 'null' })).toBe('{"x":null}');
    expect(() => encodeJson(BigInt64Array.of(1n))).toThrow(/JSON numbers are doubles/);
  });
});

describe('retry timing', () => {
  it('honours retry-after-ms and retry-after (seconds or a date), else backs off exponentially', () => {
    expect(retryAfterOf(new Headers({ 'retry-after-ms': '250' }))).toBe(250);
    expect(retryAfterOf(new Headers({ 'retry-after': '2' }))).toBe(2000);
    const date = new Date(Date.now() + 5000).toUTCString();
    expect(retryAfterOf(new Headers({ 'retry-after': date }))).toBeGreaterThan(3000);
    expect(retryAfterOf(new Headers())).toBeUndefined();
    expect(retryDelay(DEFAULT_RETRY_POLICY, 3, 1200)).toBe(1200);
    // Beyond maxRetryAfterMs, the computed delay is used.
    expect(retryDelay(DEFAULT_RETRY_POLICY, 0, 120_000)).toBeLessThanOrEqual(500);
    for (let attempt = 0; attempt < 8; attempt++) {
      const d = retryDelay(DEFAULT_RETRY_POLICY, attempt);
      const base = Math.min(500 * 2 ** attempt, 10_000);
      expect(d).toBeGreaterThanOrEqual(0.75 * base);
      expect(d).toBeLessThanOrEqual(base);
    }
  });
});

describe('createHttpServer', () => {
  it('refuses a POST route without a body schema, and bad options', async () => {
    const server = createHttpServer();
    expect(() => server.app.post('/x', async () => ({}))).toThrow(/has no body schema/);
    expect(() => createHttpServer({ bodyLimitBytes: 0 })).toThrow(InvalidArgumentError);
    expect(() => createHttpServer({ port: 70000 })).toThrow(/port must be an integer/);
    await server.close();
  });

  it('the default error body is the OpenAI / vLLM shape; typed arrays in replies; 404 and 500 as JSON', async () => {
    const failures: unknown[] = [];
    const server = createHttpServer({ onInternalError: (e) => failures.push(e) });
    server.app.post(
      '/echo',
      {
        schema: {
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['n'],
            properties: { n: { type: 'integer', minimum: 1 } },
          },
        },
      },
      async (request) => ({
        values: new Float32Array((request.body as { n: number }).n).fill(0.25),
      }),
    );
    server.app.get('/boom', async () => {
      throw new Error('kaput');
    });
    const { url } = await server.listen();
    try {
      const post = (body: string) =>
        fetch(`${url}/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        }).then(async (r) => ({
          status: r.status,
          body: await r.json(),
          id: r.headers.get('x-request-id'),
        }));
      expect(await post('{"n": 3}')).toMatchObject({
        status: 200,
        body: { values: [0.25, 0.25, 0.25] },
      });
      const bad = await post('{"n": 0}');
      expect(bad.status).toBe(400);
      expect(bad.body).toEqual({
        error: {
          message: 'n = 0 is out of range: it must be >= 1',
          type: 'invalid_request',
          param: 'n',
          code: 400,
        },
      });
      expect(bad.id).toMatch(/^[0-9a-f-]{36}$/);
      const missing = await fetch(`${url}/nowhere`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { message: string } }).error.message).toBe(
        'no route GET /nowhere on this server',
      );
      const boom = await fetch(`${url}/boom`);
      expect(boom.status).toBe(500);
      expect(((await boom.json()) as { error: { message: string } }).error.message).toMatch(
        /kaput/,
      );
      expect(failures).toHaveLength(1);
    } finally {
      await server.close();
      await server.close(); // idempotent
    }
  });
});

describe('createHttpServer shared by several protocols', () => {
  it('error bodies by path prefix (longest wins), public routes, per-route body limits', async () => {
    const server = createHttpServer({ apiKey: 'k', bodyLimitBytes: 10_000 });
    server.setErrorFormat('/a/', (e) => ({ a: e.message }));
    server.setErrorFormat('/a/b/', (e) => ({ ab: e.status }));
    expect(() => server.setErrorFormat('a', () => ({}))).toThrow(/pathPrefix must be a path/);
    const schema = { body: { type: 'object' } };
    server.app.post('/a/small', { schema, bodyLimit: 100 }, async () => ({ ok: true }));
    server.app.get('/a/open', { config: { public: true } }, async () => ({ open: true }));
    const { url } = await server.listen();
    try {
      const post = (path: string, size: number) =>
        fetch(`${url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
          body: JSON.stringify({ pad: 'x'.repeat(size) }),
        }).then(async (r) => ({ status: r.status, body: await r.json() }));
      expect(await post('/a/small', 10)).toEqual({ status: 200, body: { ok: true } });
      const tooLarge = await post('/a/small', 200);
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.body).toEqual({
        a: "the request body is larger than this server's limit of 100 bytes",
      });
      expect(await post('/a/b/missing', 1)).toEqual({ status: 404, body: { ab: 404 } });
      const elsewhere = await post('/c', 1);
      expect(elsewhere.body).toMatchObject({ error: { type: 'not_found', code: 404 } });
      expect((await fetch(`${url}/a/open`)).status).toBe(200);
      const locked = await fetch(`${url}/a/b/x`);
      expect(locked.status).toBe(401);
      expect(await locked.json()).toEqual({ ab: 401 });
    } finally {
      await server.close();
    }
  });
});

/**
 * Both protocols on one `createHttpServer`, one port: the Tinker protocol over the bigram test
 * engine, the OpenAI-compatible completions over the bigram test sampler; both clients against
 * the same URL, one API key for both route families, each family's error shape and body limit,
 * bad input on each answered with a 4xx while the server keeps serving.
 */
import type { DatumV1 } from '@hicra/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttpServer,
  type HttpRequestLogEntry,
  type HttpServer,
  type InstalledProtocol,
  type InstalledTinkerProtocol,
  installOpenAICompletions,
  installTinkerProtocol,
  OpenAISamplingClient,
  TINKER_PATHS,
  TinkerTrainingClient,
} from '../src/index.js';
import {
  CharTokenizer,
  EOS,
  BigramSampler as OpenAIBigramSampler,
  ragged,
} from './openai/fakes.js';
import { BigramEngine } from './tinker/fakes.js';

type Json = Record<string, unknown>;

const KEY = 'tml-one-server-key';
/** The completions route's limit; the Tinker routes take bodies up to TINKER_LIMIT. */
const OPENAI_LIMIT = 8 * 1024;
const TINKER_LIMIT = 256 * 1024;

const engine = new BigramEngine();
/** The same engine, called in process: what the Tinker answers must equal. */
const directEngine = new BigramEngine();
const sampler = new OpenAIBigramSampler();
const directSampler = new OpenAIBigramSampler();
const log: HttpRequestLogEntry[] = [];

let server: HttpServer;
let tinker: InstalledTinkerProtocol;
let openai: InstalledProtocol;
let url: string;

beforeAll(async () => {
  server = createHttpServer({
    apiKey: KEY,
    bodyLimitBytes: Math.max(OPENAI_LIMIT, TINKER_LIMIT),
    onRequestLog: (entry) => log.push(entry),
  });
  tinker = await installTinkerProtocol(server, {
    training: engine,
    longPollMs: 2000,
    bodyLimitBytes: TINKER_LIMIT,
  });
  openai = installOpenAICompletions(server, {
    sampler,
    tokenizer: new CharTokenizer(),
    model: 'bigram',
    contextLength: 256,
    bodyLimitBytes: OPENAI_LIMIT,
  });
  url = (await server.listen()).url;
});

afterAll(async () => {
  await server?.close();
});

async function send(
  path: string,
  options: { method?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Json }> {
  const method = options.method ?? (options.body === undefined && !options.raw ? 'GET' : 'POST');
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      authorization: `Bearer ${KEY}`,
      ...options.headers,
    },
    ...(method === 'POST' ? { body: options.raw ?? JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text.length > 0 ? (JSON.parse(text) as Json) : {} };
}

const tinkerClient = () =>
  TinkerTrainingClient.create({
    baseUrl: url,
    apiKey: KEY,
    heartbeatIntervalMs: 0,
    timeoutMs: 5000,
    pollTimeoutMs: 5000,
    retry: { maxRetries: 0 },
  });

const openaiClient = () =>
  new OpenAISamplingClient({ baseUrl: url, model: 'bigram', apiKey: KEY, maxRetries: 0 });

function datum(tokens: number[]): DatumV1 {
  const x = Int32Array.from(tokens);
  return {
    inputTokens: x.slice(0, -1),
    targetTokens: x.slice(1),
    weights: new Float32Array(x.length - 1).fill(1),
  };
}

const completionRequest = {
  prompts: ragged([
    [2, 3, 4],
    [5, 6],
  ]),
  samplesPerPrompt: 2,
  maxNewTokens: 8,
  temperature: 0.8,
  stopTokenIds: [EOS],
  seed: 7,
};

/** One valid call of each client: both families still serve. */
async function bothServe(): Promise<void> {
  const client = openaiClient();
  try {
    const sampled = await client.sample(completionRequest);
    const expected = await directSampler.sample(completionRequest);
    expect(sampled.tokenIds).toEqual(expected.tokenIds);
  } finally {
    await client.dispose();
  }
  const capabilities = await send(TINKER_PATHS.getServerCapabilities);
  expect(capabilities.status).toBe(200);
}

describe('one server, both protocols', () => {
  it('installs both without a colliding path: Tinker under /api/v1/, OpenAI under /v1/ and /health', () => {
    expect(tinker.modelName).toBe('bigram-test');
    expect(tinker.info.vocabSize).toBe(12);
    expect(tinker.paths.length).toBeGreaterThan(20);
    for (const path of tinker.paths) expect(path).toMatch(/^\/api\/v1\//);
    expect(openai.paths).toEqual(['/v1/completions', '/v1/models', '/health']);
    for (const path of openai.paths) expect(tinker.paths).not.toContain(path);
    expect(tinker.paths).toContain(TINKER_PATHS.healthz);
  });

  it('refuses a second installation of either protocol on the same server', async () => {
    await expect(installTinkerProtocol(server, { training: engine })).rejects.toThrow(
      /already served on this server/,
    );
    expect(() =>
      installOpenAICompletions(server, {
        sampler,
        tokenizer: new CharTokenizer(),
        model: 'bigram',
      }),
    ).toThrow(/already served on this server/);
  });

  it('TinkerTrainingClient and OpenAISamplingClient work against the same URL', async () => {
    const training = await tinkerClient();
    const completions = openaiClient();
    try {
      // Tinker: a training step through HTTP equals the engine's, in process.
      const data = [datum([1, 2, 3, 4]), datum([5, 6, 7])];
      const [remote, local] = await Promise.all([
        training.forwardBackward(data, { name: 'cross-entropy' }),
        directEngine.forwardBackward(data, { name: 'cross-entropy' }),
      ]);
      expect(remote.outputs.map((o) => o.logProbs)).toEqual(
        local.outputs.map((o) => Float32Array.from(o.logProbs)),
      );
      await training.optimStep({ learningRate: 0.05 });
      const trained = await training.saveWeightsForSampler('step-1');
      const rollouts = await trained.sample({
        prompts: ragged([[1, 2]]),
        samplesPerPrompt: 3,
        maxNewTokens: 4,
        seed: 1,
      });
      expect(rollouts.batchSize).toBe(3);
      await trained.dispose();

      // OpenAI-compatible: tokens and log-probs exactly what the sampler makes.
      const [sampled, expected] = await Promise.all([
        completions.sample(completionRequest),
        directSampler.sample(completionRequest),
      ]);
      expect(sampled.tokenIds).toEqual(expected.tokenIds);
      expect(sampled.logProbs).toEqual(expected.logProbs);
      expect(sampled.finished).toEqual(expected.finished);

      const models = await send('/v1/models');
      expect(models.status).toBe(200);
      expect(models.body).toMatchObject({ data: [{ id: 'bigram', max_model_len: 256 }] });
    } finally {
      await completions.dispose();
      await training.dispose();
    }
    // One request log for both families.
    expect(log.some((e) => e.path === '/v1/completions' && e.status === 200)).toBe(true);
    expect(log.some((e) => e.path === TINKER_PATHS.forwardBackward && e.status === 200)).toBe(true);
  });

  it('one API key guards both route families (either header); the health paths need none', async () => {
    const noKey = { headers: { authorization: '' } };
    const wrongKey = { headers: { authorization: 'Bearer tml-wrong' } };
    for (const headers of [noKey, wrongKey]) {
      const tinkerRefusal = await send(TINKER_PATHS.getServerCapabilities, headers);
      expect(tinkerRefusal.status).toBe(401);
      expect(tinkerRefusal.body).toMatchObject({
        type: 'authentication_error',
        field: 'X-API-Key',
      });
      expect(tinkerRefusal.body.detail).toMatch(/API key/);
      const openaiRefusal = await send('/v1/completions', {
        ...headers,
        body: { prompt: [2, 3], max_tokens: 2 },
      });
      expect(openaiRefusal.status).toBe(401);
      expect(openaiRefusal.body.error).toMatchObject({
        type: 'AuthenticationError',
        param: 'X-API-Key',
        code: 401,
      });
    }
    const byHeader = { headers: { authorization: '', 'x-api-key': KEY } };
    expect((await send(TINKER_PATHS.getServerCapabilities, byHeader)).status).toBe(200);
    expect((await send('/v1/models', byHeader)).status).toBe(200);
    expect((await fetch(`${url}${TINKER_PATHS.healthz}`)).status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    await bothServe();
  });

  it('bad input on each family: a 4xx in that family’s error shape naming the field, then both still serve', async () => {
    const tinkerBad = await send(TINKER_PATHS.createSession, {
      body: { tags: [], sdk_version: '0.24.1', sneaky: true },
    });
    expect(tinkerBad.status).toBe(400);
    expect(tinkerBad.body).toMatchObject({ field: 'sneaky', type: 'invalid_request' });
    expect(tinkerBad.body.detail).toMatch(/unknown field "sneaky"/);
    await bothServe();

    const openaiBad = await send('/v1/completions', {
      body: { prompt: [2, 3], max_tokens: 2, temprature: 1 },
    });
    expect(openaiBad.status).toBe(400);
    expect(openaiBad.body.error).toMatchObject({
      type: 'BadRequestError',
      param: 'temprature',
      code: 400,
    });
    expect((openaiBad.body.error as Json).message).toMatch(/unknown field "temprature"/);
    await bothServe();

    const malformed = await send(TINKER_PATHS.getInfo, { raw: '{"model_id": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.detail).toMatch(/malformed JSON/);
    const wrongType = await send('/v1/completions', { body: { prompt: [2, 3], max_tokens: '2' } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toMatchObject({ param: 'max_tokens' });
    await bothServe();
  });

  it('each family keeps its own body limit and its own not-found shape', async () => {
    // ~20 KB: over the completions limit, under the Tinker one.
    const big = Array.from({ length: 5000 }, () => 2);
    const tooLarge = await send('/v1/completions', { body: { prompt: big, max_tokens: 1 } });
    expect(tooLarge.status).toBe(413);
    expect((tooLarge.body.error as Json).message).toContain(`limit of ${OPENAI_LIMIT} bytes`);
    const session = await send(TINKER_PATHS.createSession, {
      body: { tags: big.map(String), sdk_version: '0.24.1' },
    });
    expect(session.status).toBe(200);
    expect(session.body.session_id).toEqual(expect.any(String));
    const hugeTinker = await send(TINKER_PATHS.createSession, {
      body: { tags: Array.from({ length: 60_000 }, () => 'tag'), sdk_version: '0.24.1' },
    });
    expect(hugeTinker.status).toBe(413);
    expect(hugeTinker.body.detail).toContain(`limit of ${TINKER_LIMIT} bytes`);

    const tinkerMissing = await send('/api/v1/auth/token', { body: {} });
    expect(tinkerMissing.status).toBe(404);
    expect(tinkerMissing.body.detail).toMatch(/no route POST \/api\/v1\/auth\/token/);
    const openaiMissing = await send('/v1/chat/completions', { body: {} });
    expect(openaiMissing.status).toBe(404);
    expect(openaiMissing.body.error).toMatchObject({ type: 'NotFoundError', param: null });
    // Elsewhere: the server's own format (here the default, the OpenAI shape).
    const elsewhere = await send('/nowhere');
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.body.error).toMatchObject({ type: 'not_found', code: 404 });
    await bothServe();
  });

  it("a protocol's close() refuses its own routes (503) and leaves the other serving", async () => {
    const other = createHttpServer();
    const otherTinker = await installTinkerProtocol(other, { training: new BigramEngine() });
    const slow = new OpenAIBigramSampler({ delayMs: 50 });
    const otherOpenAI = installOpenAICompletions(other, {
      sampler: slow,
      tokenizer: new CharTokenizer(),
      model: 'bigram',
    });
    const base = (await other.listen()).url;
    try {
      const inFlight = fetch(`${base}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: [2, 3], max_tokens: 2 }),
      });
      while (slow.inflight === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      await otherOpenAI.close(); // resolves once the request in flight is answered
      expect((await inFlight).status).toBe(200);
      await otherOpenAI.close(); // idempotent
      const refused = await fetch(`${base}/v1/models`);
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: Json }).error).toMatchObject({ code: 503 });
      expect((await fetch(`${base}${TINKER_PATHS.healthz}`)).status).toBe(200);
      await otherTinker.close();
      expect((await fetch(`${base}${TINKER_PATHS.healthz}`)).status).toBe(503);
    } finally {
      await other.close();
    }
  });

  it("the server's close releases the sampler weights the Tinker protocol made", async () => {
    const own = new BigramEngine();
    const other = createHttpServer();
    await installTinkerProtocol(other, { training: own });
    const base = (await other.listen()).url;
    const client = await TinkerTrainingClient.create({
      baseUrl: base,
      heartbeatIntervalMs: 0,
      retry: { maxRetries: 0 },
    });
    await client.saveWeightsForSampler('kept');
    expect(own.samplers).toHaveLength(1);
    expect(own.samplers[0]!.disposed).toBe(false);
    await other.close();
    expect(own.samplers[0]!.disposed).toBe(true);
    await client.dispose().catch(() => undefined);
  });
});

/**
 * TinkerTrainingClient ↔ createTinkerServer ↔ an engine over loopback: what crosses the wire
 * equals what the engine computes in process; capabilities (the hicra extension, or Tinker's
 * built-ins); chunking; samplers and their release; typed errors; call order.
 */
import {
  type DatumV1,
  InvalidArgumentError,
  LOCAL_LOSS_NAMES,
  MissingInputError,
  ShapeError,
  TINKER_LOSS_NAMES,
  UnknownNameError,
} from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import {
  type HttpRequestLogEntry,
  TINKER_BUILTIN_CAPABILITIES,
  TinkerSamplingClient,
} from '../../src/index.js';
import { BigramEngine, BigramSampler, RecordingEngine } from './fakes.js';
import { loopback } from './helpers.js';

const ragged = (...sequences: number[][]) => {
  const offsets = new Int32Array(sequences.length + 1);
  sequences.forEach((s, i) => {
    offsets[i + 1] = offsets[i]! + s.length;
  });
  return { tokenIds: Int32Array.from(sequences.flat()), offsets };
};

function datum(tokens: number[], fields: { rl?: boolean } = {}): DatumV1 {
  const x = Int32Array.from(tokens);
  const n = x.length - 1;
  return {
    inputTokens: x.slice(0, -1),
    targetTokens: x.slice(1),
    weights: Float32Array.from({ length: n }, (_, i) => (i + 1) / n),
    ...(fields.rl
      ? {
          logProbs: Float32Array.from({ length: n }, (_, i) => -0.5 - i / 10),
          advantages: Float32Array.from({ length: n }, (_, i) => (i % 2 ? 0.5 : -0.25)),
        }
      : {}),
  };
}

describe('capabilities', () => {
  it("a hicra server advertises the engine's capabilities; info() reports them", async () => {
    const engine = new BigramEngine({ vocabSize: 10, contextLength: 32 });
    const link = await loopback(engine);
    try {
      expect(await link.client.info()).toEqual(await engine.info());
      expect(link.client.features.hicra).toBe(true);
    } finally {
      await link.close();
    }
  });

  it("a plain Tinker server: Tinker's built-ins, the vocabulary from the options, else an error", async () => {
    const engine = new BigramEngine({ vocabSize: 10 });
    const link = await loopback(engine, {
      server: { advertiseCapabilities: false },
      client: { vocabSize: 10 },
    });
    try {
      expect(await link.client.info()).toEqual({
        modelName: 'bigram-test',
        vocabSize: 10,
        contextLength: 64,
        capabilities: TINKER_BUILTIN_CAPABILITIES,
      });
      expect(TINKER_BUILTIN_CAPABILITIES).toEqual({
        entropies: false,
        klTerm: false,
        entropyBonus: false,
        temperature: false,
        losses: TINKER_LOSS_NAMES,
      });
    } finally {
      await link.close();
    }
    const bare = await loopback(engine, { server: { advertiseCapabilities: false } });
    try {
      const error = await expectHicraRejection(bare.client.info());
      expect(MissingInputError.isInstance(error)).toBe(true);
      expect(error.message).toMatch(/does not report a vocabulary size.*pass vocabSize/);
    } finally {
      await bare.close();
    }
  });

  it('against a plain Tinker server, what it lacks is refused before anything is sent', async () => {
    const log: HttpRequestLogEntry[] = [];
    const link = await loopback(new BigramEngine({ vocabSize: 10 }), {
      server: { advertiseCapabilities: false, onRequestLog: (e) => log.push(e) },
      client: { vocabSize: 10 },
    });
    try {
      const before = log.length;
      const d = [datum([1, 2, 3])];
      const refusals = await Promise.all([
        expectHicraRejection(link.client.forward(d, undefined, { temperature: 0.7 })),
        expectHicraRejection(link.client.forwardBackward(d, { name: 'gspo' })),
        expectHicraRejection(
          link.client.forwardBackward(d, {
            name: 'cross-entropy',
            settings: { entropyCoefficient: 0.01 },
          }),
        ),
        expectHicraRejection(
          link.client.forwardBackward(d, { name: 'ppo', settings: { clipRatioLow: 0.2 } }),
        ),
      ]);
      expect(InvalidArgumentError.isInstance(refusals[0])).toBe(true);
      expect(refusals[0]!.message).toMatch(/temperature of 0.7.*capabilities.temperature is false/);
      expect(UnknownNameError.isInstance(refusals[1])).toBe(true);
      expect(refusals[2]!.message).toMatch(/entropy bonus/);
      expect(refusals[3]!.message).toMatch(/clipRatioLow \(clip_ratio_low\) is not read/);
      const sampler = await link.client.saveWeightsForSampler('s');
      const afterSave = log.length;
      const score = await expectHicraRejection(
        sampler.computeLogProbs({
          prompts: ragged([1]),
          batchSize: 1,
          seqLen: 2,
          tokenIds: Int32Array.of(2, 3),
          responseMask: Uint8Array.of(1, 1),
          temperature: 2,
        }),
      );
      expect(score.message).toMatch(/temperature other than 1/);
      expect(log.length).toBe(afterSave);
      expect(afterSave - before).toBeGreaterThan(0); // only the save went out
    } finally {
      await link.close();
    }
  });

  it('extensions travel to a server that offers them: temperature, entropies, KL and entropy terms, local losses', async () => {
    const engine = new RecordingEngine({
      vocabSize: 50,
      capabilities: {
        entropies: true,
        klTerm: true,
        entropyBonus: true,
        temperature: true,
        losses: [...TINKER_LOSS_NAMES, ...LOCAL_LOSS_NAMES],
      },
    });
    const link = await loopback(engine);
    try {
      const d = {
        ...datum([1, 2, 3, 4], { rl: true }),
        refLogProbs: Float32Array.of(-1, -2, -3),
      };
      const loss = {
        name: 'gspo' as const,
        settings: {
          clipRatioLow: 0.2,
          clipRatioHigh: 0.28,
          entropyCoefficient: 0.01,
          klCoefficient: 0.05,
          klEstimator: 'k3' as const,
        },
      };
      const result = await link.client.forwardBackward([d], loss, { temperature: 0.7 });
      expect(result.outputs[0]!.entropies).toEqual(new Float32Array(3).fill(0.5));
      const call = engine.calls.find((c) => c.method === 'forwardBackward')!;
      const [data, sentLoss, options] = call.args as [DatumV1[], unknown, unknown];
      expect(sentLoss).toEqual(loss);
      expect(options).toEqual({ temperature: 0.7 });
      expect(data[0]!.refLogProbs).toEqual(d.refLogProbs);
      expect(data[0]!.weights).toEqual(d.weights);
    } finally {
      await link.close();
    }
  });
});

describe('what crosses the wire equals the engine in process', () => {
  it('forward log-probs and entropies, at temperature 1 and 0.7', async () => {
    const engine = new BigramEngine({ vocabSize: 16 });
    const reference = new BigramEngine({ vocabSize: 16 });
    const link = await loopback(engine);
    try {
      const data = [datum([1, 5, 9, 3, 2]), datum([7, 7, 0])];
      for (const temperature of [1, 0.7]) {
        const remote = await link.client.forward(data, { name: 'cross-entropy' }, { temperature });
        const local = await reference.forward(data, { name: 'cross-entropy' }, { temperature });
        expect(remote.outputs).toEqual(local.outputs);
        expect(remote.metrics['loss:sum']).toBe(local.metrics['loss:sum']);
      }
    } finally {
      await link.close();
    }
  });

  it('sampling and scoring: the same tokens, log-probs and stops as the sampler in process', async () => {
    const engine = new BigramEngine({ vocabSize: 16 });
    const link = await loopback(engine);
    try {
      const remote = await link.client.saveWeightsForSampler('s');
      const local = engine.samplers.at(-1)!;
      const request = {
        prompts: ragged([1, 2], [3], [4, 5, 6]),
        samplesPerPrompt: 3,
        maxNewTokens: 7,
        temperature: 0.9,
        stopTokenIds: [0, 15],
        seed: 42,
      };
      const overHttp = await remote.sample(request);
      const inProcess = await local.sample(request);
      expect(overHttp).toEqual(inProcess);
      const score = {
        prompts: ragged([1, 2], [3, 3, 3]),
        batchSize: 2,
        seqLen: 4,
        tokenIds: Int32Array.of(4, 5, 6, 7, 8, 9, 0, 0),
        responseMask: Uint8Array.of(1, 1, 1, 1, 1, 1, 0, 0),
        temperature: 0.9,
      };
      expect(await remote.computeLogProbs(score)).toEqual(await local.computeLogProbs(score));
      await remote.dispose();
    } finally {
      await link.close();
    }
  });

  it('a large call goes as chunks (maxChunkDatums), merged back in order with metrics summed', async () => {
    const log: HttpRequestLogEntry[] = [];
    const engine = new RecordingEngine({ vocabSize: 50 });
    const link = await loopback(engine, {
      server: { onRequestLog: (e) => log.push(e) },
      client: { maxChunkDatums: 2 },
    });
    try {
      const data = [0, 1, 2, 3, 4].map((k) => datum([k + 1, k + 2, k + 3 + (k % 3)]));
      const chunked = await link.client.forwardBackward(data, { name: 'cross-entropy' });
      expect(log.filter((e) => e.path === '/api/v1/forward_backward')).toHaveLength(3);
      const whole = await engine.forward(data, { name: 'cross-entropy' });
      expect(chunked.outputs).toEqual(whole.outputs);
      expect(chunked.metrics['loss:sum']).toBeCloseTo(whole.metrics['loss:sum']!, 5);
    } finally {
      await link.close();
    }
  });

  it('calls made without waiting reach the engine in call order, with increasing seq_ids', async () => {
    const engine = new RecordingEngine({ vocabSize: 50 });
    const link = await loopback(engine);
    try {
      const d = [datum([1, 2, 3])];
      await Promise.all([
        link.client.forwardBackward(d, { name: 'cross-entropy' }),
        link.client.forwardBackward(d, { name: 'cross-entropy' }),
        link.client.optimStep({ learningRate: 1e-3 }),
        link.client.saveState('after-step'),
        link.client.forward(d),
      ]);
      expect(engine.calls.map((c) => c.method)).toEqual([
        'forwardBackward',
        'forwardBackward',
        'optimStep',
        'saveState',
        'forward',
      ]);
      expect(link.client.lastSeqId).toBe(5);
    } finally {
      await link.close();
    }
  });
});

describe('samplers', () => {
  it('dispose() releases the sampler on the server; maxSamplers evicts the oldest', async () => {
    const engine = new BigramEngine({ vocabSize: 8 });
    const link = await loopback(engine, { server: { maxSamplers: 2 } });
    try {
      const request = { prompts: ragged([1]), samplesPerPrompt: 1, maxNewTokens: 2, seed: 1 };
      const a = await link.client.saveWeightsForSampler('a');
      const b = await link.client.saveWeightsForSampler('b');
      await b.dispose();
      expect(engine.samplers[1]!.disposed).toBe(true);
      expect(engine.samplers[0]!.disposed).toBe(false);
      await expect(b.sample(request)).rejects.toThrow(/disposed/);
      const c = await link.client.saveWeightsForSampler('c');
      const d = await link.client.saveWeightsForSampler('d');
      // a, c, d made; two kept: a went.
      expect(engine.samplers.map((s) => s.disposed)).toEqual([true, true, false, false]);
      const evicted = await expectHicraRejection(a.sample(request));
      expect(InvalidArgumentError.isInstance(evicted)).toBe(true);
      expect(evicted.message).toMatch(/HTTP 404.*released/);
      await expect(c.sample(request)).resolves.toMatchObject({ batchSize: 1 });
      await d.dispose();
      await c.dispose();
    } finally {
      await link.close();
    }
  });

  it('named sampler weights, and a sampler of the base weights from TinkerSamplingClient.create', async () => {
    const engine = new BigramEngine({ vocabSize: 8 });
    const base = new BigramSampler(engine.weights.slice(), 8);
    const link = await loopback(engine, {
      sampling: base,
      client: { namedSamplerWeights: true },
    });
    try {
      const named = await link.client.saveWeightsForSampler('step_1');
      expect(named.modelPath).toBe(`tinker://${link.client.modelId}/sampler_weights/step_1`);
      const request = { prompts: ragged([1, 2]), samplesPerPrompt: 2, maxNewTokens: 3, seed: 9 };
      expect(await named.sample(request)).toEqual(await engine.samplers[0]!.sample(request));
      const fromBase = await TinkerSamplingClient.create({
        baseUrl: link.url,
        baseModel: 'bigram-test',
        heartbeatIntervalMs: 0,
      });
      expect(fromBase.features.hicra).toBe(true);
      expect(await fromBase.sample(request)).toEqual(await base.sample(request));
      await fromBase.dispose();
      expect(base.disposed).toBe(false); // the caller's sampler stays the caller's
      expect(fromBase.session.closed).toBe(true);
    } finally {
      await link.close();
    }
  });
});

describe('errors from the engine', () => {
  it('come back as the same typed error, with the server message, the endpoint and the request id', async () => {
    const engine = new RecordingEngine({ vocabSize: 50 });
    const link = await loopback(engine);
    try {
      engine.failNext = {
        method: 'forwardBackward',
        error: new ShapeError('packed batch has 3 rows for 2 datums', {
          source: 'engine',
          details: { field: 'rows', expected: 2, actual: 3 },
        }),
      };
      const error = await expectHicraRejection(
        link.client.forwardBackward([datum([1, 2, 3])], { name: 'cross-entropy' }),
      );
      expect(ShapeError.isInstance(error)).toBe(true);
      expect(error.message).toContain('engine: packed batch has 3 rows for 2 datums');
      expect(error.message).toContain('POST /api/v1/forward_backward (request ');
      expect(error.details).toMatchObject({
        field: 'rows',
        expected: 2,
        category: 'user',
        endpoint: 'POST /api/v1/forward_backward',
      });
      expect(error.details.requestId).toMatch(/^[0-9a-f]{32}$/);

      engine.failNext = { method: 'optimStep', error: new TypeError('engine crashed') };
      const crash = await expectHicraRejection(link.client.optimStep({ learningRate: 1e-3 }));
      expect(crash.code).toBe('HICRA_BACKEND_UNAVAILABLE');
      expect(crash.message).toMatch(/category server.*TypeError: engine crashed/);
      // The server keeps serving.
      await expect(link.client.forward([datum([1, 2, 3])])).resolves.toMatchObject({ metrics: {} });
    } finally {
      await link.close();
    }
  });
});

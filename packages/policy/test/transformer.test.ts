import { type ConfigError, ErrorCode } from '@hicra/spec';
import { expectHicraError, expectHicraRejection } from '@hicra/spec/testing';
import { SeededGenerator, tf, tokenLogProbs } from '@hicra/tensor';
import { expectClose } from '@hicra/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  parameterCount,
  resolveTransformerConfig,
  sampleToken,
  Transformer,
  type TransformerConfigInput,
  TransformerPolicy,
} from '../src/index.js';

const tiny: TransformerConfigInput = {
  vocabSize: 23,
  contextLength: 40,
  width: 16,
  layers: 2,
  heads: 2,
};

function ragged(prompts: number[][]) {
  const offsets = [0];
  for (const p of prompts) offsets.push(offsets[offsets.length - 1]! + p.length);
  return { tokenIds: Int32Array.from(prompts.flat()), offsets: Int32Array.from(offsets) };
}

describe('config', () => {
  it('fills defaults and counts parameters', () => {
    const config = resolveTransformerConfig(tiny);
    expect(config).toMatchObject({
      mlp: 'gelu',
      norm: 'layernorm',
      tiedEmbeddings: false,
      mlpRatio: 4,
    });
    // embed 23·16 + per layer (2·16 + 16·48 + 16·16 + 2·16 + 16·64 + 64·16) + final 2·16 + head 16·23
    expect(parameterCount(config)).toBe(
      23 * 16 + 2 * (32 + 768 + 256 + 32 + 1024 + 1024) + 32 + 16 * 23,
    );
    expect(
      parameterCount(
        resolveTransformerConfig({ ...tiny, tiedEmbeddings: true, norm: 'rmsnorm', mlp: 'swiglu' }),
      ),
    ).toBe(23 * 16 + 2 * (16 + 768 + 256 + 16 + 3 * 1024) + 16);
  });

  it.each([
    [{ ...tiny, heads: 3 }, 'heads', 'width 16 is not a multiple of heads 3'],
    [{ ...tiny, width: 12, heads: 4 }, 'heads', 'width / heads = 3 must be even'],
    [{ ...tiny, layers: 0 }, 'layers', 'positive integer'],
    [{ ...tiny, mlp: 'relu' }, 'mlp', '"gelu" or "swiglu"'],
    [{ ...tiny, depth: 3 }, 'depth', 'unknown transformer setting'],
    [{ ...tiny, initStd: -1 }, 'initStd', 'positive number'],
    [{ ...tiny, initStd: Number.NaN }, 'initStd', 'must be a positive number, got NaN'],
    [{ ...tiny, ropeBase: Number.POSITIVE_INFINITY }, 'ropeBase', 'got Infinity'],
  ])('rejects %j at key %s', (input, path, fragment) => {
    const error = expectHicraError(() =>
      resolveTransformerConfig(input as TransformerConfigInput),
    ) as ConfigError;
    expect(error.code).toBe(ErrorCode.InvalidConfig);
    expect(error.path).toBe(path);
    expect(error.message).toContain(fragment);
  });
});

describe.each([
  ['gelu + layernorm, untied', {}],
  ['swiglu + rmsnorm, tied', { mlp: 'swiglu', norm: 'rmsnorm', tiedEmbeddings: true }],
] as const)('transformer policy (%s)', (_name, variant) => {
  const make = (seed = 1) =>
    TransformerPolicy.create({ ...tiny, ...variant }, { seed, microBatchSize: 2 });

  it('initialises deterministically from the seed', () => {
    const a = make(3);
    const b = make(3);
    const c = make(4);
    const first = (p: TransformerPolicy) =>
      Array.from(p.trainableVariables()[0]!.dataSync().slice(0, 5));
    expect(first(a)).toEqual(first(b));
    expect(first(a)).not.toEqual(first(c));
    for (const p of [a, b, c]) p.dispose();
  });

  it('KV-cache decoding equals full recomputation (logits within 1e-4)', () => {
    const policy = make();
    const model = policy.model;
    const ids = [3, 9, 4, 17, 5, 11, 2];
    tf.tidy(() => {
      const full = policy.fullLogits(Int32Array.from(ids), 1, ids.length);
      const prefix = 3;
      const pre = model.forward(
        {
          ids: tf.tensor2d(ids.slice(0, prefix), [1, prefix], 'int32'),
          positions: Int32Array.from([0, 1, 2]),
          keyMask: new Uint8Array(prefix).fill(1),
        },
        true,
      );
      expectClose(
        model.logits(pre.hidden),
        tf.slice(full, [0, 0, 0], [1, prefix, tiny.vocabSize]),
        { atol: 1e-4 },
      );
      let cache = pre.cache!;
      for (let t = prefix; t < ids.length; t++) {
        const step = model.forward(
          {
            ids: tf.tensor2d([ids[t]!], [1, 1], 'int32'),
            positions: Int32Array.of(t),
            keyMask: new Uint8Array(t + 1).fill(1),
            cache,
          },
          true,
        );
        expectClose(model.logits(step.hidden), tf.slice(full, [0, t, 0], [1, 1, tiny.vocabSize]), {
          atol: 1e-4,
          label: `step ${t}`,
        });
        cache = step.cache!;
      }
    });
    policy.dispose();
  });

  it('left padding does not change a sequence’s logits', () => {
    const policy = make();
    tf.tidy(() => {
      const alone = policy.fullLogits(Int32Array.of(5, 6, 7), 1, 3);
      const padded = policy.fullLogits(
        Int32Array.of(0, 0, 5, 6, 7),
        1,
        5,
        Uint8Array.of(0, 0, 1, 1, 1),
        Int32Array.of(0, 0, 0, 1, 2),
      );
      expectClose(tf.slice(padded, [0, 2, 0], [1, 3, tiny.vocabSize]), alone, { atol: 1e-4 });
    });
    policy.dispose();
  });

  it('greedy sampling picks the argmax of the scored sequence; scores match log-softmax of full logits', async () => {
    const policy = make();
    const prompts = ragged([[1, 4, 6], [2]]);
    const sampled = await policy.sample({
      prompts,
      samplesPerPrompt: 2,
      maxNewTokens: 6,
      temperature: 0,
      seed: 5,
    });
    expect(sampled.batchSize).toBe(4);
    expect(Array.from(sampled.promptIndex)).toEqual([0, 0, 1, 1]);
    expect(Array.from(sampled.tokenIds.subarray(0, 6))).toEqual(
      Array.from(sampled.tokenIds.subarray(6, 12)),
    );
    const scorePrompts = ragged([[1, 4, 6], [1, 4, 6], [2], [2]]);
    const scored = await policy.score({
      prompts: scorePrompts,
      batchSize: 4,
      seqLen: 6,
      tokenIds: sampled.tokenIds,
      responseMask: sampled.responseMask,
    });
    expectClose(scored.logProbs, sampled.logProbs, { atol: 1e-4 });
    // every greedy token is the argmax at its position of a full recomputation
    const sequence = [1, 4, 6, ...sampled.tokenIds.subarray(0, 6)];
    tf.tidy(() => {
      const logits = policy.fullLogits(Int32Array.from(sequence), 1, sequence.length);
      const argmax = Array.from(tf.argMax(logits, -1).dataSync());
      expect(argmax.slice(2, 8)).toEqual(Array.from(sampled.tokenIds.subarray(0, 6)));
      const expected = tokenLogProbs(
        tf.slice(logits, [0, 2, 0], [1, 6, tiny.vocabSize]),
        tf.tensor2d([Array.from(sampled.tokenIds.subarray(0, 6))], [1, 6], 'int32'),
      );
      expectClose(scored.logProbs.subarray(0, 6), expected, { atol: 1e-4 });
    });
    expect(
      Array.from(scored.entropies).every((h, k) => (sampled.responseMask[k] ? h > 0 : h === 0)),
    ).toBe(true);
    policy.dispose();
  });

  it('sampling is reproducible from the seed, varies with it, and respects stop tokens', async () => {
    const policy = make();
    const prompts = ragged([[1, 2], [3]]);
    const request = {
      prompts,
      samplesPerPrompt: 3,
      maxNewTokens: 8,
      temperature: 1,
      topK: 10,
      topP: 0.95,
      seed: 11,
    };
    const a = await policy.sample(request);
    const b = await policy.sample(request);
    const c = await policy.sample({ ...request, seed: 12 });
    expect(a.tokenIds).toEqual(b.tokenIds);
    expect(a.logProbs).toEqual(b.logProbs);
    expect(a.tokenIds).not.toEqual(c.tokenIds);
    const stopAll = await policy.sample({
      ...request,
      stopTokenIds: Array.from({ length: tiny.vocabSize }, (_, i) => i),
    });
    expect(Array.from(stopAll.finished)).toEqual([1, 1, 1, 1, 1, 1]);
    for (let r = 0; r < 6; r++)
      expect(Array.from(stopAll.responseMask.subarray(r * 8, r * 8 + 8))).toEqual([
        1, 0, 0, 0, 0, 0, 0, 0,
      ]);
    expect(Array.from(a.finished)).toEqual([0, 0, 0, 0, 0, 0]);
    policy.dispose();
  });

  it('micro-batched scoring equals one pass; tokenStatistics gives the same values as tensors', async () => {
    const policy = make();
    const g = new SeededGenerator(9);
    const prompts = ragged([[1, 2, 3], [4], [5, 6], [7, 8, 9, 10], [11]]);
    const tokenIds = Int32Array.from({ length: 5 * 4 }, () => g.nextInt(tiny.vocabSize));
    const responseMask = Uint8Array.from([
      1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1,
    ]);
    const request = { prompts, batchSize: 5, seqLen: 4, tokenIds, responseMask };
    const scored = await policy.score(request);
    const whole = await new TransformerPolicy(policy.model, { microBatchSize: 100 }).score(request);
    expectClose(scored.logProbs, whole.logProbs, { atol: 1e-5 });
    tf.tidy(() => {
      const stats = policy.tokenStatistics(request);
      expect(stats.logProbs.shape).toEqual([5, 4]);
      expectClose(stats.logProbs, scored.logProbs, { atol: 1e-5 });
      expectClose(stats.entropies, scored.entropies, { atol: 1e-5 });
    });
    expect(scored.logProbs[6] === 0 && scored.entropies[6] === 0).toBe(true);
    policy.dispose();
  });

  it('trains: gradients flow to every variable and Adam raises the log-likelihood of a batch', () => {
    const policy = make();
    const request = {
      prompts: ragged([
        [1, 2],
        [3, 4],
      ]),
      batchSize: 2,
      seqLen: 3,
      tokenIds: Int32Array.of(5, 6, 7, 8, 9, 10),
      responseMask: new Uint8Array(6).fill(1),
    };
    const optimizer = tf.train.adam(0.01);
    const nll = () => tf.neg(tf.mean(policy.tokenStatistics(request).logProbs)) as tf.Scalar;
    const before = tf.tidy(() => nll().dataSync()[0]!);
    tf.tidy(() => {
      const { grads } = tf.variableGrads(nll, policy.trainableVariables());
      for (const variable of policy.trainableVariables()) {
        const grad = grads[variable.name]!;
        expect(Array.from(grad.dataSync()).every(Number.isFinite), variable.name).toBe(true);
        expect(tf.sum(tf.abs(grad)).dataSync()[0], variable.name).toBeGreaterThan(0);
      }
    });
    for (let step = 0; step < 20; step++)
      optimizer.minimize(nll, true, policy.trainableVariables())?.dispose();
    const after = tf.tidy(() => nll().dataSync()[0]!);
    expect(after).toBeLessThan(before * 0.7);
    optimizer.dispose();
    policy.dispose();
  });
});

describe('bad input', () => {
  it('rejects ids out of the vocabulary, long prompts, empty prompts and bad sampling settings', async () => {
    const policy = TransformerPolicy.create(tiny, { seed: 1 });
    const base = { prompts: ragged([[1, 2]]), samplesPerPrompt: 1, maxNewTokens: 4, seed: 1 };
    expect(
      (await expectHicraRejection(policy.sample({ ...base, prompts: ragged([[1, 99]]) }))).message,
    ).toContain('prompts.tokenIds[1] = 99 is outside the vocabulary [0, 23)');
    expect(
      (await expectHicraRejection(policy.sample({ ...base, maxNewTokens: 39 }))).message,
    ).toContain('prompt 0 (2 tokens) + maxNewTokens 39 exceed the context length 40');
    expect(
      (await expectHicraRejection(policy.sample({ ...base, prompts: ragged([[]]) }))).message,
    ).toContain('prompt 0 is empty');
    expect((await expectHicraRejection(policy.sample({ ...base, topP: 0 }))).message).toContain(
      'topP must be in (0, 1]',
    );
    expect(
      (await expectHicraRejection(policy.sample({ ...base, stopTokenIds: [23] }))).message,
    ).toContain('stopTokenIds[0] = 23');
    const score = {
      prompts: ragged([[1]]),
      batchSize: 1,
      seqLen: 2,
      tokenIds: Int32Array.of(1, 50),
      responseMask: Uint8Array.of(1, 1),
    };
    expect((await expectHicraRejection(policy.score(score))).message).toContain(
      'tokenIds[1] = 50 is outside the vocabulary',
    );
    expect(
      (await expectHicraRejection(policy.score({ ...score, tokenIds: Int32Array.of(1) }))).code,
    ).toBe(ErrorCode.ShapeMismatch);
    policy.dispose();
  });
});

describe('TransformerPolicy at a temperature', () => {
  const make = (seed = 1) => TransformerPolicy.create(tiny, { seed, microBatchSize: 2, padId: 0 });

  it.each([0.6, 1.7])(
    'scoring at temperature %s equals the log-probs the sampler returned (top-k/top-p off), as tensors too',
    async (temperature) => {
      const policy = make(4);
      const sampled = await policy.sample({
        prompts: ragged([
          [1, 4, 6],
          [2, 9],
        ]),
        samplesPerPrompt: 3,
        maxNewTokens: 5,
        temperature,
        stopTokenIds: [3],
        seed: 11,
      });
      const request = {
        prompts: ragged([
          [1, 4, 6],
          [1, 4, 6],
          [1, 4, 6],
          [2, 9],
          [2, 9],
          [2, 9],
        ]),
        batchSize: 6,
        seqLen: 5,
        tokenIds: sampled.tokenIds,
        responseMask: sampled.responseMask,
        temperature,
      };
      const scored = await policy.score(request);
      expectClose(scored.logProbs, sampled.logProbs, { atol: 1e-4 });
      // at temperature 1 they differ: the ratio would compare two distributions
      const untempered = await policy.score({ ...request, temperature: 1 });
      const gap = Math.max(
        ...Array.from(untempered.logProbs, (x, k) => Math.abs(x - sampled.logProbs[k]!)),
      );
      expect(gap).toBeGreaterThan(1e-3);
      tf.tidy(() => {
        const stats = policy.tokenStatistics(request);
        expectClose(stats.logProbs, scored.logProbs, { atol: 1e-5 });
        expectClose(stats.entropies, scored.entropies, { atol: 1e-5 });
      });
      policy.dispose();
    },
  );

  it('refuses a temperature that is not a finite number > 0, naming it', async () => {
    const policy = make();
    const request = {
      prompts: ragged([[1]]),
      batchSize: 1,
      seqLen: 1,
      tokenIds: Int32Array.of(2),
      responseMask: Uint8Array.of(1),
    };
    for (const temperature of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = await expectHicraRejection(policy.score({ ...request, temperature }));
      expect(error.code).toBe(ErrorCode.InvalidArgument);
      expect(error.message).toMatch(/score: temperature must be a finite number > 0/);
    }
    policy.dispose();
  });

  it('clone() is a frozen, independent copy of the weights', async () => {
    const policy = make(2);
    const copy = policy.clone();
    const names = [...policy.model.parameters().keys()];
    expect([...copy.model.parameters().keys()]).toEqual(names);
    const before = copy.trainableVariables().map((v) => v.dataSync().slice());
    policy.trainableVariables().forEach((v, i) => {
      expect(before[i]).toEqual(v.dataSync());
      tf.tidy(() => v.assign(tf.add(v, 1)));
    });
    copy.trainableVariables().forEach((v, i) => {
      expect(v.dataSync()).toEqual(before[i]);
      expect(v.trainable).toBe(false);
    });
    copy.dispose();
    policy.dispose();
  });
});

describe('sampleToken', () => {
  const logits = Float32Array.of(1, 3, 2, -1);
  const lse = Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(-1));

  it('greedy at temperature 0, with the untempered log-prob', () => {
    const { token, logProb } = sampleToken(
      logits,
      { temperature: 0, topK: 0, topP: 1 },
      new SeededGenerator(1),
    );
    expect(token).toBe(1);
    expect(logProb).toBeCloseTo(3 - lse, 12);
  });

  it('top-k 1 and a tiny top-p are greedy; top-k 2 never draws outside the two best', () => {
    const g = new SeededGenerator(2);
    for (let i = 0; i < 50; i++) {
      expect(sampleToken(logits, { temperature: 1, topK: 1, topP: 1 }, g).token).toBe(1);
      expect(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.01 }, g).token).toBe(1);
      expect([1, 2]).toContain(sampleToken(logits, { temperature: 1, topK: 2, topP: 1 }, g).token);
    }
  });

  it('returns the log-prob after temperature, before top-k/top-p', () => {
    const tempered = (t: number, v: number) => {
      const scaled = Array.from(logits, (l) => l / t);
      const m = Math.max(...scaled);
      return scaled[v]! - m - Math.log(scaled.reduce((a, x) => a + Math.exp(x - m), 0));
    };
    const g = new SeededGenerator(4);
    for (const options of [
      { temperature: 0.5, topK: 0, topP: 1 },
      { temperature: 2, topK: 2, topP: 1 },
      { temperature: 0.7, topK: 0, topP: 0.5 },
    ]) {
      for (let i = 0; i < 20; i++) {
        const { token, logProb } = sampleToken(logits, options, g);
        expect(logProb).toBeCloseTo(tempered(options.temperature, token), 10);
      }
    }
  });

  it('samples in proportion to softmax(logits / temperature)', () => {
    const g = new SeededGenerator(3);
    const counts = [0, 0, 0, 0];
    const n = 20_000;
    for (let i = 0; i < n; i++)
      counts[sampleToken(logits, { temperature: 2, topK: 0, topP: 1 }, g).token]!++;
    const weights = Array.from(logits, (l) => Math.exp(l / 2));
    const total = weights.reduce((a, b) => a + b, 0);
    counts.forEach((c, v) => {
      expect(Math.abs(c / n - weights[v]! / total)).toBeLessThan(0.015);
    });
  });
});

describe('Transformer', () => {
  it('exposes variables in the stable parameter order and disposes them', () => {
    const model = Transformer.initialise(resolveTransformerConfig(tiny), 1);
    expect([...model.parameters().keys()].slice(0, 3)).toEqual([
      'embed.weight',
      'layers.0.attn_norm.weight',
      'layers.0.attn_norm.bias',
    ]);
    expect(model.variables()[0]!.name).toMatch(/^m\d+\/embed\.weight$/);
    model.dispose();
  });
});

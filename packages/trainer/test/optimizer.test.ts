import { TransformerPolicy } from '@hicra/policy';
import { ErrorCode, NonFiniteError } from '@hicra/spec';
import { tf } from '@hicra/tensor';
import { expectClose } from '@hicra/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  AdamOptimizer,
  clipByGlobalNorm,
  learningRateAt,
  policyUpdate,
  supervisedUpdate,
} from '../src/index.js';

describe('learningRateAt', () => {
  it('warms up linearly, then decays with a cosine to the floor', () => {
    const s = { learningRate: 1, warmupSteps: 4, totalSteps: 14, minLearningRate: 0.1 };
    expect([0, 1, 2, 3].map((t) => learningRateAt(t, s))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRateAt(4, s)).toBe(1);
    expect(learningRateAt(9, s)).toBeCloseTo(0.55, 12);
    expect(learningRateAt(14, s)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(100, s)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(50, { learningRate: 0.3 })).toBe(0.3);
    expect(() => learningRateAt(0, { learningRate: 0 })).toThrow(
      /learningRate must be a positive number/,
    );
  });
});

/** A variable that owns its data (the initial tensor is disposed). */
function variableOf(initial: tf.Tensor, name: string): tf.Variable {
  const variable = tf.variable(initial, true, name);
  initial.dispose();
  return variable;
}

describe('AdamOptimizer', () => {
  it('matches tfjs Adam step for step (no weight decay)', () => {
    const ours = variableOf(tf.tensor1d([1, -2, 3]), 'adam-ours');
    const theirs = variableOf(tf.tensor1d([1, -2, 3]), 'adam-theirs');
    const optimizer = new AdamOptimizer([ours], { name: 'adam' });
    const reference = tf.train.adam(0.1, 0.9, 0.999, 1e-8);
    const loss = (v: tf.Variable) => () =>
      tf.sum(tf.mul(tf.square(v), tf.tensor1d([1, 2, 3]))) as tf.Scalar;
    for (let step = 0; step < 5; step++) {
      const { grads, value } = tf.variableGrads(loss(ours), [ours]);
      optimizer.apply(grads, 0.1);
      tf.dispose([value, ...Object.values(grads)]);
      reference.minimize(loss(theirs), false, [theirs]);
    }
    expectClose(ours, theirs, { atol: 1e-6 });
    optimizer.dispose();
    reference.dispose();
    tf.dispose([ours, theirs]);
  });

  it('AdamW decays matrices but not vectors, and its state restores exactly', async () => {
    const matrix = variableOf(tf.ones([2, 2]), 'adamw-matrix');
    const vector = variableOf(tf.ones([2]), 'adamw-vector');
    const optimizer = new AdamOptimizer([matrix, vector], { name: 'adamw', weightDecay: 0.5 });
    const zeroGrads = { [matrix.name]: tf.zeros([2, 2]), [vector.name]: tf.zeros([2]) };
    optimizer.apply(zeroGrads, 0.1);
    expectClose(matrix, [0.95, 0.95, 0.95, 0.95]);
    expectClose(vector, [1, 1]);
    const grads = { [matrix.name]: tf.ones([2, 2]), [vector.name]: tf.ones([2]) };
    optimizer.apply(grads, 0.1);
    const state = await optimizer.getState();
    expect(state.step).toBe(2);
    const resumed = new AdamOptimizer([matrix, vector], { name: 'adamw', weightDecay: 0.5 });
    resumed.setState(state);
    const snapshot = [matrix.dataSync().slice(), vector.dataSync().slice()];
    optimizer.apply(grads, 0.1);
    const continued = [matrix.dataSync().slice(), vector.dataSync().slice()];
    tf.tidy(() => {
      matrix.assign(tf.tensor2d(snapshot[0]!, [2, 2]));
      vector.assign(tf.tensor1d(snapshot[1]!));
    });
    resumed.apply(grads, 0.1);
    expect(matrix.dataSync()).toEqual(continued[0]);
    expect(vector.dataSync()).toEqual(continued[1]);
    expect(() => resumed.setState({ step: 1, moments: [] })).toThrow(
      /0 moment pairs, the model has 2 variables/,
    );
    tf.dispose([...Object.values(zeroGrads), ...Object.values(grads), matrix, vector]);
    optimizer.dispose();
    resumed.dispose();
  });

  it('rejects invalid settings', () => {
    expect(() => new AdamOptimizer([], { beta1: 1 })).toThrow(/beta1 must be in \[0, 1\)/);
    expect(() => new AdamOptimizer([], { epsilon: 0 })).toThrow(/epsilon must be > 0/);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales to the maximum norm and reports the norm before clipping', () => {
    const grads = { a: tf.tensor1d([3, 0]), b: tf.tensor1d([0, 4]) };
    const clipped = clipByGlobalNorm(grads, 1);
    expect(clipped.norm).toBeCloseTo(5, 6);
    expectClose(clipped.grads.a!, [0.6, 0], { atol: 1e-5 });
    const untouched = clipByGlobalNorm(grads, 10);
    expectClose(untouched.grads.b!, [0, 4]);
    tf.dispose([
      ...Object.values(grads),
      ...Object.values(clipped.grads),
      ...Object.values(untouched.grads),
    ]);
  });
});

describe('update steps on a tiny policy', () => {
  const config = { vocabSize: 17, contextLength: 24, width: 16, layers: 1, heads: 2 };
  const ragged = (prompts: number[][]) => {
    const offsets = [0];
    for (const p of prompts) offsets.push(offsets[offsets.length - 1]! + p.length);
    return { tokenIds: Int32Array.from(prompts.flat()), offsets: Int32Array.from(offsets) };
  };
  const request = {
    prompts: ragged([
      [1, 2],
      [1, 2],
    ]),
    batchSize: 2,
    seqLen: 3,
    tokenIds: Int32Array.of(5, 6, 7, 8, 9, 10),
    responseMask: Uint8Array.of(1, 1, 1, 1, 1, 0),
  };
  const settings = {
    lossAggregation: 'token-mean' as const,
    clipRatioLow: 0.2,
    clipRatioHigh: 0.28,
    clipRatioC: 3,
    entropyCoefficient: 0,
    klCoefficient: 0,
    klEstimator: 'k3' as const,
    maxGradNorm: 1,
  };

  it('a positive advantage raises the log-prob of its response, a negative one lowers it', async () => {
    const policy = TransformerPolicy.create(config, { seed: 2 });
    const optimizer = new AdamOptimizer(policy.trainableVariables(), { name: 'adam' });
    const before = await policy.score(request);
    const advantages = Float32Array.of(1, 1, 1, -1, -1, 0);
    for (let step = 0; step < 3; step++) {
      const metrics = policyUpdate(
        policy,
        optimizer,
        { request, oldLogProbs: before.logProbs, advantages, lossMask: request.responseMask },
        settings,
        0.01,
      );
      expect(metrics.skipped).toBe(false);
      expect(Number.isFinite(metrics.gradNorm)).toBe(true);
      if (step === 0) {
        expect(metrics.clipFraction).toBe(0);
        expect(Math.abs(metrics.approxKl)).toBeLessThan(1e-6);
        expect(metrics.policyLoss).toBeCloseTo(-(3 - 2) / 5, 5);
      }
    }
    const after = await policy.score(request);
    const sum = (a: Float32Array, from: number, to: number) =>
      a.slice(from, to).reduce((x, y) => x + y, 0);
    expect(sum(after.logProbs, 0, 3)).toBeGreaterThan(sum(before.logProbs, 0, 3));
    expect(sum(after.logProbs, 3, 5)).toBeLessThan(sum(before.logProbs, 3, 5));
    optimizer.dispose();
    policy.dispose();
  });

  it('a NaN advantage at a loss-masked token leaves the weights untouched and throws, or skips', async () => {
    const policy = TransformerPolicy.create(config, { seed: 3 });
    const optimizer = new AdamOptimizer(policy.trainableVariables());
    const old = await policy.score(request);
    const advantages = Float32Array.of(Number.NaN, 1, 1, 1, 1, 0);
    const weights = policy.trainableVariables()[0]!.dataSync().slice();
    expect(() =>
      policyUpdate(
        policy,
        optimizer,
        { request, oldLogProbs: old.logProbs, advantages, lossMask: request.responseMask },
        settings,
        0.01,
      ),
    ).toThrow(NonFiniteError);
    expect(policy.trainableVariables()[0]!.dataSync()).toEqual(weights);
    const skipped = policyUpdate(
      policy,
      optimizer,
      { request, oldLogProbs: old.logProbs, advantages, lossMask: request.responseMask },
      settings,
      0.01,
      'skip',
    );
    expect(skipped.skipped).toBe(true);
    expect(policy.trainableVariables()[0]!.dataSync()).toEqual(weights);
    expect(optimizer.step).toBe(0);
    optimizer.dispose();
    policy.dispose();
  });

  it('the non-finite guards name the step, the quantity and the values', async () => {
    const policy = TransformerPolicy.create(config, { seed: 5 });
    const optimizer = new AdamOptimizer(policy.trainableVariables());
    const old = await policy.score(request);
    const nanAdvantages = Float32Array.of(Number.NaN, 1, 1, 1, 1, 0);
    const error = (() => {
      try {
        policyUpdate(
          policy,
          optimizer,
          {
            request,
            oldLogProbs: old.logProbs,
            advantages: nanAdvantages,
            lossMask: request.responseMask,
          },
          settings,
          0.01,
          'error',
          { step: 7, epoch: 2, miniBatch: 3 },
        );
      } catch (e) {
        return e as NonFiniteError;
      }
      throw new Error('expected a NonFiniteError');
    })();
    expect(error.code).toBe(ErrorCode.NonFinite);
    expect(error.message).toBe(
      '@hicra/trainer: step 7 (epoch 2, mini-batch 3): policy update produced a non-finite loss (loss NaN, gradient norm NaN); the weights were not changed',
    );
    expect(error.details).toMatchObject({ step: 7, epoch: 2, miniBatch: 3, quantity: 'loss' });

    // Finite gradients, a learning rate far beyond the config's bound: the weights overflow.
    const advantages = Float32Array.of(1, 1, 1, -1, -1, 0);
    expect(() =>
      policyUpdate(
        policy,
        optimizer,
        { request, oldLogProbs: old.logProbs, advantages, lossMask: request.responseMask },
        settings,
        1e39,
        'skip',
        { step: 8, epoch: 1, miniBatch: 1 },
      ),
    ).toThrow(
      /step 8 \(epoch 1, mini-batch 1\): policy update left non-finite weights: ".*"\[\d+\] = (NaN|-?Infinity) after the optimizer step at learning rate 1e\+39/,
    );
    optimizer.dispose();
    policy.dispose();
  });

  it('the entropy bonus and KL loss enter the loss', async () => {
    const policy = TransformerPolicy.create(config, { seed: 4 });
    const optimizer = new AdamOptimizer(policy.trainableVariables());
    const old = await policy.score(request);
    const base = {
      request,
      oldLogProbs: old.logProbs,
      advantages: new Float32Array(6),
      lossMask: request.responseMask,
      refLogProbs: old.logProbs.map((x) => x - 0.5),
    };
    const metrics = policyUpdate(
      policy,
      optimizer,
      base,
      { ...settings, entropyCoefficient: 0.1, klCoefficient: 0.2, klEstimator: 'k1' },
      1e-9,
    );
    expect(metrics.klLoss).toBeCloseTo(0.5, 4);
    expect(metrics.loss).toBeCloseTo(metrics.policyLoss - 0.1 * metrics.entropy + 0.2 * 0.5, 4);
    expect(() =>
      policyUpdate(
        policy,
        optimizer,
        { ...base, refLogProbs: undefined },
        { ...settings, klCoefficient: 0.1 },
        0.01,
      ),
    ).toThrow(/needs refLogProbs/);
    optimizer.dispose();
    policy.dispose();
  });

  it('supervised updates lower the NLL of the responses', () => {
    const policy = TransformerPolicy.create(config, { seed: 5 });
    const optimizer = new AdamOptimizer(policy.trainableVariables());
    const first = supervisedUpdate(policy, optimizer, request, 0.02, 1);
    expect(first.tokens).toBe(5);
    let last = first.loss;
    for (let step = 0; step < 15; step++)
      last = supervisedUpdate(policy, optimizer, request, 0.02, 1).loss;
    expect(last).toBeLessThan(first.loss * 0.6);
    optimizer.dispose();
    policy.dispose();
  });
});

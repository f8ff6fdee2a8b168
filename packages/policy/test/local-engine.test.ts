import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DatumV1,
  ErrorCode,
  HicraError,
  LOSS_NAMES,
  type TrainingClientV1,
} from '@hicra/spec';
import { assertEngineConformance, expectHicraRejection } from '@hicra/spec/testing';
import { type Scalar, SeededGenerator, tf } from '@hicra/tensor';
import { createLeakChecker, expectClose } from '@hicra/tensor/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ENGINE_STATE_FILES,
  LocalSamplingClient,
  LocalTrainingClient,
  loadHuggingFaceModel,
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

const root = mkdtempSync(join(tmpdir(), 'hicra-local-engine-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;

function engine(
  config: TransformerConfigInput = tiny,
  options: { seed?: number; microBatchSize?: number } = {},
) {
  const policy = TransformerPolicy.create(config, {
    seed: options.seed ?? 7,
    ...(options.microBatchSize ? { microBatchSize: options.microBatchSize } : {}),
  });
  const directory = join(root, `engine-${folders++}`);
  const training = LocalTrainingClient.create(policy, { directory, modelName: 'tiny' });
  return {
    policy,
    training,
    directory,
    async dispose() {
      await training.dispose();
      policy.dispose();
    },
  };
}

/** Random datums of the given lengths, with every float field. */
function datums(seed: number, lengths: readonly number[], vocabSize = 23): DatumV1[] {
  const g = new SeededGenerator(seed);
  return lengths.map((n) => {
    const x = Int32Array.from({ length: n + 1 }, () => g.nextInt(vocabSize));
    return {
      inputTokens: x.slice(0, -1),
      targetTokens: x.slice(1),
      weights: Float32Array.from({ length: n }, () => 0.2 + g.nextFloat()),
      logProbs: Float32Array.from({ length: n }, () => -1 - 3 * g.nextFloat()),
      advantages: Float32Array.from({ length: n }, () => 2 * g.nextFloat() - 1),
      refLogProbs: Float32Array.from({ length: n }, () => -1 - 3 * g.nextFloat()),
    };
  });
}

function weightsOf(policy: TransformerPolicy): Map<string, Float32Array> {
  return new Map(
    [...policy.model.parameters()].map(([name, v]) => [name, v.dataSync().slice() as Float32Array]),
  );
}

describe('LocalTrainingClient: conformance', () => {
  it('passes the engine conformance suite of @hicra/spec/testing', async () => {
    const report = await assertEngineConformance(async () => engine());
    expect(report.passed).toBe(true);
  });

  it('passes it on a Hugging Face model too (the Qwen3 golden fixture)', async () => {
    const report = await assertEngineConformance(
      async () => {
        const { policy } = await loadHuggingFaceModel(
          join(import.meta.dirname, 'fixtures', 'hf', 'qwen3-qknorm'),
        );
        const training = LocalTrainingClient.create(policy, {
          directory: join(root, `hf-engine-${folders++}`),
        });
        return {
          training,
          async dispose() {
            await training.dispose();
            policy.dispose();
          },
        };
      },
      { vocabSize: 384 },
    );
    expect(report.passed).toBe(true);
  });
});

describe('LocalTrainingClient: forward and forwardBackward', () => {
  it('describes itself', async () => {
    const e = engine();
    try {
      expect(await e.training.info()).toEqual({
        modelName: 'tiny',
        vocabSize: 23,
        contextLength: 40,
        capabilities: {
          entropies: true,
          klTerm: true,
          entropyBonus: true,
          temperature: true,
          losses: [...LOSS_NAMES],
        },
      });
    } finally {
      await e.dispose();
    }
  });

  it('scores datums as the policy scores prompt + response, per datum', async () => {
    const e = engine();
    try {
      const [a, b] = datums(1, [6, 3]);
      const { outputs, metrics } = await e.training.forward([a!, b!]);
      expect(metrics).toEqual({});
      expect(outputs.map((o) => o.logProbs.length)).toEqual([6, 3]);
      expect(outputs.map((o) => o.entropies!.length)).toEqual([6, 3]);
      // Datum a as prompt = its first token, response = its targets.
      const score = await e.policy.score({
        prompts: { tokenIds: a!.inputTokens.slice(0, 1), offsets: Int32Array.from([0, 1]) },
        batchSize: 1,
        seqLen: 6,
        tokenIds: a!.targetTokens,
        responseMask: new Uint8Array(6).fill(1),
      });
      expectClose(outputs[0]!.logProbs, score.logProbs, { atol: 1e-5 });
      expectClose(outputs[0]!.entropies!, score.entropies, { atol: 1e-5 });
      // Padding in the batch changes nothing: b alone gives the same.
      const alone = await e.training.forward([b!]);
      expectClose(outputs[1]!.logProbs, alone.outputs[0]!.logProbs, { atol: 1e-6 });
      expect(e.training.hasGradient).toBe(false);
    } finally {
      await e.dispose();
    }
  });

  it('reports loss:sum as the token sum of each loss (PROTOCOLS.md 1.8)', async () => {
    const e = engine();
    try {
      const data = datums(2, [5, 4, 7]);
      const ce = await e.training.forward(data, { name: 'cross-entropy' });
      let expected = 0;
      data.forEach((d, i) => {
        d.weights!.forEach((w, t) => {
          expected += -w * ce.outputs[i]!.logProbs[t]!;
        });
      });
      expect(ce.metrics['loss:sum']).toBeCloseTo(expected, 4);

      const is = await e.training.forwardBackward(data, { name: 'importance-sampling' });
      const ppo = await e.training.forward(data, {
        name: 'ppo',
        settings: { clipLowThreshold: 0.9, clipHighThreshold: 1.1 },
      });
      let isSum = 0;
      let ppoSum = 0;
      data.forEach((d, i) => {
        for (let t = 0; t < d.inputTokens.length; t++) {
          const ratio = Math.exp(is.outputs[i]!.logProbs[t]! - d.logProbs![t]!);
          const a = d.advantages![t]!;
          isSum += -ratio * a;
          ppoSum += -Math.min(ratio * a, Math.min(Math.max(ratio, 0.9), 1.1) * a);
        }
      });
      expect(is.metrics['loss:sum']).toBeCloseTo(isSum, 3);
      expect(ppo.metrics['loss:sum']).toBeCloseTo(ppoSum, 3);
      expect(e.training.hasGradient).toBe(true);
    } finally {
      await e.dispose();
    }
  });

  it('adds the entropy bonus and the KL term with their metrics', async () => {
    const e = engine();
    try {
      const data = datums(3, [4, 6]);
      const base = await e.training.forward(data, { name: 'cross-entropy' });
      const both = await e.training.forward(data, {
        name: 'cross-entropy',
        settings: { entropyCoefficient: 0.1, klCoefficient: 0.5, klEstimator: 'k1' },
      });
      let entropy = 0;
      let kl = 0;
      data.forEach((d, i) => {
        d.weights!.forEach((w, t) => {
          entropy += w * base.outputs[i]!.entropies![t]!;
          kl += w * (base.outputs[i]!.logProbs[t]! - d.refLogProbs![t]!);
        });
      });
      expect(both.metrics['entropy:sum']).toBeCloseTo(entropy, 3);
      expect(both.metrics['kl:sum']).toBeCloseTo(kl, 3);
      expect(both.metrics['loss:sum']).toBeCloseTo(
        base.metrics['loss:sum']! - 0.1 * entropy + 0.5 * kl,
        3,
      );
    } finally {
      await e.dispose();
    }
  });

  it('scores at a temperature, as the policy does', async () => {
    const e = engine();
    try {
      const [d] = datums(4, [5]);
      const hot = await e.training.forward([d!], undefined, { temperature: 2 });
      const score = await e.policy.score({
        prompts: { tokenIds: d!.inputTokens.slice(0, 1), offsets: Int32Array.from([0, 1]) },
        batchSize: 1,
        seqLen: 5,
        tokenIds: d!.targetTokens,
        responseMask: new Uint8Array(5).fill(1),
        temperature: 2,
      });
      expectClose(hot.outputs[0]!.logProbs, score.logProbs, { atol: 1e-5 });
      for (const temperature of [0, -1, Number.NaN])
        expect(
          (await expectHicraRejection(e.training.forward([d!], undefined, { temperature }))).code,
        ).toBe(ErrorCode.InvalidValue);
    } finally {
      await e.dispose();
    }
  });

  it('refuses bad losses and datums with typed errors, accumulating nothing', async () => {
    const e = engine();
    try {
      const [d] = datums(5, [5]);
      const { advantages: _, ...noAdvantages } = d!;
      const cases: [Promise<unknown>, string][] = [
        [e.training.forwardBackward([d!], { name: 'nope' as never }), ErrorCode.UnknownName],
        [
          e.training.forwardBackward([d!], {
            name: 'ppo',
            settings: { clipRatio: 0.2 } as never,
          }),
          ErrorCode.InvalidArgument,
        ],
        [
          e.training.forwardBackward([d!], {
            name: 'cross-entropy',
            settings: { klCoefficient: Number.NaN },
          }),
          ErrorCode.InvalidValue,
        ],
        [
          e.training.forwardBackward([d!], {
            name: 'cross-entropy',
            settings: { klCoefficient: 0.1, klEstimator: 'k9' as never },
          }),
          ErrorCode.UnknownName,
        ],
        [e.training.forwardBackward([noAdvantages], { name: 'ppo' }), ErrorCode.MissingInput],
        [
          e.training.forwardBackward([{ ...d!, refLogProbs: undefined }], {
            name: 'cross-entropy',
            settings: { klCoefficient: 0.1 },
          }),
          ErrorCode.MissingInput,
        ],
        [
          e.training.forwardBackward([{ ...d!, targetTokens: Int32Array.from([1, 2, 3, 4, 23]) }], {
            name: 'cross-entropy',
          }),
          ErrorCode.InvalidValue,
        ],
        [
          e.training.forwardBackward(datums(6, [41]), { name: 'cross-entropy' }),
          ErrorCode.InvalidValue,
        ],
      ];
      for (const [promise, code] of cases) {
        const error = await expectHicraRejection(promise);
        expect(error.code).toBe(code);
        expect(error.source).toBe('@hicra/policy');
      }
      expect(e.training.hasGradient).toBe(false);
    } finally {
      await e.dispose();
    }
  });
});

describe('LocalTrainingClient: gradients and optimStep', () => {
  const sgdLike = { learningRate: 0.1, eps: 1e3 };

  it('accumulates gradients as a sum across calls and micro-batches', async () => {
    const data = datums(7, [5, 8, 3, 6]);
    const runs = [
      { microBatchSize: 16, calls: [data.slice(0, 1), data.slice(1, 3), data.slice(3)] },
      { microBatchSize: 16, calls: [data] },
      { microBatchSize: 1, calls: [data] },
    ];
    const results: { norm: number; weights: Map<string, Float32Array> }[] = [];
    for (const run of runs) {
      const e = engine(tiny, { microBatchSize: run.microBatchSize });
      try {
        let loss = 0;
        for (const call of run.calls)
          loss += (await e.training.forwardBackward(call, { name: 'importance-sampling' })).metrics[
            'loss:sum'
          ]!;
        const { metrics } = await e.training.optimStep(sgdLike);
        expect(Number.isFinite(loss)).toBe(true);
        results.push({ norm: metrics.grad_norm!, weights: weightsOf(e.policy) });
      } finally {
        await e.dispose();
      }
    }
    for (const other of results.slice(1)) {
      expect(other.norm).toBeCloseTo(results[0]!.norm, 4);
      for (const [name, w] of results[0]!.weights)
        expectClose(other.weights.get(name)!, w, { atol: 1e-6, label: name });
    }
  });

  it('takes Adam(W) steps with Tinker defaults (β1 0.9, β2 0.95, eps 1e-12), decay on matrices only', async () => {
    const e = engine();
    try {
      const data = datums(8, [6, 4]);
      const variables = [...e.policy.model.parameters()];
      const gradient = () => {
        const { value, grads } = tf.variableGrads(() => {
          const { logProbs } = e.policy.sequenceStatistics({
            batchSize: 1,
            seqLen: 6,
            inputTokens: data[0]!.inputTokens,
            targetTokens: data[0]!.targetTokens,
            mask: new Uint8Array(6).fill(1),
          });
          return tf.neg(tf.sum(tf.mul(logProbs, tf.tensor2d(data[0]!.weights!, [1, 6])))) as Scalar;
        }, e.policy.trainableVariables());
        value.dispose();
        const out = new Map(
          variables.map(([name, v]) => [name, Float64Array.from(grads[v.name]!.dataSync())]),
        );
        tf.dispose(Object.values(grads));
        return out;
      };
      const lr = 0.01;
      const wd = 0.1;
      const m = new Map<string, Float64Array>();
      const v = new Map<string, Float64Array>();
      for (let step = 1; step <= 2; step++) {
        const before = weightsOf(e.policy);
        const g = gradient();
        await e.training.forwardBackward(data.slice(0, 1), { name: 'cross-entropy' });
        const { metrics } = await e.training.optimStep({ learningRate: lr, weightDecay: wd });
        let norm = 0;
        for (const values of g.values()) for (const x of values) norm += x * x;
        expect(metrics.grad_norm).toBeCloseTo(Math.sqrt(norm), 3);
        expect(metrics.learning_rate).toBe(lr);
        expect(e.training.step).toBe(step);
        for (const [name, variable] of variables) {
          const gi = g.get(name)!;
          const mi = m.get(name) ?? new Float64Array(gi.length);
          const vi = v.get(name) ?? new Float64Array(gi.length);
          const w0 = before.get(name)!;
          const expected = new Float64Array(gi.length);
          for (let k = 0; k < gi.length; k++) {
            mi[k] = 0.9 * mi[k]! + 0.1 * gi[k]!;
            vi[k] = 0.95 * vi[k]! + 0.05 * gi[k]! ** 2;
            const update =
              mi[k]! / (1 - 0.9 ** step) / (Math.sqrt(vi[k]! / (1 - 0.95 ** step)) + 1e-12);
            expected[k] = w0[k]! - lr * update - (variable.rank > 1 ? lr * wd * w0[k]! : 0);
          }
          m.set(name, mi);
          v.set(name, vi);
          // Elements whose gradient is ~0 divide float32 noise by itself: compare the rest.
          const actual = variable.dataSync();
          for (let k = 0; k < gi.length; k++) {
            if (Math.abs(gi[k]!) < 1e-6) continue;
            expect(Math.abs(actual[k]! - expected[k]!), `${name}[${k}] step ${step}`).toBeLessThan(
              2e-5,
            );
          }
        }
      }
    } finally {
      await e.dispose();
    }
  });

  it('clips by global norm and reports the norm before clipping', async () => {
    const data = datums(9, [7, 5]);
    const deltas: Map<string, Float32Array>[] = [];
    const norms: number[] = [];
    for (const clip of [0, 'quarter'] as const) {
      const e = engine();
      try {
        const before = weightsOf(e.policy);
        await e.training.forwardBackward(data, { name: 'cross-entropy' });
        const clipNorm = clip === 0 ? 0 : norms[0]! / 4;
        // eps far above every gradient element: the step is ~ lr·g / eps, linear in g.
        const { metrics } = await e.training.optimStep({ ...sgdLike, gradClipNorm: clipNorm });
        norms.push(metrics.grad_norm!);
        const after = weightsOf(e.policy);
        deltas.push(
          new Map(
            [...after].map(([name, w]) => [name, w.map((x, k) => x - before.get(name)![k]!)]),
          ),
        );
      } finally {
        await e.dispose();
      }
    }
    expect(norms[1]).toBeCloseTo(norms[0]!, 4);
    for (const [name, full] of deltas[0]!) {
      const clipped = deltas[1]!.get(name)!;
      expectClose(
        clipped,
        full.map((x) => x / 4),
        { atol: 1e-7, rtol: 1e-2, label: name },
      );
    }
  });

  it('refuses optimStep with nothing accumulated, and bad Adam parameters, keeping the gradient', async () => {
    const e = engine();
    try {
      const missing = await expectHicraRejection(e.training.optimStep({ learningRate: 1e-3 }));
      expect(missing.code).toBe(ErrorCode.MissingInput);
      expect(missing.message).toContain('call forwardBackward before each optimStep');
      await e.training.forwardBackward(datums(10, [4]), { name: 'cross-entropy' });
      for (const adam of [
        { learningRate: 0 },
        { learningRate: -1e-3 },
        { learningRate: Number.NaN },
        { learningRate: 1e-3, beta1: 1 },
        { learningRate: 1e-3, beta2: -0.1 },
        { learningRate: 1e-3, eps: 0 },
        { learningRate: 1e-3, weightDecay: -1 },
        { learningRate: 1e-3, gradClipNorm: Number.POSITIVE_INFINITY },
      ]) {
        const error = await expectHicraRejection(e.training.optimStep(adam));
        expect(error.code, JSON.stringify(adam)).toBe(ErrorCode.InvalidValue);
      }
      expect(e.training.hasGradient).toBe(true);
      await e.training.optimStep({ learningRate: 1e-3 });
      expect(e.training.hasGradient).toBe(false);
      expect(e.training.step).toBe(1);
    } finally {
      await e.dispose();
    }
  });

  it('refuses a non-finite gradient without touching the weights, and discards it', async () => {
    const e = engine();
    try {
      const [d] = datums(11, [6]);
      const before = weightsOf(e.policy);
      await e.training.forwardBackward([{ ...d!, weights: new Float32Array(6).fill(3e38) }], {
        name: 'cross-entropy',
      });
      const error = await expectHicraRejection(e.training.optimStep({ learningRate: 1e-3 }));
      expect(error.code).toBe(ErrorCode.NonFinite);
      expect(error.message).toContain('the weights and the optimizer state were not changed');
      for (const [name, w] of weightsOf(e.policy)) expect(w, name).toEqual(before.get(name));
      expect(e.training.step).toBe(0);
      expect(e.training.hasGradient).toBe(false);
      // The engine goes on: a finite gradient steps as usual.
      await e.training.forwardBackward([d!], { name: 'cross-entropy' });
      await e.training.optimStep({ learningRate: 1e-3 });
      expect(e.training.step).toBe(1);
    } finally {
      await e.dispose();
    }
  });

  it('runs calls in call order, without awaiting in between', async () => {
    const e = engine();
    try {
      const data = datums(12, [5]);
      const fb = e.training.forwardBackward(data, { name: 'cross-entropy' });
      const step = e.training.optimStep({ learningRate: 1e-3 });
      const second = e.training.optimStep({ learningRate: 1e-3 });
      await fb;
      expect((await step).metrics.grad_norm).toBeGreaterThan(0);
      expect((await expectHicraRejection(second)).code).toBe(ErrorCode.MissingInput);
    } finally {
      await e.dispose();
    }
  });
});

describe('LocalTrainingClient: state', () => {
  const loss = { name: 'importance-sampling' } as const;
  const adam = { learningRate: 0.01, weightDecay: 0.01 };

  async function steps(training: TrainingClientV1, seeds: readonly number[]) {
    for (const seed of seeds) {
      await training.forwardBackward(datums(seed, [5, 7]), loss);
      await training.optimStep(adam);
    }
  }

  it('round-trips weights, Adam moments and step count exactly, in one folder', async () => {
    const a = engine();
    const b = engine(tiny, { seed: 99 });
    try {
      await steps(a.training, [20, 21]);
      const location = await a.training.saveState('step-2');
      expect(location).toBe(join(a.directory, 'step-2'));
      expect(readdirSync(a.directory)).toEqual(['step-2']);
      for (const file of [
        'config.json',
        'model.safetensors',
        ENGINE_STATE_FILES.optimizer,
        ENGINE_STATE_FILES.state,
      ])
        expect(existsSync(join(location, file)), file).toBe(true);
      const saved = weightsOf(a.policy);
      await steps(a.training, [22, 23]);
      const continued = weightsOf(a.policy);

      // The same engine, back to the saved state (a name resolves in its directory).
      await a.training.forwardBackward(datums(24, [3]), loss);
      await a.training.loadState('step-2');
      expect(a.training.hasGradient).toBe(false);
      expect(a.training.step).toBe(2);
      for (const [name, w] of weightsOf(a.policy)) expect(w, name).toEqual(saved.get(name));
      await steps(a.training, [22, 23]);
      for (const [name, w] of weightsOf(a.policy)) expect(w, name).toEqual(continued.get(name));

      // Another engine on other weights, loading by absolute path.
      await b.training.loadState(location);
      expect(b.training.step).toBe(2);
      await steps(b.training, [22, 23]);
      for (const [name, w] of weightsOf(b.policy)) expect(w, name).toEqual(continued.get(name));
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('saves before any step (zero moments) and overwrites a state of the same name', async () => {
    const a = engine();
    const b = engine(tiny, { seed: 5 });
    try {
      await a.training.saveState('start');
      await b.training.loadState(join(a.directory, 'start'));
      expect(b.training.step).toBe(0);
      await steps(a.training, [30]);
      await steps(b.training, [30]);
      for (const [name, w] of weightsOf(b.policy))
        expect(w, name).toEqual(weightsOf(a.policy).get(name));
      await a.training.saveState('start');
      expect(readdirSync(a.directory)).toEqual(['start']);
      await b.training.loadState(join(a.directory, 'start'));
      expect(b.training.step).toBe(1);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('refuses a state of another architecture, naming the tensor and both shapes, changing nothing', async () => {
    const a = engine();
    const wider = engine({ ...tiny, width: 24 });
    const shallower = engine({ ...tiny, layers: 1 });
    const rotated = engine({ ...tiny, ropeBase: 500 });
    const longer = engine({ ...tiny, contextLength: 64 });
    try {
      await steps(a.training, [40]);
      const location = await a.training.saveState('arch');
      const before = weightsOf(wider.policy);
      const shape = await expectHicraRejection(wider.training.loadState(location));
      expect(shape.code).toBe(ErrorCode.ShapeMismatch);
      expect(shape.message).toMatch(
        /"embed\.weight" has shape \[23, 16\] in the state, \[23, 24\] in this model/,
      );
      expect(shape.details).toMatchObject({
        tensor: 'embed.weight',
        saved: [23, 16],
        expected: [23, 24],
      });
      for (const [name, w] of weightsOf(wider.policy)) expect(w, name).toEqual(before.get(name));

      const extra = await expectHicraRejection(shallower.training.loadState(location));
      expect(extra.code).toBe(ErrorCode.ShapeMismatch);
      expect(extra.message).toContain('"layers.1.');
      expect(extra.message).toContain('which this model does not have');

      const config = await expectHicraRejection(rotated.training.loadState(location));
      expect(config.code).toBe(ErrorCode.InvalidConfig);
      expect(config.message).toContain('model.ropeBase');

      // The context length is not part of the weights' function.
      await longer.training.loadState(location);
      expect(longer.training.step).toBe(1);
    } finally {
      for (const e of [a, wider, shallower, rotated, longer]) await e.dispose();
    }
  });

  it('refuses a missing or corrupt state and bad names', async () => {
    const e = engine();
    try {
      expect((await expectHicraRejection(e.training.loadState('nothing-here'))).code).toBe(
        ErrorCode.CorruptFile,
      );
      for (const name of ['', '../up', 'a/b', '.hidden'])
        expect((await expectHicraRejection(e.training.saveState(name))).code).toBe(
          ErrorCode.InvalidArgument,
        );
      const location = await e.training.saveState('ok');
      rmSync(join(location, ENGINE_STATE_FILES.optimizer));
      const missing = await expectHicraRejection(e.training.loadState(location));
      expect(missing.code).toBe(ErrorCode.CorruptFile);
      expect(missing.message).toContain(ENGINE_STATE_FILES.optimizer);
    } finally {
      await e.dispose();
    }
  });
});

describe('LocalTrainingClient: sampling and disposal', () => {
  it('gives a sampler on a frozen copy that must be disposed', async () => {
    const e = engine();
    try {
      const sampler = await e.training.saveWeightsForSampler('s0');
      expect(sampler).toBeInstanceOf(LocalSamplingClient);
      expect(sampler.name).toBe('s0');
      const request = {
        prompts: { tokenIds: Int32Array.from([1, 2, 3]), offsets: Int32Array.from([0, 3]) },
        batchSize: 1,
        seqLen: 4,
        tokenIds: Int32Array.from([4, 5, 6, 7]),
        responseMask: new Uint8Array(4).fill(1),
      };
      const before = await sampler.computeLogProbs(request);
      expectClose(before, (await e.policy.score(request)).logProbs, { atol: 0 });
      await e.training.forwardBackward(datums(50, [6]), { name: 'cross-entropy' });
      await e.training.optimStep({ learningRate: 0.05 });
      expect(await sampler.computeLogProbs(request)).toEqual(before);
      const sample = await sampler.sample({
        prompts: request.prompts,
        samplesPerPrompt: 2,
        maxNewTokens: 3,
        seed: 1,
      });
      expect(sample.batchSize).toBe(2);

      const live = tf.memory().numTensors;
      await sampler.dispose();
      expect(tf.memory().numTensors).toBe(live - e.policy.model.parameters().size);
      await sampler.dispose();
      expect((await expectHicraRejection(sampler.computeLogProbs(request))).code).toBe(
        ErrorCode.InvalidArgument,
      );
      expect((await expectHicraRejection(e.training.saveWeightsForSampler('no/slash'))).code).toBe(
        ErrorCode.InvalidArgument,
      );
    } finally {
      await e.dispose();
    }
  });

  it('disposes every tensor it created: gradients, moments, frozen copies', async () => {
    const leaks = createLeakChecker();
    leaks.start();
    const policy = TransformerPolicy.create(tiny, { seed: 3 });
    const training = new LocalTrainingClient(policy, { directory: join(root, 'leaks') });
    const data = datums(60, [5, 9, 2]);
    await training.forward(data, { name: 'ppo' });
    await training.forwardBackward(data, { name: 'ppo', settings: { entropyCoefficient: 0.01 } });
    await training.optimStep({ learningRate: 1e-3, gradClipNorm: 0.5 });
    await training.forwardBackward(data, { name: 'cross-entropy' });
    // A call that fails inside the gradient scope (the placeholder loss has no cispo) or not.
    await training.forwardBackward(data, { name: 'cispo' }).catch(() => undefined);
    const location = await training.saveState('leaks');
    await training.loadState(location);
    await training.forwardBackward(data, { name: 'cross-entropy' });
    await (await training.saveWeightsForSampler('s')).dispose();
    // Released once the calls already made have finished, even those not awaited.
    const last = training.forwardBackward(data, { name: 'cross-entropy' });
    await training.dispose();
    await last;
    await training.dispose();
    expect((await expectHicraRejection(training.info())).code).toBe(ErrorCode.InvalidArgument);
    policy.dispose();
    leaks.check('the engine');
  });

  it('refuses a frozen policy (clone) as the trained one', () => {
    const policy = TransformerPolicy.create(tiny, { seed: 1 });
    const frozen = policy.clone();
    try {
      expect(() => new LocalTrainingClient(frozen, { directory: root })).toThrow(/not trainable/);
      expect(() => new LocalTrainingClient(policy, { directory: '' })).toThrow(/directory/);
    } finally {
      policy.dispose();
      frozen.dispose();
    }
  });
});

describe('TransformerPolicy.sequenceStatistics', () => {
  it('refuses malformed batches before any tensor is made', () => {
    const policy = TransformerPolicy.create(tiny, { seed: 2 });
    try {
      const base = {
        batchSize: 2,
        seqLen: 3,
        inputTokens: Int32Array.from([1, 2, 3, 4, 5, 0]),
        targetTokens: Int32Array.from([2, 3, 4, 5, 6, 0]),
        mask: Uint8Array.from([1, 1, 1, 1, 1, 0]),
      };
      const codeOf = (request: typeof base & { temperature?: number }) => {
        try {
          tf.tidy(() => {
            policy.sequenceStatistics(request);
          });
        } catch (error) {
          if (HicraError.isInstance(error)) return error.code;
          throw error;
        }
        return 'ok';
      };
      expect(codeOf(base)).toBe('ok');
      expect(codeOf({ ...base, mask: Uint8Array.from([1, 1, 1, 1, 0, 1]) })).toBe(
        ErrorCode.InvalidValue,
      );
      expect(codeOf({ ...base, targetTokens: new Int32Array(5) })).toBe(ErrorCode.ShapeMismatch);
      expect(codeOf({ ...base, inputTokens: Int32Array.from([1, 2, 3, 4, 23, 0]) })).toBe(
        ErrorCode.InvalidValue,
      );
      // Ids at padding are never read.
      expect(codeOf({ ...base, inputTokens: Int32Array.from([1, 2, 3, 4, 5, 99]) })).toBe('ok');
      expect(codeOf({ ...base, temperature: 0 })).toBe(ErrorCode.InvalidArgument);
      expect(codeOf({ ...base, batchSize: 1, seqLen: 41, ...seq(41) })).toBe(
        ErrorCode.InvalidValue,
      );
    } finally {
      policy.dispose();
    }
  });
});

function seq(n: number) {
  return {
    inputTokens: new Int32Array(n),
    targetTokens: new Int32Array(n),
    mask: new Uint8Array(n).fill(1),
  };
}

describe('every loss through the engine', () => {
  const settings = { dro: { beta: 0.5 }, 'verl-ppo': { clipRatioC: 3 } } as const;
  it.each(LOSS_NAMES)('%s accumulates a finite gradient that a step applies', async (name) => {
    const { policy, training, dispose } = engine();
    try {
      const before = weightsOf(policy);
      const result = await training.forwardBackward(datums(3, [4, 6, 2]), {
        name,
        ...(name in settings ? { settings: settings[name as keyof typeof settings] } : {}),
      });
      expect(Number.isFinite(result.metrics['loss:sum']!)).toBe(true);
      expect(result.outputs.map((o) => o.logProbs.length)).toEqual([4, 6, 2]);
      const step = await training.optimStep({ learningRate: 1e-2 });
      expect(step.metrics['grad_norm']!).toBeGreaterThan(0);
      const after = weightsOf(policy);
      expect([...after].some(([k, v]) => v.some((x, i) => x !== before.get(k)![i]))).toBe(true);
    } finally {
      await dispose();
    }
  });
});

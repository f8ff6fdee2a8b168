import { readFileSync } from 'node:fs';
import { TransformerPolicy } from '@hicra/policy';
import {
  type DatumV1,
  ErrorCode,
  type LossAggregationMode,
  type LossSpecV1,
  type MetricRecordV1,
  NonFiniteError,
  TRAIN_METRIC_KEYS,
  type TrainingClientV1,
} from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { aggregateLoss, engineLoss, SeededGenerator, tf } from '@hicra/tensor';
import { describe, expect, it } from 'vitest';
import {
  closeTrainer,
  localEngine,
  localTrainer,
  toyClassifier,
  toyModelConfig,
  toyProblems,
  toyReward,
  toyTokenizer,
} from './toy-task.js';
import {
  aggregationWeights,
  buildStepBatchForTest,
  learningRateAt,
  parseRlConfig,
  ratioStatistics,
  type UpdateSettings,
  updatePolicy,
} from './update-helpers.js';

interface PolicyCase {
  oldLogProbs: number[][];
  logProbs: number[][];
  advantages: number[][];
  responseMask: number[][];
  lossAggMode: LossAggregationMode;
  clipRatioLow: number;
  clipRatioHigh: number;
  clipRatioC: number;
  loss: number;
}

// verl's golden vectors, kept once in the tensor core's test data (see its README there).
const fixture = JSON.parse(
  readFileSync(
    new URL('../../tensor/test/fixtures/verl/policy_loss_vanilla.json', import.meta.url),
    'utf8',
  ),
) as { cases: PolicyCase[] };

const SETTINGS: UpdateSettings = {
  loss: 'verl-ppo',
  lossAggregation: 'token-mean',
  lossScaleFactor: 64,
  clipRatioLow: 0.2,
  clipRatioHigh: 0.28,
  clipRatioC: 3,
  entropyCoefficient: 0,
  klCoefficient: 0,
  klEstimator: 'k3',
  miniBatchSize: 64,
  epochs: 1,
  temperature: 1,
  adam: { beta2: 0.999, eps: 1e-8, gradClipNorm: 1e9 },
  onNonFinite: 'error',
};

/** `rows` right-padded to `width` columns (0 beyond each row). */
function padded(rows: number[][], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, i) => {
    out.set(row, i * width);
  });
  return out;
}

/**
 * An engine whose learner log-probs and entropies are given per row (datum i is row i, with a
 * one-token prompt): it computes the requested loss with `engineLoss` of the tensor core on
 * them, as the local engine would, and records what it was sent. No weights to move.
 */
function fixedEngine(logProbs: number[][], entropies?: number[][]) {
  const sent: { data: readonly DatumV1[]; loss: LossSpecV1 }[] = [];
  let accumulated = false;
  const engine: TrainingClientV1 = {
    info: async () => {
      throw new Error('not used');
    },
    forward: async () => {
      throw new Error('not used');
    },
    forwardBackward: async (data, loss) => {
      sent.push({ data, loss });
      accumulated = true;
      const T = Math.max(...data.map((d) => d.inputTokens.length));
      const B = data.length;
      const field = (pick: (d: DatumV1) => ArrayLike<number> | undefined) =>
        padded(
          data.map((d) => Array.from(pick(d) ?? [])),
          T,
        );
      // Row i of the given values, cut to datum i's length.
      const rows = (values: number[][]) =>
        data.map((d, i) => values[i]!.slice(0, d.inputTokens.length));
      const values = tf.tidy(() => {
        const t = (values: Float32Array) => tf.tensor2d(values, [B, T]);
        const mask = t(
          padded(
            data.map((d) => Array.from(d.inputTokens, () => 1)),
            T,
          ),
        );
        const result = engineLoss(
          loss.name,
          {
            logProbs: t(padded(rows(logProbs), T)),
            mask,
            weights: t(field((d) => d.weights)),
            oldLogProbs: t(field((d) => d.logProbs)),
            advantages: t(field((d) => d.advantages)),
            ...(entropies ? { entropies: t(padded(rows(entropies), T)) } : {}),
          },
          loss.settings,
        );
        return Object.fromEntries(
          Object.entries(result.metrics).map(([key, value]) => [key, value.dataSync()[0]!]),
        );
      });
      return {
        outputs: data.map((d, i) => ({
          logProbs: Float32Array.from(logProbs[i]!.slice(0, d.inputTokens.length)),
        })),
        metrics: values,
      };
    },
    optimStep: async () => {
      if (!accumulated) throw new Error('nothing accumulated');
      accumulated = false;
      return { metrics: { learning_rate: 1e-3, grad_norm: 0.5 } };
    },
    saveState: async () => 'unused',
    loadState: async () => undefined,
    saveWeightsForSampler: async () => {
      throw new Error('not used');
    },
  };
  return { engine, sent };
}

/** One update of a verl case through `updatePolicy` (padded to `width`), on a fixed engine. */
async function update(
  c: Pick<PolicyCase, 'oldLogProbs' | 'logProbs' | 'advantages' | 'responseMask'>,
  width: number,
  settings: Partial<UpdateSettings>,
  entropies?: number[][],
) {
  const B = c.logProbs.length;
  const mask = Uint8Array.from(padded(c.responseMask, width));
  const step = buildStepBatchForTest(mask, B, width);
  const { engine, sent } = fixedEngine(
    c.logProbs.map((row) => row.slice(0, width)),
    entropies,
  );
  const [metrics] = await updatePolicy(
    engine,
    step,
    {
      oldLogProbs: padded(c.oldLogProbs, width),
      advantages: padded(c.advantages, width),
      lossMask: mask,
    },
    { ...SETTINGS, ...settings },
    1e-3,
    Array.from({ length: B }, (_, i) => i),
    1,
  );
  return { metrics: metrics!, sent };
}

const close = (actual: number, expected: number, label: string) =>
  expect(Math.abs(actual - expected), label).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(expected));

describe('ratioStatistics', () => {
  // One row of four loss-mask tokens: ratios e^0.5 (A > 0), e^-0.5 (A > 0), e^-0.5 (A < 0),
  // e^1.5 (A < 0, where the dual-clip cap 3·|A| binds).
  const logProbs = Float32Array.of(0.5, -0.5, -0.5, 1.5);
  const old = new Float32Array(4);
  const advantages = Float32Array.of(1, 1, -1, -1);
  const mask = Uint8Array.of(1, 1, 1, 1);
  const clip = { clipRatioLow: 0.2, clipRatioHigh: 0.28, clipRatioC: 3 };
  const stats = (loss: UpdateSettings['loss']) =>
    ratioStatistics(logProbs, old, advantages, mask, mask, 1, 4, { loss, ...clip });

  it('counts where each loss clips, and the dual clip only for verl-ppo', () => {
    // PPO: the clip binds for A > 0 above 1.28 (token 0) and for A < 0 below 0.8 (token 2);
    // token 3 (A < 0, ratio 4.5) is not clipped by PPO, and is where the dual clip binds.
    expect(stats('verl-ppo')).toMatchObject({ clipFraction: 0.5, clipFractionLower: 0.25 });
    expect(stats('ppo')).toMatchObject({ clipFraction: 0.5, clipFractionLower: 0 });
    // CISPO: every ratio outside [0.8, 1.28], whatever the sign of A.
    expect(stats('cispo')).toMatchObject({ clipFraction: 1, clipFractionLower: 0 });
    expect(stats('importance-sampling')).toMatchObject({ clipFraction: 0, clipFractionLower: 0 });
    // The approximate KL: mean of old - new over the response mask.
    expect(stats('ppo').approxKl).toBeCloseTo(-(0.5 - 0.5 - 0.5 + 1.5) / 4, 12);
  });
});

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

describe('the aggregation folded into per-token weights', () => {
  const modes: LossAggregationMode[] = [
    'token-mean',
    'seq-mean-token-sum',
    'seq-mean-token-mean',
    'seq-mean-token-sum-norm',
  ];
  it.each(modes)(
    '%s: Σ weights·loss equals aggregateLoss over the loss mask, normalised by the response mask',
    (mode) => {
      const random = new SeededGenerator(17);
      for (let trial = 0; trial < 20; trial++) {
        const B = 1 + random.nextInt(6);
        const T = 1 + random.nextInt(9);
        const responseMask = new Uint8Array(B * T);
        for (let b = 0; b < B; b++) {
          // Some rows empty, the rest a prefix: the layout of a step batch.
          const length = random.nextInt(T + 1);
          responseMask.fill(1, b * T, b * T + length);
        }
        const lossMask = responseMask.map((m) => (m && random.nextFloat() < 0.8 ? 1 : 0));
        const loss = Float32Array.from({ length: B * T }, () => random.nextFloat() * 4 - 2);
        const weights = aggregationWeights(lossMask, responseMask, B, T, mode, 7);
        let folded = 0;
        for (let k = 0; k < loss.length; k++) folded += weights[k]! * loss[k]!;
        const expected = tf.tidy(
          () =>
            aggregateLoss(
              tf.tensor2d(loss, [B, T]),
              tf.tensor2d(Float32Array.from(lossMask), [B, T]),
              mode,
              {
                normaliserMask: tf.tensor2d(Float32Array.from(responseMask), [B, T]),
                scaleFactor: 7,
              },
            ).dataSync()[0]!,
        );
        close(folded, expected, `${mode}, trial ${trial}`);
        // Tokens outside the loss mask weigh nothing.
        lossMask.forEach((m, k) => {
          if (!m) expect(weights[k]).toBe(0);
        });
      }
    },
  );
});

describe("verl's golden policy losses through the update phase", () => {
  it.each([
    'token-mean',
    'seq-mean-token-mean',
    'seq-mean-token-sum',
    'seq-mean-token-sum-norm',
  ] as const)(
    '%s: verl-ppo with folded weights, and Tinker ppo with them folded into the advantages',
    async (mode) => {
      const cases = fixture.cases.filter((c) => c.lossAggMode === mode);
      expect(cases.length).toBeGreaterThan(5);
      for (const [index, c] of cases.entries()) {
        const T = c.logProbs[0]!.length;
        const settings = {
          lossAggregation: mode,
          clipRatioLow: c.clipRatioLow,
          clipRatioHigh: c.clipRatioHigh,
          clipRatioC: c.clipRatioC,
          lossScaleFactor: T,
        };
        const verl = await update(c, T, settings);
        close(verl.metrics.policyLoss, c.loss, `case ${index}`);
        expect(verl.sent[0]!.loss.name).toBe('verl-ppo');
        // Tinker's ppo has no dual clip: equal where the dual clip does not bind.
        const tinker = await update(c, T, { ...settings, loss: 'ppo' });
        if (verl.metrics.clipFractionLower === 0)
          close(tinker.metrics.policyLoss, c.loss, `case ${index}, ppo`);
        expect(tinker.sent[0]!.loss).toEqual({
          name: 'ppo',
          settings: {
            clipLowThreshold: 1 - c.clipRatioLow,
            clipHighThreshold: 1 + c.clipRatioHigh,
          },
        });
      }
    },
  );

  it('seq-mean-token-sum-norm divides by the constant factor, whatever the padded width', async () => {
    const cases = fixture.cases.filter((c) => c.lossAggMode === 'seq-mean-token-sum-norm');
    for (const c of cases) {
      const T = c.logProbs[0]!.length;
      const wide = {
        ...c,
        logProbs: c.logProbs.map((row) => [...row, 0, 0, 0, 0, 0]),
      };
      const { metrics } = await update(wide, T + 5, {
        lossAggregation: 'seq-mean-token-sum-norm',
        clipRatioLow: c.clipRatioLow,
        clipRatioHigh: c.clipRatioHigh,
        clipRatioC: c.clipRatioC,
        lossScaleFactor: T,
      });
      close(metrics.policyLoss, c.loss, 'wider batch');
    }
  });

  it.each([
    ['token-mean', (1 * 4 + 3) / 5],
    ['seq-mean-token-mean', (1 + 3) / 2],
    ['seq-mean-token-sum', (4 + 3) / 2],
    ['seq-mean-token-sum-norm', (4 + 3) / 8],
  ] as const)('the entropy bonus follows the aggregation mode: %s', async (mode, expected) => {
    const c = {
      oldLogProbs: [
        [-1, -1, -1, -1],
        [-1, 0, 0, 0],
      ],
      logProbs: [
        [-1, -1, -1, -1],
        [-1, 0, 0, 0],
      ],
      advantages: [
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ],
      responseMask: [
        [1, 1, 1, 1],
        [1, 0, 0, 0],
      ],
    };
    const entropies = [
      [1, 1, 1, 1],
      [3, 0, 0, 0],
    ];
    const { metrics, sent } = await update(
      c,
      4,
      { lossAggregation: mode, entropyCoefficient: 0.5, lossScaleFactor: 8 },
      entropies,
    );
    expect(metrics.entropy).toBeCloseTo(expected, 6);
    expect(sent[0]!.loss.settings?.entropyCoefficient).toBe(0.5);
    // Advantages are zero: the policy loss is 0, the entropy bonus is all of the loss.
    expect(metrics.policyLoss).toBeCloseTo(0, 6);
  });
});

describe('updates through the local engine', () => {
  const config = { vocabSize: 17, contextLength: 24, width: 16, layers: 1, heads: 2 };
  // Two rows, prompt [1, 2] each: responses [5, 6, 7] and [8, 9].
  const step = () =>
    buildStepBatchForTest(Uint8Array.of(1, 1, 1, 1, 1, 0), 2, 3, {
      prompts: [Int32Array.of(1, 2), Int32Array.of(1, 2)],
      tokenIds: Int32Array.of(5, 6, 7, 8, 9, 0),
    });
  const mask = Uint8Array.of(1, 1, 1, 1, 1, 0);
  const oldLogProbsOf = async (policy: TransformerPolicy) => {
    const s = step();
    return (await policy.score(s.request)).logProbs;
  };

  it('a positive advantage raises the log-prob of its response, a negative one lowers it', async () => {
    const policy = TransformerPolicy.create(config, { seed: 2 });
    const engine = localEngine(policy);
    const before = await oldLogProbsOf(policy);
    const advantages = Float32Array.of(1, 1, 1, -1, -1, 0);
    for (let i = 0; i < 3; i++) {
      const [metrics] = await updatePolicy(
        engine,
        step(),
        { oldLogProbs: before, advantages, lossMask: mask },
        { ...SETTINGS, adam: { ...SETTINGS.adam, weightDecay: 0 } },
        0.01,
        [0, 1],
        i + 1,
      );
      expect(metrics!.skipped).toBe(false);
      expect(Number.isFinite(metrics!.gradNorm)).toBe(true);
      if (i === 0) {
        expect(metrics!.clipFraction).toBe(0);
        expect(Math.abs(metrics!.approxKl)).toBeLessThan(1e-6);
        expect(metrics!.policyLoss).toBeCloseTo(-(3 - 2) / 5, 5);
      }
    }
    const after = await oldLogProbsOf(policy);
    const sum = (a: Float32Array, from: number, to: number) =>
      a.slice(from, to).reduce((x, y) => x + y, 0);
    expect(sum(after, 0, 3)).toBeGreaterThan(sum(before, 0, 3));
    expect(sum(after, 3, 5)).toBeLessThan(sum(before, 3, 5));
    await engine.dispose();
    policy.dispose();
  });

  it('the entropy bonus and KL loss enter the loss', async () => {
    const policy = TransformerPolicy.create(config, { seed: 4 });
    const engine = localEngine(policy);
    const old = await oldLogProbsOf(policy);
    const [metrics] = await updatePolicy(
      engine,
      step(),
      {
        oldLogProbs: old,
        advantages: new Float32Array(6),
        lossMask: mask,
        refLogProbs: old.map((x) => x - 0.5),
      },
      { ...SETTINGS, entropyCoefficient: 0.1, klCoefficient: 0.2, klEstimator: 'k1' },
      1e-9,
      [0, 1],
      1,
    );
    expect(metrics!.klLoss).toBeCloseTo(0.5, 4);
    expect(metrics!.entropy).toBeGreaterThan(0);
    expect(metrics!.policyLoss).toBeCloseTo(0, 5);
    await engine.dispose();
    policy.dispose();
  });

  it('a NaN advantage is refused before any gradient, naming the datum and the field', async () => {
    const policy = TransformerPolicy.create(config, { seed: 3 });
    const engine = localEngine(policy);
    const old = await oldLogProbsOf(policy);
    const weights = policy.trainableVariables()[0]!.dataSync().slice();
    const error = await expectHicraRejection(
      updatePolicy(
        engine,
        step(),
        {
          oldLogProbs: old,
          advantages: Float32Array.of(Number.NaN, 1, 1, 1, 1, 0),
          lossMask: mask,
        },
        SETTINGS,
        0.01,
        [0, 1],
        1,
      ),
    );
    expect(error.message).toMatch(/datum 0.*advantages/);
    expect(engine.hasGradient).toBe(false);
    expect(policy.trainableVariables()[0]!.dataSync()).toEqual(weights);
    await engine.dispose();
    policy.dispose();
  });

  it('weights pushed past float32 stop the run, naming the step, even with onNonFinite: skip', async () => {
    const policy = TransformerPolicy.create(config, { seed: 5 });
    const engine = localEngine(policy);
    const old = await oldLogProbsOf(policy);
    const error = await expectHicraRejection(
      updatePolicy(
        engine,
        step(),
        { oldLogProbs: old, advantages: Float32Array.of(1, 1, 1, -1, -1, 0), lossMask: mask },
        { ...SETTINGS, onNonFinite: 'skip' },
        1e39,
        [0, 1],
        8,
      ),
    );
    expect(error.code).toBe(ErrorCode.NonFinite);
    expect(error.message).toMatch(
      /step 8 \(epoch 1, mini-batch 1\): policy update: @hicra\/policy: optimStep: step 1 left non-finite weights: ".*"\[\d+\] = (NaN|-?Infinity) at learning rate 1e\+39/,
    );
    expect(error.details).toMatchObject({ step: 8, epoch: 1, miniBatch: 1, quantity: 'weights' });
    await engine.dispose();
    policy.dispose();
  });
});

describe('non-finite updates (an engine that reports them)', () => {
  /** An engine whose loss is NaN and whose optimStep refuses the (non-finite) gradient. */
  const nanEngine = () => {
    let refused = 0;
    const engine: TrainingClientV1 = {
      info: async () => {
        throw new Error('not used');
      },
      forward: async () => {
        throw new Error('not used');
      },
      forwardBackward: async (data) => ({
        outputs: data.map((d) => ({ logProbs: new Float32Array(d.inputTokens.length) })),
        metrics: { 'loss:sum': Number.NaN },
      }),
      optimStep: async () => {
        refused++;
        throw new NonFiniteError(
          'optimStep: the accumulated gradient has a non-finite norm (NaN)',
          {
            source: 'test',
            details: { quantity: 'gradient norm' },
          },
        );
      },
      saveState: async () => '',
      loadState: async () => undefined,
      saveWeightsForSampler: async () => {
        throw new Error('not used');
      },
    };
    return { engine, refused: () => refused };
  };
  const inputs = {
    oldLogProbs: new Float32Array(6),
    advantages: Float32Array.of(1, 1, 1, -1, -1, 0),
    lossMask: Uint8Array.of(1, 1, 1, 1, 1, 0),
  };
  const batch = () => buildStepBatchForTest(inputs.lossMask, 2, 3);

  it('throws a NonFiniteError naming the step, epoch and mini-batch, before optimStep', async () => {
    const { engine, refused } = nanEngine();
    const error = await expectHicraRejection(
      updatePolicy(engine, batch(), inputs, SETTINGS, 0.01, [0, 1], 7),
    );
    expect(error.code).toBe(ErrorCode.NonFinite);
    expect(error.message).toBe(
      '@hicra/trainer: step 7 (epoch 1, mini-batch 1): policy update: @hicra/trainer: the loss is NaN (gradient not applied; the weights were not changed)',
    );
    expect(error.details).toMatchObject({ step: 7, epoch: 1, miniBatch: 1, quantity: 'loss' });
    expect(refused()).toBe(0);
  });

  it("with onNonFinite: 'skip' lets the engine discard the gradient and records a skipped update", async () => {
    const { engine, refused } = nanEngine();
    const updates = await updatePolicy(
      engine,
      batch(),
      inputs,
      { ...SETTINGS, epochs: 2, onNonFinite: 'skip' },
      0.01,
      [0, 1],
      7,
    );
    expect(updates.map((u) => u.skipped)).toEqual([true, true]);
    expect(refused()).toBe(2);
  });
});

describe('the trainer divides by update.lossScaleFactor, default sampling.maxNewTokens', () => {
  it('a doubled factor halves the loss; the default is the length limit', async () => {
    expect(parseRlConfig({ sampling: { maxNewTokens: 7 } }).update.lossScaleFactor).toBe(7);
    expect(
      parseRlConfig({ sampling: { maxNewTokens: 7 }, update: { lossScaleFactor: 512 } }).update
        .lossScaleFactor,
    ).toBe(512);
    const lossWith = async (update: object) => {
      const policy = TransformerPolicy.create(toyModelConfig, { seed: 3 });
      const records: MetricRecordV1[] = [];
      const run = await localTrainer(policy, {
        config: {
          seed: 1,
          promptsPerStep: 4,
          samplesPerPrompt: 4,
          sampling: { maxNewTokens: 6 },
          credit: { estimator: { name: 'dr-grpo' } },
          update: { miniBatchSize: 64, lossAggregation: 'seq-mean-token-sum-norm', ...update },
        },
        tokenizer: toyTokenizer,
        reward: toyReward,
        classifier: toyClassifier,
        trainProblems: toyProblems(8),
        sink: { write: (r) => void records.push(r) },
      });
      await run.trainStep();
      await closeTrainer(run);
      policy.dispose();
      return records[0]![TRAIN_METRIC_KEYS.policyLoss] as number;
    };
    const byDefault = await lossWith({});
    expect(byDefault).not.toBe(0);
    expect(await lossWith({ lossScaleFactor: 6 })).toBe(byDefault);
    close(await lossWith({ lossScaleFactor: 12 }), byDefault / 2, 'factor 12');
  });
});

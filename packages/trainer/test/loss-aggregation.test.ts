import { readFileSync } from 'node:fs';
import { TransformerPolicy } from '@hicra/policy';
import { type LossAggregationMode, type MetricRecordV1, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { type DifferentiablePolicy, tf, type Variable } from '@hicra/tensor';
import { describe, expect, it } from 'vitest';
import {
  AdamOptimizer,
  type PolicyUpdateSettings,
  parseRlConfig,
  policyUpdate,
  RlTrainer,
} from '../src/index.js';
import { toyClassifier, toyModelConfig, toyProblems, toyReward, toyTokenizer } from './toy-task.js';

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

/** A stand-in policy whose token statistics are given arrays, shifted by one scalar variable. */
function fixedPolicy(logProbs: Float32Array, entropies: Float32Array, B: number, T: number) {
  const zero = tf.scalar(0);
  const shift: Variable = tf.variable(zero, true);
  zero.dispose();
  const policy: DifferentiablePolicy = {
    vocabSize: 2,
    trainableVariables: () => [shift],
    tokenStatistics: () => ({
      logProbs: tf.add(tf.tensor2d(logProbs, [B, T]), shift),
      entropies: tf.add(tf.tensor2d(entropies, [B, T]), tf.mul(shift, 0)),
    }),
  };
  return { policy, dispose: () => shift.dispose() };
}

/** `rows` right-padded to `width` columns (0 beyond each row). */
function padded(rows: number[][], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, i) => {
    out.set(row, i * width);
  });
  return out;
}

function update(
  c: Pick<PolicyCase, 'oldLogProbs' | 'logProbs' | 'advantages' | 'responseMask'>,
  width: number,
  settings: Partial<PolicyUpdateSettings>,
  entropies?: number[][],
) {
  const B = c.logProbs.length;
  const mask = Uint8Array.from(padded(c.responseMask, width));
  const { policy, dispose } = fixedPolicy(
    padded(c.logProbs, width),
    entropies ? padded(entropies, width) : new Float32Array(B * width),
    B,
    width,
  );
  const optimizer = new AdamOptimizer(policy.trainableVariables());
  try {
    return policyUpdate(
      policy,
      optimizer,
      {
        request: {
          prompts: { tokenIds: new Int32Array(0), offsets: new Int32Array(B + 1) },
          batchSize: B,
          seqLen: width,
          tokenIds: new Int32Array(B * width),
          responseMask: mask,
        },
        oldLogProbs: padded(c.oldLogProbs, width),
        advantages: padded(c.advantages, width),
        lossMask: mask,
      },
      {
        lossAggregation: 'token-mean',
        clipRatioLow: 0.2,
        clipRatioHigh: 0.28,
        clipRatioC: 3,
        entropyCoefficient: 0,
        klCoefficient: 0,
        klEstimator: 'k3',
        maxGradNorm: 1e9,
        ...settings,
      },
      1e-3,
    );
  } finally {
    optimizer.dispose();
    dispose();
  }
}

const close = (actual: number, expected: number, label: string) =>
  expect(Math.abs(actual - expected), label).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(expected));

describe('seq-mean-token-sum-norm with a constant factor (Dr.GRPO)', () => {
  const cases = fixture.cases.filter((c) => c.lossAggMode === 'seq-mean-token-sum-norm');

  it(`equals verl's loss on all ${cases.length} cases, whatever the padded width of the step`, () => {
    expect(cases.length).toBeGreaterThan(10);
    cases.forEach((c, index) => {
      const T = c.logProbs[0]!.length; // verl's factor in the fixture: its padded width
      const settings = {
        lossAggregation: c.lossAggMode,
        clipRatioLow: c.clipRatioLow,
        clipRatioHigh: c.clipRatioHigh,
        clipRatioC: c.clipRatioC,
      };
      // The same rows padded 5 columns wider: with the constant factor T the loss is unchanged.
      for (const width of [T, T + 5]) {
        const metrics = update(c, width, { ...settings, lossScaleFactor: T });
        close(metrics.policyLoss, c.loss, `case ${index}, width ${width}`);
      }
      // Without it the divisor is the padded width, which changes with the step's longest row.
      const unset = update(c, T + 5, settings);
      close(unset.policyLoss, (c.loss * T) / (T + 5), `case ${index}, default factor`);
    });
  });

  it('the trainer divides by update.lossScaleFactor, default sampling.maxNewTokens', async () => {
    expect(parseRlConfig({ sampling: { maxNewTokens: 7 } }).update.lossScaleFactor).toBe(7);
    expect(
      parseRlConfig({ sampling: { maxNewTokens: 7 }, update: { lossScaleFactor: 512 } }).update
        .lossScaleFactor,
    ).toBe(512);
    const lossWith = async (update: object) => {
      const policy = TransformerPolicy.create(toyModelConfig, { seed: 3 });
      const records: MetricRecordV1[] = [];
      const run = new RlTrainer({
        config: {
          seed: 1,
          promptsPerStep: 4,
          samplesPerPrompt: 4,
          sampling: { maxNewTokens: 6 },
          credit: { estimator: { name: 'dr-grpo' } },
          update: { miniBatchSize: 64, lossAggregation: 'seq-mean-token-sum-norm', ...update },
        },
        policy,
        tokenizer: toyTokenizer,
        reward: toyReward,
        classifier: toyClassifier,
        trainProblems: toyProblems(8),
        sink: { write: (r) => void records.push(r) },
      });
      await run.trainStep();
      run.dispose();
      policy.dispose();
      return {
        loss: records[0]![TRAIN_METRIC_KEYS.policyLoss] as number,
        longest: records[0]![TRAIN_METRIC_KEYS.responseLengthMax] as number,
      };
    };
    const byDefault = await lossWith({});
    expect(byDefault.loss).not.toBe(0);
    expect((await lossWith({ lossScaleFactor: 6 })).loss).toBe(byDefault.loss);
    close((await lossWith({ lossScaleFactor: 12 })).loss, byDefault.loss / 2, 'factor 12');
  });
});

describe('the entropy bonus follows the aggregation mode', () => {
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
  it.each([
    ['token-mean', (1 * 4 + 3) / 5],
    ['seq-mean-token-mean', (1 + 3) / 2],
    ['seq-mean-token-sum', (4 + 3) / 2],
    ['seq-mean-token-sum-norm', (4 + 3) / 8],
  ] as const)('%s', (mode, expected) => {
    const metrics = update(
      c,
      4,
      { lossAggregation: mode, entropyCoefficient: 0.5, lossScaleFactor: 8 },
      entropies,
    );
    expect(metrics.entropy).toBeCloseTo(expected, 6);
    // advantages are zero: the loss is the entropy bonus alone
    expect(metrics.loss).toBeCloseTo(-0.5 * expected, 6);
  });
});

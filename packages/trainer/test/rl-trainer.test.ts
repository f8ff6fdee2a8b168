import { LocalSamplingClient, TransformerPolicy } from '@hicra/policy';
import type { MetricRecordV1 } from '@hicra/spec';
import { ErrorCode, EVAL_METRIC_KEYS, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import { passAtK, type RlTrainerOptions } from '../src/index.js';
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

const modelConfig = toyModelConfig;
const baseConfig = {
  seed: 1,
  steps: 40,
  promptsPerStep: 8,
  samplesPerPrompt: 8,
  sampling: { maxNewTokens: 2 },
  optimizer: { learningRate: 0.03 },
  update: { miniBatchSize: 32, epochs: 2 },
  evaluation: { problems: 12, k: 4 },
};

function trainer(
  policy: TransformerPolicy,
  extra: Partial<RlTrainerOptions> = {},
  config: object = {},
  engine = localEngine(policy),
) {
  return localTrainer(
    policy,
    {
      config: { ...baseConfig, ...config },
      tokenizer: toyTokenizer,
      reward: toyReward,
      classifier: toyClassifier,
      trainProblems: toyProblems(60),
      evalProblems: toyProblems(12, 100),
      ...extra,
    },
    engine,
  );
}

const withoutTime = (r: MetricRecordV1) =>
  Object.fromEntries(
    Object.entries(r).filter(
      ([k]) => k !== 'time' && !k.startsWith('time/') && !k.startsWith('throughput/'),
    ),
  );

describe('RlTrainer', () => {
  it.each([
    ['grpo', { estimator: { name: 'grpo' } }],
    ['grpo + hicra', { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra', alpha: 0.2 }] }],
  ])('accuracy rises on the toy copy task with %s', async (_name, credit) => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 7 });
    const records: MetricRecordV1[] = [];
    // The toy's planning word is "hmm"; metrics measure it here (Strategic Grams by default).
    const run = await trainer(
      policy,
      { sink: { write: (r) => void records.push(r) }, metricsClassifier: toyClassifier },
      { credit },
    );
    const before = await run.evaluate();
    for (let step = 0; step < 40; step++) await run.trainStep();
    const after = await run.evaluate();
    expect(after['eval/mean_at_k']).toBeGreaterThan((before['eval/mean_at_k'] as number) + 0.3);
    const train = records.filter((r) => r.kind === 'train');
    expect(train).toHaveLength(40);
    const evals = records.filter((r) => r.kind === 'eval');
    expect(evals).toHaveLength(2);
    // Every documented per-step key on every step, except the planning-phrase metrics, which
    // exist only where the toy policy's responses contain its planning word: those must appear
    // on many steps (and are omitted, never NaN, elsewhere).
    const needsPhrases = new Set<string>([
      K.entropyPlanning,
      K.perplexityPlanning,
      K.strategySemanticEntropy,
      K.strategySemanticEntropyClustered,
      K.conditionalProceduralEntropy,
      K.planningInTopEntropy,
      K.topEntropyIsPlanning,
    ]);
    for (const record of train) {
      for (const key of Object.values(K)) {
        if (!needsPhrases.has(key))
          expect(record, `${key} at step ${record.step}`).toHaveProperty([key]);
        if (key in record) expect(Number.isFinite(record[key])).toBe(true);
      }
    }
    for (const key of needsPhrases)
      expect(train.filter((r) => key in r).length, key).toBeGreaterThan(5);
    for (const record of evals) {
      for (const key of Object.values(EVAL_METRIC_KEYS))
        expect(record, `${key} at eval ${record.step}`).toHaveProperty([key]);
    }
    await closeTrainer(run);
    policy.dispose();
  });

  it('a run stopped and resumed gives the same metrics as an uninterrupted run', async () => {
    const straight = TransformerPolicy.create(modelConfig, { seed: 3 });
    const recordsA: MetricRecordV1[] = [];
    const a = await trainer(
      straight,
      { sink: { write: (r) => void recordsA.push(r) } },
      { credit: { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra' }] } },
    );
    for (let step = 0; step < 4; step++) await a.trainStep();

    const first = TransformerPolicy.create(modelConfig, { seed: 3 });
    const b = await trainer(
      first,
      {},
      { credit: { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra' }] } },
    );
    await b.trainStep();
    await b.trainStep();
    // What a checkpoint holds: the loop's state and the engine's saved state.
    const state = b.getState();
    const location = await b.engine.saveState('after-two-steps');
    // A fresh process: a new policy and engine, the engine's state and the trainer's restored.
    const second = TransformerPolicy.create(modelConfig, { seed: 99 });
    const engine = localEngine(second);
    await engine.loadState(location);
    const recordsC: MetricRecordV1[] = [];
    const c = await trainer(
      second,
      { sink: { write: (r) => void recordsC.push(r) } },
      { credit: { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra' }] } },
      engine,
    );
    await c.setState(state);
    await c.trainStep();
    await c.trainStep();
    expect(recordsC.map(withoutTime)).toEqual(recordsA.slice(2).map(withoutTime));
    straight.trainableVariables().forEach((v, i) => {
      expect(second.trainableVariables()[i]!.dataSync()).toEqual(v.dataSync());
    });
    await closeTrainer(a, b, c);
    for (const p of [straight, first, second]) p.dispose();
  });

  it('excludes a response whose reward function throws, and stops when told to', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 5 });
    let calls = 0;
    const flaky = {
      name: 'flaky',
      score: (input: Parameters<typeof toyReward.score>[0]) => {
        calls++;
        if (calls % 5 === 0) throw new Error('verifier crashed');
        return toyReward.score(input);
      },
    };
    const run = await trainer(policy, { reward: flaky });
    const record = await run.trainStep();
    expect(record[K.unscorableFraction]).toBeGreaterThan(0);
    const strict = await trainer(policy, { reward: flaky }, { onRewardError: 'stop' });
    await expect(async () => {
      for (let i = 0; i < 3; i++) await strict.trainStep();
    }).rejects.toThrow(/verifier crashed/);
    await closeTrainer(run, strict);
    policy.dispose();
  });

  it('stops on a non-finite reward with an InvalidValueError printing the value', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 6 });
    const infinite = {
      name: 'infinite',
      score: () => ({ kind: 'scored' as const, reward: Number.POSITIVE_INFINITY }),
    };
    const strict = await trainer(policy, { reward: infinite }, { onRewardError: 'stop' });
    const error = await expectHicraRejection(strict.trainStep());
    expect(error.code).toBe(ErrorCode.InvalidValue);
    expect(error.message).toMatch(
      /reward infinite returned Infinity for a response to problem ".+"; rewards must be finite/,
    );
    await closeTrainer(strict);
    policy.dispose();
  });
});

const K = TRAIN_METRIC_KEYS;

describe('passAtK', () => {
  it('is the unbiased estimator', () => {
    expect(passAtK(4, 0, 4)).toBe(0);
    expect(passAtK(4, 1, 4)).toBe(1);
    expect(passAtK(4, 1, 1)).toBeCloseTo(0.25, 12);
    expect(passAtK(5, 2, 2)).toBeCloseTo(1 - (3 / 5) * (2 / 4), 12);
  });
});

describe('RlTrainer DAPO switches and KL in the reward', () => {
  const config = { ...baseConfig, steps: 2, promptsPerStep: 4, samplesPerPrompt: 4 };

  it('dynamic sampling keeps only groups whose rewards differ, refilling up to the limit', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 7 });
    let groups = 0;
    const rewardCalls: string[] = [];
    const constant = {
      name: 'constant-for-even-digits',
      score: (input: Parameters<typeof toyReward.score>[0]) => {
        rewardCalls.push(input.prompt);
        // even digits: every response rewarded 0.5 (no signal); odd: the real reward
        return Number(input.reference) % 2 === 0
          ? { kind: 'scored' as const, reward: 0.5, correct: false }
          : toyReward.score(input);
      },
    };
    const run = await trainer(
      policy,
      {
        reward: constant,
        hooks: {
          onStepEnd: (_s, r) => {
            groups = r['train/groups_kept'] as number;
          },
        },
      },
      { ...config, dynamicSampling: { enabled: true, maxRefills: 3 } },
    );
    const record = await run.trainStep();
    expect(groups).toBeGreaterThan(0);
    expect(record['train/groups_kept']).toBe(groups);
    // more responses were scored than one round's 4 × 4: dropped groups were refilled
    expect(rewardCalls.length).toBeGreaterThan(16);
    expect(groups).toBeLessThanOrEqual(4);
    await closeTrainer(run);
    policy.dispose();
  });

  it('overlong filtering removes truncated responses from the loss', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 8 });
    const filtered = await trainer(
      policy,
      {},
      { ...config, sampling: { maxNewTokens: 1 }, overlongFilter: true },
    );
    const record = await filtered.trainStep();
    // with one new token and no EOS, every response is truncated: nothing left to learn from
    expect(record[K.responseLengthClipRatio]).toBeGreaterThan(0.5);
    expect(record[K.lossMaskedShare]).toBeGreaterThanOrEqual(
      record[K.responseLengthClipRatio] as number,
    );
    await closeTrainer(filtered);
    policy.dispose();
  });

  it('puts a k1 penalty against a reference policy into the token rewards', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 9 });
    const reference = TransformerPolicy.create(modelConfig, { seed: 10 });
    const run = await trainer(
      policy,
      { reference: new LocalSamplingClient(reference) },
      {
        ...config,
        update: { ...baseConfig.update, klCoefficient: 0.1, klEstimator: 'k1', klInReward: true },
      },
    );
    const record = await run.trainStep();
    expect(record[K.klLoss]).toBe(0); // in the reward, not the loss
    expect(Number.isFinite(record[K.advantageMean])).toBe(true);
    const lossRun = await trainer(
      policy,
      { reference: new LocalSamplingClient(reference) },
      { ...config, update: { ...baseConfig.update, klCoefficient: 0.1, klEstimator: 'k3' } },
    );
    const lossRecord = await lossRun.trainStep();
    expect(lossRecord[K.klLoss]).toBeGreaterThan(0);
    await closeTrainer(run, lossRun);
    policy.dispose();
    reference.dispose();
  });
});

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreditRegistry } from '@hicra/advantage';
import { strategicGrams } from '@hicra/planning';
import { TransformerPolicy } from '@hicra/policy';
import {
  ConfigError,
  type CreditAssignerRegistrationV1,
  type EncodingV1,
  EVAL_METRIC_KEYS,
  type HicraWarningV1,
  type MetricRecordV1,
  type PlanningClassifierV1,
  type PlanningInputV1,
  type RewardFunctionV1,
  type RolloutBatchV1,
  type RolloutSourceV1,
  type TokenizerV1,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { klPenalty, tf } from '@hicra/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultStrategyMetrics,
  PolicyRolloutSource,
  RlTrainer,
  type RlTrainerOptions,
  RUN_FILES,
  readJsonl,
  runRl,
  type StrategyMetricsInput,
  type TrainablePolicy,
} from '../src/index.js';
import { toyClassifier, toyModelConfig, toyProblems, toyReward, toyTokenizer } from './toy-task.js';

const K = TRAIN_METRIC_KEYS;

/** A registry with a `spy` assigner that records the batches the credit pipeline sees. */
function spyRegistry(): { registry: CreditRegistry; batches: RolloutBatchV1[] } {
  const batches: RolloutBatchV1[] = [];
  const spy: CreditAssignerRegistrationV1 = {
    kind: 'assigner',
    name: 'spy',
    description: 'records the batch',
    settings: {},
    create: () => ({
      name: 'spy',
      assign: (batch, credit) => {
        batches.push(batch);
        return credit;
      },
    }),
  };
  return { registry: new CreditRegistry().register(spy), batches };
}
const spyCredit = { estimator: { name: 'grpo' }, assigners: [{ name: 'spy' }] };

const modelConfig = toyModelConfig;
const config = {
  seed: 3,
  steps: 4,
  promptsPerStep: 4,
  samplesPerPrompt: 4,
  sampling: { maxNewTokens: 3 },
  optimizer: { learningRate: 0.05 },
  update: { miniBatchSize: 8 },
  evaluation: { every: 0, problems: 4, k: 2 },
};

function trainer(policy: TrainablePolicy, extra: Partial<RlTrainerOptions> = {}, over = {}) {
  return new RlTrainer({
    config: { ...config, ...over },
    policy,
    tokenizer: toyTokenizer,
    reward: toyReward,
    classifier: toyClassifier,
    trainProblems: toyProblems(20),
    evalProblems: toyProblems(4, 40),
    ...extra,
  });
}

describe('planning metrics always measure Strategic Grams', () => {
  // A word tokenizer whose vocabulary holds Strategic Grams ("wait", "so", "now").
  const WORDS = ['<pad>', '<bos>', '<eos>', 'copy', 'wait', 'so', 'now', 'ok', '0', '1', '2'];
  const tokenizer: TokenizerV1 = {
    vocabSize: WORDS.length,
    specialTokens: { pad: 0, bos: 1, eos: 2 },
    encode(text: string, options?: { addSpecialTokens?: boolean }): EncodingV1 {
      const ids: number[] = options?.addSpecialTokens ? [1] : [];
      const spans: number[] = options?.addSpecialTokens ? [-1, -1] : [];
      for (const match of text.matchAll(/\S+/g)) {
        ids.push(Math.max(WORDS.indexOf(match[0]), 0));
        spans.push(match.index, match.index + match[0].length);
      }
      return { ids: Int32Array.from(ids), spans: Int32Array.from(spans) };
    },
    decode: (ids) =>
      Array.from(ids)
        .filter((id) => id > 2)
        .map((id) => WORDS[id])
        .join(' '),
  };
  // Placebo-like: marks every "ok" and digit as a random "phrase", and records its calls.
  const calls: PlanningInputV1[] = [];
  const placebo: PlanningClassifierV1 = {
    name: 'placebo-like',
    classify(input) {
      calls.push(input);
      const { batchSize, seqLen, texts, tokenSpans } = input;
      const mask = new Uint8Array(batchSize * seqLen);
      const matches = texts.map((text, i) => {
        const found = [...text.matchAll(/ok|\d/g)].map((m) => ({
          start: m.index,
          end: m.index + m[0].length,
          gram: m[0],
          gramId: -1,
        }));
        for (let t = 0; t < seqLen; t++) {
          const k = i * seqLen + t;
          const [s, e] = [tokenSpans[2 * k]!, tokenSpans[2 * k + 1]!];
          if (s >= 0 && found.some((f) => s < f.end && f.start < e)) mask[k] = 1;
        }
        return found;
      });
      return { mask, matches };
    },
  };

  it('logs the metrics of the Strategic-Gram classifier on the same texts, not the credit classifier', async () => {
    const policy = TransformerPolicy.create(
      { ...modelConfig, vocabSize: WORDS.length },
      { seed: 4 },
    );
    const seen: StrategyMetricsInput[] = [];
    const records: MetricRecordV1[] = [];
    const run = new RlTrainer({
      config: { ...config, sampling: { maxNewTokens: 6 }, samplesPerPrompt: 6 },
      policy,
      tokenizer,
      reward: {
        name: 'any',
        score: ({ response }) => ({ kind: 'scored', reward: response.length % 2 }),
      },
      classifier: placebo,
      trainProblems: [{ id: 'p', prompt: 'copy 0' }],
      sink: { write: (r) => void records.push(r) },
      strategyMetrics: (input) => {
        seen.push(input);
        return defaultStrategyMetrics(input);
      },
    });
    for (let i = 0; i < 3; i++) await run.trainStep();
    // The credit classifier received the step.
    expect(calls.map((c) => c.step)).toEqual([0, 1, 2]);
    let compared = 0;
    seen.forEach((input, i) => {
      const { batch } = input;
      const sg = strategicGrams.classify({
        batchSize: batch.batchSize,
        seqLen: batch.seqLen,
        texts: batch.responseTexts!,
        tokenSpans: batch.tokenSpans!,
        responseMask: batch.responseMask,
      });
      expect(input.planning.mask).toEqual(sg.mask);
      expect(input.planning.matches).toEqual(sg.matches);
      const expected = defaultStrategyMetrics({
        batch: { ...batch, planningMask: sg.mask },
        planning: sg,
        logProbs: input.logProbs,
        entropies: input.entropies,
      });
      for (const [key, value] of Object.entries(expected)) {
        expect(records[i]![key], key).toBe(value);
        compared++;
      }
      // The placebo's own metrics would differ: the test can fail.
      const placeboPlanning = calls[i]!;
      const placeboMetrics = defaultStrategyMetrics({
        ...input,
        planning: placebo.classify(placeboPlanning),
      });
      calls.pop();
      expect(placeboMetrics[K.entropyPlanning]).not.toBe(records[i]![K.entropyPlanning]);
      // credit/planning_token_share stays the credit classifier's
      expect(records[i]![K.planningTokenShare]).toBeGreaterThan(0);
    });
    expect(compared).toBeGreaterThan(10);
    expect(seen.some((input) => input.planning.matches.some((m) => m.length > 0))).toBe(true);
    run.dispose();
    policy.dispose();
  });
});

describe('responses without an answer', () => {
  const flagged = (every: number, drop: boolean): RewardFunctionV1 => {
    let calls = 0;
    return {
      name: 'flagged',
      score(input) {
        calls++;
        if (calls % every !== 0) return toyReward.score(input);
        return drop
          ? { kind: 'unscorable', reason: 'no final answer' }
          : { kind: 'scored', reward: 0, correct: false, missingAnswer: 'no final answer' };
      },
    };
  };

  it('are counted in reward/unscorable_fraction whether scored 0 or dropped; scored ones train', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 5 });
    const sizes: Record<string, number> = {};
    for (const drop of [false, true]) {
      const spy = spyRegistry();
      const run = trainer(
        policy,
        { reward: flagged(4, drop), registry: spy.registry },
        { credit: spyCredit, update: { miniBatchSize: 64, epochs: 1 } },
      );
      const record = await run.trainStep();
      // 16 responses, every 4th without an answer (and the toy's empty ones).
      expect(record[K.unscorableFraction]).toBeGreaterThanOrEqual(0.25);
      sizes[String(drop)] = spy.batches[0]!.batchSize;
      if (!drop) {
        // Scored 0 and kept in the batch and the group baseline.
        const zeros = Array.from(spy.batches[0]!.rewards).filter((r) => r === 0).length;
        expect(zeros).toBeGreaterThanOrEqual(4);
      }
      run.dispose();
    }
    expect(sizes.false).toBeGreaterThanOrEqual((sizes.true as number) + 4);
    policy.dispose();
  });

  it('a batch in which no response has an answer warns (scored 0 or dropped)', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 6 });
    for (const drop of [false, true]) {
      const warnings: HicraWarningV1[] = [];
      const run = trainer(policy, {
        reward: flagged(1, drop),
        hooks: { onWarning: (w) => void warnings.push(w) },
      });
      const record = await run.trainStep();
      expect(record[K.unscorableFraction]).toBe(1);
      expect(warnings.map((w) => w.code)).toEqual(['all-responses-unscorable']);
      expect(warnings[0]!.message).toMatch(
        drop ? /none of the 16 sampled responses .*all dropped/ : /all scored as incorrect/,
      );
      run.dispose();
    }
    policy.dispose();
  });
});

describe('KL against a frozen reference', () => {
  const weightsOf = (policy: { trainableVariables(): tf.Variable[] }) =>
    policy.trainableVariables().map((v) => v.dataSync().slice());

  it('makes a frozen copy of the initial policy that stays bit-identical across updates', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 7 });
    const initial = weightsOf(policy);
    const records: MetricRecordV1[] = [];
    const run = trainer(
      policy,
      { sink: { write: (r) => void records.push(r) } },
      { update: { miniBatchSize: 8, epochs: 2, klCoefficient: 0.1, klEstimator: 'k3' } },
    );
    const reference = run.referencePolicy as TransformerPolicy;
    expect(reference).toBeInstanceOf(TransformerPolicy);
    for (let i = 0; i < 3; i++) await run.trainStep();
    expect(weightsOf(reference)).toEqual(initial);
    expect(weightsOf(policy)).not.toEqual(initial);
    // KL is 0 on the first mini-batch only; non-zero once the policy moved.
    expect(records.at(-1)![K.klLoss]).toBeGreaterThan(0);
    run.dispose(); // disposes the copy it made
    policy.dispose();
  });

  it('fails at configuration, naming update.klCoefficient, when no reference can be made', () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 8 });
    const noClone: TrainablePolicy = {
      vocabSize: policy.vocabSize,
      contextLength: policy.contextLength,
      sample: (r) => policy.sample(r),
      score: (r) => policy.score(r),
      trainableVariables: () => policy.trainableVariables(),
      tokenStatistics: (r) => policy.tokenStatistics(r),
    };
    for (const update of [{ klCoefficient: 0.1 }, { klCoefficient: 0.1, klInReward: true }]) {
      let error: unknown;
      try {
        trainer(noClone, {}, { update });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).path).toBe('update.klCoefficient');
      expect((error as Error).message).toMatch(/no reference policy: pass referencePolicy/);
    }
    policy.dispose();
  });

  it.each(['k1', 'k2', 'abs', 'k3'] as const)(
    'KL in the reward uses the configured estimator (%s)',
    async (estimator) => {
      const policy = TransformerPolicy.create(modelConfig, { seed: 9 });
      const reference = TransformerPolicy.create(modelConfig, { seed: 10 });
      const { registry, batches } = spyRegistry();
      const run = trainer(
        policy,
        { referencePolicy: reference, registry },
        {
          credit: spyCredit,
          update: {
            miniBatchSize: 8,
            klCoefficient: 0.5,
            klEstimator: estimator,
            klInReward: true,
          },
        },
      );
      await run.trainStep();
      const batch = batches[0]!;
      const { batchSize: B, seqLen: T } = batch;
      const kl = tf.tidy(() =>
        klPenalty(
          tf.tensor2d(batch.oldLogProbs!, [B, T]),
          tf.tensor2d(batch.refLogProbs!, [B, T]),
          estimator,
        ).dataSync(),
      );
      let checked = 0;
      for (let i = 0; i < B; i++) {
        let last = -1;
        for (let t = 0; t < T; t++) if (batch.responseMask[i * T + t] === 1) last = t;
        for (let t = 0; t <= last; t++) {
          const expected = -0.5 * kl[i * T + t]! + (t === last ? batch.rewards[i]! : 0);
          expect(batch.tokenRewards![i * T + t]).toBeCloseTo(expected, 5);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(B);
      run.dispose();
      policy.dispose();
      reference.dispose();
    },
  );
});

describe('runRl with KL resumes exactly', () => {
  const root = mkdtempSync(join(tmpdir(), 'hicra-kl-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const common = {
    config: {
      ...config,
      update: { miniBatchSize: 8, klCoefficient: 0.2, klEstimator: 'k3' as const },
      evaluation: { every: 2, problems: 4, k: 2 },
      checkpointEvery: 0,
    },
    tokenizer: toyTokenizer,
    reward: toyReward,
    classifier: toyClassifier,
    trainProblems: toyProblems(20),
    evalProblems: toyProblems(4, 40),
  };
  const stable = (r: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(r).filter(
        ([k]) => k !== 'time' && !k.startsWith('time/') && !k.startsWith('throughput/'),
      ),
    );

  it('saves the frozen reference with the checkpoint and restores it on resume', async () => {
    const straightDir = join(root, 'straight');
    const straight = TransformerPolicy.create(modelConfig, { seed: 11 });
    await runRl({ ...common, runDir: straightDir, policy: straight });

    const resumedDir = join(root, 'resumed');
    const first = TransformerPolicy.create(modelConfig, { seed: 11 });
    const controller = new AbortController();
    await runRl({
      ...common,
      runDir: resumedDir,
      policy: first,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    expect(readdirSync(join(resumedDir, RUN_FILES.checkpoint))).toContain(RUN_FILES.reference);
    // Different initial weights: the saved reference (and policy) must win.
    const second = TransformerPolicy.create(modelConfig, { seed: 999 });
    const resumed = await runRl({ ...common, runDir: resumedDir, policy: second });
    expect(resumed).toEqual({ status: 'completed', step: 4, resumedFrom: 2 });
    const a = readJsonl<Record<string, unknown>>(join(straightDir, RUN_FILES.metrics)).map(stable);
    const b = readJsonl<Record<string, unknown>>(join(resumedDir, RUN_FILES.metrics)).map(stable);
    expect(b).toEqual(a);
    expect(a.filter((r) => r.kind === 'train').some((r) => (r[K.klLoss] as number) > 0)).toBe(true);
    for (const p of [straight, first, second]) p.dispose();
  });
});

describe('update settings', () => {
  it('warns once at configuration when RL samples with top-k or top-p on', () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 12 });
    for (const sampling of [{ topK: 3 }, { topP: 0.9 }, {}]) {
      const warnings: HicraWarningV1[] = [];
      const run = trainer(
        policy,
        { hooks: { onWarning: (w) => void warnings.push(w) } },
        { sampling: { maxNewTokens: 3, ...sampling } },
      );
      expect(warnings.map((w) => w.code)).toEqual(
        Object.keys(sampling).length ? ['rl-truncated-sampling'] : [],
      );
      run.dispose();
    }
    policy.dispose();
  });

  it("scores old log-probs at the sampling temperature: they equal the sampler's", async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 13 });
    const { registry, batches } = spyRegistry();
    const sampled: number[] = [];
    const inner = new PolicyRolloutSource(policy, toyTokenizer, { addSpecialTokens: true });
    const source: RolloutSourceV1 = {
      name: 'recording',
      generate: async (request) => {
        const batch = await inner.generate(request);
        sampled.push(...batch.oldLogProbs!);
        return batch;
      },
    };
    const run = trainer(
      policy,
      {
        registry,
        rolloutSource: source,
        // Always scorable: every sampled response reaches the batch.
        reward: {
          name: 'length',
          score: ({ response }) => ({ kind: 'scored', reward: response.length % 2 }),
        },
      },
      {
        sampling: { maxNewTokens: 3, temperature: 0.5 },
        credit: spyCredit,
      },
    );
    await run.trainStep();
    // Same tokens, same weights (scored before the update): the same log-probs.
    const nonZero = (values: ArrayLike<number>) =>
      Array.from(values)
        .filter((x) => x !== 0)
        .sort((a, b) => a - b);
    const fromSampler = nonZero(sampled);
    const fromTrainer = nonZero(batches[0]!.oldLogProbs!);
    expect(fromTrainer.length).toBe(fromSampler.length);
    expect(fromTrainer.length).toBeGreaterThan(10);
    fromTrainer.forEach((x, i) => {
      expect(x).toBeCloseTo(fromSampler[i]!, 4);
    });
    run.dispose();
    policy.dispose();
  });
});

describe('evaluation', () => {
  it('samples at 0.6 by default, and logs greedy accuracy and the temperature', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 14 });
    const run = trainer(policy);
    expect(run.config.evaluation.temperature).toBe(0.6);
    const record = await run.evaluate();
    expect(record[EVAL_METRIC_KEYS.temperature]).toBe(0.6);
    expect(record[EVAL_METRIC_KEYS.k]).toBe(2);
    expect(record[EVAL_METRIC_KEYS.greedyAccuracy]).toBeGreaterThanOrEqual(0);
    expect(record[EVAL_METRIC_KEYS.greedyAccuracy]).toBeLessThanOrEqual(1);
    expect(record[EVAL_METRIC_KEYS.meanAtK]).toBeDefined();
    // Greedy is deterministic: two evaluations at the same weights agree.
    expect((await run.evaluate())[EVAL_METRIC_KEYS.greedyAccuracy]).toBe(
      record[EVAL_METRIC_KEYS.greedyAccuracy],
    );
    run.dispose();
    policy.dispose();
  });
});

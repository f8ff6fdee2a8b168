import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreditRegistry } from '@hicra/advantage';
import { createPlanningClassifier, strategicGrams } from '@hicra/planning';
import { LOCAL_ENGINE_CAPABILITIES, LocalSamplingClient, TransformerPolicy } from '@hicra/policy';
import {
  ConfigError,
  type CreditAssignerRegistrationV1,
  type EncodingV1,
  type EngineCapabilitiesV1,
  EVAL_METRIC_KEYS,
  type ForwardResultV1,
  type HicraWarningV1,
  type MetricRecordV1,
  type PlanningClassifierV1,
  type PlanningInputV1,
  type RewardFunctionV1,
  type RolloutBatchV1,
  type RolloutSourceV1,
  type TokenizerV1,
  TRAIN_METRIC_KEYS,
  type TrainingClientV1,
} from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { klPenalty, tf } from '@hicra/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultStrategyMetrics,
  PolicyRolloutSource,
  type RlTrainerOptions,
  RUN_FILES,
  readJsonl,
  runRl,
  type StrategyMetricsInput,
} from '../src/index.js';
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

function trainer(
  policy: TransformerPolicy,
  extra: Partial<RlTrainerOptions> = {},
  over = {},
  engine: TrainingClientV1 = localEngine(policy),
) {
  return localTrainer(
    policy,
    {
      config: { ...config, ...over },
      tokenizer: toyTokenizer,
      reward: toyReward,
      classifier: toyClassifier,
      trainProblems: toyProblems(20),
      evalProblems: toyProblems(4, 40),
      ...extra,
    },
    engine as ReturnType<typeof localEngine>,
  );
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
    const run = await localTrainer(policy, {
      config: { ...config, sampling: { maxNewTokens: 6 }, samplesPerPrompt: 6 },
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
    await closeTrainer(run);
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
      const run = await trainer(
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
      await closeTrainer(run);
    }
    expect(sizes.false).toBeGreaterThanOrEqual((sizes.true as number) + 4);
    policy.dispose();
  });

  it('a batch in which no response has an answer warns (scored 0 or dropped)', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 6 });
    for (const drop of [false, true]) {
      const warnings: HicraWarningV1[] = [];
      const run = await trainer(policy, {
        reward: flagged(1, drop),
        hooks: { onWarning: (w) => void warnings.push(w) },
      });
      const record = await run.trainStep();
      expect(record[K.unscorableFraction]).toBe(1);
      expect(warnings.map((w) => w.code)).toEqual(['all-responses-unscorable']);
      expect(warnings[0]!.message).toMatch(
        drop ? /none of the 16 sampled responses .*all dropped/ : /all scored as incorrect/,
      );
      await closeTrainer(run);
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
    const run = await trainer(
      policy,
      { sink: { write: (r) => void records.push(r) } },
      { update: { miniBatchSize: 8, epochs: 2, klCoefficient: 0.1, klEstimator: 'k3' } },
    );
    const reference = (run.reference as LocalSamplingClient).policy as TransformerPolicy;
    expect(reference).toBeInstanceOf(TransformerPolicy);
    expect(reference).not.toBe(policy);
    for (let i = 0; i < 3; i++) await run.trainStep();
    expect(weightsOf(reference)).toEqual(initial);
    expect(weightsOf(policy)).not.toEqual(initial);
    // KL is 0 on the first mini-batch only; non-zero once the policy moved.
    expect(records.at(-1)![K.klLoss]).toBeGreaterThan(0);
    await closeTrainer(run);
    policy.dispose();
  });

  it.each(['k1', 'k2', 'abs', 'k3'] as const)(
    'KL in the reward uses the configured estimator (%s)',
    async (estimator) => {
      const policy = TransformerPolicy.create(modelConfig, { seed: 9 });
      const reference = TransformerPolicy.create(modelConfig, { seed: 10 });
      const { registry, batches } = spyRegistry();
      const run = await trainer(
        policy,
        { reference: new LocalSamplingClient(reference), registry },
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
      await closeTrainer(run);
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
  it('warns once at configuration when RL samples with top-k or top-p on', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 12 });
    for (const sampling of [{ topK: 3 }, { topP: 0.9 }, {}]) {
      const warnings: HicraWarningV1[] = [];
      const run = await trainer(
        policy,
        { hooks: { onWarning: (w) => void warnings.push(w) } },
        { sampling: { maxNewTokens: 3, ...sampling } },
      );
      expect(warnings.map((w) => w.code)).toEqual(
        Object.keys(sampling).length ? ['rl-truncated-sampling'] : [],
      );
      await closeTrainer(run);
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
    const run = await trainer(
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
    await closeTrainer(run);
    policy.dispose();
  });
});

describe('evaluation', () => {
  it('samples at 0.6 by default, and logs greedy accuracy and the temperature', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 14 });
    const run = await trainer(policy);
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
    await closeTrainer(run);
    policy.dispose();
  });
});

/**
 * The local engine with some capabilities taken away: what a remote engine (Tinker) may lack.
 * Every call goes to the real engine; `forward` drops entropies when the engine "cannot".
 */
function limitedEngine(
  policy: TransformerPolicy,
  limits: Partial<EngineCapabilitiesV1>,
): TrainingClientV1 & { dispose(): Promise<void> } {
  const inner = localEngine(policy);
  const capabilities = { ...LOCAL_ENGINE_CAPABILITIES, ...limits };
  const strip = (result: ForwardResultV1): ForwardResultV1 =>
    capabilities.entropies
      ? result
      : { ...result, outputs: result.outputs.map(({ logProbs }) => ({ logProbs })) };
  return {
    info: async () => ({ ...(await inner.info()), modelName: 'limited', capabilities }),
    forward: async (data, loss, options) => strip(await inner.forward(data, loss, options)),
    forwardBackward: async (data, loss, options) =>
      strip(await inner.forwardBackward(data, loss, options)),
    optimStep: (adam) => inner.optimStep(adam),
    saveState: (name) => inner.saveState(name),
    loadState: (location) => inner.loadState(location),
    saveWeightsForSampler: (name) => inner.saveWeightsForSampler(name),
    dispose: () => inner.dispose(),
  };
}

describe('engine capabilities are checked when the run is configured', () => {
  const refused: [
    string,
    Partial<EngineCapabilitiesV1>,
    object,
    Partial<RlTrainerOptions>,
    RegExp,
  ][] = [
    [
      'update.loss',
      { losses: ['cross-entropy', 'importance-sampling', 'ppo', 'cispo', 'dro'] },
      {},
      {},
      /is "verl-ppo", which the engine \(limited\) does not offer; it offers cross-entropy, importance-sampling, ppo, cispo, dro/,
    ],
    [
      'sampling.temperature',
      { temperature: false },
      { sampling: { maxNewTokens: 3, temperature: 0.7 } },
      {},
      /scores at temperature 1 only/,
    ],
    [
      'update.klCoefficient',
      { klTerm: false },
      { update: { miniBatchSize: 8, klCoefficient: 0.1 } },
      {},
      /cannot add; set update.klInReward: true/,
    ],
    [
      'update.entropyCoefficient',
      { entropyBonus: false },
      { update: { miniBatchSize: 8, entropyCoefficient: 0.01 } },
      {},
      /an entropy bonus/,
    ],
    [
      'credit',
      { entropies: false },
      { credit: { estimator: { name: 'grpo' }, assigners: [{ name: 'fork-tokens' }] } },
      {},
      /assigner "fork-tokens" needs token entropies, which the engine \(limited\) cannot return/,
    ],
    [
      'classifier',
      { entropies: false },
      {},
      { classifier: createPlanningClassifier({ name: 'entropy-forks' }) },
      /planning classifier "entropy-forks" needs token entropies/,
    ],
  ];
  it.each(refused)(
    '%s: a ConfigError naming the setting and the engine',
    async (path, limits, over, extra, message) => {
      const policy = TransformerPolicy.create(modelConfig, { seed: 15 });
      const engine = limitedEngine(policy, limits);
      const error = await expectHicraRejection(trainer(policy, extra, over, engine));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).path).toBe(path);
      expect((error as Error).message).toMatch(message);
      await engine.dispose();
      policy.dispose();
    },
  );

  it('the KL penalty in the reward needs no KL term of the engine', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 16 });
    const engine = limitedEngine(policy, { klTerm: false });
    const run = await trainer(
      policy,
      {},
      { update: { miniBatchSize: 8, klCoefficient: 0.1, klInReward: true } },
      engine,
    );
    const record = await run.trainStep();
    expect(record[K.klLoss]).toBe(0);
    await closeTrainer(run);
    await engine.dispose();
    policy.dispose();
  });

  it('without entropies, the metrics that need them are absent (one warning), never 0', async () => {
    const policy = TransformerPolicy.create(modelConfig, { seed: 17 });
    const warnings: HicraWarningV1[] = [];
    const engine = limitedEngine(policy, { entropies: false });
    const run = await trainer(
      policy,
      { hooks: { onWarning: (w) => void warnings.push(w) }, metricsClassifier: toyClassifier },
      { update: { miniBatchSize: 8 } },
      engine,
    );
    expect(warnings.map((w) => w.code)).toEqual(['engine-without-entropies']);
    const records = [await run.trainStep(), await run.trainStep()];
    for (const record of records) {
      for (const key of [K.entropyPlanning, K.entropyExecution, K.planningInTopEntropy]) {
        expect(record, key).not.toHaveProperty([key]);
      }
      // What needs no entropy is still there.
      expect(record[K.perplexityExecution]).toBeGreaterThan(1);
      expect(record[K.policyLoss]).toBeDefined();
    }
    expect(warnings).toHaveLength(1);
    await closeTrainer(run);
    await engine.dispose();
    policy.dispose();
  });
});

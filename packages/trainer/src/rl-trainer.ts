import { type CreditPipeline, type CreditRegistry, defaultRegistry } from '@hicra/advantage';
import { strategicGrams } from '@hicra/planning';
import { answerSemanticEntropySync, stepMetrics } from '@hicra/semantic-entropy';
import {
  ConfigError,
  EVAL_METRIC_KEYS,
  formatValue,
  type HicraWarningV1,
  InvalidValueError,
  type MetricRecordV1,
  type MetricSinkV1,
  type PlanningClassifierV1,
  type PlanningResultV1,
  type PolicyV1,
  type RewardFunctionV1,
  type RolloutBatchV1,
  type RolloutRecordV1,
  type RolloutSourceV1,
  rolloutRecordsFromBatch,
  type ScoreRequestV1,
  type TokenizerV1,
  TRAIN_METRIC_KEYS,
  validateRolloutBatch,
} from '@hicra/spec';
import {
  type DifferentiablePolicy,
  klPenalty,
  maskedMean,
  SeededGenerator,
  type SeededGeneratorState,
  tf,
} from '@hicra/tensor';
import { parseRlConfig, type RlConfig, type RlConfigInput } from './config.js';
import { AdamOptimizer, type OptimizerState } from './optimizer.js';
import { PolicyRolloutSource } from './policy-rollout-source.js';
import { passAtK, toRagged } from './rollouts.js';
import { learningRateAt } from './schedule.js';
import { policyUpdate, type UpdateMetrics } from './update-steps.js';

const K = TRAIN_METRIC_KEYS;

/** One problem of a task: the prompt the policy sees and what the reward checks against. */
export interface Problem {
  readonly id: string;
  readonly prompt: string;
  readonly reference?: unknown;
}

/** A frozen policy that scores (a KL reference); disposed by whoever created it. */
export interface ReferencePolicy extends PolicyV1 {
  dispose?(): void;
}

/** A policy the trainer can both sample from and differentiate. */
export interface TrainablePolicy extends PolicyV1, DifferentiablePolicy {
  /**
   * An independent frozen copy of the current weights. With a KL term configured and no
   * `referencePolicy` given, the trainer makes its reference with it (as verl copies the
   * initial actor); a policy without it then cannot run KL (a `ConfigError`).
   */
  clone?(): ReferencePolicy;
}

/** What strategy metrics (`@hicra/semantic-entropy`) receive each step. */
export interface StrategyMetricsInput {
  /** The step's batch; its `planningMask` is the metrics classifier's. */
  readonly batch: RolloutBatchV1;
  /** The metrics classifier's result (Strategic Grams by default), not the credit classifier's. */
  readonly planning: PlanningResultV1;
  /** `[B·T]` token log-probs and entropies under the current policy. */
  readonly logProbs: Float32Array;
  readonly entropies: Float32Array;
}

export interface TrainerHooks {
  onStepStart?(step: number): void | Promise<void>;
  onStepEnd?(step: number, record: MetricRecordV1): void | Promise<void>;
  onEvaluation?(step: number, record: MetricRecordV1): void | Promise<void>;
  /** After a checkpoint is written (by `runRl`), with its folder. */
  onCheckpoint?(step: number, directory: string): void | Promise<void>;
  /**
   * A warning about the run (codes `rl-truncated-sampling` at configuration,
   * `all-responses-unscorable` at a step). Default: `process.emitWarning`.
   */
  onWarning?(warning: HicraWarningV1): void;
}

export interface RlTrainerOptions {
  readonly config: RlConfigInput | RlConfig;
  readonly policy: TrainablePolicy;
  readonly tokenizer: TokenizerV1;
  /** The training reward. */
  readonly reward: RewardFunctionV1;
  /**
   * Marks planning tokens for the credit pipeline (HICRA's mask); the placebo classifier fits
   * here too. It drives credit only: the planning metrics use `metricsClassifier`. Called with
   * `step` (the 0-based training step) so seeded classifiers vary between steps.
   */
  readonly classifier: PlanningClassifierV1;
  /**
   * Marks planning tokens for the per-step metrics (token entropy and perplexity by class,
   * strategy semantic entropy, conditional procedural entropy, fork overlap). Default: the
   * paper's Strategic-Gram classifier (`strategicGrams` of `@hicra/planning`), whatever
   * `classifier` is, so every strategy is measured with the same ruler.
   */
  readonly metricsClassifier?: PlanningClassifierV1;
  readonly trainProblems: readonly Problem[];
  readonly evalProblems?: readonly Problem[];
  /** Builds the credit pipeline from `config.credit`; default: the built-in registry. */
  readonly registry?: CreditRegistry;
  /**
   * A frozen reference policy, for a KL loss or a KL penalty in the reward. Default, when
   * `update.klCoefficient > 0`: a frozen copy of the policy as given (`policy.clone()`), owned
   * and disposed by the trainer.
   */
  readonly referencePolicy?: ReferencePolicy;
  /**
   * Per-step strategy and token-class metrics. Default: `stepMetrics` of
   * `@hicra/semantic-entropy` (strategy semantic entropy, clustered and conditional procedural
   * entropy, token entropy and perplexity by class, fork overlap); `null` turns them off.
   */
  readonly strategyMetrics?: ((input: StrategyMetricsInput) => Record<string, number>) | null;
  readonly sink?: MetricSinkV1;
  readonly rolloutSink?: { write(record: RolloutRecordV1): void };
  readonly hooks?: TrainerHooks;
  /** Ids that end a response; default the tokenizer's EOS. */
  readonly stopTokenIds?: readonly number[];
  /**
   * The final answer of a response, for answer-level semantic entropy at evaluation (answers are
   * clustered by normalised exact match). Default: the text after the last `Answer:`, else the
   * last non-empty line.
   */
  readonly answerOf?: (response: string) => string;
  /** Where rollouts come from; default the policy itself (`PolicyRolloutSource`). */
  readonly rolloutSource?: RolloutSourceV1;
  /** Adds the tokenizer's special tokens (BOS) when encoding prompts. Default true. */
  readonly addSpecialTokens?: boolean;
}

/** Everything besides the weights that a resumed run needs to continue exactly. */
export interface TrainerState {
  readonly step: number;
  readonly dataOrder: readonly number[];
  readonly dataPosition: number;
  readonly generator: SeededGeneratorState;
  readonly optimizer: OptimizerState;
}

interface ScoredResponse {
  readonly reward: number | undefined;
  readonly correct: boolean;
  readonly reason?: string;
  /** Scored (as incorrect) although it had no usable answer (`ScoredRewardV1.missingAnswer`). */
  readonly missingAnswer?: boolean;
}

const SOURCE = '@hicra/trainer';

/**
 * The GRPO/HICRA loop. Each step: draw prompts (seeded order), sample G responses per prompt,
 * verify rewards, classify planning tokens, score old log-probs (and reference log-probs),
 * run the credit pipeline, then PPO-clip updates over mini-batches and epochs. Metrics of every
 * step go to the sink under the keys of `@hicra/spec`.
 */
export class RlTrainer {
  readonly config: RlConfig;
  readonly credit: CreditPipeline;
  readonly optimizer: AdamOptimizer;
  readonly #options: RlTrainerOptions;
  #step = 0;
  #order: number[] = [];
  #position = 0;
  readonly #generator: SeededGenerator;
  readonly #source: RolloutSourceV1;
  readonly #strategyMetrics: ((input: StrategyMetricsInput) => Record<string, number>) | null;
  readonly #metricsClassifier: PlanningClassifierV1;
  readonly #reference: ReferencePolicy | undefined;
  readonly #ownsReference: boolean;

  constructor(options: RlTrainerOptions) {
    this.#options = options;
    this.config = parseRlConfig(options.config);
    this.#metricsClassifier = options.metricsClassifier ?? strategicGrams;
    if (options.tokenizer.vocabSize !== options.policy.vocabSize) {
      throw new ConfigError(
        'tokenizer',
        `the tokenizer has ${options.tokenizer.vocabSize} ids but the policy's vocabulary is ${options.policy.vocabSize}; they must agree`,
        { source: '@hicra/trainer' },
      );
    }
    if (options.trainProblems.length === 0) {
      throw new ConfigError('trainProblems', 'no training problems were given', {
        source: '@hicra/trainer',
      });
    }
    this.credit = (options.registry ?? defaultRegistry).pipeline(this.config.credit);
    const { sampling, update } = this.config;
    if (update.klCoefficient > 0 && options.referencePolicy === undefined) {
      if (typeof options.policy.clone !== 'function') {
        throw new ConfigError(
          'update.klCoefficient',
          `is ${update.klCoefficient} but there is no reference policy: pass referencePolicy, or a policy with clone() so the trainer can freeze a copy of it`,
          { source: SOURCE },
        );
      }
    }
    if (sampling.topK > 0 || sampling.topP < 1) {
      this.#warn({
        code: 'rl-truncated-sampling',
        message: `sampling.topK = ${sampling.topK}, sampling.topP = ${sampling.topP}: RL samples from a truncated distribution, but log-probs (and the PPO ratio) are of the full distribution at temperature ${sampling.temperature}; turn top-k/top-p off for on-policy ratios`,
        source: SOURCE,
      });
    }
    const o = this.config.optimizer;
    this.optimizer = new AdamOptimizer(options.policy.trainableVariables(), {
      name: o.name,
      beta1: o.beta1,
      beta2: o.beta2,
      weightDecay: o.weightDecay,
    });
    this.#generator = new SeededGenerator(this.config.seed);
    this.#strategyMetrics =
      options.strategyMetrics === undefined ? defaultStrategyMetrics : options.strategyMetrics;
    this.#source =
      options.rolloutSource ??
      new PolicyRolloutSource(options.policy, options.tokenizer, {
        addSpecialTokens: options.addSpecialTokens ?? true,
      });
    // Last: nothing after it may throw, or the copy would leak.
    this.#ownsReference = update.klCoefficient > 0 && options.referencePolicy === undefined;
    this.#reference = this.#ownsReference ? options.policy.clone!() : options.referencePolicy;
  }

  /** The frozen reference policy of KL (given, or the trainer's own copy), if any. */
  get referencePolicy(): ReferencePolicy | undefined {
    return this.#reference;
  }

  #warn(warning: HicraWarningV1): void {
    const hook = this.#options.hooks?.onWarning;
    if (hook) hook(warning);
    else process.emitWarning(warning.message, { type: 'HicraWarning', code: warning.code });
  }

  get step(): number {
    return this.#step;
  }

  /** The state to save beside the policy's weights. */
  async getState(): Promise<TrainerState> {
    return {
      step: this.#step,
      dataOrder: [...this.#order],
      dataPosition: this.#position,
      generator: this.#generator.getState(),
      optimizer: await this.optimizer.getState(),
    };
  }

  setState(state: TrainerState): void {
    this.#step = state.step;
    this.#order = [...state.dataOrder];
    this.#position = state.dataPosition;
    this.#generator.setState(state.generator);
    this.optimizer.setState(state.optimizer);
  }

  dispose(): void {
    this.optimizer.dispose();
    if (this.#ownsReference) this.#reference?.dispose?.();
  }

  #nextProblems(count: number): Problem[] {
    const problems = this.#options.trainProblems;
    const out: Problem[] = [];
    while (out.length < count) {
      if (this.#position >= this.#order.length) {
        this.#order = this.#generator.shuffle(Array.from({ length: problems.length }, (_, i) => i));
        this.#position = 0;
      }
      out.push(problems[this.#order[this.#position++]!]!);
    }
    return out;
  }

  /** A seed for step `step`, round `round`: a pure function of the run seed, so resume is exact. */
  #seedFor(step: number, round: number): number {
    let h = (this.config.seed ^ 0x9e3779b9) >>> 0;
    for (const x of [step, round]) {
      h = Math.imul(h ^ x, 0x85ebca6b) >>> 0;
      h = (h ^ (h >>> 13)) >>> 0;
    }
    return h;
  }

  async #score(problem: Problem, response: string, length: number): Promise<ScoredResponse> {
    try {
      const result = await this.#options.reward.score({
        prompt: problem.prompt,
        response,
        reference: problem.reference,
        responseLength: length,
        maxResponseLength: this.config.sampling.maxNewTokens,
      });
      if (result.kind === 'unscorable')
        return { reward: undefined, correct: false, reason: result.reason };
      const missingAnswer = result.missingAnswer !== undefined;
      if (!Number.isFinite(result.reward)) {
        if (this.config.onRewardError === 'stop') {
          throw new InvalidValueError(
            `reward ${this.#options.reward.name} returned ${formatValue(result.reward)} for a response to problem ${formatValue(problem.id)}; rewards must be finite (onRewardError: 'stop')`,
            {
              source: '@hicra/trainer',
              details: { reward: this.#options.reward.name, value: formatValue(result.reward) },
            },
          );
        }
        return { reward: undefined, correct: false, reason: `reward ${result.reward}` };
      }
      return {
        reward: result.reward,
        correct: result.correct ?? result.reward > 0,
        ...(missingAnswer ? { reason: result.missingAnswer, missingAnswer } : {}),
      };
    } catch (error) {
      if (this.config.onRewardError === 'stop') throw error;
      return {
        reward: undefined,
        correct: false,
        reason: `reward function threw: ${(error as Error).message}`,
      };
    }
  }

  /** Samples G responses per problem from the rollout source and verifies them. */
  async #rollout(
    problems: readonly Problem[],
    seed: number,
    samplesPerPrompt: number,
    temperature: number,
  ) {
    const { tokenizer } = this.#options;
    const eos = tokenizer.specialTokens.eos;
    const stopTokenIds = this.#options.stopTokenIds ?? (eos === undefined ? [] : [eos]);
    const batch = await this.#source.generate({
      prompts: problems.map((problem, p) => ({ groupId: p, text: problem.prompt })),
      samplesPerPrompt,
      maxNewTokens: this.config.sampling.maxNewTokens,
      temperature,
      topK: this.config.sampling.topK,
      topP: this.config.sampling.topP,
      stopTokenIds,
      seed,
    });
    validateRolloutBatch(batch, {
      source: '@hicra/trainer',
      require: ['responseTexts', 'tokenSpans'],
    });
    const T = batch.seqLen;
    const stops = new Set(stopTokenIds);
    const promptIds = problems.map((problem, p) => {
      const at = Array.from(batch.prompts.groupIds).indexOf(p);
      const { tokenIds, tokenOffsets } = batch.prompts;
      if (at < 0 || tokenIds === undefined || tokenOffsets === undefined) {
        return tokenizer.encode(problem.prompt, {
          addSpecialTokens: this.#options.addSpecialTokens ?? true,
        }).ids;
      }
      return tokenIds.slice(tokenOffsets[at]!, tokenOffsets[at + 1]!);
    });
    const promptIndex = new Int32Array(batch.batchSize);
    const finished = new Uint8Array(batch.batchSize);
    const lengths = new Int32Array(batch.batchSize);
    const scored: ScoredResponse[] = [];
    const rewardStarted = performance.now();
    for (let r = 0; r < batch.batchSize; r++) {
      promptIndex[r] = batch.groupIds[r]!;
      let length = 0;
      for (let t = 0; t < T; t++) length += batch.responseMask[r * T + t]!;
      lengths[r] = length;
      // A response that stopped before the limit, or whose last token is a stop token, finished.
      finished[r] =
        length < T || (length > 0 && stops.has(batch.tokenIds[r * T + length - 1]!)) ? 1 : 0;
      scored.push(await this.#score(problems[promptIndex[r]!]!, batch.responseTexts![r]!, length));
    }
    return {
      batch,
      promptIndex,
      promptIds,
      lengths,
      finished,
      scored,
      rewardMs: performance.now() - rewardStarted,
    };
  }

  /** Runs one training step and returns its metric record. */
  async trainStep(): Promise<MetricRecordV1> {
    const { config } = this;
    const options = this.#options;
    const step = this.#step;
    await options.hooks?.onStepStart?.(step);
    const started = performance.now();
    const G = config.samplesPerPrompt;

    // Generate (with DAPO dynamic sampling: keep groups whose rewards differ, refill).
    let generateTime = 0;
    let rewardTime = 0;
    const kept: {
      problem: Problem;
      promptIds: Int32Array;
      rows: {
        ids: Int32Array;
        text: string;
        spans: Int32Array;
        scored: ScoredResponse;
        length: number;
        finished: boolean;
      }[];
    }[] = [];
    let sampledResponses = 0;
    let correctResponses = 0;
    let unscorable = 0;
    let clipped = 0;
    let maxLength = 0;
    let totalLength = 0;
    const rounds = config.dynamicSampling.enabled ? 1 + config.dynamicSampling.maxRefills : 1;
    for (let round = 0; round < rounds && kept.length < config.promptsPerStep; round++) {
      const problems = this.#nextProblems(config.promptsPerStep - kept.length);
      const t0 = performance.now();
      const {
        batch: generated,
        promptIndex,
        promptIds,
        lengths,
        finished,
        scored,
        rewardMs,
      } = await this.#rollout(problems, this.#seedFor(step, round), G, config.sampling.temperature);
      generateTime += performance.now() - t0 - rewardMs;
      rewardTime += rewardMs;
      const T = generated.seqLen;
      for (let p = 0; p < problems.length; p++) {
        const rows = [];
        for (let r = 0; r < generated.batchSize; r++) {
          if (promptIndex[r] !== p) continue;
          const length = lengths[r]!;
          sampledResponses++;
          totalLength += length;
          maxLength = Math.max(maxLength, length);
          if (finished[r] === 0) clipped++;
          // Without an answer: dropped (unscorable) or scored as incorrect, counted either way.
          if (scored[r]!.reward === undefined || scored[r]!.missingAnswer) unscorable++;
          if (scored[r]!.correct) correctResponses++;
          rows.push({
            ids: generated.tokenIds.slice(r * T, r * T + length),
            text: generated.responseTexts![r]!,
            spans: generated.tokenSpans!.slice(r * T * 2, r * T * 2 + length * 2),
            scored: scored[r]!,
            length,
            finished: finished[r] === 1,
          });
        }
        const rewards = rows
          .filter((row) => row.scored.reward !== undefined)
          .map((row) => row.scored.reward!);
        const informative = rewards.length > 0 && rewards.some((x) => x !== rewards[0]);
        if (!config.dynamicSampling.enabled || informative)
          kept.push({ problem: problems[p]!, promptIds: promptIds[p]!, rows });
      }
    }

    if (sampledResponses > 0 && unscorable === sampledResponses) {
      this.#warn({
        code: 'all-responses-unscorable',
        message: `step ${step + 1}: none of the ${sampledResponses} sampled responses had a usable answer${kept.some((g) => g.rows.some((row) => row.scored.reward !== undefined)) ? ' (all scored as incorrect: no learning signal)' : ' (all dropped: nothing to train on)'}; the policy may not produce the answer format yet`,
        source: SOURCE,
      });
    }

    // Build the batch: responses with a reward (unscorable ones are reported and excluded).
    const rows = kept.flatMap((group, g) =>
      group.rows
        .filter((row) => row.scored.reward !== undefined)
        .map((row) => ({ ...row, group: g })),
    );
    const B = rows.length;
    const T = Math.max(1, ...rows.map((row) => row.length));
    const batch: RolloutBatchV1 & { tokenSpans: Int32Array; responseTexts: string[] } = {
      batchSize: B,
      seqLen: T,
      groupIds: Int32Array.from(rows, (row) => row.group),
      prompts: {
        groupIds: Int32Array.from(kept, (_, g) => g),
        texts: kept.map((k) => k.problem.prompt),
        ...toPromptTokens(kept.map((k) => k.promptIds)),
      },
      tokenIds: new Int32Array(B * T),
      responseMask: new Uint8Array(B * T),
      rewards: Float32Array.from(rows, (row) => row.scored.reward!),
      responseTexts: rows.map((row) => row.text),
      tokenSpans: new Int32Array(B * T * 2).fill(-1),
    };
    rows.forEach((row, i) => {
      batch.tokenIds.set(row.ids, i * T);
      batch.responseMask.fill(1, i * T, i * T + row.length);
      batch.tokenSpans.set(row.spans, i * T * 2);
    });
    const request: ScoreRequestV1 = {
      prompts: toRagged(rows.map((row) => kept[row.group]!.promptIds)),
      batchSize: B,
      seqLen: T,
      tokenIds: batch.tokenIds,
      responseMask: batch.responseMask,
      temperature: config.sampling.temperature,
    };

    // Old log-probs and entropies under the current policy; reference log-probs for KL.
    const t1 = performance.now();
    const scored =
      B > 0
        ? await options.policy.score(request)
        : { logProbs: new Float32Array(0), entropies: new Float32Array(0) };
    const refLogProbs =
      this.#reference && B > 0 ? (await this.#reference.score(request)).logProbs : undefined;
    let tokenRewards: Float32Array | undefined;
    if (config.update.klInReward && refLogProbs) {
      // verl's in-reward KL: r_t = score_t - beta · kl(logp_t, ref_t), with the configured estimator.
      const kl = klPerToken(scored.logProbs, refLogProbs, B, T, config.update.klEstimator);
      tokenRewards = new Float32Array(B * T);
      rows.forEach((row, i) => {
        for (let t = 0; t < row.length; t++) {
          const k = i * T + t;
          tokenRewards![k] = -config.update.klCoefficient * kl[k]!;
        }
        tokenRewards![i * T + row.length - 1]! += batch.rewards[i]!;
      });
    }
    const planningInput = {
      batchSize: B,
      seqLen: T,
      texts: batch.responseTexts,
      tokenSpans: batch.tokenSpans,
      responseMask: batch.responseMask,
      entropies: scored.entropies,
      step,
    };
    // The strategy's classifier drives credit; the metrics always measure Strategic Grams.
    const planning = options.classifier.classify(planningInput);
    const metricsPlanning =
      this.#metricsClassifier === options.classifier
        ? planning
        : this.#metricsClassifier.classify(planningInput);
    const fullBatch: RolloutBatchV1 = validateRolloutBatch(
      {
        ...batch,
        oldLogProbs: scored.logProbs,
        entropies: scored.entropies,
        planningMask: planning.mask,
        ...(refLogProbs ? { refLogProbs } : {}),
        ...(tokenRewards ? { tokenRewards } : {}),
      },
      { source: '@hicra/trainer' },
    );
    const credit = this.credit.run(fullBatch);
    let lossMask = credit.lossMask;
    if (config.overlongFilter) {
      lossMask = new Uint8Array(lossMask);
      rows.forEach((row, i) => {
        if (!row.finished) lossMask.fill(0, i * T, (i + 1) * T);
      });
    }
    const creditTime = performance.now() - t1;

    // Updates: epochs × shuffled mini-batches.
    const t2 = performance.now();
    const updates: (UpdateMetrics & { skipped: boolean })[] = [];
    const learningRate = learningRateAt(step, {
      learningRate: config.optimizer.learningRate,
      warmupSteps: config.optimizer.warmupSteps,
      totalSteps: config.steps,
      minLearningRate: config.optimizer.minLearningRate,
    });
    if (B > 0) {
      const order = new SeededGenerator(this.#seedFor(step, 1_000)).shuffle(
        Array.from({ length: B }, (_, i) => i),
      );
      for (let epoch = 0; epoch < config.update.epochs; epoch++) {
        for (let from = 0; from < B; from += config.update.miniBatchSize) {
          const pick = order.slice(from, from + config.update.miniBatchSize);
          const sub = (array: Float32Array | Uint8Array | Int32Array) => {
            const out = new (array.constructor as new (n: number) => typeof array)(pick.length * T);
            pick.forEach((r, i) => {
              out.set(array.subarray(r * T, (r + 1) * T), i * T);
            });
            return out;
          };
          updates.push(
            policyUpdate(
              options.policy,
              this.optimizer,
              {
                request: {
                  prompts: toRagged(pick.map((r) => kept[rows[r]!.group]!.promptIds)),
                  batchSize: pick.length,
                  seqLen: T,
                  tokenIds: sub(batch.tokenIds) as Int32Array,
                  responseMask: sub(batch.responseMask) as Uint8Array,
                  temperature: config.sampling.temperature,
                },
                oldLogProbs: sub(scored.logProbs) as Float32Array,
                advantages: sub(credit.advantages) as Float32Array,
                lossMask: sub(lossMask) as Uint8Array,
                ...(refLogProbs && !config.update.klInReward
                  ? { refLogProbs: sub(refLogProbs) as Float32Array }
                  : {}),
              },
              {
                ...config.update,
                klCoefficient: config.update.klInReward ? 0 : config.update.klCoefficient,
              },
              learningRate,
              config.onNonFinite,
              {
                step: step + 1,
                epoch: epoch + 1,
                miniBatch: from / config.update.miniBatchSize + 1,
              },
            ),
          );
        }
      }
    }
    const updateTime = performance.now() - t2;

    const applied = updates.filter((u) => !u.skipped);
    const mean = (pick: (u: UpdateMetrics) => number) =>
      applied.length ? applied.reduce((a, u) => a + pick(u), 0) / applied.length : undefined;
    const rewardValues = Array.from(batch.rewards);
    const rewardMean = rewardValues.length
      ? rewardValues.reduce((a, b) => a + b, 0) / rewardValues.length
      : undefined;
    const stepTime = performance.now() - started;
    const tokens = batch.responseMask.reduce((a, b) => a + b, 0);
    const record: Record<string, number | string | undefined> = {
      kind: 'train',
      step: step + 1,
      time: new Date().toISOString(),
      [K.rewardMean]: rewardMean,
      [K.rewardStd]:
        rewardMean === undefined
          ? undefined
          : Math.sqrt(
              rewardValues.reduce((a, r) => a + (r - rewardMean) ** 2, 0) / rewardValues.length,
            ),
      [K.accuracy]: correctResponses / Math.max(1, sampledResponses),
      [K.unscorableFraction]: unscorable / Math.max(1, sampledResponses),
      [K.responseLengthMean]: totalLength / Math.max(1, sampledResponses),
      [K.responseLengthMax]: maxLength,
      [K.responseLengthClipRatio]: clipped / Math.max(1, sampledResponses),
      [K.policyLoss]: mean((u) => u.policyLoss),
      [K.clipFraction]: mean((u) => u.clipFraction),
      [K.clipFractionLower]: mean((u) => u.clipFractionLower),
      [K.approxKl]: mean((u) => u.approxKl),
      [K.gradNorm]: mean((u) => u.gradNorm),
      [K.learningRate]: learningRate,
      [K.entropyBonus]: config.update.entropyCoefficient * (mean((u) => u.entropy) ?? 0),
      [K.klLoss]: mean((u) => u.klLoss),
      [K.amplifiedTokenShare]: 0,
      ...credit.diagnostics,
      [K.lossMaskedShare]:
        B > 0 ? 1 - maskedMean(Float32Array.from(lossMask), batch.responseMask) : undefined,
      [K.planningTokenShare]:
        B > 0 ? maskedMean(Float32Array.from(planning.mask), batch.responseMask) : undefined,
      ...(this.#strategyMetrics && B > 0
        ? this.#strategyMetrics({
            batch: { ...fullBatch, planningMask: metricsPlanning.mask },
            planning: metricsPlanning,
            logProbs: scored.logProbs,
            entropies: scored.entropies,
          })
        : {}),
      [K.timeGenerate]: generateTime / 1000,
      [K.timeReward]: rewardTime / 1000,
      [K.timeCredit]: creditTime / 1000,
      [K.timeUpdate]: updateTime / 1000,
      [K.timeStep]: stepTime / 1000,
      [K.tokensPerSecond]: tokens / Math.max(1e-9, stepTime / 1000),
      'train/skipped_updates': updates.length - applied.length,
      'train/groups_kept': kept.length,
    };
    const clean = Object.fromEntries(
      Object.entries(record).filter(
        ([, v]) => v !== undefined && (typeof v !== 'number' || Number.isFinite(v)),
      ),
    ) as MetricRecordV1;
    await options.sink?.write(clean);
    if (options.rolloutSink && B > 0) {
      const logged = Math.min(B, config.rolloutsLoggedPerStep);
      for (const record of rolloutRecordsFromBatch(fullBatch, {
        step: step + 1,
        credit,
        planning,
        rows: Array.from({ length: logged }, (_, i) => i),
      })) {
        options.rolloutSink.write(record);
      }
    }
    this.#step = step + 1;
    await options.hooks?.onStepEnd?.(this.#step, clean);
    return clean;
  }

  /**
   * Evaluation on held-out problems: k samples each at `evaluation.temperature` (default 0.6):
   * mean@k (mean accuracy over the k samples: the paper's pass@1) and the unbiased pass@k; and
   * one greedy response each (`eval/greedy_accuracy`). The temperature is logged too.
   */
  async evaluate(): Promise<MetricRecordV1> {
    const problems = (this.#options.evalProblems ?? []).slice(0, this.config.evaluation.problems);
    const k = this.config.evaluation.k;
    let correct = 0;
    let greedyCorrect = 0;
    let passSum = 0;
    let lengthSum = 0;
    let total = 0;
    const answers: string[] = [];
    const answerGroups: number[] = [];
    const answerOf = this.#options.answerOf ?? defaultAnswerOf;
    const chunk = Math.max(1, this.config.promptsPerStep);
    for (let from = 0; from < problems.length; from += chunk) {
      const part = problems.slice(from, from + chunk);
      const { batch, promptIndex, lengths, scored } = await this.#rollout(
        part,
        this.#seedFor(this.#step, 2_000 + from),
        k,
        this.config.evaluation.temperature,
      );
      for (let p = 0; p < part.length; p++) {
        let c = 0;
        for (let r = 0; r < promptIndex.length; r++) {
          if (promptIndex[r] !== p) continue;
          if (scored[r]!.correct) c++;
          lengthSum += lengths[r]!;
          total++;
          answers.push(answerOf(batch.responseTexts![r]!));
          answerGroups.push(from + p);
        }
        correct += c;
        passSum += passAtK(k, c, k);
      }
      const greedy = await this.#rollout(part, this.#seedFor(this.#step, 3_000 + from), 1, 0);
      for (const response of greedy.scored) if (response.correct) greedyCorrect++;
    }
    const record = {
      kind: 'eval' as const,
      step: this.#step,
      time: new Date().toISOString(),
      ...(problems.length
        ? {
            [EVAL_METRIC_KEYS.meanAtK]: correct / total,
            [EVAL_METRIC_KEYS.passAtK]: passSum / problems.length,
            [EVAL_METRIC_KEYS.greedyAccuracy]: greedyCorrect / problems.length,
            [EVAL_METRIC_KEYS.responseLengthMean]: lengthSum / total,
            [EVAL_METRIC_KEYS.answerSemanticEntropy]: answerSemanticEntropySync({
              answers,
              groupIds: answerGroups,
            }).meanDiscrete,
          }
        : {}),
      [EVAL_METRIC_KEYS.k]: k,
      [EVAL_METRIC_KEYS.temperature]: this.config.evaluation.temperature,
      [EVAL_METRIC_KEYS.problems]: problems.length,
    };
    await this.#options.sink?.write(record);
    await this.#options.hooks?.onEvaluation?.(this.#step, record);
    return record;
  }
}

/** Per-token KL estimate `[B·T]` of `logProbs` against `refLogProbs` (`klPenalty` of the tensor core). */
function klPerToken(
  logProbs: Float32Array,
  refLogProbs: Float32Array,
  B: number,
  T: number,
  estimator: RlConfig['update']['klEstimator'],
): Float32Array {
  const kl = tf.tidy(() =>
    klPenalty(tf.tensor2d(logProbs, [B, T]), tf.tensor2d(refLogProbs, [B, T]), estimator),
  );
  const values = kl.dataSync() as Float32Array;
  kl.dispose();
  return values;
}

/** The text after the last `Answer:`, else the last non-empty line (trimmed). */
export function defaultAnswerOf(response: string): string {
  const at = response.lastIndexOf('Answer:');
  if (at >= 0)
    return response
      .slice(at + 'Answer:'.length)
      .split('\n')[0]!
      .trim();
  const lines = response
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return lines.at(-1) ?? '';
}

/** `stepMetrics` of `@hicra/semantic-entropy` on a step's batch, classification and scores. */
export function defaultStrategyMetrics(input: StrategyMetricsInput): Record<string, number> {
  const { batch, planning } = input;
  return stepMetrics({
    batchSize: batch.batchSize,
    seqLen: batch.seqLen,
    responseMask: batch.responseMask,
    planningMask: planning.mask,
    logProbs: input.logProbs,
    entropies: input.entropies,
    planningMatches: planning.matches,
    ...(batch.responseTexts ? { responseTexts: batch.responseTexts } : {}),
  });
}

function toPromptTokens(prompts: readonly Int32Array[]): {
  tokenIds: Int32Array;
  tokenOffsets: Int32Array;
} {
  const { tokenIds, offsets } = toRagged(prompts);
  return { tokenIds, tokenOffsets: offsets };
}

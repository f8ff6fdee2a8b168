import { type CreditPipeline, type CreditRegistry, defaultRegistry } from '@hicra/advantage';
import { strategicGrams } from '@hicra/planning';
import { stepMetrics } from '@hicra/semantic-entropy';
import {
  ConfigError,
  EVAL_METRIC_KEYS,
  type HicraWarningV1,
  type MetricRecordV1,
  type MetricSinkV1,
  type PlanningClassifierV1,
  type PlanningResultV1,
  type RewardFunctionV1,
  type RolloutBatchV1,
  type RolloutRecordV1,
  type RolloutSourceV1,
  rolloutRecordsFromBatch,
  type SamplingClientV1,
  type TokenizerV1,
  type TrainingClientV1,
} from '@hicra/spec';
import { SeededGenerator, type SeededGeneratorState } from '@hicra/tensor/kernels';
import { parseRlConfig, type RlConfig, type RlConfigInput } from './config.js';
import { checkEngineCapabilities } from './engine-checks.js';
import { evaluateProblems } from './evaluation.js';
import { assignCredit } from './phases/assign-credit.js';
import { buildStepBatch } from './phases/build-batch.js';
import { generateGroups } from './phases/generate-groups.js';
import { stepRecord } from './phases/step-record.js';
import { type UpdateSettings, updatePolicy } from './phases/update.js';
import type { Problem } from './problem.js';
import { SamplerRolloutSource } from './sampler-rollout-source.js';
import { learningRateAt } from './schedule.js';

export type { Problem } from './problem.js';

/** What strategy metrics (`@hicra/semantic-entropy`) receive each step. */
export interface StrategyMetricsInput {
  /** The step's batch; its `planningMask` is the metrics classifier's. */
  readonly batch: RolloutBatchV1;
  /** The metrics classifier's result (Strategic Grams by default), not the credit classifier's. */
  readonly planning: PlanningResultV1;
  /** `[B·T]` token log-probs under the weights that sampled. */
  readonly logProbs: Float32Array;
  /** `[B·T]` token entropies; absent when the engine cannot return them. */
  readonly entropies?: Float32Array;
}

export interface TrainerHooks {
  onStepStart?(step: number): void | Promise<void>;
  onStepEnd?(step: number, record: MetricRecordV1): void | Promise<void>;
  onEvaluation?(step: number, record: MetricRecordV1): void | Promise<void>;
  /** After a checkpoint is written (by `runRl`), with its folder. */
  onCheckpoint?(step: number, directory: string): void | Promise<void>;
  /**
   * A warning about the run (codes `rl-truncated-sampling` and `engine-without-entropies` at
   * configuration, `all-responses-unscorable` at a step). Default: `process.emitWarning`.
   */
  onWarning?(warning: HicraWarningV1): void;
}

export interface RlTrainerOptions {
  readonly config: RlConfigInput | RlConfig;
  /**
   * The engine that trains the policy (`TrainingClientV1`): the local tfjs engine of
   * `@hicra/policy` (`LocalTrainingClient`), or a remote one. The trainer samples from the
   * sampling clients it hands out (`saveWeightsForSampler`) and releases each of them.
   */
  readonly engine: TrainingClientV1;
  readonly tokenizer: TokenizerV1;
  /** The training reward; its `extractAnswer` (if any) reads answers at evaluation. */
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
   * The KL reference: a sampling client on the reference weights, whose `computeLogProbs` gives
   * `refLogProbs`. Default, when `update.klCoefficient > 0`: the engine's weights as they are
   * when the trainer is created (`engine.saveWeightsForSampler`), owned and released by the
   * trainer. A resumed run passes the reference it saved, so KL is against the same weights.
   */
  readonly reference?: SamplingClientV1;
  /**
   * Per-step strategy and token-class metrics. Default: `stepMetrics` of
   * `@hicra/semantic-entropy`; `null` turns them off.
   */
  readonly strategyMetrics?: ((input: StrategyMetricsInput) => Record<string, number>) | null;
  readonly sink?: MetricSinkV1;
  readonly rolloutSink?: { write(record: RolloutRecordV1): void };
  readonly hooks?: TrainerHooks;
  /** Ids that end a response; default the tokenizer's EOS. */
  readonly stopTokenIds?: readonly number[];
  /**
   * The final answer of a response, for answer-level semantic entropy at evaluation. Default:
   * the reward's `extractAnswer`, else the text after the last `Answer:`, else the last line.
   */
  readonly answerOf?: (response: string) => string;
  /** Where rollouts come from; default the engine's current sampling client. */
  readonly rolloutSource?: RolloutSourceV1;
  /** Adds the tokenizer's special tokens (BOS) when encoding prompts. Default true. */
  readonly addSpecialTokens?: boolean;
}

/**
 * The loop's own state, besides the engine's (weights and optimizer moments, saved with
 * `engine.saveState`): what a resumed run needs to continue exactly.
 */
export interface TrainerState {
  readonly step: number;
  readonly dataOrder: readonly number[];
  readonly dataPosition: number;
  readonly generator: SeededGeneratorState;
}

const SOURCE = '@hicra/trainer';

/**
 * The GRPO/HICRA loop over an engine. Each step: draw prompts (seeded order), sample G
 * responses per prompt from the engine's sampling client, verify rewards, score old log-probs
 * and entropies (`engine.forward`) and reference log-probs (the KL reference's sampler),
 * classify planning tokens, run the credit pipeline, then `forwardBackward` + `optimStep` per
 * mini-batch, and refresh the sampler from the new weights. Metrics of every step go to the
 * sink under the keys of `@hicra/spec`. Create it with {@link RlTrainer.create}.
 */
export class RlTrainer {
  readonly config: RlConfig;
  readonly credit: CreditPipeline;
  readonly engine: TrainingClientV1;
  readonly #options: RlTrainerOptions;
  readonly #entropies: boolean;
  #step = 0;
  #order: number[] = [];
  #position = 0;
  readonly #generator: SeededGenerator;
  readonly #source: RolloutSourceV1;
  readonly #strategyMetrics: ((input: StrategyMetricsInput) => Record<string, number>) | null;
  readonly #metricsClassifier: PlanningClassifierV1;
  readonly #reference: SamplingClientV1 | undefined;
  readonly #ownsReference: boolean;
  #sampler: SamplingClientV1;
  /** Sampling clients taken so far (names them). */
  #samplers = 0;
  #disposed = false;

  /**
   * Validates the configuration, asks the engine what it can do and checks the run against it
   * (a loss, temperature, KL term, entropy bonus or entropy input it lacks is a `ConfigError`
   * naming both), then takes the first sampling client and, with KL and no reference given, a
   * frozen reference of the current weights.
   */
  static async create(options: RlTrainerOptions): Promise<RlTrainer> {
    const config = parseRlConfig(options.config);
    if (options.trainProblems.length === 0) {
      throw new ConfigError('trainProblems', 'no training problems were given', { source: SOURCE });
    }
    const credit = (options.registry ?? defaultRegistry).pipeline(config.credit);
    const info = await options.engine.info();
    checkEngineCapabilities(info, config, {
      tokenizer: options.tokenizer,
      credit,
      classifier: options.classifier,
    });
    const wantsReference = config.update.klCoefficient > 0 && options.reference === undefined;
    const reference = wantsReference
      ? await options.engine.saveWeightsForSampler('kl-reference')
      : options.reference;
    try {
      const sampler = await options.engine.saveWeightsForSampler('sampler-0');
      return new RlTrainer(options, config, credit, info.capabilities.entropies, sampler, {
        reference,
        owned: wantsReference,
      });
    } catch (error) {
      if (wantsReference) await reference?.dispose?.();
      throw error;
    }
  }

  private constructor(
    options: RlTrainerOptions,
    config: RlConfig,
    credit: CreditPipeline,
    entropies: boolean,
    sampler: SamplingClientV1,
    reference: { reference: SamplingClientV1 | undefined; owned: boolean },
  ) {
    this.#options = options;
    this.config = config;
    this.credit = credit;
    this.engine = options.engine;
    this.#entropies = entropies;
    this.#sampler = sampler;
    this.#reference = reference.reference;
    this.#ownsReference = reference.owned;
    this.#metricsClassifier = options.metricsClassifier ?? strategicGrams;
    this.#generator = new SeededGenerator(config.seed);
    this.#strategyMetrics =
      options.strategyMetrics === undefined ? defaultStrategyMetrics : options.strategyMetrics;
    this.#source =
      options.rolloutSource ??
      new SamplerRolloutSource(() => this.#sampler, options.tokenizer, {
        addSpecialTokens: options.addSpecialTokens ?? true,
      });
    const { sampling } = config;
    if (sampling.topK > 0 || sampling.topP < 1) {
      this.#warn({
        code: 'rl-truncated-sampling',
        message: `sampling.topK = ${sampling.topK}, sampling.topP = ${sampling.topP}: RL samples from a truncated distribution, but log-probs (and the PPO ratio) are of the full distribution at temperature ${sampling.temperature}; turn top-k/top-p off for on-policy ratios`,
        source: SOURCE,
      });
    }
    if (!entropies && this.#strategyMetrics !== null) {
      this.#warn({
        code: 'engine-without-entropies',
        message:
          'the engine returns no token entropies: the metrics that need them (token entropy and perplexity by class, fork overlap) are left out of metrics.jsonl, not logged as 0',
        source: SOURCE,
      });
    }
  }

  /** The KL reference's sampling client (given, or the trainer's own), if any. */
  get reference(): SamplingClientV1 | undefined {
    return this.#reference;
  }

  /** The sampling client on the current weights (replaced after every optimizer step). */
  get sampler(): SamplingClientV1 {
    return this.#sampler;
  }

  get step(): number {
    return this.#step;
  }

  #warn(warning: HicraWarningV1): void {
    const hook = this.#options.hooks?.onWarning;
    if (hook) hook(warning);
    else process.emitWarning(warning.message, { type: 'HicraWarning', code: warning.code });
  }

  /** The loop's state, to save beside the engine's (`engine.saveState`). */
  getState(): TrainerState {
    return {
      step: this.#step,
      dataOrder: [...this.#order],
      dataPosition: this.#position,
      generator: this.#generator.getState(),
    };
  }

  /**
   * Restores the loop's state; call it after restoring the engine's (`engine.loadState`): the
   * sampler is refreshed from the engine's weights.
   */
  async setState(state: TrainerState): Promise<void> {
    this.#step = state.step;
    this.#order = [...state.dataOrder];
    this.#position = state.dataPosition;
    this.#generator.setState(state.generator);
    await this.#refreshSampler();
  }

  /** Releases the sampling client and the reference the trainer made (not the engine). */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#sampler.dispose?.();
    if (this.#ownsReference) await this.#reference?.dispose?.();
  }

  async #refreshSampler(): Promise<void> {
    const previous = this.#sampler;
    this.#sampler = await this.engine.saveWeightsForSampler(`sampler-${++this.#samplers}`);
    await previous.dispose?.();
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

  #stopTokenIds(): readonly number[] {
    const eos = this.#options.tokenizer.specialTokens.eos;
    return this.#options.stopTokenIds ?? (eos === undefined ? [] : [eos]);
  }

  /** Runs one training step and returns its metric record. */
  async trainStep(): Promise<MetricRecordV1> {
    const { config } = this;
    const options = this.#options;
    const step = this.#step;
    await options.hooks?.onStepStart?.(step);
    const started = performance.now();

    const generated = await generateGroups({
      promptsPerStep: config.promptsPerStep,
      dynamicSampling: config.dynamicSampling,
      nextProblems: (count) => this.#nextProblems(count),
      seed: (round) => this.#seedFor(step, round),
      sampling: {
        source: this.#source,
        tokenizer: options.tokenizer,
        reward: options.reward,
        samplesPerPrompt: config.samplesPerPrompt,
        temperature: config.sampling.temperature,
        maxNewTokens: config.sampling.maxNewTokens,
        topK: config.sampling.topK,
        topP: config.sampling.topP,
        stopTokenIds: this.#stopTokenIds(),
        addSpecialTokens: options.addSpecialTokens ?? true,
        onRewardError: config.onRewardError,
      },
    });
    const { counts, kept } = generated;
    if (counts.sampled > 0 && counts.unscorable === counts.sampled) {
      this.#warn({
        code: 'all-responses-unscorable',
        message: `step ${step + 1}: none of the ${counts.sampled} sampled responses had a usable answer${kept.some((g) => g.rows.some((row) => row.scored.reward !== undefined)) ? ' (all scored as incorrect: no learning signal)' : ' (all dropped: nothing to train on)'}; the policy may not produce the answer format yet`,
        source: SOURCE,
      });
    }

    const stepBatch = buildStepBatch(kept, config.sampling.temperature);
    const B = stepBatch.batch.batchSize;
    const creditStarted = performance.now();
    const klCoefficient = config.update.klCoefficient;
    const assigned = await assignCredit(stepBatch, {
      engine: this.engine,
      reference: this.#reference,
      temperature: config.sampling.temperature,
      klInReward: config.update.klInReward,
      klCoefficient,
      klEstimator: config.update.klEstimator,
      overlongFilter: config.overlongFilter,
      classifier: options.classifier,
      metricsClassifier: this.#metricsClassifier,
      credit: this.credit,
      step,
    });
    const creditMs = performance.now() - creditStarted;

    const updateStarted = performance.now();
    const learningRate = learningRateAt(step, {
      learningRate: config.optimizer.learningRate,
      warmupSteps: config.optimizer.warmupSteps,
      totalSteps: config.steps,
      minLearningRate: config.optimizer.minLearningRate,
    });
    const updates =
      B > 0
        ? await updatePolicy(
            this.engine,
            stepBatch,
            {
              oldLogProbs: assigned.oldLogProbs,
              advantages: assigned.credit.advantages,
              lossMask: assigned.lossMask,
              ...(assigned.refLogProbs ? { refLogProbs: assigned.refLogProbs } : {}),
            },
            this.#updateSettings(),
            learningRate,
            new SeededGenerator(this.#seedFor(step, 1_000)).shuffle(
              Array.from({ length: B }, (_, i) => i),
            ),
            step + 1,
          )
        : [];
    // The weights changed: the next rollouts come from them.
    if (updates.some((u) => !u.skipped)) await this.#refreshSampler();
    const updateMs = performance.now() - updateStarted;

    const strategy =
      this.#strategyMetrics && B > 0
        ? this.#strategyMetrics({
            batch: { ...assigned.batch, planningMask: assigned.metricsPlanning.mask },
            planning: assigned.metricsPlanning,
            logProbs: assigned.oldLogProbs,
            ...(assigned.entropies ? { entropies: assigned.entropies } : {}),
          })
        : {};
    const record = stepRecord({
      step: step + 1,
      generated,
      stepBatch,
      assigned,
      updates,
      learningRate,
      entropyCoefficient: config.update.entropyCoefficient,
      strategy,
      timings: { creditMs, updateMs, stepMs: performance.now() - started },
    });
    await options.sink?.write(record);
    if (options.rolloutSink && B > 0) {
      const logged = Math.min(B, config.rolloutsLoggedPerStep);
      for (const rollout of rolloutRecordsFromBatch(assigned.batch, {
        step: step + 1,
        credit: assigned.credit,
        planning: assigned.planning,
        rows: Array.from({ length: logged }, (_, i) => i),
      })) {
        options.rolloutSink.write(rollout);
      }
    }
    this.#step = step + 1;
    await options.hooks?.onStepEnd?.(this.#step, record);
    return record;
  }

  #updateSettings(): UpdateSettings {
    const { update, optimizer, sampling } = this.config;
    return {
      loss: update.loss,
      lossAggregation: update.lossAggregation,
      lossScaleFactor: update.lossScaleFactor,
      clipRatioLow: update.clipRatioLow,
      clipRatioHigh: update.clipRatioHigh,
      clipRatioC: update.clipRatioC,
      entropyCoefficient: update.entropyCoefficient,
      klCoefficient: update.klInReward ? 0 : update.klCoefficient,
      klEstimator: update.klEstimator,
      miniBatchSize: update.miniBatchSize,
      epochs: update.epochs,
      temperature: sampling.temperature,
      adam: {
        beta1: optimizer.beta1,
        beta2: optimizer.beta2,
        eps: ADAM_EPSILON,
        weightDecay: optimizer.name === 'adamw' ? optimizer.weightDecay : 0,
        gradClipNorm: update.maxGradNorm,
      },
      onNonFinite: this.config.onNonFinite,
    };
  }

  /**
   * Evaluation on held-out problems ({@link evaluateProblems}): k samples each at
   * `evaluation.temperature` (default 0.6): mean@k (the paper's pass@1) and the unbiased
   * pass@k; one greedy response each (`eval/greedy_accuracy`); answer-level semantic entropy.
   */
  async evaluate(): Promise<MetricRecordV1> {
    const problems = (this.#options.evalProblems ?? []).slice(0, this.config.evaluation.problems);
    const { k, temperature } = this.config.evaluation;
    const step = this.#step;
    const result = problems.length
      ? await evaluateProblems({
          source: this.#source,
          tokenizer: this.#options.tokenizer,
          reward: this.#options.reward,
          problems,
          k,
          temperature,
          maxNewTokens: this.config.sampling.maxNewTokens,
          stopTokenIds: this.#stopTokenIds(),
          seed: (from, pass) => this.#seedFor(step, (pass === 'sampled' ? 2_000 : 3_000) + from),
          chunk: Math.max(1, this.config.promptsPerStep),
          ...(this.#options.answerOf ? { answerOf: this.#options.answerOf } : {}),
          addSpecialTokens: this.#options.addSpecialTokens ?? true,
          onRewardError: this.config.onRewardError,
        })
      : undefined;
    const E = EVAL_METRIC_KEYS;
    const record = {
      kind: 'eval' as const,
      step,
      time: new Date().toISOString(),
      ...(result
        ? {
            [E.meanAtK]: result.meanAtK,
            [E.passAtK]: result.passAtK,
            [E.greedyAccuracy]: result.greedyAccuracy!,
            [E.responseLengthMean]: result.responseLengthMean,
            ...(result.answerSemanticEntropy === undefined
              ? {}
              : { [E.answerSemanticEntropy]: result.answerSemanticEntropy }),
          }
        : {}),
      [E.k]: k,
      [E.temperature]: temperature,
      [E.problems]: problems.length,
    };
    await this.#options.sink?.write(record);
    await this.#options.hooks?.onEvaluation?.(step, record);
    return record;
  }
}

/** Adam's epsilon (the trainer's, not Tinker's 1e-12 default). */
const ADAM_EPSILON = 1e-8;

/** `stepMetrics` of `@hicra/semantic-entropy` on a step's batch, classification and scores. */
export function defaultStrategyMetrics(input: StrategyMetricsInput): Record<string, number> {
  const { batch, planning } = input;
  return stepMetrics({
    batchSize: batch.batchSize,
    seqLen: batch.seqLen,
    responseMask: batch.responseMask,
    planningMask: planning.mask,
    logProbs: input.logProbs,
    ...(input.entropies ? { entropies: input.entropies } : {}),
    planningMatches: planning.matches,
    ...(batch.responseTexts ? { responseTexts: batch.responseTexts } : {}),
  });
}

/**
 * The metric keys every training run writes, defined once. A metrics file is JSON Lines, one
 * {@link MetricRecordV1} per line: `{ "kind": "train", "step": 3, "time": "...", "<key>": value, ... }`.
 * Keys are `area/name` in snake_case (the convention of verl and most experiment trackers),
 * so a file loads into a data frame as it is.
 *
 * Two different "semantic entropies" appear here and are kept apart by name:
 * `strategy/semantic_entropy` is the paper's diversity of matched planning phrases;
 * `answer/semantic_entropy` is Kuhn et al.'s uncertainty over final answers.
 */
export const TRAIN_METRIC_KEYS = {
  // Rewards and accuracy of the sampled batch.
  rewardMean: 'reward/mean',
  rewardStd: 'reward/std',
  accuracy: 'reward/accuracy',
  unscorableFraction: 'reward/unscorable_fraction',
  // Response lengths in tokens; clip ratio = share of responses that hit max new tokens.
  responseLengthMean: 'response_length/mean',
  responseLengthMax: 'response_length/max',
  responseLengthClipRatio: 'response_length/clip_ratio',
  // Policy update.
  policyLoss: 'actor/policy_loss',
  clipFraction: 'actor/clip_fraction',
  clipFractionLower: 'actor/clip_fraction_lower',
  approxKl: 'actor/approx_kl',
  gradNorm: 'actor/grad_norm',
  learningRate: 'actor/learning_rate',
  entropyBonus: 'actor/entropy_bonus',
  klLoss: 'actor/kl_loss',
  // Credit (advantage statistics over the response mask).
  advantageMean: 'advantage/mean',
  advantageStd: 'advantage/std',
  advantageMin: 'advantage/min',
  advantageMax: 'advantage/max',
  planningTokenShare: 'credit/planning_token_share',
  amplifiedTokenShare: 'credit/amplified_token_share',
  lossMaskedShare: 'credit/loss_masked_share',
  // Token entropy (nats) and perplexity by token class (HICRA.md section 4).
  entropyAll: 'token_entropy/all',
  entropyPlanning: 'token_entropy/planning',
  entropyExecution: 'token_entropy/execution',
  perplexityAll: 'perplexity/all',
  perplexityPlanning: 'perplexity/planning',
  perplexityExecution: 'perplexity/execution',
  // Strategy diversity (the paper's semantic entropy of planning phrases), nats.
  strategySemanticEntropy: 'strategy/semantic_entropy',
  strategySemanticEntropyClustered: 'strategy/semantic_entropy_clustered',
  conditionalProceduralEntropy: 'strategy/conditional_procedural_entropy',
  planningMatchesPerResponse: 'strategy/matches_per_response',
  // Overlap of planning tokens with the top-q entropy ("fork") tokens.
  planningInTopEntropy: 'fork_overlap/planning_in_top_entropy',
  topEntropyIsPlanning: 'fork_overlap/top_entropy_is_planning',
  // Time per phase (seconds) and throughput.
  timeGenerate: 'time/generate',
  timeReward: 'time/reward',
  timeCredit: 'time/credit',
  timeUpdate: 'time/update',
  timeStep: 'time/step',
  tokensPerSecond: 'throughput/tokens_per_second',
} as const;

/** Keys written at each evaluation. */
export const EVAL_METRIC_KEYS = {
  /**
   * Mean accuracy over the k samples per problem at `eval/temperature` (mean@k): the paper's
   * pass@1, estimated from k samples.
   */
  meanAtK: 'eval/mean_at_k',
  /** Accuracy of one greedy (temperature 0) response per problem. */
  greedyAccuracy: 'eval/greedy_accuracy',
  /** Sampling temperature of the k samples behind `eval/mean_at_k` and `eval/pass_at_k`. */
  temperature: 'eval/temperature',
  /** Share of problems solved by at least one of k samples (unbiased estimator). */
  passAtK: 'eval/pass_at_k',
  /** k used for the two above. */
  k: 'eval/k',
  /** Number of held-out problems evaluated. */
  problems: 'eval/problems',
  /** Mean response length in tokens at evaluation. */
  responseLengthMean: 'eval/response_length_mean',
  /** Answer-level semantic entropy (Kuhn et al.), mean over problems, nats. */
  answerSemanticEntropy: 'answer/semantic_entropy',
} as const;

export type TrainMetricKey = (typeof TRAIN_METRIC_KEYS)[keyof typeof TRAIN_METRIC_KEYS];
export type EvalMetricKey = (typeof EVAL_METRIC_KEYS)[keyof typeof EVAL_METRIC_KEYS];

/** One line of a metrics file. */
export interface MetricRecordV1 {
  /** `train` for a training step, `eval` for an evaluation. */
  readonly kind: 'train' | 'eval';
  /** The optimizer step the record belongs to (0 before the first update). */
  readonly step: number;
  /** ISO-8601 wall-clock time of writing. */
  readonly time: string;
  /** Metric values by key. A metric that is undefined at this step (e.g. no planning tokens) is omitted, never NaN. */
  readonly [key: string]: number | string;
}

/** Where metrics go. Records are written in order; `flush` makes them durable. */
export interface MetricSinkV1 {
  write(record: MetricRecordV1): void | Promise<void>;
  flush?(): void | Promise<void>;
  close?(): void | Promise<void>;
}

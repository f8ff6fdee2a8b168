/** What a reward function sees of one response. */
export interface RewardInputV1 {
  /** The prompt text. */
  readonly prompt: string;
  /** The decoded response text. */
  readonly response: string;
  /** The task's reference answer or problem data, in the task's own shape. */
  readonly reference?: unknown;
  /** Response length in tokens (for length penalties). */
  readonly responseLength?: number;
  /** The generation limit in tokens (for overlong penalties). */
  readonly maxResponseLength?: number;
}

/** A scored response. */
export interface ScoredRewardV1 {
  readonly kind: 'scored';
  /** Finite reward. */
  readonly reward: number;
  /** Whether the final answer was verified correct, when the function checks correctness. */
  readonly correct?: boolean;
  /** Named components, e.g. `{ correctness: 1, format: 0.1 }`. */
  readonly components?: Readonly<Record<string, number>>;
  /**
   * Set when the response had no usable final answer (none, empty, unbalanced, too long) and
   * was scored as incorrect instead of being reported unscorable (`missingAnswer: 'incorrect'`
   * of the correctness rewards): why it could not be verified. Trainers count such responses
   * in `reward/unscorable_fraction` while training on their reward.
   */
  readonly missingAnswer?: string;
}

/**
 * A response that cannot be scored (no final answer found under `missingAnswer: 'unscorable'`,
 * the verifier timed out). It is reported with its reason and excluded from the update, never
 * silently scored 0.
 */
export interface UnscorableRewardV1 {
  readonly kind: 'unscorable';
  /** Why, in a few words a person can act on. */
  readonly reason: string;
}

export type RewardResultV1 = ScoredRewardV1 | UnscorableRewardV1;

/** A verifiable reward. May be async (a verifier with a time limit, a remote judge). */
export interface RewardFunctionV1 {
  /** Registry name, kebab-case (`correctness`). */
  readonly name: string;
  score(input: RewardInputV1): RewardResultV1 | Promise<RewardResultV1>;
  /**
   * The final answer of a response as the task reads it (the boxed value, the text after
   * `Answer:`), or `undefined` when the response has none. Used to cluster answers (answer-level
   * semantic entropy); optional: without it a consumer falls back to a generic rule.
   */
  extractAnswer?(response: string): string | undefined;
}

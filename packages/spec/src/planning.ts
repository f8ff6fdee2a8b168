/** One occurrence of a planning phrase (Strategic Gram) in a response text. */
export interface PlanningMatchV1 {
  /** Start character offset (inclusive) in the response text. */
  readonly start: number;
  /** End character offset (exclusive) in the response text. */
  readonly end: number;
  /** The lexicon phrase that matched, in its lexicon spelling. */
  readonly gram: string;
  /** Index of the phrase in the classifier's lexicon; -1 for a match that comes from no lexicon (the placebo's random spans). */
  readonly gramId: number;
  /** Cluster (strategy class) of the phrase, when the lexicon carries clusters. */
  readonly classId?: number;
}

/** Input of a planning classifier: the decoded responses of a batch and their token spans. */
export interface PlanningInputV1 {
  /** B: number of responses. */
  readonly batchSize: number;
  /** T: padded length in tokens. */
  readonly seqLen: number;
  /** `[B]`: decoded response texts. */
  readonly texts: readonly string[];
  /** `[B·T·2]` int32: `[start, end)` character span of each token; `(-1, -1)` at padding. */
  readonly tokenSpans: Int32Array;
  /** `[B·T]` uint8: response mask. When absent, a token is valid iff its span is not `(-1, -1)`. */
  readonly responseMask?: Uint8Array;
  /** `[B·T]` float32: token entropies, for classifiers that use them (entropy forks). */
  readonly entropies?: Float32Array;
  /**
   * The training step or any call counter (a non-negative integer); seeded classifiers mix it
   * into their seed so that placements change between calls and stay reproducible (the
   * placebo draws new positions each step; the same seed, step and input give the same
   * result). Classifiers without randomness ignore it. Default 0.
   */
  readonly step?: number;
}

/** Output of a planning classifier. */
export interface PlanningResultV1 {
  /** `[B·T]` uint8, 0/1: 1 for planning tokens (a subset of the response mask); every other valid token is an execution token. */
  readonly mask: Uint8Array;
  /**
   * `[B]`: per response, the matches used for counting strategies, sorted by `start`.
   * Classifiers without phrases (entropy forks) return empty lists.
   */
  readonly matches: readonly (readonly PlanningMatchV1[])[];
}

/** Marks planning tokens. Must be deterministic for its settings and input (placebos take a seed and read `input.step`). */
export interface PlanningClassifierV1 {
  /** Registry name, kebab-case (`strategic-grams`). */
  readonly name: string;
  /**
   * Optional inputs it cannot classify without (`entropies`): a trainer checks them against
   * what its engine can provide before the first step.
   */
  readonly requires?: readonly 'entropies'[];
  classify(input: PlanningInputV1): PlanningResultV1;
}

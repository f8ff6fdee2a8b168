import type { HicraWarningV1 } from './errors.js';
import type { RolloutBatchV1 } from './rollout-batch.js';

/**
 * Named scalar diagnostics reported with a result, e.g. `advantage/mean`. Values are plain
 * numbers (NaN is never reported: an undefined statistic, such as the mean over zero tokens,
 * is omitted).
 */
export type DiagnosticsV1 = Readonly<Record<string, number>>;

/** What an advantage estimator returns. */
export interface EstimatorResultV1 {
  /** `[B·T]` float32: the advantage of every token; exactly 0 where `responseMask` is 0. */
  readonly advantages: Float32Array;
  /** `[B·T]` float32: value targets (returns), for estimators that define them (GAE, REINFORCE++). */
  readonly returns?: Float32Array;
  /** Statistics of this result, e.g. `advantage/mean`, `advantage/std`. */
  readonly diagnostics: DiagnosticsV1;
  /** Valid options the estimator ignored (see `HicraWarningV1`). */
  readonly warnings: readonly HicraWarningV1[];
}

/**
 * Turns rewards (and, for some estimators, values) into per-token advantages.
 * Implementations must not mutate the batch and must return 0 outside the response mask.
 */
export interface AdvantageEstimatorV1 {
  /** Registry name, kebab-case (`grpo`). */
  readonly name: string;
  /**
   * Optional fields of the batch it cannot run without (`entropies`, `values`): a trainer
   * checks them against what its engine can provide before the first step.
   */
  readonly requires?: readonly (keyof RolloutBatchV1)[];
  /** Computes advantages for the whole batch. Pure: the same batch gives the same result. */
  estimate(batch: RolloutBatchV1): EstimatorResultV1;
}

/**
 * Credit: what the policy-gradient loss consumes. A credit pipeline starts from an
 * estimator's result (with `lossMask` = the response mask) and passes it through assigners.
 *
 * The loss is normalised by the **response mask**, never by `lossMask`: clearing a token of
 * `lossMask` removes its gradient without rescaling the others. Clip fractions are measured
 * over `lossMask`.
 */
export interface CreditV1 {
  /** `[B·T]` float32: per-token advantages; 0 where `responseMask` is 0. */
  readonly advantages: Float32Array;
  /** `[B·T]` uint8, 0/1: tokens that receive gradient; always a subset of `responseMask`. */
  readonly lossMask: Uint8Array;
  /** Statistics accumulated along the pipeline, keyed by metric name. */
  readonly diagnostics: DiagnosticsV1;
  /** Warnings accumulated along the pipeline. */
  readonly warnings: readonly HicraWarningV1[];
}

/**
 * A credit-assignment strategy: reshapes advantages (HICRA amplifies planning tokens) and/or
 * restricts `lossMask` (fork tokens). Assigners compose in order; several `lossMask`
 * restrictions combine by AND. Implementations must not mutate their inputs.
 */
export interface CreditAssignerV1 {
  /** Registry name, kebab-case (`hicra`). */
  readonly name: string;
  /**
   * Optional fields of the batch it cannot run without (`entropies`, `planningMask`): a trainer
   * checks them against what its engine can provide before the first step.
   */
  readonly requires?: readonly (keyof RolloutBatchV1)[];
  /** Returns new credit; `credit` is the output of the estimator or of the previous assigner. */
  assign(batch: RolloutBatchV1, credit: CreditV1): CreditV1;
}

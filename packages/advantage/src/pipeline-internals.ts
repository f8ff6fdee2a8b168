import type {
  AdvantageEstimatorV1,
  CreditAssignerV1,
  HicraWarningV1,
  RolloutBatchV1,
} from '@hicra/spec';
import type { CreditSums } from './diagnostics.js';

/**
 * The paths a pipeline takes through components built by `defineEstimator` and
 * `defineAssigner`: the same computations and checks as their public `estimate` and `assign`,
 * minus the work a pipeline does once for all its stages (validating the batch is cached
 * already; re-checking a credit that the previous stage produced and checked; the statistics
 * of intermediate credits, which the final ones overwrite). Kept in module-private maps, so
 * the public objects are exactly what they were.
 */

export interface CheckedEstimate {
  /** The advantages; undefined when their broadcast was deferred (see `perResponse`). */
  readonly advantages: Float32Array | undefined;
  /**
   * Set instead of `advantages` when the caller asked to defer the broadcast and the estimator
   * has a `perResponse` form: one value per response, already checked to round to a finite
   * float32 (the errors `broadcastOverMask` would throw are thrown here, in the same order).
   * The advantages are these values broadcast over the response mask, zero elsewhere.
   */
  readonly perResponse: ArrayLike<number> | undefined;
  readonly returns: Float32Array | undefined;
  readonly warnings: HicraWarningV1[];
}

/** `deferBroadcast`: return `perResponse` rather than the broadcast array where possible. */
export const checkedEstimators = new WeakMap<
  AdvantageEstimatorV1,
  (batch: RolloutBatchV1, deferBroadcast: boolean) => CheckedEstimate
>();

/** A credit between stages of a pipeline. */
export interface StageCredit {
  readonly advantages: Float32Array;
  readonly lossMask: Uint8Array;
  /** The stage may write into `advantages` (a fresh array nobody else holds). */
  readonly ownsAdvantages: boolean;
}

export interface StageResult extends StageCredit {
  /** The share of response tokens amplified. */
  readonly amplifiedShare: number;
  /** The sums behind the statistics of the result, accumulated in the stage's pass. */
  readonly sums: CreditSums;
}

export interface CheckedAssigner {
  readonly name: string;
  assign(batch: RolloutBatchV1, credit: StageCredit): StageResult;
  /**
   * The same stage as the first of a pipeline, on advantages given as one value per response
   * (a deferred broadcast, see `CheckedEstimate.perResponse`): it builds the advantages itself,
   * in the pass that applies it, so they are written once. `lossMask` is zeros, of the batch's
   * length: the pass writes the response mask's ones into it (the loss mask a pipeline starts
   * from). Present for assigners with `fusedBroadcast`.
   */
  assignBroadcast?(
    batch: RolloutBatchV1,
    perResponse: ArrayLike<number>,
    lossMask: Uint8Array,
  ): StageResult;
}

/** Assigners with a fused pass (`AssignerDefinition.fused`). */
export const checkedAssigners = new WeakMap<CreditAssignerV1, CheckedAssigner>();

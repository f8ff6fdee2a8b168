import {
  type AdvantageEstimatorV1,
  type CreditAssignerV1,
  type CreditV1,
  type RolloutBatchV1,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { claimFresh } from './batch-checks.js';
import { type CreditSums, creditEntries, creditStatistics } from './diagnostics.js';
import { type CheckedAssigner, checkedAssigners, checkedEstimators } from './pipeline-internals.js';

/**
 * Runs a pipeline whose estimator comes from `defineEstimator` and whose assigners all have a
 * fused pass (`AssignerDefinition.fused`); `undefined` for any other pipeline, which then runs
 * stage by stage through the public `estimate` and `assign`.
 *
 * The result equals the stage-by-stage one exactly (advantages, loss mask, every diagnostic
 * and its key order, warnings, returns, and the first error for bad input), with less work:
 * the batch is validated once (as before); the estimator's statistics are not computed (the
 * final ones replace them); a stage's credit is not re-checked, having been produced and
 * checked by the stage before; the estimator's fresh array is amplified in place (or, for an
 * estimator with one value per response and a first assigner that takes them, never built: that
 * assigner writes the advantages and the loss mask in its pass); and the last stage's pass
 * accumulates the final statistics, which are computed once.
 */
export function runFusedPipeline(
  estimator: AdvantageEstimatorV1,
  assigners: readonly CreditAssignerV1[],
  batch: RolloutBatchV1,
): (CreditV1 & { readonly returns?: Float32Array }) | undefined {
  const estimate = checkedEstimators.get(estimator);
  if (estimate === undefined) return undefined;
  const stages: CheckedAssigner[] = [];
  for (const assigner of assigners) {
    const stage = checkedAssigners.get(assigner);
    if (stage === undefined) return undefined;
    stages.push(stage);
  }
  // When the first assigner can build the advantages from one value per response, the
  // estimator's broadcast is deferred to it: the advantages are written once, in its pass.
  const first = stages[0]?.assignBroadcast === undefined ? undefined : stages[0];
  const estimated = estimate(batch, first !== undefined);
  // The loss mask starts as the response mask. A deferred broadcast's pass writes its ones as
  // it walks the response runs (into zeros: padding pages are never touched); otherwise a copy.
  const lossMask =
    estimated.perResponse !== undefined
      ? new Uint8Array(batch.responseMask.length)
      : new Uint8Array(batch.responseMask);
  let sums: CreditSums | undefined;
  // The assigners' own entries, in the order and with the sums `defineAssigner` gives them.
  const extras: Record<string, number> = {};
  let advantages: Float32Array;
  let ownsAdvantages: boolean;
  let from = 0;
  if (estimated.perResponse !== undefined) {
    const result = first!.assignBroadcast!(batch, estimated.perResponse, lossMask);
    advantages = result.advantages;
    ownsAdvantages = result.ownsAdvantages;
    sums = result.sums;
    addShare(extras, first!.name, result.amplifiedShare);
    from = 1;
  } else {
    advantages = estimated.advantages!;
    ownsAdvantages = claimFresh(advantages);
  }
  for (let s = from; s < stages.length; s++) {
    const stage = stages[s]!;
    const result = stage.assign(batch, { advantages, lossMask, ownsAdvantages });
    advantages = result.advantages;
    ownsAdvantages = result.ownsAdvantages;
    sums = result.sums;
    addShare(extras, stage.name, result.amplifiedShare);
  }
  const statistics =
    sums === undefined
      ? creditStatistics(batch, { advantages, lossMask })
      : creditEntries(sums, batch.planningMask !== undefined);
  const credit: CreditV1 = {
    advantages,
    lossMask,
    diagnostics: { ...statistics, ...extras },
    warnings: estimated.warnings,
  };
  return estimated.returns === undefined ? credit : { ...credit, returns: estimated.returns };
}

/** A stage's amplified-token share, as `defineAssigner`'s `assign` reports it. */
function addShare(extras: Record<string, number>, name: string, share: number): void {
  extras[TRAIN_METRIC_KEYS.amplifiedTokenShare] =
    (extras[TRAIN_METRIC_KEYS.amplifiedTokenShare] ?? 0) + share;
  extras[`credit/${name}/amplified_token_share`] = share;
}

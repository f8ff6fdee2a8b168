import {
  type CreditAssignerV1,
  type CreditV1,
  describeValue,
  InvalidArgumentError,
  InvalidValueError,
  type RolloutBatchV1,
  ShapeError,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { firstNonFinite, firstOutsideSubset, maskWords } from '@hicra/tensor/kernels';
import { checkBatch, checkFiniteResult, SOURCE } from './batch-checks.js';
import { type CreditSums, creditStatistics, tokenShare } from './diagnostics.js';
import { checkedAssigners } from './pipeline-internals.js';

export interface AssignerDefinition {
  readonly name: string;
  /** Optional batch fields this assigner needs (e.g. `planningMask`). */
  readonly requires?: readonly (keyof RolloutBatchV1)[];
  /**
   * Computes the new advantages and/or loss mask from a validated batch and credit. Returns
   * `amplified`, the tokens whose advantage it changed (for diagnostics). Must not mutate inputs.
   */
  readonly compute: (
    batch: RolloutBatchV1,
    credit: CreditV1,
  ) => { advantages?: Float32Array; lossMask?: Uint8Array; amplified?: Uint8Array };
  /**
   * Optional, for the built-ins: the same computation in one pass over a credit that a pipeline
   * has already checked, with the statistics of the result accumulated on the way. It may write
   * into `credit.advantages` when `inPlace` is true (the pipeline owns that array) and must
   * otherwise leave it alone; the loss mask must stay as it is. Its advantages must equal
   * `compute`'s bit for bit and its `sums` those of `creditStatistics` on the result.
   */
  readonly fused?: (
    batch: RolloutBatchV1,
    credit: { readonly advantages: Float32Array; readonly lossMask: Uint8Array },
    inPlace: boolean,
  ) => { advantages: Float32Array; amplifiedShare: number; sums: CreditSums };
  /**
   * Optional, for the built-ins with a `fused` pass: the same pass as the first stage of a
   * pipeline whose estimator gives one advantage per response (`EstimatorDefinition.perResponse`,
   * already checked to round to finite float32): it writes `fused`'s result for the broadcast of
   * those values into a new array, so the broadcast is never built and read back. `lossMask` is
   * zeros, of the batch's length: the pass writes the response mask's ones into it, and that is
   * the loss mask of its result. Its result must equal `fused`'s on the broadcast and that loss
   * mask, bit for bit.
   */
  readonly fusedBroadcast?: (
    batch: RolloutBatchV1,
    perResponse: ArrayLike<number>,
    lossMask: Uint8Array,
  ) => { advantages: Float32Array; amplifiedShare: number; sums: CreditSums };
}

/** Checks that a credit fits a batch: lengths, 0/1 loss mask inside the response mask, finite advantages. */
export function checkCredit(batch: RolloutBatchV1, credit: CreditV1, who: string): void {
  const tokens = batch.batchSize * batch.seqLen;
  if (typeof credit !== 'object' || credit === null) {
    throw new InvalidArgumentError(
      `${who}: credit must be an object with advantages and lossMask`,
      { source: SOURCE },
    );
  }
  if (!(credit.advantages instanceof Float32Array) || credit.advantages.length !== tokens) {
    throw new ShapeError(
      `${who}: credit.advantages must be a Float32Array of batchSize·seqLen = ${tokens}, got ${describeValue(credit.advantages)}`,
      { source: SOURCE, details: { field: 'advantages', expected: tokens } },
    );
  }
  if (!(credit.lossMask instanceof Uint8Array) || credit.lossMask.length !== tokens) {
    throw new ShapeError(
      `${who}: credit.lossMask must be a Uint8Array of batchSize·seqLen = ${tokens}, got ${describeValue(credit.lossMask)}`,
      { source: SOURCE, details: { field: 'lossMask', expected: tokens } },
    );
  }
  const { responseMask, seqLen } = batch;
  // Word-wide, four mask entries at a time, and one subtraction per advantage; the loop below
  // runs only to name the first bad entry.
  if (
    responseMask.length === tokens &&
    firstOutsideSubset(maskWords(credit.lossMask), maskWords(responseMask)) < 0 &&
    firstNonFinite(credit.advantages) < 0
  )
    return;
  for (let k = 0; k < tokens; k++) {
    const m = credit.lossMask[k]!;
    if (m > 1 || m > responseMask[k]!) {
      throw new InvalidValueError(
        `${who}: credit.lossMask is ${m} at response ${Math.floor(k / seqLen)}, token ${k % seqLen}, where the response mask is ${responseMask[k]}; the loss mask must be 0/1 and a subset of the response mask`,
        { source: SOURCE, details: { field: 'lossMask', index: k } },
      );
    }
    if (!Number.isFinite(credit.advantages[k])) {
      throw new InvalidValueError(
        `${who}: credit.advantages is ${credit.advantages[k]} at response ${Math.floor(k / seqLen)}, token ${k % seqLen}`,
        { source: SOURCE, details: { field: 'advantages', index: k } },
      );
    }
  }
}

/** Wraps a computation into a `CreditAssignerV1` with validation and diagnostics. */
export function defineAssigner(definition: AssignerDefinition): CreditAssignerV1 {
  const who = `assigner ${definition.name}`;
  const assigner: CreditAssignerV1 = {
    name: definition.name,
    ...(definition.requires ? { requires: [...definition.requires] } : {}),
    assign(batch: RolloutBatchV1, credit: CreditV1): CreditV1 {
      checkBatch(batch, definition.requires);
      checkCredit(batch, credit, who);
      const result = definition.compute(batch, credit);
      const advantages = result.advantages ?? credit.advantages;
      // An amplified advantage near the float32 limit overflows (3.3e38 · 1.2).
      if (result.advantages !== undefined) checkFiniteResult(who, 'advantage', batch, advantages);
      const lossMask = result.lossMask ?? credit.lossMask;
      const diagnostics: Record<string, number> = {
        ...credit.diagnostics,
        ...creditStatistics(batch, { advantages, lossMask }),
      };
      if (result.amplified !== undefined) {
        const previous = credit.diagnostics[TRAIN_METRIC_KEYS.amplifiedTokenShare] ?? 0;
        diagnostics[TRAIN_METRIC_KEYS.amplifiedTokenShare] =
          previous + tokenShare(result.amplified, batch.responseMask);
        diagnostics[`credit/${definition.name}/amplified_token_share`] = tokenShare(
          result.amplified,
          batch.responseMask,
        );
      }
      return { advantages, lossMask, diagnostics, warnings: credit.warnings };
    },
  };
  const fused = definition.fused;
  const fusedBroadcast = definition.fusedBroadcast;
  if (fused !== undefined) {
    checkedAssigners.set(assigner, {
      name: definition.name,
      ...(fusedBroadcast === undefined
        ? {}
        : {
            assignBroadcast(
              batch: RolloutBatchV1,
              perResponse: ArrayLike<number>,
              lossMask: Uint8Array,
            ) {
              // As `assign` below, minus the shape check: the advantages are built here.
              checkBatch(batch, definition.requires);
              const result = fusedBroadcast(batch, perResponse, lossMask);
              return {
                advantages: result.advantages,
                lossMask,
                ownsAdvantages: true,
                amplifiedShare: result.amplifiedShare,
                sums: result.sums,
              };
            },
          }),
      assign(batch, credit) {
        // As `assign`: the batch (validated once, cached), then the credit. A pipeline's credit
        // comes from checked stages; only its shape can still be wrong (an estimator returning
        // the wrong length), and then checkCredit names it as `assign` would.
        checkBatch(batch, definition.requires);
        const tokens = batch.batchSize * batch.seqLen;
        if (!(credit.advantages instanceof Float32Array) || credit.advantages.length !== tokens)
          checkCredit(batch, { ...credit, diagnostics: {}, warnings: [] }, who);
        const result = fused(batch, credit, credit.ownsAdvantages);
        return {
          advantages: result.advantages,
          lossMask: credit.lossMask,
          ownsAdvantages: true,
          amplifiedShare: result.amplifiedShare,
          sums: result.sums,
        };
      },
    });
  }
  return assigner;
}

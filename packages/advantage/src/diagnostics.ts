import { type DiagnosticsV1, type RolloutBatchV1, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { countOnes, maskWords, skipRun } from '@hicra/tensor/kernels';

/**
 * Mean, std (population), min and max of the advantages over the response mask, under the
 * metric keys of `@hicra/spec`. Empty masks give no entries (never NaN).
 */
export function advantageStatistics(
  advantages: Float32Array,
  mask: Uint8Array,
): Record<string, number> {
  const sums = creditSums(advantages, mask, undefined, undefined);
  return advantageEntries(sums, {});
}

/** Share of response tokens where `selected` is 1 (0 for an empty mask). */
export function tokenShare(selected: Uint8Array, mask: Uint8Array): number {
  const view = maskWords(mask);
  const n = mask.length;
  let count = 0;
  let hits = 0;
  for (let k = skipRun(view, 0, n, 0); k < n; k = skipRun(view, k, n, 0)) {
    const end = skipRun(view, k, n, 1);
    if (end === k) {
      k++; // an entry above 1 is not in the mask
      continue;
    }
    count += end - k;
    for (let t = k; t < end; t++) hits += selected[t]!;
    k = end;
  }
  return count === 0 ? 0 : hits / count;
}

/**
 * What the statistics of a credit are made of, accumulated in token order over the response
 * mask (float64): so that a fused pass and {@link creditStatistics} give the same numbers to
 * the last bit.
 */
export interface CreditSums {
  /** Response tokens. */
  count: number;
  sum: number;
  squares: number;
  min: number;
  max: number;
  /** Response tokens in the loss mask. */
  lossHits: number;
  /** Response tokens in the planning mask. */
  planningHits: number;
}

export function emptySums(): CreditSums {
  return {
    count: 0,
    sum: 0,
    squares: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    lossHits: 0,
    planningHits: 0,
  };
}

/**
 * One pass over the runs of ones of `mask` (word-wide across padding and whole runs): the
 * advantage sums, and the loss- and planning-mask hits when those masks are given.
 */
export function creditSums(
  advantages: Float32Array,
  mask: Uint8Array,
  lossMask: Uint8Array | undefined,
  planningMask: Uint8Array | undefined,
): CreditSums {
  const out = emptySums();
  const view = maskWords(mask);
  const n = mask.length;
  let sum = 0;
  let squares = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let lossHits = 0;
  let planningHits = 0;
  for (let k = skipRun(view, 0, n, 0); k < n; k = skipRun(view, k, n, 0)) {
    const end = skipRun(view, k, n, 1);
    if (end === k) {
      k++; // an entry above 1 is not in the mask
      continue;
    }
    out.count += end - k;
    for (let t = k; t < end; t++) {
      const a = advantages[t]!;
      sum += a;
      squares += a * a;
      if (a < min) min = a;
      if (a > max) max = a;
    }
    if (lossMask !== undefined) for (let t = k; t < end; t++) lossHits += lossMask[t]!;
    if (planningMask !== undefined) for (let t = k; t < end; t++) planningHits += planningMask[t]!;
    k = end;
  }
  out.sum = sum;
  out.squares = squares;
  out.min = min;
  out.max = max;
  out.lossHits = lossHits;
  out.planningHits = planningHits;
  return out;
}

/** Σ selected over the ones of `mask` (the hits of {@link tokenShare}). */
export function maskedOnes(selected: Uint8Array, mask: Uint8Array): number {
  const view = maskWords(mask);
  const chosen = maskWords(selected);
  const n = mask.length;
  let hits = 0;
  for (let k = skipRun(view, 0, n, 0); k < n; k = skipRun(view, k, n, 0)) {
    const end = skipRun(view, k, n, 1);
    if (end === k) {
      k++;
      continue;
    }
    hits += countOnes(chosen, k, end);
    k = end;
  }
  return hits;
}

/** The advantage entries of {@link advantageStatistics} from sums, added to `out`. */
function advantageEntries(sums: CreditSums, out: Record<string, number>): Record<string, number> {
  const { count, sum, squares, min, max } = sums;
  if (count === 0) return out;
  const mean = sum / count;
  out[TRAIN_METRIC_KEYS.advantageMean] = mean;
  out[TRAIN_METRIC_KEYS.advantageStd] = Math.sqrt(Math.max(0, squares / count - mean * mean));
  out[TRAIN_METRIC_KEYS.advantageMin] = min;
  out[TRAIN_METRIC_KEYS.advantageMax] = max;
  return out;
}

/** The entries of {@link creditStatistics} from sums (`planning`: the batch has a planning mask). */
export function creditEntries(sums: CreditSums, planning: boolean): Record<string, number> {
  const out = advantageEntries(sums, {});
  const share = (hits: number) => (sums.count === 0 ? 0 : hits / sums.count);
  out[TRAIN_METRIC_KEYS.lossMaskedShare] = 1 - share(sums.lossHits);
  if (planning) out[TRAIN_METRIC_KEYS.planningTokenShare] = share(sums.planningHits);
  return out;
}

/** Merges diagnostics; later entries win. */
export function mergeDiagnostics(...parts: DiagnosticsV1[]): DiagnosticsV1 {
  return Object.assign({}, ...parts);
}

/**
 * What a credit's diagnostics say about the credit itself, computed from it: the advantage
 * statistics, the share of response tokens the loss mask leaves out and, when the batch has a
 * planning mask, the planning-token share. A pipeline recomputes these after its last assigner,
 * so what it reports is the final credit's, whatever an assigner returned.
 */
export function creditStatistics(
  batch: Pick<RolloutBatchV1, 'responseMask' | 'planningMask'>,
  credit: { readonly advantages: Float32Array; readonly lossMask: Uint8Array },
): Record<string, number> {
  // One pass for every entry (they were three).
  const sums = creditSums(
    credit.advantages,
    batch.responseMask,
    credit.lossMask,
    batch.planningMask,
  );
  return creditEntries(sums, batch.planningMask !== undefined);
}

import { type DiagnosticsV1, type RolloutBatchV1, TRAIN_METRIC_KEYS } from '@hicra/spec';

/**
 * Mean, std (population), min and max of the advantages over the response mask, under the
 * metric keys of `@hicra/spec`. Empty masks give no entries (never NaN).
 */
export function advantageStatistics(
  advantages: Float32Array,
  mask: Uint8Array,
): Record<string, number> {
  // One pass: count, sum, sum of squares (float64), min, max.
  let count = 0;
  let sum = 0;
  let squares = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < mask.length; k++) {
    if (mask[k] === 1) {
      const a = advantages[k]!;
      count++;
      sum += a;
      squares += a * a;
      if (a < min) min = a;
      if (a > max) max = a;
    }
  }
  if (count === 0) return {};
  const mean = sum / count;
  return {
    [TRAIN_METRIC_KEYS.advantageMean]: mean,
    [TRAIN_METRIC_KEYS.advantageStd]: Math.sqrt(Math.max(0, squares / count - mean * mean)),
    [TRAIN_METRIC_KEYS.advantageMin]: min,
    [TRAIN_METRIC_KEYS.advantageMax]: max,
  };
}

/** Share of response tokens where `selected` is 1 (0 for an empty mask). */
export function tokenShare(selected: Uint8Array, mask: Uint8Array): number {
  let count = 0;
  let hits = 0;
  for (let k = 0; k < mask.length; k++) {
    if (mask[k] === 1) {
      count++;
      hits += selected[k]!;
    }
  }
  return count === 0 ? 0 : hits / count;
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
  const out: Record<string, number> = {
    ...advantageStatistics(credit.advantages, batch.responseMask),
    [TRAIN_METRIC_KEYS.lossMaskedShare]: 1 - tokenShare(credit.lossMask, batch.responseMask),
  };
  if (batch.planningMask !== undefined)
    out[TRAIN_METRIC_KEYS.planningTokenShare] = tokenShare(batch.planningMask, batch.responseMask);
  return out;
}

import { checkArray } from './check.js';

/** Per-group statistics of one value per response. */
export interface SegmentStatistics {
  /** `[B]`: the mean of each response's group (0 for a group of one, as verl). */
  readonly mean: Float64Array;
  /** `[B]`: the unbiased std of each response's group (1 for a group of one, as verl). */
  readonly std: Float64Array;
  /** `[B]`: the size of each response's group. */
  readonly size: Int32Array;
  /** Distinct group ids in order of first appearance. */
  readonly groups: Int32Array;
}

/**
 * Mean and unbiased standard deviation of `values` within each group of `groupIds`
 * (ids need not be sorted or contiguous), broadcast back to every member. A group of one gets
 * mean 0 and std 1, as in verl's GRPO, so its advantage is its raw score.
 */
export function segmentMeanStd(
  values: Float32Array | Float64Array,
  groupIds: Int32Array,
): SegmentStatistics {
  checkArray('segmentMeanStd', 'values', values, undefined);
  checkArray('segmentMeanStd', 'groupIds', groupIds, values.length, [Int32Array]);
  const n = values.length;
  const slot = new Map<number, number>();
  const groupOf = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const id = groupIds[i]!;
    let s = slot.get(id);
    if (s === undefined) {
      s = slot.size;
      slot.set(id, s);
    }
    groupOf[i] = s;
  }
  const g = slot.size;
  const sums = new Float64Array(g);
  const counts = new Int32Array(g);
  for (let i = 0; i < n; i++) {
    sums[groupOf[i]!]! += values[i]!;
    counts[groupOf[i]!]!++;
  }
  const means = new Float64Array(g);
  for (let s = 0; s < g; s++) means[s] = sums[s]! / counts[s]!;
  const squares = new Float64Array(g);
  for (let i = 0; i < n; i++) {
    const d = values[i]! - means[groupOf[i]!]!;
    squares[groupOf[i]!]! += d * d;
  }
  const mean = new Float64Array(n);
  const std = new Float64Array(n);
  const size = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = groupOf[i]!;
    const c = counts[s]!;
    size[i] = c;
    if (c === 1) {
      mean[i] = 0;
      std[i] = 1;
    } else {
      mean[i] = means[s]!;
      std[i] = Math.sqrt(squares[s]! / (c - 1));
    }
  }
  return { mean, std, size, groups: Int32Array.from(slot.keys()) };
}

/*
 * The fork-token overlap counts (top-q entropy tokens, and those that are planning tokens)
 * without a pass of their own over the tokens.
 *
 * The selection is the tensor core's (`topQThreshold` + `>=`, see token-class-accumulator.ts):
 * the threshold is the (1 - q) quantile of the response tokens' entropies, interpolated between
 * the order statistics `lower` and `lower + 1`, and a token is selected when its entropy is at
 * or above it. Computed that way it took three more passes over the ~700,000 entropies (copy,
 * radix histogram, count). Here the token pass (sumTokens) also fills a histogram of the
 * entropies' bit patterns, counting planning tokens per bucket too. Entropies are >= 0, so a
 * bit pattern (sign cleared, for -0) orders like the value, and the buckets are ordered:
 * - the bucket of the `lower`-th smallest is found from the histogram;
 * - every token in a higher bucket is at or above the `lower + 1`-th smallest (nothing lies
 *   strictly between two consecutive order statistics), hence above the threshold: counted from
 *   the histogram;
 * - every token in a lower bucket is below the `lower`-th smallest, hence below the threshold;
 * - only the tokens of that one bucket are gathered (one pass over the compacted bits) and
 *   compared one by one.
 * The order statistics, and so the threshold, are the same numbers the tensor core finds; the
 * counts are those of `values >= threshold`.
 */

import { selectKth } from '@hicra/tensor/kernels';

/** The histograms' size: 16 bits of a pattern, the first 16 below the sign. */
export const TOP_BUCKETS = 1 << 16;

/**
 * Where sumTokens finds an entropy's bit pattern in the compacted scratch, as an Int32Array view:
 * at `stride * t + offset`, bucket `(bits & 0x7fffffff) >>> shift`: the first 16 bits below the
 * sign (cleared, so that -0 joins +0) of the pattern (float32) or of its high word (float64,
 * little-endian).
 */
export interface BucketLayout {
  readonly bits: Int32Array;
  readonly stride: number;
  readonly offset: number;
  readonly shift: number;
}

/** Whether the layouts below hold: on a big-endian platform the high word comes first. */
export const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

let lastValues: Float32Array | Float64Array | undefined;
let lastLayout: BucketLayout | undefined;

/** The layout for compacted `values` (little-endian platforms; the scratch's is kept). */
export function bucketLayout(values: Float32Array | Float64Array): BucketLayout {
  if (values === lastValues) return lastLayout!;
  const bits = new Int32Array(values.buffer, values.byteOffset, values.byteLength >> 2);
  lastValues = values;
  lastLayout =
    values instanceof Float32Array
      ? { bits, stride: 1, offset: 0, shift: 15 }
      : { bits, stride: 2, offset: 1, shift: 15 };
  return lastLayout;
}

/*
 * Scratch reused across calls (calls are synchronous): the histograms, and the members of the
 * threshold's bucket.
 */
export const topHistogram = new Int32Array(TOP_BUCKETS);
export const topPlanningHistogram = new Int32Array(TOP_BUCKETS);
let members = new Float64Array(1024);
let memberPlanning = new Uint8Array(1024);
let work = new Float64Array(1024);

const COUNTS = new Float64Array(2);

/**
 * The number of the `n` compacted entropies at or above the top-q threshold (`[0]`), and of
 * those that are planning tokens (`[1]`), from the histograms sumTokens filled. `n > 0`.
 */
export function countTopEntropy(
  n: number,
  q: number,
  values: Float32Array | Float64Array,
  planning: Uint8Array,
  layout: BucketLayout,
): Float64Array {
  const histogram = topHistogram;
  const planningHistogram = topPlanningHistogram;
  // As topQThreshold: the (1 - q) quantile, position p·(n - 1).
  const position = (1 - q) * (n - 1);
  const lower = Math.floor(position);
  const fraction = position - lower;
  let bucket = 0;
  let below = 0;
  while (below + histogram[bucket]! <= lower) below += histogram[bucket++]!;
  const size = histogram[bucket]!;
  if (members.length < size) {
    const capacity = Math.max(size, 2 * members.length);
    members = new Float64Array(capacity);
    memberPlanning = new Uint8Array(capacity);
    work = new Float64Array(capacity);
  }
  const { bits, stride, offset, shift } = layout;
  let m = 0;
  // The two layouts in loops of their own: this pass reads every token, and a plain index
  // keeps it a tight loop.
  if (stride === 1 && offset === 0) {
    for (let t = 0; t < n; t++) {
      if ((bits[t]! & 0x7fffffff) >>> shift === bucket) {
        members[m] = values[t]!;
        memberPlanning[m] = planning[t]!;
        m++;
      }
    }
  } else {
    for (let t = 0; t < n; t++) {
      if ((bits[stride * t + offset]! & 0x7fffffff) >>> shift === bucket) {
        members[m] = values[t]!;
        memberPlanning[m] = planning[t]!;
        m++;
      }
    }
  }
  for (let i = 0; i < size; i++) work[i] = members[i]!;
  const rank = lower - below;
  const low = selectKth(work, rank, 0, size - 1);
  let threshold = low;
  if (fraction !== 0 && lower + 1 < n) {
    let high = Number.POSITIVE_INFINITY;
    if (rank + 1 < size) {
      // After selection every member right of `rank` is >= low.
      for (let i = rank + 1; i < size; i++) if (work[i]! < high) high = work[i]!;
    } else {
      // The next order statistic is the smallest entropy of a higher bucket.
      for (let t = 0; t < n; t++) {
        const v = values[t]!;
        if ((bits[stride * t + offset]! & 0x7fffffff) >>> shift > bucket && v < high) high = v;
      }
    }
    threshold = low + fraction * (high - low);
  }
  let top = 0;
  let planningTop = 0;
  for (let b = bucket + 1; b < TOP_BUCKETS; b++) {
    top += histogram[b]!;
    planningTop += planningHistogram[b]!;
  }
  for (let i = 0; i < size; i++) {
    if (members[i]! >= threshold) {
      top++;
      planningTop += memberPlanning[i]!;
    }
  }
  COUNTS[0] = top;
  COUNTS[1] = planningTop;
  return COUNTS;
}

import { InvalidArgumentError, InvalidValueError } from '@hicra/spec';
import { checkArray, checkLayout, checkMask, SOURCE } from './check.js';

/**
 * The p-quantile of `values` with linear interpolation between order statistics, as
 * `torch.quantile` (and numpy's default): position `p·(n-1)`. O(n) expected time
 * (selection, not a sort); `values` is not modified. NaN for an empty array.
 */
export function quantile(values: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 1)) {
    throw new InvalidArgumentError(`quantile: p must be in [0, 1], got ${p}`, {
      source: SOURCE,
      details: { p },
    });
  }
  const n = values.length;
  if (n === 0) return Number.NaN;
  const work = Float64Array.from(values as ArrayLike<number>);
  return quantileInPlace(work, p);
}

/** {@link quantile} that reorders `work` (a scratch copy). */
export function quantileInPlace(work: Float64Array, p: number): number {
  const n = work.length;
  const position = p * (n - 1);
  const lower = Math.floor(position);
  const fraction = position - lower;
  const low = selectKth(work, lower, 0, n - 1);
  if (fraction === 0 || lower + 1 >= n) return low;
  // After selection every entry right of `lower` is >= low: the next order statistic is their minimum.
  let high = Number.POSITIVE_INFINITY;
  for (let i = lower + 1; i < n; i++) if (work[i]! < high) high = work[i]!;
  return low + fraction * (high - low);
}

/**
 * The threshold {@link topQMask} draws when every entry of `values` takes part: the (1 - q)
 * quantile with linear interpolation, so the top-q selection is `values[k] >= threshold`. For
 * callers that only count the selection (no mask to build). NaN when `values` is empty; a
 * non-finite entry is the `InvalidValueError` topQMask throws.
 */
export function topQThreshold(values: Float32Array | Float64Array, q: number): number {
  const kernel = 'topQMask';
  checkArray(kernel, 'values', values, undefined);
  if (!(q > 0 && q <= 1)) {
    throw new InvalidArgumentError(`${kernel}: q must be in (0, 1], got ${q}`, {
      source: SOURCE,
      details: { kernel, q },
    });
  }
  const n = values.length;
  if (n === 0) return Number.NaN;
  const work = candidates(n);
  const bad = copyFinite(values, work);
  if (bad >= 0) {
    throw new InvalidValueError(
      `${kernel}: values[${bad}] is ${values[bad]} at a valid position; values must be finite`,
      { source: SOURCE, details: { kernel, index: bad } },
    );
  }
  const valid = work.subarray(0, n);
  return n >= RADIX_MIN && LITTLE_ENDIAN
    ? finiteQuantileByRadix(valid, 1 - q)
    : quantileInPlace(valid, 1 - q);
}

/** Copies `values` into `work`; the first non-finite index, or -1. */
function copyFinite(values: Float32Array | Float64Array, work: Float64Array): number {
  const n = values.length;
  for (let k = 0; k < n; k++) {
    const v = values[k]!;
    if (v - v !== 0) return k;
    work[k] = v;
  }
  return -1;
}

/** A scratch array for at least `n` candidates (reused across calls: no allocation per call). */
let candidateScratch = new Float64Array(0);
function candidates(n: number): Float64Array {
  if (candidateScratch.length < n) candidateScratch = new Float64Array(n);
  return candidateScratch;
}

/**
 * Copies the values at valid positions of `[from, to)` into `work`, in order; returns their
 * count, or `-(k + 1)` for the first valid position `k` holding NaN or ±Infinity.
 */
function gatherValid(
  values: Float32Array | Float64Array,
  mask: Uint8Array,
  from: number,
  to: number,
  work: Float64Array,
): number {
  let w = 0;
  for (let k = from; k < to; k++) {
    if (mask[k] === 1) {
      const v = values[k]!;
      if (v - v !== 0) return -(k + 1);
      work[w++] = v;
    }
  }
  return w;
}

/** Sets `out[k] = 1` at valid positions of `[from, to)` holding at least `threshold`. */
function markAtLeast(
  values: Float32Array | Float64Array,
  mask: Uint8Array,
  from: number,
  to: number,
  threshold: number,
  out: Uint8Array,
): void {
  // No branch on the comparison (true for a random-looking q of the tokens).
  for (let k = from; k < to; k++) out[k] = mask[k]! & (values[k]! >= threshold ? 1 : 0);
}

/** From this many values a radix pass beats quickselect's data movement. */
const RADIX_MIN = 2048;
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/** Buckets of the radix pass: the top 16 bits of a double's order-preserving key. */
const BUCKETS = 1 << 16;
let histogram = new Int32Array(0);
let scratch = new Float64Array(0);

/** The top 16 bits of the order-preserving key of a double, from its high 32 bits (LE). */
function bucketOf(high: number): number {
  // Negative numbers: all bits flipped; others: the sign bit set. Unsigned order then equals
  // numeric order (for finite values; -0 sorts just below +0, which compare equal anyway).
  return (high < 0 ? ~high : high ^ 0x80000000) >>> 16;
}

/**
 * {@link quantileInPlace} for finite values (checked by the caller), by one counting pass over a
 * 65,536-bucket histogram of the values' order-preserving bit keys: the order statistics lie in
 * one bucket (or the next non-empty one), and only that bucket's values are selected among. The
 * same order statistics, so the same quantile; `work` is left as it was.
 */
export function finiteQuantileByRadix(work: Float64Array, p: number): number {
  const n = work.length;
  const position = p * (n - 1);
  const lower = Math.floor(position);
  const fraction = position - lower;
  const words = new Int32Array(work.buffer, work.byteOffset, 2 * n);
  if (histogram.length !== BUCKETS) histogram = new Int32Array(BUCKETS);
  const counts = histogram;
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[bucketOf(words[2 * i + 1]!)]!++;
  // The bucket of the `lower`-th smallest, and how many lie below it.
  let bucket = 0;
  let below = 0;
  while (below + counts[bucket]! <= lower) below += counts[bucket++]!;
  const size = counts[bucket]!;
  if (scratch.length < size) scratch = new Float64Array(Math.max(size, 2 * scratch.length));
  const members = scratch.subarray(0, size);
  let m = 0;
  for (let i = 0; i < n; i++) if (bucketOf(words[2 * i + 1]!) === bucket) members[m++] = work[i]!;
  const rank = lower - below;
  const low = selectKth(members, rank, 0, size - 1);
  if (fraction === 0 || lower + 1 >= n) return low;
  let high = Number.POSITIVE_INFINITY;
  if (rank + 1 < size) {
    // After selection every member right of `rank` is >= low.
    for (let i = rank + 1; i < size; i++) if (members[i]! < high) high = members[i]!;
  } else {
    // The next order statistic is the smallest value of a higher bucket.
    for (let i = 0; i < n; i++) {
      const v = work[i]!;
      if (bucketOf(words[2 * i + 1]!) > bucket && v < high) high = v;
    }
  }
  return low + fraction * (high - low);
}

/**
 * Hoare-style quickselect (median-of-three pivot): the k-th smallest (0-based) of
 * `work[left..right]`, reordering that range in place so that every entry left of k is <= the
 * result and every entry right of it >=. For float arrays without NaN.
 */
export function selectKth(work: Float64Array, k: number, left: number, right: number): number {
  let lo = left;
  let hi = right;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three, placed at mid
    if (work[mid]! < work[lo]!) swap(work, mid, lo);
    if (work[hi]! < work[lo]!) swap(work, hi, lo);
    if (work[hi]! < work[mid]!) swap(work, hi, mid);
    const pivot = work[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (work[i]! < pivot) i++;
      while (work[j]! > pivot) j--;
      if (i <= j) {
        swap(work, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return work[k]!;
  }
  return work[k]!;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

/** Where top-q selection draws its threshold. */
export type TopQScope = 'batch' | 'sequence';

export interface TopQOptions {
  /** `[B·T]` values (token entropies). Must be finite at valid positions. */
  readonly values: Float32Array | Float64Array;
  /** `[B·T]` 0/1: which positions take part. */
  readonly mask: Uint8Array;
  readonly batchSize: number;
  readonly seqLen: number;
  /** Share to keep, in (0, 1]; e.g. 0.3 keeps the top 30%. */
  readonly q: number;
  /** `batch` (one threshold over all valid tokens) or `sequence` (one per response). Default `batch`. */
  readonly scope?: TopQScope;
}

/**
 * The top-q selection shared by every package (DESIGN.md): the threshold is the (1 - q)
 * quantile of the valid values with linear interpolation (as `torch.quantile`), and every
 * valid value **at or above** it is selected, so ties at the threshold are kept. Returns a
 * `[B·T]` 0/1 mask, a subset of `mask`. A response (or batch) with no valid value selects none.
 */
export function topQMask(options: TopQOptions): Uint8Array {
  const kernel = 'topQMask';
  const { values, mask, batchSize, seqLen, q } = options;
  const scope = options.scope ?? 'batch';
  checkLayout(kernel, batchSize, seqLen);
  checkArray(kernel, 'values', values, batchSize * seqLen);
  checkMask(kernel, 'mask', mask, batchSize * seqLen);
  if (!(q > 0 && q <= 1)) {
    throw new InvalidArgumentError(`${kernel}: q must be in (0, 1], got ${q}`, {
      source: SOURCE,
      details: { kernel, q },
    });
  }
  if (scope !== 'batch' && scope !== 'sequence') {
    throw new InvalidArgumentError(
      `${kernel}: scope must be "batch" or "sequence", got ${JSON.stringify(scope)}`,
      {
        source: SOURCE,
        details: { kernel, scope },
      },
    );
  }
  const out = new Uint8Array(batchSize * seqLen);
  const selectRange = (from: number, to: number) => {
    const work = candidates(to - from);
    const count = gatherValid(values, mask, from, to, work);
    if (count < 0) {
      const k = -count - 1;
      throw new InvalidValueError(
        `${kernel}: values[${k}] is ${values[k]} at a valid position; values must be finite`,
        {
          source: SOURCE,
          details: { kernel, index: k },
        },
      );
    }
    if (count === 0) return;
    const valid = work.subarray(0, count);
    const threshold =
      count >= RADIX_MIN && LITTLE_ENDIAN
        ? finiteQuantileByRadix(valid, 1 - q)
        : quantileInPlace(valid, 1 - q);
    markAtLeast(values, mask, from, to, threshold, out);
  };
  if (scope === 'batch') selectRange(0, batchSize * seqLen);
  else for (let i = 0; i < batchSize; i++) selectRange(i * seqLen, (i + 1) * seqLen);
  return out;
}

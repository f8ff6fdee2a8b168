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
  const low = select(work, lower, 0, n - 1);
  if (fraction === 0 || lower + 1 >= n) return low;
  // After selection every entry right of `lower` is >= low: the next order statistic is their minimum.
  let high = Number.POSITIVE_INFINITY;
  for (let i = lower + 1; i < n; i++) if (work[i]! < high) high = work[i]!;
  return low + fraction * (high - low);
}

/** Hoare-style quickselect (median-of-three pivot): the k-th smallest of work[left..right]. */
function select(work: Float64Array, k: number, left: number, right: number): number {
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
    let count = 0;
    for (let k = from; k < to; k++) {
      if (mask[k] === 1) {
        if (!Number.isFinite(values[k])) {
          throw new InvalidValueError(
            `${kernel}: values[${k}] is ${values[k]} at a valid position; values must be finite`,
            {
              source: SOURCE,
              details: { kernel, index: k },
            },
          );
        }
        count++;
      }
    }
    if (count === 0) return;
    const work = new Float64Array(count);
    let w = 0;
    for (let k = from; k < to; k++) if (mask[k] === 1) work[w++] = values[k]!;
    const threshold = quantileInPlace(work, 1 - q);
    for (let k = from; k < to; k++) if (mask[k] === 1 && values[k]! >= threshold) out[k] = 1;
  };
  if (scope === 'batch') selectRange(0, batchSize * seqLen);
  else for (let i = 0; i < batchSize; i++) selectRange(i * seqLen, (i + 1) * seqLen);
  return out;
}

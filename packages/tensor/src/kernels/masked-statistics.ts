import { checkArray, checkMask } from './check.js';

type Values = Float32Array | Float64Array;

/** Σ values where mask = 1 (float64 accumulation). */
export function maskedSum(values: Values, mask: Uint8Array): number {
  checkArray('maskedSum', 'values', values, undefined);
  checkMask('maskedSum', 'mask', mask, values.length);
  let sum = 0;
  for (let k = 0; k < values.length; k++) if (mask[k] === 1) sum += values[k]!;
  return sum;
}

/** Number of ones in a mask. */
export function maskCount(mask: Uint8Array): number {
  let count = 0;
  for (let k = 0; k < mask.length; k++) count += mask[k]!;
  return count;
}

/** Mean of values where mask = 1; NaN when the mask is empty. */
export function maskedMean(values: Values, mask: Uint8Array): number {
  const count = maskCount(mask);
  return count === 0 ? Number.NaN : maskedSum(values, mask) / count;
}

/**
 * Variance of values where mask = 1, unbiased (n - 1) by default as verl's `masked_var`.
 * NaN for an empty mask; 0 for a single valid value with `unbiased` (verl raises there).
 */
export function maskedVariance(values: Values, mask: Uint8Array, unbiased = true): number {
  const count = maskCount(mask);
  if (count === 0) return Number.NaN;
  const mean = maskedSum(values, mask) / count;
  let sq = 0;
  for (let k = 0; k < values.length; k++) {
    if (mask[k] === 1) {
      const d = values[k]! - mean;
      sq += d * d;
    }
  }
  if (!unbiased) return sq / count;
  return count > 1 ? sq / (count - 1) : 0;
}

export interface WhitenOptions {
  /** Added to the variance before the square root; default 1e-8 (verl). */
  readonly epsilon?: number;
  /** Keep the mean shifted to 0; default true. With false the mean is added back. */
  readonly shiftMean?: boolean;
  /** Write the result here (may be `values` itself); default a new Float32Array. */
  readonly out?: Float32Array;
}

/**
 * `(values - mean) / sqrt(var + ε)` over the masked entries, as verl's `masked_whiten`
 * (masked mean, unbiased masked variance). Entries outside the mask are set to 0 (verl leaves
 * them whitened; see the GAE note in the project docs). An empty mask gives all zeros.
 */
export function maskedWhiten(
  values: Values,
  mask: Uint8Array,
  options: WhitenOptions = {},
): Float32Array {
  const out = options.out ?? new Float32Array(values.length);
  const count = maskCount(mask);
  if (count === 0) return out.fill(0);
  const mean = maskedSum(values, mask) / count;
  const variance = maskedVariance(values, mask);
  const scale = 1 / Math.sqrt(variance + (options.epsilon ?? 1e-8));
  const shift = options.shiftMean === false ? mean : 0;
  for (let k = 0; k < values.length; k++) {
    out[k] = mask[k] === 1 ? (values[k]! - mean) * scale + shift : 0;
  }
  return out;
}

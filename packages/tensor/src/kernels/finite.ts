/**
 * The first index in `[from, values.length)` holding NaN or ±Infinity, or -1. One pass with an
 * early exit; what result checks run over every array they return.
 */
export function firstNonFinite(values: Float32Array | Float64Array, from = 0): number {
  const n = values.length;
  for (let k = from; k < n; k++) {
    // x - x is 0 for every finite x and NaN otherwise: one subtraction and one compare.
    const x = values[k]!;
    if (x - x !== 0) return k;
  }
  return -1;
}

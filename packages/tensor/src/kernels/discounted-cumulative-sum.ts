import { checkArray, checkLayout, checkMask } from './check.js';

/**
 * Discounted return-to-go along each row of a `[B·T]` array, as verl's REINFORCE++:
 * walking backwards, `G_t = r_t + γ·G_{t+1}`, and the running sum is reset after (to the
 * right of) the last valid token: `G` is multiplied by `mask_t` after each step. Positions
 * outside the mask hold whatever the recursion gives there (the caller masks the result).
 */
export function maskedDiscountedCumulativeSum(
  values: Float32Array | Float64Array,
  mask: Uint8Array,
  batchSize: number,
  seqLen: number,
  gamma: number,
): Float64Array {
  const kernel = 'maskedDiscountedCumulativeSum';
  checkLayout(kernel, batchSize, seqLen);
  checkArray(kernel, 'values', values, batchSize * seqLen);
  checkMask(kernel, 'mask', mask, batchSize * seqLen);
  const out = new Float64Array(batchSize * seqLen);
  for (let i = 0; i < batchSize; i++) {
    let running = 0;
    for (let t = seqLen - 1; t >= 0; t--) {
      const k = i * seqLen + t;
      running = values[k]! + gamma * running;
      out[k] = running;
      running *= mask[k]!;
    }
  }
  return out;
}

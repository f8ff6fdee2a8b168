import { InvalidArgumentError, KL_ESTIMATOR_NAMES, type KlEstimatorName } from '@hicra/spec';
import { checkArray } from './check.js';

const KERNEL = 'klValues';

/**
 * The per-token KL estimate of `klPenalty` (same estimators, same clamps) on typed arrays:
 * `k1` = logp - ref, `abs` = |logp - ref|, `k2` = ½(logp - ref)², `k3` = clamp(e^d - d - 1, ±10)
 * with d = clamp(ref - logp, ±20). NaN in either input gives NaN at that position. For a
 * trainer that needs the values, not a gradient (verl's KL penalty in the reward).
 */
export function klValues(
  logProbs: Float32Array,
  refLogProbs: Float32Array,
  estimator: KlEstimatorName,
): Float32Array {
  checkArray(KERNEL, 'logProbs', logProbs, undefined, [Float32Array]);
  checkArray(KERNEL, 'refLogProbs', refLogProbs, logProbs.length, [Float32Array]);
  if (!(KL_ESTIMATOR_NAMES as readonly unknown[]).includes(estimator)) {
    throw new InvalidArgumentError(
      `${KERNEL}: estimator must be one of ${KL_ESTIMATOR_NAMES.join(', ')}, got ${String(estimator)}`,
      { source: '@hicra/tensor', details: { kernel: KERNEL, argument: 'estimator' } },
    );
  }
  const out = new Float32Array(logProbs.length);
  for (let k = 0; k < out.length; k++) {
    const logp = logProbs[k]!;
    const ref = refLogProbs[k]!;
    switch (estimator) {
      case 'k1':
        out[k] = logp - ref;
        break;
      case 'abs':
        out[k] = Math.abs(logp - ref);
        break;
      case 'k2':
        out[k] = 0.5 * (logp - ref) ** 2;
        break;
      case 'k3': {
        const difference = ref - logp;
        if (Number.isNaN(difference)) {
          out[k] = difference;
          break;
        }
        const d = Math.min(20, Math.max(-20, difference));
        out[k] = Math.min(10, Math.max(-10, Math.exp(d) - d - 1));
        break;
      }
    }
  }
  return out;
}

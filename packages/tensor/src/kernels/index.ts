/**
 * Typed-array kernels (no tfjs): what estimators and metrics compute on, fast and exact.
 * Also re-exported from `@hicra/tensor`; this subpath loads without TensorFlow.js.
 */

export { maskedDiscountedCumulativeSum } from './discounted-cumulative-sum.js';
export { firstNonFinite } from './finite.js';
export { klValues } from './kl-values.js';
export {
  countOnes,
  firstNonBinary,
  firstOutsideSubset,
  type MaskWords,
  maskWords,
  skipRun,
} from './mask-words.js';
export {
  maskCount,
  maskedMean,
  maskedSum,
  maskedVariance,
  maskedWhiten,
  type WhitenOptions,
} from './masked-statistics.js';
export {
  quantile,
  selectKth,
  type TopQOptions,
  type TopQScope,
  topQMask,
  topQThreshold,
} from './quantile.js';
export { SeededGenerator, type SeededGeneratorState } from './seeded-generator.js';
export { type SegmentStatistics, segmentMeanStd } from './segment-statistics.js';

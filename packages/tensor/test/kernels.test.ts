import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  maskCount,
  maskedDiscountedCumulativeSum,
  maskedMean,
  maskedSum,
  maskedVariance,
  maskedWhiten,
  quantile,
  segmentMeanStd,
  topQMask,
} from '../src/kernels/index.js';
import { expectClose } from '../src/testing/index.js';

const f32 = (values: number[]) => Float32Array.from(values);
const u8 = (values: number[]) => Uint8Array.from(values);

/** torch.quantile's rule, by sorting: linear interpolation at p·(n-1). */
function sortedQuantile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = p * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (position - lower) * (sorted[upper]! - sorted[lower]!);
}

describe('masked statistics', () => {
  const values = f32([1, 2, 3, 100, 5]);
  const mask = u8([1, 1, 1, 0, 1]);

  it('sum, mean, count and unbiased variance over the mask', () => {
    expect(maskedSum(values, mask)).toBe(11);
    expect(maskCount(mask)).toBe(4);
    expect(maskedMean(values, mask)).toBe(2.75);
    // deviations -1.75, -0.75, 0.25, 2.25 -> squares 3.0625 + 0.5625 + 0.0625 + 5.0625 = 8.75
    expect(maskedVariance(values, mask)).toBeCloseTo(8.75 / 3, 12);
    expect(maskedVariance(values, mask, false)).toBeCloseTo(8.75 / 4, 12);
  });

  it('empty and single-element masks are defined', () => {
    expect(maskedMean(values, u8([0, 0, 0, 0, 0]))).toBeNaN();
    expect(maskedVariance(values, u8([0, 0, 0, 0, 0]))).toBeNaN();
    expect(maskedVariance(values, u8([0, 1, 0, 0, 0]))).toBe(0);
    expect(Array.from(maskedWhiten(values, u8([0, 0, 0, 0, 0])))).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(maskedWhiten(values, u8([0, 1, 0, 0, 0])))).toEqual([0, 0, 0, 0, 0]);
  });

  it('whitening as verl: zero mean, unit unbiased variance, zero outside the mask', () => {
    const out = maskedWhiten(values, mask);
    expect(out[3]).toBe(0);
    expect(maskedMean(out, mask)).toBeCloseTo(0, 6);
    expect(maskedVariance(out, mask)).toBeCloseTo(1, 5);
    const scale = 1 / Math.sqrt(8.75 / 3 + 1e-8);
    expectClose(
      out,
      [(1 - 2.75) * scale, (2 - 2.75) * scale, (3 - 2.75) * scale, 0, (5 - 2.75) * scale],
      { atol: 1e-6 },
    );
    expectClose(
      maskedWhiten(values, mask, { shiftMean: false }),
      [
        (1 - 2.75) * scale + 2.75,
        (2 - 2.75) * scale + 2.75,
        (3 - 2.75) * scale + 2.75,
        0,
        (5 - 2.75) * scale + 2.75,
      ],
      { atol: 1e-6 },
    );
  });

  it('rejects masks that are not 0/1 and mismatched lengths', () => {
    expect(() => maskedSum(values, u8([1, 2, 0, 0, 0]))).toThrow(
      /mask\[1\] = 2; masks hold only 0 and 1/,
    );
    expect(() => maskedSum(values, u8([1, 1]))).toThrow(/mask has length 2, expected 5/);
    expect(() => maskedSum([1, 2] as unknown as Float32Array, u8([1, 1]))).toThrow(
      /values must be a Float32Array or Float64Array, got Array\(2\)/,
    );
  });
});

describe('segmentMeanStd', () => {
  it('computes each group (unsorted, non-contiguous ids) with the unbiased std; a group of one gets mean 0, std 1', () => {
    const stats = segmentMeanStd(f32([1, 5, 3, 7, 2]), Int32Array.from([9, 4, 9, 4, 0]));
    expectClose(stats.mean, [2, 6, 2, 6, 0]);
    expectClose(stats.std, [Math.SQRT2, Math.SQRT2, Math.SQRT2, Math.SQRT2, 1]);
    expect(Array.from(stats.size)).toEqual([2, 2, 2, 2, 1]);
    expect(Array.from(stats.groups)).toEqual([9, 4, 0]);
  });

  it('is invariant to the order of responses (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 4 }), fc.float({ noNaN: true, min: -5, max: 5 })),
          { minLength: 1, maxLength: 30 },
        ),
        (pairs) => {
          const a = segmentMeanStd(
            f32(pairs.map((p) => p[1])),
            Int32Array.from(pairs.map((p) => p[0])),
          );
          const reversed = [...pairs].reverse();
          const b = segmentMeanStd(
            f32(reversed.map((p) => p[1])),
            Int32Array.from(reversed.map((p) => p[0])),
          );
          expectClose(Array.from(a.mean), Array.from(b.mean).reverse(), { atol: 1e-9 });
          expectClose(Array.from(a.std), Array.from(b.std).reverse(), { atol: 1e-9 });
        },
      ),
    );
  });

  it('rejects group ids of another length', () => {
    expect(() => segmentMeanStd(f32([1, 2]), Int32Array.from([0]))).toThrow(
      /groupIds has length 1, expected 2/,
    );
  });
});

describe('maskedDiscountedCumulativeSum', () => {
  it('is the discounted return-to-go, reset after the last valid token', () => {
    // row 0: rewards on a 3-token response padded to 4; row 1: full length
    const rewards = f32([0, 0, 1, 5, 1, 0, 0, 2]);
    const mask = u8([1, 1, 1, 0, 1, 1, 1, 1]);
    const returns = maskedDiscountedCumulativeSum(rewards, mask, 2, 4, 0.5);
    // row 0: t3 = 5 (padding, then reset), t2 = 1, t1 = 0.5, t0 = 0.25
    expectClose(returns, [0.25, 0.5, 1, 5, 1.25, 0.5, 1, 2]);
  });

  it('with gamma 1 sums the remaining rewards', () => {
    expectClose(maskedDiscountedCumulativeSum(f32([1, 2, 3]), u8([1, 1, 1]), 1, 3, 1), [6, 5, 3]);
  });

  it('rejects a layout that does not match', () => {
    expect(() => maskedDiscountedCumulativeSum(f32([1, 2, 3]), u8([1, 1, 1]), 2, 2, 1)).toThrow(
      /values has length 3, expected 4/,
    );
    expect(() => maskedDiscountedCumulativeSum(f32([1]), u8([1]), -1, 1, 1)).toThrow(
      /non-negative integers/,
    );
  });
});

describe('quantile', () => {
  it('interpolates linearly like torch.quantile', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([4, 1, 3, 2], 0.7)).toBeCloseTo(3.1, 12);
    expect(quantile([5], 0.3)).toBe(5);
    expect(quantile([], 0.3)).toBeNaN();
    expect(quantile([3, 1, 2], 0)).toBe(1);
    expect(quantile([3, 1, 2], 1)).toBe(3);
  });

  it('equals the sorting definition on random data with ties (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, p) => {
          expect(quantile(values, p)).toBeCloseTo(sortedQuantile(values, p), 9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not modify its input and rejects p outside [0, 1]', () => {
    const values = f32([3, 1, 2]);
    quantile(values, 0.5);
    expect(Array.from(values)).toEqual([3, 1, 2]);
    expect(() => quantile(values, 1.5)).toThrow(/p must be in \[0, 1\], got 1.5/);
  });
});

describe('topQMask', () => {
  it('keeps valid values at or above the (1 - q) quantile, ties included', () => {
    const values = f32([0.1, 0.9, 0.5, 0.9, 7, 0.3]);
    const mask = u8([1, 1, 1, 1, 0, 1]);
    // valid values 0.1 0.9 0.5 0.9 0.3; 0.6-quantile at position 2.4: 0.5 + 0.4·(0.9 - 0.5) = 0.66
    const selected = topQMask({ values, mask, batchSize: 1, seqLen: 6, q: 0.4 });
    expect(Array.from(selected)).toEqual([0, 1, 0, 1, 0, 0]);
  });

  it('per-sequence scope draws one threshold per response; empty rows select nothing', () => {
    const values = f32([1, 2, 3, 10, 20, 30, 5, 5, 5]);
    const mask = u8([1, 1, 1, 1, 1, 1, 0, 0, 0]);
    const batch = topQMask({ values, mask, batchSize: 3, seqLen: 3, q: 0.5 });
    const sequence = topQMask({ values, mask, batchSize: 3, seqLen: 3, q: 0.5, scope: 'sequence' });
    expect(Array.from(batch)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0]);
    expect(Array.from(sequence)).toEqual([0, 1, 1, 0, 1, 1, 0, 0, 0]);
  });

  it('selects about q of the valid tokens and only valid tokens (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 10, noNaN: true }), fc.boolean()), {
          minLength: 1,
          maxLength: 120,
        }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        (pairs, q) => {
          const values = Float64Array.from(pairs.map((p) => p[0]));
          const mask = u8(pairs.map((p) => (p[1] ? 1 : 0)));
          const selected = topQMask({ values, mask, batchSize: 1, seqLen: pairs.length, q });
          const valid = pairs.filter((p) => p[1]).map((p) => p[0]);
          const threshold = valid.length ? sortedQuantile(valid, 1 - q) : Number.POSITIVE_INFINITY;
          for (let k = 0; k < pairs.length; k++) {
            expect(selected[k]).toBe(mask[k] === 1 && values[k]! >= threshold ? 1 : 0);
          }
          if (valid.length > 0)
            expect(maskCount(selected)).toBeGreaterThanOrEqual(Math.floor(q * (valid.length - 1)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects q outside (0, 1], an unknown scope and NaN at a valid position', () => {
    const base = { values: f32([1, 2]), mask: u8([1, 1]), batchSize: 1, seqLen: 2 };
    expect(() => topQMask({ ...base, q: 0 })).toThrow(/q must be in \(0, 1\], got 0/);
    expect(() => topQMask({ ...base, q: 0.3, scope: 'token' as never })).toThrow(
      /scope must be "batch" or "sequence", got "token"/,
    );
    expect(() => topQMask({ ...base, values: f32([1, Number.NaN]), q: 0.3 })).toThrow(
      /values\[1\] is NaN/,
    );
    expect(() =>
      topQMask({ ...base, values: f32([1, Number.NaN]), mask: u8([1, 0]), q: 0.3 }),
    ).not.toThrow();
  });
});

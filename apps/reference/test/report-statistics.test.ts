import { ErrorCode } from '@hicra/spec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bootstrapMeanDifference,
  logGamma,
  mean,
  regularizedIncompleteBeta,
  sampleStd,
  studentTCdf,
  studentTTwoSidedP,
  welchTTest,
} from '../src/report/statistics.js';

function expectCode(fn: () => unknown, code: string, ...fragments: string[]): void {
  try {
    fn();
  } catch (error) {
    expect((error as { code: string }).code).toBe(code);
    for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
    return;
  }
  throw new Error('expected an error');
}

describe('mean and sample standard deviation', () => {
  it('uses the n - 1 denominator', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    // Squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, over 3.
    expect(sampleStd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 14);
    expect(sampleStd([7])).toBeNaN();
    expect(mean([])).toBeNaN();
  });
});

describe('logGamma', () => {
  it('matches factorials and Γ(1/2) = √π', () => {
    expect(logGamma(1)).toBeCloseTo(0, 13);
    expect(logGamma(2)).toBeCloseTo(0, 13);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 13);
    expect(logGamma(11)).toBeCloseTo(Math.log(3_628_800), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 13);
  });

  it('matches reference values below 1/2 and for large arguments', () => {
    // scipy.special.gammaln
    expect(logGamma(0.1)).toBeCloseTo(2.252712651734206, 12);
    expect(logGamma(3.3)).toBeCloseTo(0.9870985778947343, 12);
    expect(logGamma(100.5) / 361.43554046777757).toBeCloseTo(1, 13);
  });

  it('rejects x <= 0', () => {
    expectCode(() => logGamma(0), ErrorCode.InvalidValue, 'x must be', 'got 0');
    expectCode(() => logGamma(Number.NaN), ErrorCode.InvalidValue, 'got NaN');
  });
});

describe('regularizedIncompleteBeta', () => {
  it('matches closed forms', () => {
    for (const x of [0.05, 0.3, 0.5, 0.77, 0.99]) {
      expect(regularizedIncompleteBeta(x, 1, 1)).toBeCloseTo(x, 13);
      expect(regularizedIncompleteBeta(x, 3, 1)).toBeCloseTo(x ** 3, 13);
      expect(regularizedIncompleteBeta(x, 1, 4)).toBeCloseTo(1 - (1 - x) ** 4, 13);
      // I_x(1/2, 1/2) = (2/π) asin(√x), the arcsine distribution.
      expect(regularizedIncompleteBeta(x, 0.5, 0.5)).toBeCloseTo(
        (2 / Math.PI) * Math.asin(Math.sqrt(x)),
        12,
      );
    }
    expect(regularizedIncompleteBeta(0.5, 7.5, 7.5)).toBeCloseTo(0.5, 13);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
  });

  it('matches reference values', () => {
    // scipy.special.betainc(a, b, x)
    expect(regularizedIncompleteBeta(0.3, 2.5, 3.5)).toBeCloseTo(0.29675298929566646, 12);
    expect(regularizedIncompleteBeta(0.4, 10, 20)).toBeCloseTo(0.7853183897628262, 12);
  });

  it('satisfies I_x(a, b) = 1 - I_{1-x}(b, a)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 0.999, noNaN: true }),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        (x, a, b) => {
          const left = regularizedIncompleteBeta(x, a, b);
          const right = 1 - regularizedIncompleteBeta(1 - x, b, a);
          expect(Math.abs(left - right)).toBeLessThan(1e-10);
          expect(left).toBeGreaterThanOrEqual(0);
          expect(left).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('rejects x outside [0, 1] and non-positive shapes', () => {
    expectCode(() => regularizedIncompleteBeta(1.5, 1, 1), ErrorCode.InvalidValue, 'x must be');
    expectCode(() => regularizedIncompleteBeta(0.5, 0, 1), ErrorCode.InvalidValue, 'a must be');
    expectCode(() => regularizedIncompleteBeta(0.5, 1, -2), ErrorCode.InvalidValue, 'b must be');
  });
});

describe('Student t distribution', () => {
  it('matches the closed forms for 1, 2 and 4 degrees of freedom', () => {
    for (const t of [-7, -1.3, -0.2, 0, 0.4, 1, 2.5, 12]) {
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 13);
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 13);
      const a = t / Math.sqrt(4 + t * t);
      expect(studentTCdf(t, 4)).toBeCloseTo(0.5 + 0.75 * a - a ** 3 / 4, 13);
    }
  });

  it('gives 5% two-sided at the 97.5% quantiles (scipy.stats.t.ppf)', () => {
    expect(studentTTwoSidedP(12.706204736174694, 1)).toBeCloseTo(0.05, 12);
    expect(studentTTwoSidedP(2.7764451051977934, 4)).toBeCloseTo(0.05, 12);
    expect(studentTTwoSidedP(2.228138851986274, 10)).toBeCloseTo(0.05, 12);
    expect(studentTTwoSidedP(-2.228138851986274, 10)).toBeCloseTo(0.05, 12);
    expect(studentTTwoSidedP(1.959963984540054, Number.POSITIVE_INFINITY)).toBeCloseTo(0.05, 6);
  });

  it('matches reference values at fractional degrees of freedom', () => {
    // scipy.stats.t
    expect(studentTTwoSidedP(2, 10)).toBeCloseTo(0.07338803477074037, 12);
    expect(studentTCdf(1.5, 3.7)).toBeCloseTo(0.8932009153989933, 12);
    expect(studentTCdf(-0.3, 0.5)).toBeCloseTo(0.42242957606524545, 12);
    expect(studentTCdf(2.5, 120)).toBeCloseTo(0.9931152325374848, 12);
    // A small tail keeps its relative precision.
    expect(studentTTwoSidedP(40, 3) / 3.4380680789158506e-5).toBeCloseTo(1, 10);
    expect(studentTCdf(-40, 3) / 1.7190340394579253e-5).toBeCloseTo(1, 10);
  });

  it('is a CDF: monotone, symmetric, two-sided p = 2 × tail', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -30, max: 30, noNaN: true }),
        fc.double({ min: 0.2, max: 200, noNaN: true }),
        (t, df) => {
          const cdf = studentTCdf(t, df);
          expect(cdf + studentTCdf(-t, df)).toBeCloseTo(1, 12);
          expect(studentTCdf(t + 0.5, df)).toBeGreaterThanOrEqual(cdf);
          expect(studentTTwoSidedP(t, df)).toBeCloseTo(2 * Math.min(cdf, 1 - cdf), 12);
        },
      ),
    );
  });

  it('handles infinite t and rejects bad degrees of freedom', () => {
    expect(studentTCdf(Number.POSITIVE_INFINITY, 3)).toBe(1);
    expect(studentTCdf(Number.NEGATIVE_INFINITY, 3)).toBe(0);
    expect(studentTTwoSidedP(Number.NEGATIVE_INFINITY, 3)).toBe(0);
    expectCode(() => studentTCdf(1, 0), ErrorCode.InvalidValue, 'degrees of freedom', 'got 0');
    expectCode(() => studentTCdf(Number.NaN, 3), ErrorCode.InvalidValue, 't must be');
    expectCode(() => studentTTwoSidedP(1, -1), ErrorCode.InvalidValue, 'got -1');
  });
});

describe('welchTTest', () => {
  it('computes t, df and p by hand for equal variances', () => {
    // Means 2 and 5, variances 1 and 1: se = √(1/3 + 1/3), t = -3/√(2/3),
    // df = (2/3)² / ((1/3)²/2 + (1/3)²/2) = 4, then p from the df = 4 closed form.
    const result = welchTTest([1, 2, 3], [4, 5, 6]);
    expect(result.kind).toBe('tested');
    if (result.kind !== 'tested') return;
    const t = -3 / Math.sqrt(2 / 3);
    const a = t / Math.sqrt(4 + t * t);
    expect(result.difference).toBe(-3);
    expect(result.t).toBeCloseTo(t, 13);
    expect(result.df).toBeCloseTo(4, 13);
    expect(result.pValue).toBeCloseTo(2 * (0.5 + 0.75 * a - a ** 3 / 4), 12);
  });

  it('matches scipy.stats.ttest_ind(equal_var=False) for unequal sizes', () => {
    const result = welchTTest([0.5, 0.55, 0.6], [0.4, 0.42, 0.47, 0.5]);
    if (result.kind !== 'tested') throw new Error('expected a test');
    expect(result.t).toBeCloseTo(2.783261356538734, 12);
    expect(result.df).toBeCloseTo(4.1960356566479975, 12);
    expect(result.pValue).toBeCloseTo(0.0470560606782264, 12);
  });

  it('says so instead of testing when n < 2 or there is no spread', () => {
    const small = welchTTest([0.5], [0.4, 0.5]);
    expect(small).toMatchObject({ kind: 'not-tested', difference: 0.5 - 0.45 });
    if (small.kind === 'not-tested') expect(small.reason).toContain('n = 1 vs 2');
    const flat = welchTTest([0.5, 0.5], [0.25, 0.25]);
    expect(flat).toMatchObject({ kind: 'not-tested', difference: 0.25 });
    if (flat.kind === 'not-tested') expect(flat.reason).toContain('same value');
  });

  it('rejects non-finite values with their index', () => {
    expectCode(
      () => welchTTest([0.1, Number.NaN], [0.2, 0.3]),
      ErrorCode.InvalidValue,
      'sample[1]',
      'NaN',
    );
  });
});

describe('bootstrapMeanDifference', () => {
  it('is reproducible for a seed and changes with it', () => {
    const a = [0.52, 0.61, 0.58, 0.49];
    const b = [0.41, 0.45, 0.5];
    const first = bootstrapMeanDifference(a, b, { seed: 7, resamples: 2000 });
    expect(bootstrapMeanDifference(a, b, { seed: 7, resamples: 2000 })).toEqual(first);
    expect(bootstrapMeanDifference(a, b, { seed: 8, resamples: 2000 }).low).not.toBe(first.low);
    expect(first.difference).toBeCloseTo(mean(a) - mean(b), 14);
    expect(first.low).toBeLessThan(first.difference);
    expect(first.high).toBeGreaterThan(first.difference);
  });

  it('stays within the extreme possible differences', () => {
    // The smallest resampled difference is min(a) - max(b), the largest max(a) - min(b).
    const result = bootstrapMeanDifference([1, 2], [0, 10], { resamples: 500, level: 0.99 });
    expect(result.low).toBeGreaterThanOrEqual(1 - 10);
    expect(result.high).toBeLessThanOrEqual(2 - 0);
    expect(result.low).toBeCloseTo(-9, 10);
  });

  it('collapses to the difference when each side is constant', () => {
    const result = bootstrapMeanDifference([0.5, 0.5, 0.5], [0.25, 0.25]);
    expect(result).toMatchObject({ low: 0.25, high: 0.25, level: 0.95, resamples: 10_000 });
  });

  it('rejects too few values and bad options', () => {
    expectCode(
      () => bootstrapMeanDifference([1], [1, 2]),
      ErrorCode.InvalidArgument,
      'at least 2 values per side',
      'got 1 and 2',
    );
    expectCode(
      () => bootstrapMeanDifference([1, 2], [1, 2], { resamples: 0 }),
      ErrorCode.InvalidArgument,
      'resamples',
    );
    expectCode(
      () => bootstrapMeanDifference([1, 2], [1, 2], { level: 1 }),
      ErrorCode.InvalidArgument,
      'level must be in (0, 1)',
    );
  });
});

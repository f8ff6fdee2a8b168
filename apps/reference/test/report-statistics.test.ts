import { ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { SeededGenerator } from '@hicra/tensor/kernels';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  approximateMinimumDetectableEffect,
  bootstrapMeanDifference,
  logGamma,
  mean,
  minimumDetectableEffect,
  pairedBootstrapInterval,
  pairedTTest,
  pairedTTestPower,
  regularizedIncompleteBeta,
  sampleStd,
  signFlipTest,
  studentTCdf,
  studentTDensity,
  studentTQuantile,
  studentTTwoSidedP,
  welchTTest,
} from '../src/report/statistics.js';

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
    expectHicraError(() => logGamma(0), {
      code: ErrorCode.InvalidValue,
      message: ['x must be', 'got 0'],
    });
    expectHicraError(() => logGamma(Number.NaN), {
      code: ErrorCode.InvalidValue,
      message: ['got NaN'],
    });
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
    expectHicraError(() => regularizedIncompleteBeta(1.5, 1, 1), {
      code: ErrorCode.InvalidValue,
      message: ['x must be'],
    });
    expectHicraError(() => regularizedIncompleteBeta(0.5, 0, 1), {
      code: ErrorCode.InvalidValue,
      message: ['a must be'],
    });
    expectHicraError(() => regularizedIncompleteBeta(0.5, 1, -2), {
      code: ErrorCode.InvalidValue,
      message: ['b must be'],
    });
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
    expectHicraError(() => studentTCdf(1, 0), {
      code: ErrorCode.InvalidValue,
      message: ['degrees of freedom', 'got 0'],
    });
    expectHicraError(() => studentTCdf(Number.NaN, 3), {
      code: ErrorCode.InvalidValue,
      message: ['t must be'],
    });
    expectHicraError(() => studentTTwoSidedP(1, -1), {
      code: ErrorCode.InvalidValue,
      message: ['got -1'],
    });
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
    expectHicraError(() => welchTTest([0.1, Number.NaN], [0.2, 0.3]), {
      code: ErrorCode.InvalidValue,
      message: ['sample[1]', 'NaN'],
    });
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
    expectHicraError(() => bootstrapMeanDifference([1], [1, 2]), {
      code: ErrorCode.InvalidArgument,
      message: ['at least 2 values per side', 'got 1 and 2'],
    });
    expectHicraError(() => bootstrapMeanDifference([1, 2], [1, 2], { resamples: 0 }), {
      code: ErrorCode.InvalidArgument,
      message: ['resamples'],
    });
    expectHicraError(() => bootstrapMeanDifference([1, 2], [1, 2], { level: 1 }), {
      code: ErrorCode.InvalidArgument,
      message: ['level must be in (0, 1)'],
    });
  });
});

describe('studentTQuantile', () => {
  it('matches the closed forms for 1 and 2 degrees of freedom', () => {
    for (const p of [0.001, 0.1, 0.3, 0.5, 0.6, 0.8, 0.9, 0.975, 0.999]) {
      // df = 1 is Cauchy: tan(π(p − 1/2)); df = 2: (2p − 1) / √(2p(1 − p)).
      expect(studentTQuantile(p, 1)).toBeCloseTo(Math.tan(Math.PI * (p - 0.5)), 10);
      expect(studentTQuantile(p, 2)).toBeCloseTo((2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 12);
    }
  });

  it('matches t-table values (scipy.stats.t.ppf)', () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706204736174694, 10);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.7764451051977934, 12);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.228138851986274, 12);
    expect(studentTQuantile(0.025, 10)).toBeCloseTo(-2.228138851986274, 12);
    // The printed tables' 80% column: 1.061 (df 2), 0.941 (df 4), 0.879 (df 10), 0.842 (normal).
    expect(studentTQuantile(0.8, 2)).toBeCloseTo(1.061, 3);
    expect(studentTQuantile(0.8, 4)).toBeCloseTo(0.941, 3);
    expect(studentTQuantile(0.8, 10)).toBeCloseTo(0.879, 3);
    expect(studentTQuantile(0.975, Number.POSITIVE_INFINITY)).toBeCloseTo(1.959963984540054, 6);
    expect(studentTQuantile(0.8, Number.POSITIVE_INFINITY)).toBeCloseTo(0.8416212335729143, 6);
    expect(studentTQuantile(0.5, 3)).toBe(0);
  });

  it('inverts the CDF', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-6, max: 1 - 1e-6, noNaN: true }),
        fc.double({ min: 0.5, max: 500, noNaN: true }),
        (p, df) => {
          const t = studentTQuantile(p, df);
          expect(studentTCdf(t, df)).toBeCloseTo(p, 11);
          expect(studentTQuantile(1 - p, df)).toBeCloseTo(-t, 8);
        },
      ),
    );
  });

  it('rejects p outside (0, 1)', () => {
    expectHicraError(() => studentTQuantile(1, 3), {
      code: ErrorCode.InvalidValue,
      message: ['p must be in (0, 1)', 'got 1'],
    });
    expectHicraError(() => studentTQuantile(Number.NaN, 3), {
      code: ErrorCode.InvalidValue,
      message: ['got NaN'],
    });
    expectHicraError(() => studentTQuantile(0.5, 0), {
      code: ErrorCode.InvalidValue,
      message: ['degrees of freedom'],
    });
  });
});

describe('studentTDensity', () => {
  it('matches the Cauchy and normal densities', () => {
    for (const t of [-3, -0.5, 0, 1, 4]) {
      expect(studentTDensity(t, 1)).toBeCloseTo(1 / (Math.PI * (1 + t * t)), 14);
      expect(studentTDensity(t, Number.POSITIVE_INFINITY)).toBeCloseTo(
        Math.exp((-t * t) / 2) / Math.sqrt(2 * Math.PI),
        14,
      );
    }
  });
});

/** Rejection rate of the paired t-test over `experiments` seeded draws of n differences. */
function simulatedPower(effect: number, std: number, n: number, experiments: number, seed: number) {
  const generator = new SeededGenerator(seed);
  let rejected = 0;
  for (let e = 0; e < experiments; e++) {
    const differences = Array.from({ length: n }, () => generator.nextNormal(effect, std));
    const result = pairedTTest(differences);
    if (result.kind === 'tested' && result.pValue < 0.05) rejected++;
  }
  return rejected / experiments;
}

describe('pairedTTestPower and minimumDetectableEffect', () => {
  it('gives the level at no effect and the normal closed form at infinite df', () => {
    for (const df of [1, 2, 5, 30]) expect(pairedTTestPower(0, df)).toBeCloseTo(0.05, 6);
    const c = 1.959963984540054;
    const phi = (z: number) => studentTCdf(z, Number.POSITIVE_INFINITY);
    for (const ncp of [0.5, 2, 2.8]) {
      expect(pairedTTestPower(ncp, Number.POSITIVE_INFINITY)).toBeCloseTo(
        phi(ncp - c) + phi(-ncp - c),
        6,
      );
    }
  });

  it("matches R's power.t.test(n = 20, delta = 1): 0.8689528", () => {
    // Two-sample, 20 per group: df = 38, ncp = √(20/2). R counts the upper tail only; the
    // lower tail adds about 1e-7 here.
    expect(pairedTTestPower(Math.sqrt(10), 38)).toBeCloseTo(0.8689528, 6);
  });

  it('is increasing in the effect', () => {
    let previous = 0;
    for (let ncp = 0; ncp <= 8; ncp += 0.5) {
      const power = pairedTTestPower(ncp, 4);
      expect(power).toBeGreaterThanOrEqual(previous);
      previous = power;
    }
    expect(previous).toBeGreaterThan(0.99);
  });

  it('finds the effect with 80% power, exactly and by simulation', () => {
    for (const [n, seed] of [
      [3, 11],
      [5, 12],
      [10, 13],
    ] as const) {
      const std = 0.04;
      const mde = minimumDetectableEffect(std, n);
      expect(pairedTTestPower((mde * Math.sqrt(n)) / std, n - 1)).toBeCloseTo(0.8, 8);
      // 4 000 experiments: the standard error of a rejection rate near 0.8 is 0.0063.
      expect(Math.abs(simulatedPower(mde, std, n, 4000, seed) - 0.8)).toBeLessThan(0.025);
      // The textbook approximation asks for a smaller effect, so it overstates power.
      const approximate = approximateMinimumDetectableEffect(std, n);
      expect(approximate).toBeCloseTo(
        ((studentTQuantile(0.975, n - 1) + studentTQuantile(0.8, n - 1)) * std) / Math.sqrt(n),
        14,
      );
      expect(approximate).toBeLessThan(mde);
    }
    // With 3 pairs the approximation's power is about 77%, not 80%.
    const approximate = approximateMinimumDetectableEffect(1, 3);
    expect(pairedTTestPower(approximate * Math.sqrt(3), 2)).toBeLessThan(0.78);
  });

  it('tends to (z_0.975 + z_0.8)·σ/√n with many pairs and scales with σ', () => {
    const n = 1_000_000;
    expect(minimumDetectableEffect(1, n) * Math.sqrt(n)).toBeCloseTo(
      1.959963984540054 + 0.8416212335729143,
      4,
    );
    expect(minimumDetectableEffect(0.06, 5)).toBeCloseTo(3 * minimumDetectableEffect(0.02, 5), 9);
    expect(minimumDetectableEffect(0, 5)).toBe(0);
  });

  it('rejects fewer than 2 pairs, negative spread and bad levels', () => {
    expectHicraError(() => minimumDetectableEffect(1, 1), {
      code: ErrorCode.InvalidArgument,
      message: ['pairs', 'got 1'],
    });
    expectHicraError(() => minimumDetectableEffect(-1, 4), {
      code: ErrorCode.InvalidValue,
      message: ['std', 'got -1'],
    });
    expectHicraError(() => minimumDetectableEffect(1, 4, { power: 1 }), {
      code: ErrorCode.InvalidValue,
      message: ['power must be in (0, 1)'],
    });
    expectHicraError(() => pairedTTestPower(1, 0.5), {
      code: ErrorCode.InvalidValue,
      message: ['df must be >= 1'],
    });
    expectHicraError(() => pairedTTestPower(Number.NaN, 3), {
      code: ErrorCode.InvalidValue,
      message: ['ncp'],
    });
  });
});

describe('pairedTTest', () => {
  it('computes t, p and the Student-t interval by hand', () => {
    // d = 0.05, 0.07, 0.03: mean 0.05, s_d = 0.02, t = 0.05 / (0.02/√3) = 2.5√3, df = 2, and
    // for df = 2 the two-sided p is 1 − t/√(2 + t²) and t_{0.975,2} = 0.95/√(2·0.975·0.025).
    const result = pairedTTest([0.05, 0.07, 0.03]);
    if (result.kind !== 'tested') throw new Error('expected a test');
    const t = 2.5 * Math.sqrt(3);
    expect(result.difference).toBeCloseTo(0.05, 15);
    expect(result.std).toBeCloseTo(0.02, 15);
    expect(result.t).toBeCloseTo(t, 12);
    expect(result.df).toBe(2);
    expect(result.pValue).toBeCloseTo(1 - t / Math.sqrt(2 + t * t), 12);
    const half = ((0.95 / Math.sqrt(2 * 0.975 * 0.025)) * 0.02) / Math.sqrt(3);
    expect(result.low).toBeCloseTo(0.05 - half, 12);
    expect(result.high).toBeCloseTo(0.05 + half, 12);
    // The interval excludes 0 exactly when p < 0.05.
    expect(result.low > 0).toBe(result.pValue < 0.05);
  });

  it('ignores what the two strategies share per seed, which Welch does not', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -0.3, max: 0.3, noNaN: true }), { minLength: 3, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 0.5, noNaN: true }), { minLength: 8, maxLength: 8 }),
        (differences, seedEffects) => {
          fc.pre(sampleStd(differences) > 1e-6);
          const reference = differences.map((_, i) => 0.3 + seedEffects[i]!);
          const sample = reference.map((r, i) => r + differences[i]!);
          const direct = pairedTTest(differences);
          const fromRuns = pairedTTest(sample.map((v, i) => v - reference[i]!));
          if (direct.kind !== 'tested' || fromRuns.kind !== 'tested') throw new Error('untested');
          expect(fromRuns.t).toBeCloseTo(direct.t, 6);
        },
      ),
    );
  });

  it('gives no test or interval below 3 pairs or without spread, and says why', () => {
    expect(pairedTTest([0.1, 0.2])).toMatchObject({ kind: 'not-tested', pairs: 2 });
    const few = pairedTTest([0.1, 0.2]);
    if (few.kind === 'not-tested') expect(few.reason).toContain('n = 2; at least 3');
    const flat = pairedTTest([0.1, 0.1, 0.1]);
    // 0.1 + 0.1 + 0.1 is not 0.3 in floating point: rounding is not spread.
    expect(flat).toMatchObject({ kind: 'not-tested', pairs: 3 });
    expect(flat.difference).toBeCloseTo(0.1, 15);
    if (flat.kind === 'not-tested') expect(flat.reason).toContain('same difference');
  });
});

/** Sign-flip p by recursion over the signs: an independent reference. */
function signFlipByRecursion(d: readonly number[]): number {
  const observed = Math.abs(d.reduce((a, b) => a + b, 0));
  const sums: number[] = [];
  const walk = (i: number, sum: number) => {
    if (i === d.length) {
      sums.push(sum);
      return;
    }
    walk(i + 1, sum + d[i]!);
    walk(i + 1, sum - d[i]!);
  };
  walk(0, 0);
  return sums.filter((s) => Math.abs(s) >= observed - 1e-9).length / sums.length;
}

describe('signFlipTest', () => {
  it('enumerates every sign pattern', () => {
    // ±0.1 ± 0.2 ± 0.3: only all-plus and all-minus reach |0.6|: p = 2/8.
    expect(signFlipTest([0.1, 0.2, 0.3])).toEqual({
      pValue: 0.25,
      method: 'exact',
      assignments: 8,
      smallestPossible: 0.25,
    });
    // 0.1 + 0.2 − 0.3 = 0: every pattern is at least as extreme.
    expect(signFlipTest([0.1, 0.2, -0.3]).pValue).toBe(1);
    expect(signFlipTest([0, 0, 0]).pValue).toBe(1);
    // Six equal differences: 2/64.
    expect(signFlipTest([1, 1, 1, 1, 1, 1]).pValue).toBeCloseTo(2 / 64, 15);
  });

  it('matches an enumeration written independently', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 10 }),
        (integers) => {
          const d = integers.map((v) => v / 100);
          expect(signFlipTest(d).pValue).toBeCloseTo(signFlipByRecursion(d), 14);
        },
      ),
    );
  });

  it('switches to a seeded Monte Carlo above 16 pairs, close to the exact p', () => {
    const generator = new SeededGenerator(4);
    const d = Array.from({ length: 18 }, () => generator.nextNormal(0.01, 0.03));
    const exact = signFlipByRecursion(d);
    const estimate = signFlipTest(d, { resamples: 20_000, seed: 1 });
    expect(estimate).toMatchObject({ method: 'monte-carlo', assignments: 20_000, seed: 1 });
    expect(Math.abs(estimate.pValue - exact)).toBeLessThan(0.015);
    expect(signFlipTest(d, { resamples: 20_000, seed: 1 })).toEqual(estimate);
    expect(signFlipTest(d.slice(0, 16)).method).toBe('exact');
  });

  it('rejects no differences', () => {
    expectHicraError(() => signFlipTest([]), {
      code: ErrorCode.InvalidArgument,
      message: ['at least one difference'],
    });
  });
});

describe('pairedBootstrapInterval', () => {
  it('resamples pairs reproducibly, within the range of the differences', () => {
    const d = [0.02, 0.08, -0.01, 0.05];
    const first = pairedBootstrapInterval(d, { seed: 3, resamples: 4000 });
    expect(pairedBootstrapInterval(d, { seed: 3, resamples: 4000 })).toEqual(first);
    expect(first.difference).toBeCloseTo(mean(d), 15);
    expect(first.low).toBeGreaterThanOrEqual(-0.01);
    expect(first.high).toBeLessThanOrEqual(0.08);
    expect(first.low).toBeLessThan(first.difference);
    expect(first.high).toBeGreaterThan(first.difference);
    const flat = pairedBootstrapInterval([0.1, 0.1, 0.1]);
    expect(flat.low).toBeCloseTo(0.1, 15);
    expect(flat.high).toBeCloseTo(0.1, 15);
  });

  it('needs 3 pairs', () => {
    expectHicraError(() => pairedBootstrapInterval([0.1, 0.2]), {
      code: ErrorCode.InvalidArgument,
      message: ['at least 3 pairs', 'got 2'],
    });
  });
});

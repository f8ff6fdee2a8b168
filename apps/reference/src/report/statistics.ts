import { InvalidArgumentError, InvalidValueError } from '@hicra/spec';
import { quantile, SeededGenerator } from '@hicra/tensor/kernels';

const SOURCE = '@hicra/reference';

function checkSample(name: string, values: readonly number[]): void {
  if (!Array.isArray(values)) {
    throw new InvalidArgumentError(`${name} must be an array of numbers`, {
      source: SOURCE,
      details: { argument: name },
    });
  }
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InvalidValueError(`${name}[${i}] must be a finite number, got ${String(v)}`, {
        source: SOURCE,
        details: { argument: name, index: i },
      });
    }
  });
}

/** Arithmetic mean; NaN for an empty sample. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Unbiased sample variance (denominator n - 1); NaN when n < 2. */
export function sampleVariance(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return Number.NaN;
  const m = mean(values);
  let sum = 0;
  for (const v of values) sum += (v - m) ** 2;
  return sum / (n - 1);
}

/** Sample standard deviation (denominator n - 1); NaN when n < 2. */
export function sampleStd(values: readonly number[]): number {
  return Math.sqrt(sampleVariance(values));
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) {
    throw new InvalidValueError(`logGamma: x must be a finite number > 0, got ${x}`, {
      source: SOURCE,
      details: { argument: 'x', value: x },
    });
  }
  // Reflection keeps the series accurate below 1/2.
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction of the incomplete beta function (modified Lentz), for x < (a+1)/(a+b+2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const epsilon = 1e-15;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let result = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let numerator = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + numerator * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + numerator / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    result *= d * c;
    numerator = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + numerator * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + numerator / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    result *= delta;
    if (Math.abs(delta - 1) < epsilon) return result;
  }
  return result;
}

/**
 * The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b), for x in [0, 1]
 * and a, b > 0 (continued fraction, Numerical Recipes §6.4, with the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly).
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(x >= 0 && x <= 1)) {
    throw new InvalidValueError(`regularizedIncompleteBeta: x must be in [0, 1], got ${x}`, {
      source: SOURCE,
      details: { argument: 'x', value: x },
    });
  }
  for (const [name, v] of [
    ['a', a],
    ['b', b],
  ] as const) {
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new InvalidValueError(
        `regularizedIncompleteBeta: ${name} must be a finite number > 0, got ${v}`,
        { source: SOURCE, details: { argument: name, value: v } },
      );
    }
  }
  if (x === 0) return 0;
  if (x === 1) return 1;
  const logFront =
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(logFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

function checkDegreesOfFreedom(df: number): void {
  if (!(df > 0) || Number.isNaN(df)) {
    throw new InvalidValueError(`degrees of freedom must be > 0, got ${df}`, {
      source: SOURCE,
      details: { argument: 'df', value: df },
    });
  }
}

/**
 * P(T <= t) for Student's t with `df` > 0 degrees of freedom (not necessarily an integer;
 * `Infinity` gives the standard normal). Through I_{df/(df+t²)}(df/2, 1/2).
 */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t)) {
    throw new InvalidValueError('studentTCdf: t must be a number, got NaN', {
      source: SOURCE,
      details: { argument: 't' },
    });
  }
  checkDegreesOfFreedom(df);
  if (t === Number.POSITIVE_INFINITY) return 1;
  if (t === Number.NEGATIVE_INFINITY) return 0;
  if (df === Number.POSITIVE_INFINITY) return normalCdf(t);
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** Two-sided p-value P(|T| >= |t|) for Student's t with `df` degrees of freedom. */
export function studentTTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t)) {
    throw new InvalidValueError('studentTTwoSidedP: t must be a number, got NaN', {
      source: SOURCE,
      details: { argument: 't' },
    });
  }
  checkDegreesOfFreedom(df);
  if (!Number.isFinite(t)) return 0;
  if (df === Number.POSITIVE_INFINITY) return 2 * normalCdf(-Math.abs(t));
  // Computed on the tail directly: 1 - CDF would lose the digits of small p-values.
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Standard normal CDF through the complementary error function. */
function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** erfc with relative error < 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t *
                              (-1.13520398 +
                                t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Result of {@link welchTTest}. */
export type WelchTestResult =
  | {
      readonly kind: 'tested';
      /** mean(sample) - mean(reference). */
      readonly difference: number;
      /** Welch's t statistic. */
      readonly t: number;
      /** Welch–Satterthwaite degrees of freedom (not an integer in general). */
      readonly df: number;
      /** Two-sided p-value. */
      readonly pValue: number;
    }
  | {
      readonly kind: 'not-tested';
      readonly difference: number;
      /** Why no test was made, in words for the report. */
      readonly reason: string;
    };

/**
 * Welch's unequal-variances t-test of mean(sample) - mean(reference), two-sided. Needs at
 * least two values on each side; when both samples have zero spread the statistic is
 * undefined and the result says so instead of printing a p-value.
 */
export function welchTTest(
  sample: readonly number[],
  reference: readonly number[],
): WelchTestResult {
  checkSample('sample', sample);
  checkSample('reference', reference);
  const difference = mean(sample) - mean(reference);
  if (sample.length < 2 || reference.length < 2) {
    return {
      kind: 'not-tested',
      difference,
      reason: `too few seeds for a t-test (n = ${sample.length} vs ${reference.length}; at least 2 per side are needed)`,
    };
  }
  const se1 = sampleVariance(sample) / sample.length;
  const se2 = sampleVariance(reference) / reference.length;
  const se = se1 + se2;
  if (se === 0) {
    return {
      kind: 'not-tested',
      difference,
      reason: 'every seed of both strategies has the same value; a t-test is undefined',
    };
  }
  const t = difference / Math.sqrt(se);
  const df = (se * se) / ((se1 * se1) / (sample.length - 1) + (se2 * se2) / (reference.length - 1));
  return { kind: 'tested', difference, t, df, pValue: studentTTwoSidedP(t, df) };
}

export interface BootstrapOptions {
  /** Number of resamples. Default 10 000. */
  readonly resamples?: number;
  /** Seed of the generator (reproducible intervals). Default 0. */
  readonly seed?: number;
  /** Coverage of the interval. Default 0.95. */
  readonly level?: number;
}

export interface BootstrapInterval {
  /** mean(sample) - mean(reference) on the data. */
  readonly difference: number;
  readonly low: number;
  readonly high: number;
  readonly level: number;
  readonly resamples: number;
  readonly seed: number;
}

/**
 * Percentile bootstrap interval of mean(sample) - mean(reference): each side is resampled
 * with replacement to its own size, independently, `resamples` times with a seeded
 * generator; the interval is the (1-level)/2 and (1+level)/2 quantiles (linear interpolation)
 * of the resampled differences. Needs at least two values per side.
 */
export function bootstrapMeanDifference(
  sample: readonly number[],
  reference: readonly number[],
  options: BootstrapOptions = {},
): BootstrapInterval {
  checkSample('sample', sample);
  checkSample('reference', reference);
  const { resamples = 10_000, seed = 0, level = 0.95 } = options;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new InvalidArgumentError(
      `bootstrap resamples must be a positive integer, got ${resamples}`,
      {
        source: SOURCE,
        details: { argument: 'resamples', value: resamples },
      },
    );
  }
  if (!(level > 0 && level < 1)) {
    throw new InvalidArgumentError(`bootstrap level must be in (0, 1), got ${level}`, {
      source: SOURCE,
      details: { argument: 'level', value: level },
    });
  }
  if (sample.length < 2 || reference.length < 2) {
    throw new InvalidArgumentError(
      `bootstrap needs at least 2 values per side, got ${sample.length} and ${reference.length}`,
      { source: SOURCE, details: { sample: sample.length, reference: reference.length } },
    );
  }
  const generator = new SeededGenerator(seed);
  const differences = new Float64Array(resamples);
  const resampledMean = (values: readonly number[]): number => {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[generator.nextInt(values.length)]!;
    return sum / values.length;
  };
  for (let r = 0; r < resamples; r++) {
    differences[r] = resampledMean(sample) - resampledMean(reference);
  }
  const alpha = (1 - level) / 2;
  return {
    difference: mean(sample) - mean(reference),
    low: quantile(differences, alpha),
    high: quantile(differences, 1 - alpha),
    level,
    resamples,
    seed,
  };
}

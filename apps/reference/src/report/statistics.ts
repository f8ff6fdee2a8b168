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

/**
 * Whether the values differ by more than rounding: sample std > 1e-12 × the largest |value|.
 * Equal values can give a std of 1e-17 (0.1 + 0.1 + 0.1 is not 0.3), which must not be
 * read as a spread a t statistic can divide by.
 */
export function hasSpread(values: readonly number[]): boolean {
  if (values.length < 2) return false;
  let largest = 0;
  for (const v of values) largest = Math.max(largest, Math.abs(v));
  return sampleStd(values) > 1e-12 * largest;
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

function checkBootstrapOptions(resamples: number, level: number): void {
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new InvalidArgumentError(
      `bootstrap resamples must be a positive integer, got ${resamples}`,
      { source: SOURCE, details: { argument: 'resamples', value: resamples } },
    );
  }
  if (!(level > 0 && level < 1)) {
    throw new InvalidArgumentError(`bootstrap level must be in (0, 1), got ${level}`, {
      source: SOURCE,
      details: { argument: 'level', value: level },
    });
  }
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
  checkBootstrapOptions(resamples, level);
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

function checkProbability(name: string, p: number): void {
  if (!(p > 0 && p < 1)) {
    throw new InvalidValueError(`${name} must be in (0, 1), got ${p}`, {
      source: SOURCE,
      details: { argument: name, value: p },
    });
  }
}

/** Density of Student's t with `df` degrees of freedom (`Infinity`: the standard normal). */
export function studentTDensity(t: number, df: number): number {
  checkDegreesOfFreedom(df);
  if (df === Number.POSITIVE_INFINITY) return Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);
  return Math.exp(
    logGamma((df + 1) / 2) -
      logGamma(df / 2) -
      0.5 * Math.log(df * Math.PI) -
      ((df + 1) / 2) * Math.log1p((t * t) / df),
  );
}

/** P(T > t) for t >= 0, computed on the tail so that small tails keep their digits. */
function upperTail(t: number, df: number): number {
  if (df === Number.POSITIVE_INFINITY) return normalCdf(-t);
  return 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/**
 * The p-quantile of Student's t with `df` > 0 degrees of freedom: the t with P(T <= t) = p,
 * for p in (0, 1). Newton's method on the upper tail, kept inside a bracket by bisection, to
 * a relative step of 1e-14; so it is as accurate as {@link studentTCdf} (about 1e-7 for
 * `df = Infinity`, whose normal CDF uses a 1.2e-7 erfc).
 */
export function studentTQuantile(p: number, df: number): number {
  checkProbability('studentTQuantile: p', p);
  checkDegreesOfFreedom(df);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  const q = 1 - p;
  let low = 0;
  let high = 1;
  while (upperTail(high, df) > q) {
    low = high;
    high *= 2;
  }
  let t = (low + high) / 2;
  for (let i = 0; i < 400; i++) {
    const excess = upperTail(t, df) - q;
    if (excess > 0) low = t;
    else high = t;
    const density = studentTDensity(t, df);
    let next = density > 0 ? t + excess / density : Number.NaN;
    if (!(next > low && next < high)) next = (low + high) / 2;
    if (Math.abs(next - t) <= 1e-14 * Math.max(1, Math.abs(t)) || high - low <= 1e-15 * high) {
      return next;
    }
    t = next;
  }
  return t;
}

/**
 * Power of the two-sided one-sample (or paired) t-test at level `alpha` when the true
 * standardised effect gives the noncentrality `ncp` = δ·√n / σ and the test has `df` = n − 1:
 * P(|T| > t_{1−α/2, df}) for T noncentral t(df, ncp). With T = (Z + ncp) / S, S = √(χ²_df / df),
 * the power is E_S[Φ(ncp − cS) + Φ(−ncp − cS)]; the expectation is integrated over the
 * density of S by Simpson's rule (4 000 intervals, ±12 standard deviations of S), accurate to
 * about 1e-7, the accuracy of the normal CDF used.
 */
export function pairedTTestPower(ncp: number, df: number, alpha = 0.05): number {
  if (!Number.isFinite(ncp)) {
    throw new InvalidValueError(`pairedTTestPower: ncp must be a finite number, got ${ncp}`, {
      source: SOURCE,
      details: { argument: 'ncp', value: ncp },
    });
  }
  if (!(df >= 1)) {
    throw new InvalidValueError(`pairedTTestPower: df must be >= 1, got ${df}`, {
      source: SOURCE,
      details: { argument: 'df', value: df },
    });
  }
  checkProbability('pairedTTestPower: alpha', alpha);
  const c = studentTQuantile(1 - alpha / 2, df);
  const rejection = (s: number) => normalCdf(ncp - c * s) + normalCdf(-ncp - c * s);
  if (df === Number.POSITIVE_INFINITY) return rejection(1);
  const logFront = (df / 2) * Math.log(df) - (df / 2 - 1) * Math.LN2 - logGamma(df / 2);
  const density = (s: number) =>
    s <= 0
      ? df === 1
        ? Math.exp(logFront)
        : 0
      : Math.exp(logFront + (df - 1) * Math.log(s) - (df * s * s) / 2);
  const low = Math.max(0, 1 - 12 / Math.sqrt(2 * df));
  const high = 1 + 12 / Math.sqrt(df);
  const intervals = 4000;
  const h = (high - low) / intervals;
  let sum = 0;
  for (let i = 0; i <= intervals; i++) {
    const s = low + i * h;
    const weight = i === 0 || i === intervals ? 1 : i % 2 === 1 ? 4 : 2;
    sum += weight * density(s) * rejection(s);
  }
  return Math.min(1, (sum * h) / 3);
}

/**
 * The smallest true mean difference a two-sided paired t-test with `pairs` pairs detects with
 * probability `power` at level `alpha`, when the differences have standard deviation `std`:
 * δ = ncp·std/√n where ncp solves {@link pairedTTestPower}(ncp, n − 1) = power (bisection, to
 * 1e-10). This is the exact noncentral-t answer; the common approximation
 * (t_{1−α/2,n−1} + t_{power,n−1})·std/√n is {@link approximateMinimumDetectableEffect}.
 */
export function minimumDetectableEffect(
  std: number,
  pairs: number,
  options: { readonly alpha?: number; readonly power?: number } = {},
): number {
  const { alpha, power, df } = mdeArguments('minimumDetectableEffect', std, pairs, options);
  let low = 0;
  let high = studentTQuantile(1 - alpha / 2, df) + studentTQuantile(power, df) + 1;
  while (pairedTTestPower(high, df, alpha) < power) high *= 2;
  while (high - low > 1e-10 * high) {
    const middle = (low + high) / 2;
    if (pairedTTestPower(middle, df, alpha) < power) low = middle;
    else high = middle;
  }
  return (((low + high) / 2) * std) / Math.sqrt(pairs);
}

/** (t_{1−α/2,n−1} + t_{power,n−1})·std/√n: the textbook approximation of the exact MDE. */
export function approximateMinimumDetectableEffect(
  std: number,
  pairs: number,
  options: { readonly alpha?: number; readonly power?: number } = {},
): number {
  const { alpha, power, df } = mdeArguments(
    'approximateMinimumDetectableEffect',
    std,
    pairs,
    options,
  );
  return (
    ((studentTQuantile(1 - alpha / 2, df) + studentTQuantile(power, df)) * std) / Math.sqrt(pairs)
  );
}

/** The checked arguments of the MDE functions, with the defaults filled in. */
function mdeArguments(
  caller: string,
  std: number,
  pairs: number,
  options: { readonly alpha?: number; readonly power?: number },
): { alpha: number; power: number; df: number } {
  const { alpha = 0.05, power = 0.8 } = options;
  checkMdeArguments(std, pairs);
  checkProbability(`${caller}: alpha`, alpha);
  checkProbability(`${caller}: power`, power);
  return { alpha, power, df: pairs - 1 };
}

function checkMdeArguments(std: number, pairs: number): void {
  if (!(std >= 0) || !Number.isFinite(std)) {
    throw new InvalidValueError(`std must be a finite number >= 0, got ${std}`, {
      source: SOURCE,
      details: { argument: 'std', value: std },
    });
  }
  if (!Number.isSafeInteger(pairs) || pairs < 2) {
    throw new InvalidArgumentError(`pairs must be an integer >= 2, got ${pairs}`, {
      source: SOURCE,
      details: { argument: 'pairs', value: pairs },
    });
  }
}

/** Result of {@link pairedTTest}. */
export type PairedTTestResult =
  | {
      readonly kind: 'tested';
      /** Number of pairs n. */
      readonly pairs: number;
      /** Mean of the differences d̄. */
      readonly difference: number;
      /** Sample standard deviation of the differences s_d (n − 1). */
      readonly std: number;
      /** t = d̄ / (s_d / √n). */
      readonly t: number;
      /** n − 1. */
      readonly df: number;
      /** Two-sided p-value. */
      readonly pValue: number;
      /** d̄ ± t_{(1+level)/2, n−1}·s_d/√n. */
      readonly low: number;
      readonly high: number;
      readonly level: number;
    }
  | {
      readonly kind: 'not-tested';
      readonly pairs: number;
      readonly difference: number;
      readonly reason: string;
    };

/** The fewest pairs for which the report gives a p-value or an interval. */
export const MIN_PAIRS = 3;

/**
 * Paired t-test of the differences d_i = sample_i − reference_i (two-sided), with the
 * Student-t interval of the mean difference. Needs at least {@link MIN_PAIRS} pairs and some
 * spread in the differences; otherwise says why instead.
 */
export function pairedTTest(differences: readonly number[], level = 0.95): PairedTTestResult {
  checkSample('differences', differences);
  checkProbability('pairedTTest: level', level);
  const n = differences.length;
  const difference = mean(differences);
  if (n < MIN_PAIRS) {
    return {
      kind: 'not-tested',
      pairs: n,
      difference,
      reason: `too few seed pairs for a test or an interval (n = ${n}; at least ${MIN_PAIRS} are needed)`,
    };
  }
  const std = sampleStd(differences);
  if (!hasSpread(differences)) {
    return {
      kind: 'not-tested',
      pairs: n,
      difference,
      reason: 'every pair has the same difference; the t statistic is undefined',
    };
  }
  const se = std / Math.sqrt(n);
  const t = difference / se;
  const half = studentTQuantile((1 + level) / 2, n - 1) * se;
  return {
    kind: 'tested',
    pairs: n,
    difference,
    std,
    t,
    df: n - 1,
    pValue: studentTTwoSidedP(t, n - 1),
    low: difference - half,
    high: difference + half,
    level,
  };
}

/** Result of {@link signFlipTest}. */
export interface SignFlipResult {
  /** Two-sided p-value: share of sign assignments with |Σ ±d_i| >= |Σ d_i|. */
  readonly pValue: number;
  /** `exact`: all 2^n assignments; `monte-carlo`: `(1 + hits) / (1 + resamples)` of seeded draws. */
  readonly method: 'exact' | 'monte-carlo';
  /** Number of assignments counted (2^n, or the Monte Carlo draws). */
  readonly assignments: number;
  /** The smallest p-value the exact test can give with these pairs (2 / 2^n, or 1 / 2^n when every d_i is 0). */
  readonly smallestPossible: number;
  /** Monte Carlo only. */
  readonly seed?: number;
}

/** Pairs up to which the sign-flip test enumerates every assignment. */
export const EXACT_SIGN_FLIP_MAX_PAIRS = 16;

/**
 * Sign-flip (paired permutation) test of mean difference 0: under the null each difference is
 * as likely to have either sign, so the p-value is the share of the 2^n sign assignments whose
 * |sum| is at least the observed |sum|. Exact enumeration for n <= 16; above, `resamples`
 * seeded random assignments. A relative tolerance of 1e-12 absorbs rounding of equal sums.
 */
export function signFlipTest(
  differences: readonly number[],
  options: { readonly resamples?: number; readonly seed?: number } = {},
): SignFlipResult {
  checkSample('differences', differences);
  const n = differences.length;
  if (n < 1) {
    throw new InvalidArgumentError('signFlipTest needs at least one difference, got 0', {
      source: SOURCE,
      details: { argument: 'differences' },
    });
  }
  const { resamples = 20_000, seed = 0 } = options;
  let scale = 0;
  let observed = 0;
  for (const d of differences) {
    scale += Math.abs(d);
    observed += d;
  }
  const threshold = Math.abs(observed) - 1e-12 * scale;
  const smallestPossible = differences.every((d) => d === 0) ? 1 : 2 / 2 ** n;
  if (n <= EXACT_SIGN_FLIP_MAX_PAIRS) {
    const total = 2 ** n;
    let hits = 0;
    for (let mask = 0; mask < total; mask++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += mask & (1 << i) ? -differences[i]! : differences[i]!;
      if (Math.abs(sum) >= threshold) hits++;
    }
    return { pValue: hits / total, method: 'exact', assignments: total, smallestPossible };
  }
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new InvalidArgumentError(
      `sign-flip resamples must be a positive integer, got ${resamples}`,
      { source: SOURCE, details: { argument: 'resamples', value: resamples } },
    );
  }
  const generator = new SeededGenerator(seed);
  let hits = 0;
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++)
      sum += generator.nextInt(2) === 1 ? -differences[i]! : differences[i]!;
    if (Math.abs(sum) >= threshold) hits++;
  }
  return {
    pValue: (1 + hits) / (1 + resamples),
    method: 'monte-carlo',
    assignments: resamples,
    smallestPossible,
    seed,
  };
}

/**
 * Percentile bootstrap interval of the mean paired difference: the n differences (one per
 * seed pair) are resampled with replacement, `resamples` times, with a seeded generator.
 * Needs at least {@link MIN_PAIRS} pairs. With few pairs it is too narrow (n = 3 has only 10
 * distinct resamples); the t interval is the one to read.
 */
export function pairedBootstrapInterval(
  differences: readonly number[],
  options: BootstrapOptions = {},
): BootstrapInterval {
  checkSample('differences', differences);
  const { resamples = 10_000, seed = 0, level = 0.95 } = options;
  checkBootstrapOptions(resamples, level);
  if (differences.length < MIN_PAIRS) {
    throw new InvalidArgumentError(
      `paired bootstrap needs at least ${MIN_PAIRS} pairs, got ${differences.length}`,
      { source: SOURCE, details: { pairs: differences.length } },
    );
  }
  const n = differences.length;
  const generator = new SeededGenerator(seed);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += differences[generator.nextInt(n)]!;
    means[r] = sum / n;
  }
  const alpha = (1 - level) / 2;
  return {
    difference: mean(differences),
    low: quantile(means, alpha),
    high: quantile(means, 1 - alpha),
    level,
    resamples,
    seed,
  };
}

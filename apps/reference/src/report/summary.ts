import { EVAL_METRIC_KEYS, InvalidArgumentError } from '@hicra/spec';
import { groupStrategies } from './charts.js';
import { formatPValue, formatSigned } from './html.js';
import type { ReportRun } from './load-run.js';
import {
  type BootstrapInterval,
  type BootstrapOptions,
  hasSpread,
  MIN_PAIRS,
  mean,
  minimumDetectableEffect,
  type PairedTTestResult,
  pairedBootstrapInterval,
  pairedTTest,
  type SignFlipResult,
  sampleStd,
  signFlipTest,
  type WelchTestResult,
  welchTTest,
} from './statistics.js';

/** The strategy every other one is compared with, when present. */
export const REFERENCE_STRATEGY = 'grpo';

/** Significance level of the report's verdicts (two-sided). */
export const SIGNIFICANCE_LEVEL = 0.05;

/** Power at which the minimum detectable effect is given. */
export const TARGET_POWER = 0.8;

/**
 * The difference the comparison should be able to see, in accuracy units: 5 percentage
 * points, about the smallest HICRA-over-GRPO pass@1 gain the paper reports on math benchmarks
 * (4.6 to 8.4 points; HICRA.md §6).
 */
export const DEFAULT_REFERENCE_EFFECT = 0.05;

/**
 * Evaluation keys read by their names: `@hicra/spec` is gaining them as `EVAL_METRIC_KEYS`
 * entries; the strings are the contract, so the report reads them whether or not the
 * constants exist yet.
 */
export const EVAL_TEMPERATURE_KEY = 'eval/temperature';
export const EVAL_GREEDY_ACCURACY_KEY = 'eval/greedy_accuracy';

/** One seed's final accuracy: the last evaluation's mean@k of one run, and its budget. */
export interface FinalAccuracy {
  /** The run directory. */
  readonly dir: string;
  readonly seed: number | undefined;
  /** Step of the last evaluation record with the metric. */
  readonly step: number;
  /** `eval/mean_at_k` of that record: pass@1 estimated as the mean over k samples per problem. */
  readonly value: number;
  /** `eval/k` of that record (samples per problem). */
  readonly k: number | undefined;
  /** `eval/problems` of that record (N). */
  readonly problems: number | undefined;
  /** Sampling temperature of the evaluation: `eval/temperature`, else run.json's `config.evaluation.temperature`. */
  readonly temperature: number | undefined;
  readonly temperatureSource: 'metrics' | 'run.json' | undefined;
  /** `eval/greedy_accuracy` of that record, when logged. */
  readonly greedyAccuracy: number | undefined;
}

/** One seed that both strategies ran: the unit of the paired statistics. */
export interface SeedPair {
  readonly seed: number;
  /** Final accuracy of the strategy. */
  readonly value: number;
  /** Final accuracy of GRPO with the same seed. */
  readonly reference: number;
  /** value − reference. */
  readonly difference: number;
  /** Binomial evaluation-noise variance of `difference`: p(1−p)/(N·k) of each run, summed; undefined without N and k. */
  readonly evalNoiseVariance: number | undefined;
  /** Greedy accuracy difference, when both runs logged it. */
  readonly greedyDifference: number | undefined;
}

/** Can the comparison see an effect of the reference size, and what limits it. */
export interface PowerAnalysis {
  /** Two-sided level. */
  readonly alpha: number;
  /** Power the minimum detectable effect is given at. */
  readonly power: number;
  /** The effect the comparison should be able to see (accuracy units). */
  readonly referenceEffect: number;
  readonly pairs: number;
  /** s_d: sample std of the paired differences (seed noise, evaluation noise included); needs 3 pairs. */
  readonly seedStd: number | undefined;
  /** Exact (noncentral t) minimum detectable effect of the paired t-test with s_d; needs 3 pairs and s_d > 0. */
  readonly mde: number | undefined;
  /** √(mean over pairs of the binomial evaluation-noise variance of a difference). */
  readonly evalNoiseStd: number | undefined;
  /** The minimum detectable effect if evaluation noise were the only noise (same pairs). */
  readonly evalNoiseMde: number | undefined;
  /** √(mean over pairs of p(1−p)/N summed over both runs): the spread if problems were redrawn; context only. */
  readonly problemSamplingStd: number | undefined;
  /** Seed pairs for which the exact MDE with s_d falls to the reference effect (capped at 10 000). */
  readonly pairsNeeded: number | undefined;
  /** mde <= referenceEffect; undefined when no MDE. */
  readonly detectsReference: boolean | undefined;
  /** evalNoiseStd < seedStd; undefined when either is unknown. */
  readonly evalNoiseBelowSeedNoise: boolean | undefined;
}

/** A strategy compared with GRPO, seed by seed. */
export interface StrategyComparison {
  readonly reference: string;
  /** Mean of the paired differences; NaN without pairs. */
  readonly difference: number;
  /** Seeds both strategies ran, by increasing seed. */
  readonly pairs: readonly SeedPair[];
  /** Runs left out of the pairing, each as a sentence (seed on one side only, no seed, seed twice). */
  readonly leftOut: readonly string[];
  /** Paired t-test and Student-t interval of the mean difference. */
  readonly paired: PairedTTestResult;
  /** Sign-flip permutation test; present from 3 pairs. */
  readonly signFlip: SignFlipResult | undefined;
  /** Seeded percentile bootstrap over seed pairs; present from 3 pairs. */
  readonly pairedBootstrap: BootstrapInterval | undefined;
  /** Unpaired Welch test on every seed of each side: secondary. */
  readonly welch: WelchTestResult;
  readonly power: PowerAnalysis;
  /** Mean paired difference of greedy accuracy, over pairs where both runs logged it. */
  readonly greedyDifference: number | undefined;
  /** Paired t p < 0.05; undefined when no test could be made. */
  readonly meaningful: boolean | undefined;
  /** One sentence for the page: the difference, interval and p. */
  readonly statement: string;
  /** Plain-language findings, one sentence each (power, noise, what is left out). */
  readonly verdicts: readonly string[];
}

export interface StrategySummary {
  readonly strategy: string;
  /** Runs of the strategy. */
  readonly runs: number;
  /** One entry per run that has an evaluation with `eval/mean_at_k`. */
  readonly finals: readonly FinalAccuracy[];
  readonly n: number;
  /** Mean of the finals; undefined when n = 0. */
  readonly mean: number | undefined;
  /** Sample standard deviation (n - 1); undefined when n < 2. */
  readonly std: number | undefined;
  /** Mean greedy accuracy over the finals that have it; undefined when none has. */
  readonly greedyMean: number | undefined;
  /** Runs without any evaluation value. */
  readonly withoutEval: readonly string[];
  /** Comparison with GRPO; undefined for GRPO itself or when there is no GRPO run. */
  readonly comparison: StrategyComparison | undefined;
}

/** Which accuracy the comparison uses and on what evaluation budget. */
export interface AccuracyDescription {
  /** The metric behind "final accuracy". */
  readonly metric: typeof EVAL_METRIC_KEYS.meanAtK;
  /** Distinct samples per problem (k) over the final evaluations. */
  readonly k: readonly number[];
  /** Distinct problem counts (N). */
  readonly problems: readonly number[];
  /** Distinct evaluation temperatures (empty when none was recorded). */
  readonly temperatures: readonly number[];
  /** Some final evaluation has `eval/greedy_accuracy`. */
  readonly greedy: boolean;
  /** The same in words, for the page. */
  readonly text: string;
}

export interface ReportSummary {
  /** The metric behind "final accuracy". */
  readonly metric: typeof EVAL_METRIC_KEYS.meanAtK;
  readonly accuracy: AccuracyDescription;
  /** `grpo` when some run has that strategy. */
  readonly reference: string | undefined;
  /** Two-sided level of tests and intervals. */
  readonly alpha: number;
  /** Power of the minimum detectable effect. */
  readonly power: number;
  /** The effect size the power analysis checks against. */
  readonly referenceEffect: number;
  readonly strategies: readonly StrategySummary[];
}

export interface SummarizeOptions {
  /** Bootstrap settings; default 10 000 resamples, seed 0, 95%. */
  readonly bootstrap?: BootstrapOptions;
  /** Monte Carlo sign-flip settings above 16 pairs; default 20 000 draws, seed 0. */
  readonly signFlip?: { readonly resamples?: number; readonly seed?: number };
  /** The effect the comparison should detect, accuracy units; default 0.05 (5 points). */
  readonly referenceEffect?: number;
}

const number = (record: Record<string, unknown>, key: string): number | undefined => {
  const value = record[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
};

function configuredTemperature(config: unknown): number | undefined {
  const evaluation = (config as { evaluation?: { temperature?: unknown } } | undefined)?.evaluation;
  const value = evaluation?.temperature;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function finalAccuracy(run: ReportRun): FinalAccuracy | undefined {
  for (let i = run.eval.length - 1; i >= 0; i--) {
    const record = run.eval[i]!;
    const value = record[EVAL_METRIC_KEYS.meanAtK];
    if (typeof value !== 'number') continue;
    const logged = number(record, EVAL_TEMPERATURE_KEY);
    const configured = configuredTemperature(run.config);
    const temperature = logged ?? configured;
    return {
      dir: run.dir,
      seed: run.seed,
      step: record.step,
      value,
      k: number(record, EVAL_METRIC_KEYS.k),
      problems: number(record, EVAL_METRIC_KEYS.problems),
      temperature,
      temperatureSource:
        logged !== undefined ? 'metrics' : configured !== undefined ? 'run.json' : undefined,
      greedyAccuracy: number(record, EVAL_GREEDY_ACCURACY_KEY),
    };
  }
  return undefined;
}

/** Binomial variance of one run's mean@k: p(1−p)/(N·k); 0 at temperature 0 (greedy). */
function evalNoiseVariance(final: FinalAccuracy): number | undefined {
  if (final.temperature === 0) return 0;
  if (final.k === undefined || final.problems === undefined || final.problems * final.k <= 0) {
    return undefined;
  }
  const p = Math.min(1, Math.max(0, final.value));
  return (p * (1 - p)) / (final.problems * final.k);
}

/** p(1−p)/N: one run's variance if the problems were redrawn and the k samples fully agreed. */
function problemSamplingVariance(final: FinalAccuracy): number | undefined {
  if (final.problems === undefined || final.problems <= 0) return undefined;
  const p = Math.min(1, Math.max(0, final.value));
  return (p * (1 - p)) / final.problems;
}

const points = (value: number, digits = 1) => `${(value * 100).toFixed(digits)} points`;
const percent = (value: number) => `${Math.round(value * 100)}%`;

function listValues(values: readonly number[]): string {
  return values.length === 1 ? String(values[0]) : `${values.join(' or ')} (differs between runs)`;
}

function describeAccuracy(finals: readonly FinalAccuracy[]): AccuracyDescription {
  const distinct = (pick: (f: FinalAccuracy) => number | undefined) =>
    [...new Set(finals.map(pick).filter((v): v is number => v !== undefined))].sort(
      (a, b) => a - b,
    );
  const k = distinct((f) => f.k);
  const problems = distinct((f) => f.problems);
  const temperatures = distinct((f) => f.temperature);
  const greedy = finals.some((f) => f.greedyAccuracy !== undefined);
  const kText = k.length === 0 ? 'k samples (k not recorded)' : `k = ${listValues(k)} samples`;
  const temperatureText =
    temperatures.length === 0
      ? 'at a temperature the runs did not record'
      : temperatures.length === 1 && temperatures[0] === 0
        ? 'at temperature 0 (greedy decoding, so the k samples coincide)'
        : `at temperature ${listValues(temperatures)}`;
  const budget =
    k.length === 1 && problems.length === 1
      ? `N = ${problems[0]} problems × k = ${k[0]} samples = ${problems[0]! * k[0]!} responses per evaluation`
      : `N = ${problems.length === 0 ? 'not recorded' : listValues(problems)} problems × ${kText}`;
  const text =
    `Accuracy compared: pass@1, estimated as the mean accuracy over ${kText} per problem ` +
    `(${EVAL_METRIC_KEYS.meanAtK}) ${temperatureText}, from each seed’s last evaluation. ` +
    `Evaluation budget: ${budget}. ` +
    (greedy
      ? `Greedy accuracy (${EVAL_GREEDY_ACCURACY_KEY}) is shown beside it; the tests use pass@1.`
      : 'Greedy accuracy was not logged.');
  return { metric: EVAL_METRIC_KEYS.meanAtK, k, problems, temperatures, greedy, text };
}

/** Splits the finals of both sides into seed pairs and what is left out, with reasons. */
function pairSeeds(
  name: string,
  mine: readonly FinalAccuracy[],
  theirs: readonly FinalAccuracy[],
): { pairs: { a: FinalAccuracy; b: FinalAccuracy }[]; leftOut: string[] } {
  const leftOut: string[] = [];
  const bySeed = (finals: readonly FinalAccuracy[], label: string) => {
    const map = new Map<number, FinalAccuracy[]>();
    for (const f of finals) {
      if (f.seed === undefined) {
        leftOut.push(`${f.dir} (${label}) has no seed, so it cannot be paired`);
        continue;
      }
      map.set(f.seed, [...(map.get(f.seed) ?? []), f]);
    }
    for (const [seed, list] of map) {
      if (list.length > 1) {
        leftOut.push(
          `seed ${seed} of ${label} has ${list.length} runs (${list.map((f) => f.dir).join(', ')}), so it cannot be paired`,
        );
      }
    }
    return map;
  };
  const a = bySeed(mine, name);
  const b = bySeed(theirs, REFERENCE_STRATEGY);
  const pairs: { a: FinalAccuracy; b: FinalAccuracy }[] = [];
  const onlyA: number[] = [];
  const onlyB: number[] = [];
  for (const seed of [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y)) {
    const left = a.get(seed);
    const right = b.get(seed);
    if (left === undefined) onlyB.push(seed);
    else if (right === undefined) onlyA.push(seed);
    else if (left.length === 1 && right.length === 1) pairs.push({ a: left[0]!, b: right[0]! });
  }
  const seeds = (list: number[]) => `seed${list.length === 1 ? '' : 's'} ${list.join(', ')}`;
  if (onlyA.length > 0)
    leftOut.push(`${seeds(onlyA)}: ${name} only (no ${REFERENCE_STRATEGY} run)`);
  if (onlyB.length > 0)
    leftOut.push(`${seeds(onlyB)}: ${REFERENCE_STRATEGY} only (no ${name} run)`);
  return { pairs, leftOut };
}

function smallestPairsFor(std: number, effect: number, alpha: number, power: number): number {
  const limit = 10_000;
  const mde = (n: number) => minimumDetectableEffect(std, n, { alpha, power });
  // The normal approximation undershoots the t-based answer, so start there and step up.
  let n = Math.max(MIN_PAIRS, Math.ceil(((1.959964 + 0.841621) * (std / effect)) ** 2));
  if (n >= limit) return limit;
  while (n < limit && mde(n) > effect) n++;
  while (n > MIN_PAIRS && mde(n - 1) <= effect) n--;
  return n;
}

function powerAnalysis(
  differences: readonly number[],
  pairs: readonly SeedPair[],
  problemVariances: readonly (number | undefined)[],
  referenceEffect: number,
): PowerAnalysis {
  const alpha = SIGNIFICANCE_LEVEL;
  const power = TARGET_POWER;
  const n = differences.length;
  const enough = n >= MIN_PAIRS;
  const seedStd = enough ? (hasSpread(differences) ? sampleStd(differences) : 0) : undefined;
  const evalVariances = pairs.map((p) => p.evalNoiseVariance);
  const evalNoiseStd =
    n > 0 && evalVariances.every((v) => v !== undefined)
      ? Math.sqrt(mean(evalVariances as number[]))
      : undefined;
  const problemSamplingStd =
    n > 0 && problemVariances.every((v) => v !== undefined)
      ? Math.sqrt(mean(problemVariances as number[]))
      : undefined;
  const options = { alpha, power };
  const mde =
    seedStd !== undefined && seedStd > 0 ? minimumDetectableEffect(seedStd, n, options) : undefined;
  const evalNoiseMde =
    enough && evalNoiseStd !== undefined
      ? minimumDetectableEffect(evalNoiseStd, n, options)
      : undefined;
  return {
    alpha,
    power,
    referenceEffect,
    pairs: n,
    seedStd,
    mde,
    evalNoiseStd,
    evalNoiseMde,
    problemSamplingStd,
    pairsNeeded:
      seedStd !== undefined && seedStd > 0
        ? smallestPairsFor(seedStd, referenceEffect, alpha, power)
        : undefined,
    detectsReference: mde === undefined ? undefined : mde <= referenceEffect,
    evalNoiseBelowSeedNoise:
      seedStd === undefined || evalNoiseStd === undefined ? undefined : evalNoiseStd < seedStd,
  };
}

function powerVerdicts(power: PowerAnalysis): string[] {
  const verdicts: string[] = [];
  const reference = points(power.referenceEffect);
  if (power.mde !== undefined) {
    if (power.detectsReference === false) {
      verdicts.push(
        `This comparison cannot reliably detect a difference of the size the paper reports (${reference}): ` +
          `with ${power.pairs} seed pairs and the observed spread of the differences (s_d = ${points(power.seedStd!, 2)}), ` +
          `the smallest difference it detects with ${percent(power.power)} power is ${points(power.mde)}; ` +
          `about ${power.pairsNeeded! >= 10_000 ? 'more than 10 000' : power.pairsNeeded} seed pairs would be needed.`,
      );
    } else {
      verdicts.push(
        `With ${power.pairs} seed pairs (s_d = ${points(power.seedStd!, 2)}) the comparison detects a difference of ` +
          `${points(power.mde)} or more with ${percent(power.power)} power, so a difference of the size the paper reports (${reference}) would be seen.`,
      );
    }
  } else if (power.pairs >= MIN_PAIRS && power.seedStd === 0) {
    verdicts.push(
      'The paired differences have no spread, so the seed noise and the minimum detectable effect cannot be estimated.',
    );
  } else if (power.pairs < MIN_PAIRS) {
    verdicts.push(
      `With ${power.pairs} seed pair${power.pairs === 1 ? '' : 's'} the seed noise cannot be estimated, so this comparison cannot show whether a difference of ${reference} is real.`,
    );
  }
  if (power.evalNoiseStd !== undefined && power.seedStd !== undefined && power.seedStd > 0) {
    const share = power.evalNoiseStd ** 2 / power.seedStd ** 2;
    if (power.evalNoiseStd === 0) {
      verdicts.push(
        'The evaluation is greedy (temperature 0), so it adds no sampling noise: the spread across seeds comes from training, and only more seeds narrow the comparison.',
      );
    } else if (power.evalNoiseBelowSeedNoise === false) {
      verdicts.push(
        `Evaluation noise is not below the seed noise: its binomial bound (std ${points(power.evalNoiseStd, 2)} on a difference) ` +
          `is as large as the spread across seeds (s_d = ${points(power.seedStd, 2)}), so part or all of that spread may be evaluation sampling; ` +
          'a larger evaluation (more problems or samples per problem) would narrow the comparison.',
      );
    } else {
      verdicts.push(
        `Evaluation noise is below the seed noise: even its binomial bound (std ${points(power.evalNoiseStd, 2)} on a difference) is ${percent(share)} of the variance across seeds, ` +
          `and alone it would allow an MDE of ${points(power.evalNoiseMde!)}; the rest comes from training, so more seeds help more than a larger evaluation.`,
      );
    }
  } else if (power.evalNoiseStd === undefined && power.pairs > 0) {
    verdicts.push(
      'The evaluation noise cannot be estimated: the final evaluations do not record eval/problems and eval/k.',
    );
  }
  return verdicts;
}

function compare(
  name: string,
  finals: readonly FinalAccuracy[],
  referenceFinals: readonly FinalAccuracy[],
  options: SummarizeOptions,
  referenceEffect: number,
): StrategyComparison {
  const label = `${name} − ${REFERENCE_STRATEGY}`;
  const values = finals.map((f) => f.value);
  const reference = referenceFinals.map((f) => f.value);
  const welch: WelchTestResult =
    values.length === 0 || reference.length === 0
      ? {
          kind: 'not-tested',
          difference: Number.NaN,
          reason: `${values.length === 0 ? name : REFERENCE_STRATEGY} has no evaluation`,
        }
      : welchTTest(values, reference);
  const matched = pairSeeds(name, finals, referenceFinals);
  const pairs: SeedPair[] = matched.pairs.map(({ a, b }) => {
    const va = evalNoiseVariance(a);
    const vb = evalNoiseVariance(b);
    return {
      seed: a.seed!,
      value: a.value,
      reference: b.value,
      difference: a.value - b.value,
      evalNoiseVariance: va === undefined || vb === undefined ? undefined : va + vb,
      greedyDifference:
        a.greedyAccuracy === undefined || b.greedyAccuracy === undefined
          ? undefined
          : a.greedyAccuracy - b.greedyAccuracy,
    };
  });
  const problemVariances = matched.pairs.map(({ a, b }) => {
    const va = problemSamplingVariance(a);
    const vb = problemSamplingVariance(b);
    return va === undefined || vb === undefined ? undefined : va + vb;
  });
  const differences = pairs.map((p) => p.difference);
  const greedy = pairs.map((p) => p.greedyDifference).filter((d): d is number => d !== undefined);
  const power = powerAnalysis(differences, pairs, problemVariances, referenceEffect);
  const leftOutVerdicts = matched.leftOut.map((s) => `Left out of the pairing: ${s}.`);
  if (pairs.length === 0) {
    const missing =
      values.length === 0 ? name : reference.length === 0 ? REFERENCE_STRATEGY : undefined;
    return {
      reference: REFERENCE_STRATEGY,
      difference: Number.NaN,
      pairs,
      leftOut: matched.leftOut,
      paired: {
        kind: 'not-tested',
        pairs: 0,
        difference: Number.NaN,
        reason: missing ? `${missing} has no evaluation` : 'no seed was run by both strategies',
      },
      signFlip: undefined,
      pairedBootstrap: undefined,
      welch,
      power,
      greedyDifference: undefined,
      meaningful: undefined,
      statement:
        missing === undefined
          ? `No paired comparison: no seed was run by both ${name} and ${REFERENCE_STRATEGY}.`
          : `No comparison: ${missing} has no final evaluation accuracy.`,
      verdicts: leftOutVerdicts,
    };
  }
  const paired = pairedTTest(differences, 1 - SIGNIFICANCE_LEVEL);
  const enough = pairs.length >= MIN_PAIRS;
  const signFlip = enough ? signFlipTest(differences, options.signFlip) : undefined;
  const pairedBootstrap = enough
    ? pairedBootstrapInterval(differences, options.bootstrap)
    : undefined;
  const difference = paired.difference;
  const level = `${Math.round((1 - SIGNIFICANCE_LEVEL) * 100)}%`;
  let statement: string;
  let meaningful: boolean | undefined;
  if (paired.kind === 'tested') {
    meaningful = paired.pValue < SIGNIFICANCE_LEVEL;
    const p = formatPValue(paired.pValue);
    statement =
      `${label} = ${formatSigned(difference)} over ${pairs.length} seed pairs (paired t = ${paired.t.toFixed(2)}, df = ${paired.df}, ` +
      `p ${p.startsWith('<') ? p : `= ${p}`}; ${level} interval [${formatSigned(paired.low)}, ${formatSigned(paired.high)}]): ` +
      (meaningful
        ? `statistically meaningful at the ${SIGNIFICANCE_LEVEL * 100}% level.`
        : `not statistically meaningful at the ${SIGNIFICANCE_LEVEL * 100}% level.`);
  } else {
    meaningful = undefined;
    statement = `${label} = ${formatSigned(difference)} over ${pairs.length} seed pair${pairs.length === 1 ? '' : 's'}: not tested, ${paired.reason}.`;
  }
  const verdicts = [...leftOutVerdicts];
  if (signFlip !== undefined && signFlip.smallestPossible > SIGNIFICANCE_LEVEL) {
    verdicts.push(
      `With ${pairs.length} pairs the sign-flip test cannot give a p-value below ${formatPValue(signFlip.smallestPossible)}, whatever the data; only the t-test can reach ${SIGNIFICANCE_LEVEL}, and it leans on the differences being roughly normal.`,
    );
  }
  verdicts.push(...powerVerdicts(power));
  return {
    reference: REFERENCE_STRATEGY,
    difference,
    pairs,
    leftOut: matched.leftOut,
    paired,
    signFlip,
    pairedBootstrap,
    welch,
    power,
    greedyDifference: greedy.length > 0 ? mean(greedy) : undefined,
    meaningful,
    statement,
    verdicts,
  };
}

/**
 * Each strategy's final accuracy (the last evaluation's `eval/mean_at_k` of each seed) with
 * mean, std and n, and for every strategy other than GRPO a comparison paired by seed: the
 * per-seed differences, a paired t-test with its Student-t interval, an exact sign-flip test,
 * a paired bootstrap interval, the unpaired Welch test as a secondary line, and the minimum
 * detectable effect against seed noise and against evaluation noise, with plain verdicts.
 */
export function summarizeRuns(
  runs: readonly ReportRun[],
  options: SummarizeOptions = {},
): ReportSummary {
  const referenceEffect = options.referenceEffect ?? DEFAULT_REFERENCE_EFFECT;
  if (!(referenceEffect > 0 && referenceEffect < 1)) {
    throw new InvalidArgumentError(
      `referenceEffect must be an accuracy difference in (0, 1), got ${referenceEffect}`,
      {
        source: '@hicra/reference',
        details: { argument: 'referenceEffect', value: referenceEffect },
      },
    );
  }
  const strategies = groupStrategies(runs);
  const finals = new Map(
    strategies.map((s) => [
      s.name,
      s.runs.map(finalAccuracy).filter((f): f is FinalAccuracy => f !== undefined),
    ]),
  );
  const hasReference = finals.has(REFERENCE_STRATEGY);
  const referenceFinals = finals.get(REFERENCE_STRATEGY) ?? [];
  return {
    metric: EVAL_METRIC_KEYS.meanAtK,
    accuracy: describeAccuracy([...finals.values()].flat()),
    reference: hasReference ? REFERENCE_STRATEGY : undefined,
    alpha: SIGNIFICANCE_LEVEL,
    power: TARGET_POWER,
    referenceEffect,
    strategies: strategies.map((strategy) => {
      const list = finals.get(strategy.name)!;
      const values = list.map((f) => f.value);
      const greedy = list.map((f) => f.greedyAccuracy).filter((v): v is number => v !== undefined);
      return {
        strategy: strategy.name,
        runs: strategy.runs.length,
        finals: list,
        n: values.length,
        mean: values.length > 0 ? mean(values) : undefined,
        std: values.length > 1 ? sampleStd(values) : undefined,
        greedyMean: greedy.length > 0 ? mean(greedy) : undefined,
        withoutEval: strategy.runs.filter((r) => finalAccuracy(r) === undefined).map((r) => r.dir),
        comparison:
          hasReference && strategy.name !== REFERENCE_STRATEGY
            ? compare(strategy.name, list, referenceFinals, options, referenceEffect)
            : undefined,
      };
    }),
  };
}

import { EVAL_METRIC_KEYS } from '@hicra/spec';
import { groupStrategies } from './charts.js';
import { formatPValue, formatSigned } from './html.js';
import type { ReportRun } from './load-run.js';
import {
  type BootstrapInterval,
  type BootstrapOptions,
  bootstrapMeanDifference,
  mean,
  sampleStd,
  type WelchTestResult,
  welchTTest,
} from './statistics.js';

/** The strategy every other one is compared with, when present. */
export const REFERENCE_STRATEGY = 'grpo';

/** Significance level of the report's verdicts. */
export const SIGNIFICANCE_LEVEL = 0.05;

/** One seed's final accuracy: the last evaluation's mean@k of one run. */
export interface FinalAccuracy {
  /** The run directory. */
  readonly dir: string;
  readonly seed: number | undefined;
  /** Step of the last evaluation record with the metric. */
  readonly step: number;
  readonly value: number;
}

/** A strategy compared with GRPO. */
export interface StrategyComparison {
  readonly reference: string;
  /** mean(strategy) - mean(reference). */
  readonly difference: number;
  readonly welch: WelchTestResult;
  /** Present when both sides have at least two seeds. */
  readonly bootstrap: BootstrapInterval | undefined;
  /** Welch p < 0.05; undefined when no test could be made. */
  readonly meaningful: boolean | undefined;
  /** One sentence for the page. */
  readonly statement: string;
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
  /** Runs without any evaluation value. */
  readonly withoutEval: readonly string[];
  /** Comparison with GRPO; undefined for GRPO itself or when there is no GRPO run. */
  readonly comparison: StrategyComparison | undefined;
}

export interface ReportSummary {
  /** The metric behind "final accuracy". */
  readonly metric: typeof EVAL_METRIC_KEYS.meanAtK;
  /** `grpo` when some run has that strategy. */
  readonly reference: string | undefined;
  readonly strategies: readonly StrategySummary[];
}

export interface SummarizeOptions {
  /** Bootstrap settings; default 10 000 resamples, seed 0, 95%. */
  readonly bootstrap?: BootstrapOptions;
}

function finalAccuracy(run: ReportRun): FinalAccuracy | undefined {
  for (let i = run.eval.length - 1; i >= 0; i--) {
    const record = run.eval[i]!;
    const value = record[EVAL_METRIC_KEYS.meanAtK];
    if (typeof value === 'number') {
      return { dir: run.dir, seed: run.seed, step: record.step, value };
    }
  }
  return undefined;
}

function compare(
  name: string,
  values: readonly number[],
  reference: readonly number[],
  options: SummarizeOptions,
): StrategyComparison {
  const label = `${name} − ${REFERENCE_STRATEGY}`;
  if (values.length === 0 || reference.length === 0) {
    const missing = values.length === 0 ? name : REFERENCE_STRATEGY;
    return {
      reference: REFERENCE_STRATEGY,
      difference: Number.NaN,
      welch: { kind: 'not-tested', difference: Number.NaN, reason: `${missing} has no evaluation` },
      bootstrap: undefined,
      meaningful: undefined,
      statement: `No comparison: ${missing} has no final evaluation accuracy.`,
    };
  }
  const welch = welchTTest(values, reference);
  const difference = welch.difference;
  const enough = values.length >= 2 && reference.length >= 2;
  const bootstrap = enough
    ? bootstrapMeanDifference(values, reference, options.bootstrap)
    : undefined;
  const interval =
    bootstrap === undefined
      ? ''
      : `; bootstrap ${Math.round(bootstrap.level * 100)}% interval [${formatSigned(bootstrap.low)}, ${formatSigned(bootstrap.high)}]`;
  if (welch.kind === 'not-tested') {
    return {
      reference: REFERENCE_STRATEGY,
      difference,
      welch,
      bootstrap,
      meaningful: undefined,
      statement: `${label} = ${formatSigned(difference)}: not tested, ${welch.reason}${interval}.`,
    };
  }
  const meaningful = welch.pValue < SIGNIFICANCE_LEVEL;
  const p = formatPValue(welch.pValue);
  return {
    reference: REFERENCE_STRATEGY,
    difference,
    welch,
    bootstrap,
    meaningful,
    statement:
      `${label} = ${formatSigned(difference)} (Welch t = ${welch.t.toFixed(2)}, df = ${welch.df.toFixed(1)}, ` +
      `p ${p.startsWith('<') ? p : `= ${p}`}${interval}): ` +
      (meaningful
        ? `statistically meaningful at the ${SIGNIFICANCE_LEVEL * 100}% level.`
        : `not statistically meaningful at the ${SIGNIFICANCE_LEVEL * 100}% level.`),
  };
}

/**
 * Each strategy's final accuracy (the last evaluation's `eval/mean_at_k` of each seed) with
 * mean, std and n, and for every strategy other than GRPO a Welch t-test and a seeded
 * bootstrap interval of the difference from GRPO, or a plain statement of why not.
 */
export function summarizeRuns(
  runs: readonly ReportRun[],
  options: SummarizeOptions = {},
): ReportSummary {
  const strategies = groupStrategies(runs);
  const finals = new Map(
    strategies.map((s) => [
      s.name,
      s.runs.map(finalAccuracy).filter((f): f is FinalAccuracy => f !== undefined),
    ]),
  );
  const hasReference = finals.has(REFERENCE_STRATEGY);
  const referenceValues = (finals.get(REFERENCE_STRATEGY) ?? []).map((f) => f.value);
  return {
    metric: EVAL_METRIC_KEYS.meanAtK,
    reference: hasReference ? REFERENCE_STRATEGY : undefined,
    strategies: strategies.map((strategy) => {
      const list = finals.get(strategy.name)!;
      const values = list.map((f) => f.value);
      return {
        strategy: strategy.name,
        runs: strategy.runs.length,
        finals: list,
        n: values.length,
        mean: values.length > 0 ? mean(values) : undefined,
        std: values.length > 1 ? sampleStd(values) : undefined,
        withoutEval: strategy.runs.filter((r) => finalAccuracy(r) === undefined).map((r) => r.dir),
        comparison:
          hasReference && strategy.name !== REFERENCE_STRATEGY
            ? compare(strategy.name, values, referenceValues, options)
            : undefined,
      };
    }),
  };
}

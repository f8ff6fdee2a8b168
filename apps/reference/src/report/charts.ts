import { EVAL_METRIC_KEYS, type MetricRecordV1, TRAIN_METRIC_KEYS } from '@hicra/spec';
import type { ReportRun } from './load-run.js';
import { mean, sampleStd } from './statistics.js';

/** One chart of the report: a metric over steps, one line per strategy. */
export interface ReportChartDefinition {
  /** Stable id (used in the page's element ids). */
  readonly id: string;
  readonly title: string;
  /** The metric key (see `TRAIN_METRIC_KEYS` / `EVAL_METRIC_KEYS` of @hicra/spec). */
  readonly key: string;
  /** Which records carry the key. */
  readonly kind: 'train' | 'eval';
  /** Divide each run's values by that run's value at its first step that has the key. */
  readonly relative?: boolean;
  /** What the y axis shows. */
  readonly yLabel: string;
  /** One sentence under the title. */
  readonly description: string;
}

/** The charts of the report, in page order. */
export const REPORT_CHARTS: readonly ReportChartDefinition[] = [
  {
    id: 'eval-mean-at-k',
    title: 'Eval accuracy (mean@k)',
    key: EVAL_METRIC_KEYS.meanAtK,
    kind: 'eval',
    yLabel: 'mean@k',
    description: 'Mean accuracy over k samples per held-out problem.',
  },
  {
    id: 'eval-pass-at-k',
    title: 'Eval pass@k',
    key: EVAL_METRIC_KEYS.passAtK,
    kind: 'eval',
    yLabel: 'pass@k',
    description: 'Share of held-out problems solved by at least one of k samples.',
  },
  {
    id: 'train-accuracy',
    title: 'Train accuracy',
    key: TRAIN_METRIC_KEYS.accuracy,
    kind: 'train',
    yLabel: 'accuracy',
    description: 'Share of sampled training responses verified correct.',
  },
  {
    id: 'response-length',
    title: 'Response length',
    key: TRAIN_METRIC_KEYS.responseLengthMean,
    kind: 'train',
    yLabel: 'tokens',
    description: 'Mean response length of the sampled batch, in tokens.',
  },
  {
    id: 'execution-perplexity',
    title: 'Execution-token relative perplexity',
    key: TRAIN_METRIC_KEYS.perplexityExecution,
    kind: 'train',
    relative: true,
    yLabel: 'ratio to first step',
    description: 'Perplexity of execution tokens, divided by its value at the run’s first step.',
  },
  {
    id: 'execution-entropy',
    title: 'Execution-token relative entropy',
    key: TRAIN_METRIC_KEYS.entropyExecution,
    kind: 'train',
    relative: true,
    yLabel: 'ratio to first step',
    description: 'Token entropy of execution tokens, divided by its value at the run’s first step.',
  },
  {
    id: 'semantic-entropy',
    title: 'Planning semantic entropy',
    key: TRAIN_METRIC_KEYS.strategySemanticEntropy,
    kind: 'train',
    yLabel: 'nats',
    description: 'Entropy of the matched planning phrases in the batch (strategy diversity).',
  },
  {
    id: 'token-entropy',
    title: 'Token entropy',
    key: TRAIN_METRIC_KEYS.entropyAll,
    kind: 'train',
    yLabel: 'nats',
    description: 'Mean next-token entropy over all response tokens.',
  },
  {
    id: 'clip-fraction',
    title: 'Clip fraction',
    key: TRAIN_METRIC_KEYS.clipFraction,
    kind: 'train',
    yLabel: 'share of tokens',
    description: 'Share of loss-masked tokens whose ratio was clipped.',
  },
  {
    id: 'clip-fraction-lower',
    title: 'Clip fraction (dual clip)',
    key: TRAIN_METRIC_KEYS.clipFractionLower,
    kind: 'train',
    yLabel: 'share of tokens',
    description: 'Share of loss-masked tokens where the lower (dual) clip binds.',
  },
  {
    id: 'approx-kl',
    title: 'Approximate KL',
    key: TRAIN_METRIC_KEYS.approxKl,
    kind: 'train',
    yLabel: 'nats',
    description: 'Masked mean of old minus new log-probs of the update.',
  },
];

/** Colour-blind-safe line colours (Okabe–Ito); GRPO and HICRA always get the first two. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

/** A strategy of the report with its colour and runs. */
export interface ReportStrategy {
  readonly name: string;
  readonly color: string;
  readonly runs: readonly ReportRun[];
}

/** Strategies in page order: `grpo`, then `hicra`, then the others alphabetically. */
export function groupStrategies(runs: readonly ReportRun[]): ReportStrategy[] {
  const byName = new Map<string, ReportRun[]>();
  for (const run of runs) {
    const list = byName.get(run.strategy);
    if (list) list.push(run);
    else byName.set(run.strategy, [run]);
  }
  const rank = (name: string) => (name === 'grpo' ? 0 : name === 'hicra' ? 1 : 2);
  return [...byName.keys()]
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((name, i) => ({ name, color: PALETTE[i % PALETTE.length]!, runs: byName.get(name)! }));
}

/** One strategy's line and band in a chart; arrays are aligned with the chart's `steps`. */
export interface ReportChartSeries {
  readonly strategy: string;
  readonly color: string;
  /** Mean across the strategy's seeds that have a value at the step; null where none has. */
  readonly mean: (number | null)[];
  /** mean - sample std (n - 1); equal to the mean when one seed has a value. */
  readonly low: (number | null)[];
  /** mean + sample std. */
  readonly high: (number | null)[];
  /** Number of seeds with a value at the step. */
  readonly n: number[];
  /** Runs of the strategy that contribute at least one value. */
  readonly runs: number;
}

export interface ReportChartData {
  readonly definition: ReportChartDefinition;
  /** Union of the steps at which any run has the key, increasing. */
  readonly steps: number[];
  /** Strategies with data (strategies without any value are left out). */
  readonly series: ReportChartSeries[];
  /** Runs left out of this chart and why (e.g. a zero first value for a relative chart). */
  readonly notes: string[];
}

function runValues(
  run: ReportRun,
  definition: ReportChartDefinition,
  label: string,
  notes: string[],
): Map<number, number> {
  const records: readonly MetricRecordV1[] = definition.kind === 'train' ? run.train : run.eval;
  const values = new Map<number, number>();
  for (const record of records) {
    const value = record[definition.key];
    if (typeof value === 'number') values.set(record.step, value);
  }
  if (!definition.relative || values.size === 0) return values;
  const firstStep = Math.min(...values.keys());
  const base = values.get(firstStep)!;
  if (!(base > 0)) {
    notes.push(
      `${label}: ${definition.key} is ${base} at step ${firstStep}, so it cannot be shown relative to its first value`,
    );
    return new Map();
  }
  for (const [step, value] of values) values.set(step, value / base);
  return values;
}

/**
 * Aggregates one metric across seeds: per strategy and step, the mean of the seeds that have
 * a value there and a mean ± sample-std band. `labels` names runs in notes.
 */
export function chartData(
  definition: ReportChartDefinition,
  strategies: readonly ReportStrategy[],
  labels: ReadonlyMap<ReportRun, string> = new Map(),
): ReportChartData {
  const notes: string[] = [];
  const perStrategy = strategies.map((strategy) => ({
    strategy,
    runs: strategy.runs
      .map((run) => runValues(run, definition, labels.get(run) ?? run.dir, notes))
      .filter((values) => values.size > 0),
  }));
  const stepSet = new Set<number>();
  for (const { runs } of perStrategy)
    for (const values of runs) for (const s of values.keys()) stepSet.add(s);
  const steps = [...stepSet].sort((a, b) => a - b);
  const series: ReportChartSeries[] = [];
  for (const { strategy, runs } of perStrategy) {
    if (runs.length === 0) continue;
    const line: ReportChartSeries = {
      strategy: strategy.name,
      color: strategy.color,
      mean: [],
      low: [],
      high: [],
      n: [],
      runs: runs.length,
    };
    for (const step of steps) {
      const values = runs.flatMap((v) => (v.has(step) ? [v.get(step)!] : []));
      line.n.push(values.length);
      if (values.length === 0) {
        line.mean.push(null);
        line.low.push(null);
        line.high.push(null);
        continue;
      }
      const m = mean(values);
      const spread = values.length > 1 ? sampleStd(values) : 0;
      line.mean.push(m);
      line.low.push(m - spread);
      line.high.push(m + spread);
    }
    series.push(line);
  }
  return { definition, steps, series, notes };
}

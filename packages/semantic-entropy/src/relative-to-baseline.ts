import {
  describeValue,
  InvalidArgumentError,
  InvalidValueError,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { SOURCE } from './check.js';

/**
 * `value / baseline`: a metric relative to its value at a baseline step (the paper plots
 * token entropy and perplexity relative to step 0, so 1 means "unchanged", 0.5 "halved").
 * A zero or non-finite baseline, or a non-finite value, is an `InvalidValueError`.
 */
export function relativeToBaseline(value: number, baseline: number, name = 'value'): number {
  if (typeof baseline !== 'number' || !Number.isFinite(baseline) || baseline === 0) {
    throw new InvalidValueError(
      `relativeToBaseline: the baseline of ${name} is ${typeof baseline === 'number' ? baseline : describeValue(baseline)}; it must be finite and non-zero`,
      { source: SOURCE, details: { name, baseline: String(baseline) } },
    );
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidValueError(
      `relativeToBaseline: ${name} is ${typeof value === 'number' ? value : describeValue(value)}; it must be finite`,
      { source: SOURCE, details: { name, value: String(value) } },
    );
  }
  return value / baseline;
}

/** The keys {@link relativeMetrics} converts by default: what the paper plots relative to step 0. */
export const RELATIVE_METRIC_KEYS: readonly string[] = [
  TRAIN_METRIC_KEYS.entropyAll,
  TRAIN_METRIC_KEYS.entropyPlanning,
  TRAIN_METRIC_KEYS.entropyExecution,
  TRAIN_METRIC_KEYS.perplexityAll,
  TRAIN_METRIC_KEYS.perplexityPlanning,
  TRAIN_METRIC_KEYS.perplexityExecution,
];

/**
 * Each of `keys` (default {@link RELATIVE_METRIC_KEYS}) of a metric record divided by its value
 * in the baseline record (e.g. step 0). A key missing from either record is left out (the
 * metric was undefined at one of the steps); a zero or non-finite baseline is an error naming
 * the key.
 */
export function relativeMetrics(
  record: Readonly<Record<string, unknown>>,
  baseline: Readonly<Record<string, unknown>>,
  options: { readonly keys?: readonly string[] } = {},
): Record<string, number> {
  for (const [name, value] of [
    ['record', record],
    ['baseline', baseline],
  ] as const) {
    if (typeof value !== 'object' || value === null) {
      throw new InvalidArgumentError(
        `relativeMetrics: ${name} must be a metric record, got ${describeValue(value)}`,
        { source: SOURCE, details: { argument: name } },
      );
    }
  }
  const keys = options.keys ?? RELATIVE_METRIC_KEYS;
  const out: Record<string, number> = {};
  for (const key of keys) {
    const value = record[key];
    const base = baseline[key];
    if (value === undefined || base === undefined) continue;
    out[key] = relativeToBaseline(value as number, base as number, key);
  }
  return out;
}

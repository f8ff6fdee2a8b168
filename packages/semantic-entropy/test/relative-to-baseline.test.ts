import { ErrorCode, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { describe, expect, it } from 'vitest';
import { RELATIVE_METRIC_KEYS, relativeMetrics, relativeToBaseline } from '../src/index.js';
import { expectError } from './helpers.js';

const K = TRAIN_METRIC_KEYS;

describe('relative to a baseline step', () => {
  it('divides by the baseline value', () => {
    expect(relativeToBaseline(1.5, 3)).toBe(0.5);
    expect(relativeToBaseline(-2, 4)).toBe(-0.5);
    expect(relativeToBaseline(0, 4)).toBe(0);
  });

  it('converts a record (token entropy and perplexity by default), skipping undefined metrics', () => {
    const step0 = { [K.perplexityPlanning]: 2, [K.perplexityExecution]: 1.6, [K.entropyAll]: 0.8 };
    const step9 = {
      [K.perplexityPlanning]: 1.5,
      [K.perplexityExecution]: 0.8,
      [K.entropyPlanning]: 1,
      [K.strategySemanticEntropy]: 3,
    };
    expect(relativeMetrics(step9, step0)).toEqual({
      [K.perplexityPlanning]: 0.75,
      [K.perplexityExecution]: 0.5,
    });
    expect(
      relativeMetrics(
        step9,
        { ...step0, [K.strategySemanticEntropy]: 2 },
        { keys: [K.strategySemanticEntropy] },
      ),
    ).toEqual({ [K.strategySemanticEntropy]: 1.5 });
    expect(RELATIVE_METRIC_KEYS).toContain(K.perplexityAll);
  });

  it('rejects a zero or non-finite baseline and a non-finite value, naming the metric', () => {
    expectError(() => relativeToBaseline(1, 0), ErrorCode.InvalidValue, [
      'baseline of value is 0',
      'non-zero',
    ]);
    expectError(() => relativeToBaseline(1, Number.NaN, 'perplexity/all'), ErrorCode.InvalidValue, [
      'baseline of perplexity/all is NaN',
    ]);
    expectError(() => relativeToBaseline(Number.POSITIVE_INFINITY, 2), ErrorCode.InvalidValue, [
      'value is Infinity',
      'must be finite',
    ]);
    expectError(
      () => relativeMetrics({ [K.entropyAll]: 1 }, { [K.entropyAll]: 0 }),
      ErrorCode.InvalidValue,
      ['baseline of token_entropy/all is 0'],
    );
    expectError(
      () => relativeMetrics({ [K.entropyAll]: '1' }, { [K.entropyAll]: 2 }),
      ErrorCode.InvalidValue,
      ['token_entropy/all is string'],
    );
    expectError(() => relativeMetrics(null as never, {}), ErrorCode.InvalidArgument, [
      'record must be a metric record',
    ]);
  });
});

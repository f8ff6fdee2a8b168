import { ErrorCode, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import { RELATIVE_METRIC_KEYS, relativeMetrics, relativeToBaseline } from '../src/index.js';
import { SOURCE } from './helpers.js';

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
    expectHicraError(() => relativeToBaseline(1, 0), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['baseline of value is 0', 'non-zero'],
    });
    expectHicraError(() => relativeToBaseline(1, Number.NaN, 'perplexity/all'), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['baseline of perplexity/all is NaN'],
    });
    expectHicraError(() => relativeToBaseline(Number.POSITIVE_INFINITY, 2), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['value is Infinity', 'must be finite'],
    });
    expectHicraError(() => relativeMetrics({ [K.entropyAll]: 1 }, { [K.entropyAll]: 0 }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['baseline of token_entropy/all is 0'],
    });
    expectHicraError(() => relativeMetrics({ [K.entropyAll]: '1' }, { [K.entropyAll]: 2 }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['token_entropy/all is string'],
    });
    expectHicraError(() => relativeMetrics(null as never, {}), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['record must be a metric record'],
    });
  });
});

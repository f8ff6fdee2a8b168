import { describe, expect, it } from 'vitest';
import {
  type DatumV1,
  ErrorCode,
  InvalidArgumentError,
  InvalidValueError,
  MissingInputError,
  ShapeError,
  validateDatums,
} from '../src/index.js';
import { expectHicraError } from '../src/testing/index.js';

function datum(overrides: Partial<Record<keyof DatumV1, unknown>> = {}): DatumV1 {
  return {
    inputTokens: Int32Array.from([1, 2, 3]),
    targetTokens: Int32Array.from([2, 3, 4]),
    weights: Float32Array.from([0, 1, 1]),
    logProbs: Float32Array.from([0, -1.5, -0.2]),
    advantages: Float32Array.from([0, 0.5, 0.5]),
    ...overrides,
  } as DatumV1;
}

const vocabSize = 10;

describe('validateDatums', () => {
  it('returns valid datums unchanged', () => {
    const data = [datum(), datum({ weights: undefined, logProbs: undefined })];
    expect(validateDatums(data, { vocabSize })).toBe(data);
    expect(
      validateDatums([datum()], { vocabSize, requires: ['logProbs', 'advantages', 'weights'] }),
    ).toHaveLength(1);
  });

  it('names the datum, the field and both lengths when per-token arrays disagree', () => {
    const error = expectHicraError(() =>
      validateDatums([datum(), datum({ targetTokens: Int32Array.from([1, 2]) })], { vocabSize }),
    );
    expect(ShapeError.isInstance(error)).toBe(true);
    expect(error.message).toContain('datum 1');
    expect(error.message).toContain('targetTokens has length 2');
    expect(error.details).toMatchObject({
      datum: 1,
      field: 'targetTokens',
      expected: 3,
      actual: 2,
    });

    const floats = expectHicraError(() =>
      validateDatums([datum({ advantages: new Float32Array(4) })], { vocabSize }),
    );
    expect(floats.code).toBe(ErrorCode.ShapeMismatch);
    expect(floats.details).toMatchObject({ datum: 0, field: 'advantages', expected: 3, actual: 4 });
  });

  it('refuses token ids outside the vocabulary, naming the position and the value', () => {
    for (const [field, bad] of [
      ['inputTokens', -1],
      ['targetTokens', vocabSize],
    ] as const) {
      const ids = Int32Array.from([1, 2, 3]);
      ids[2] = bad;
      const error = expectHicraError(() =>
        validateDatums([datum({ [field]: ids })], { vocabSize }),
      );
      expect(InvalidValueError.isInstance(error)).toBe(true);
      expect(error.message).toContain(`${field}[2] = ${bad}`);
      expect(error.details).toMatchObject({ datum: 0, field, index: 2, value: bad, vocabSize });
    }
  });

  it('refuses non-finite advantages, weights, log-probs and reference log-probs', () => {
    for (const field of ['advantages', 'weights', 'logProbs', 'refLogProbs'] as const) {
      for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const values = Float32Array.from([0, 0.5, 0.5]);
        values[1] = value;
        const error = expectHicraError(() =>
          validateDatums([datum(), datum(), datum({ [field]: values })], { vocabSize }),
        );
        expect(error.code).toBe(ErrorCode.InvalidValue);
        expect(error.message).toContain(`datum 2: ${field}[1] is ${value}`);
        expect(error.details).toMatchObject({ datum: 2, field, index: 1 });
      }
    }
  });

  it('refuses a missing required field, naming it', () => {
    const error = expectHicraError(() =>
      validateDatums([datum(), datum({ advantages: undefined })], {
        vocabSize,
        requires: ['logProbs', 'advantages'],
      }),
    );
    expect(MissingInputError.isInstance(error)).toBe(true);
    expect(error.message).toContain('datum 1: advantages is required');
    expect(error.details).toMatchObject({ datum: 1, field: 'advantages' });
  });

  it('refuses an empty datum, an empty list and a datum longer than the context', () => {
    const empty = expectHicraError(() =>
      validateDatums(
        [
          datum({
            inputTokens: new Int32Array(0),
            targetTokens: new Int32Array(0),
            weights: undefined,
            logProbs: undefined,
            advantages: undefined,
          }),
        ],
        { vocabSize },
      ),
    );
    expect(empty.code).toBe(ErrorCode.InvalidValue);
    expect(empty.message).toContain('datum 0 is empty');

    expect(
      InvalidArgumentError.isInstance(expectHicraError(() => validateDatums([], { vocabSize }))),
    ).toBe(true);

    const long = expectHicraError(() => validateDatums([datum()], { vocabSize, contextLength: 2 }));
    expect(long.code).toBe(ErrorCode.InvalidValue);
    expect(long.details).toMatchObject({ datum: 0, length: 3, contextLength: 2 });
  });

  it('refuses wrong array types and non-objects', () => {
    const plain = expectHicraError(() =>
      validateDatums([datum({ inputTokens: [1, 2, 3] })], { vocabSize }),
    );
    expect(plain.code).toBe(ErrorCode.InvalidArgument);
    expect(plain.message).toContain('inputTokens must be an Int32Array');

    const float64 = expectHicraError(() =>
      validateDatums([datum({ weights: new Float64Array(3) })], { vocabSize }),
    );
    expect(float64.code).toBe(ErrorCode.InvalidArgument);
    expect(float64.details).toMatchObject({ field: 'weights', actualType: 'Float64Array(3)' });

    expect(expectHicraError(() => validateDatums([null as never], { vocabSize })).code).toBe(
      ErrorCode.InvalidArgument,
    );
    expect(expectHicraError(() => validateDatums('data' as never, { vocabSize })).code).toBe(
      ErrorCode.InvalidArgument,
    );
    expect(expectHicraError(() => validateDatums([datum()], { vocabSize: 0 })).code).toBe(
      ErrorCode.InvalidArgument,
    );
  });

  it('prefixes messages with the caller', () => {
    const error = expectHicraError(() =>
      validateDatums([datum({ targetTokens: new Int32Array(1) })], {
        vocabSize,
        source: '@hicra/policy',
      }),
    );
    expect(error.source).toBe('@hicra/policy');
    expect(error.message.startsWith('@hicra/policy: ')).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  type RolloutBatchV1,
  responseLengths,
  validateRolloutBatch,
} from '../src/index.js';
import { expectHicraError } from '../src/testing/index.js';
import { makeBatch } from './helpers.js';

/** The HicraError validateRolloutBatch throws for `batch`; any other outcome fails the test. */
const errorOf = (batch: unknown, options?: Parameters<typeof validateRolloutBatch>[1]) =>
  expectHicraError(() => validateRolloutBatch(batch as RolloutBatchV1, options));

describe('validateRolloutBatch', () => {
  it('accepts a valid batch with every optional field and returns it', () => {
    const batch = makeBatch();
    expect(validateRolloutBatch(batch)).toBe(batch);
  });

  it('accepts a minimal batch and an empty batch', () => {
    const {
      tokenRewards,
      oldLogProbs,
      refLogProbs,
      entropies,
      values,
      planningMask,
      responseTexts,
      tokenSpans,
      ...minimal
    } = makeBatch();
    void [
      tokenRewards,
      oldLogProbs,
      refLogProbs,
      entropies,
      values,
      planningMask,
      responseTexts,
      tokenSpans,
    ];
    expect(() => validateRolloutBatch(minimal)).not.toThrow();
    const empty: RolloutBatchV1 = {
      batchSize: 0,
      seqLen: 0,
      groupIds: new Int32Array(0),
      prompts: { groupIds: new Int32Array(0), texts: [] },
      tokenIds: new Int32Array(0),
      responseMask: new Uint8Array(0),
      rewards: new Float32Array(0),
    };
    expect(() => validateRolloutBatch(empty)).not.toThrow();
  });

  it('accepts garbage values at padding positions of float fields', () => {
    const oldLogProbs = makeBatch().oldLogProbs!.slice();
    oldLogProbs[6] = Number.NaN; // response 1, token 2: padding
    expect(() => validateRolloutBatch(makeBatch({ oldLogProbs }))).not.toThrow();
  });

  // Each field wrong in turn: [description, overrides, expected code, fragments of the message].
  const cases: [string, Partial<Record<keyof RolloutBatchV1, unknown>>, string, string[]][] = [
    ['negative batchSize', { batchSize: -1 }, ErrorCode.InvalidValue, ['batchSize', '-1']],
    ['fractional seqLen', { seqLen: 2.5 }, ErrorCode.InvalidValue, ['seqLen', '2.5']],
    [
      'groupIds too short',
      { groupIds: Int32Array.from([7, 7]) },
      ErrorCode.ShapeMismatch,
      ['groupIds', 'length 2', 'batchSize = 3'],
    ],
    [
      'groupIds wrong dtype',
      { groupIds: Float32Array.from([7, 7, 2]) },
      ErrorCode.InvalidArgument,
      ['groupIds', 'Int32Array', 'Float32Array(3)'],
    ],
    [
      'groupIds without prompt',
      { groupIds: Int32Array.from([7, 7, 9]) },
      ErrorCode.InvalidValue,
      ['groupIds[2] = 9', 'no prompt'],
    ],
    [
      'tokenIds too long',
      { tokenIds: new Int32Array(13) },
      ErrorCode.ShapeMismatch,
      ['tokenIds', 'length 13', 'batchSize·seqLen = 3·4 = 12'],
    ],
    [
      'responseMask as array',
      { responseMask: [1, 1] },
      ErrorCode.InvalidArgument,
      ['responseMask', 'Uint8Array', 'Array(2)'],
    ],
    [
      'responseMask not 0/1',
      { responseMask: Uint8Array.from([1, 1, 1, 1, 1, 2, 0, 0, 1, 0, 0, 0]) },
      ErrorCode.InvalidValue,
      ['responseMask', 'holds 2', 'response 1, token 1', 'flat index 5'],
    ],
    [
      'rewards wrong length',
      { rewards: new Float32Array(4) },
      ErrorCode.ShapeMismatch,
      ['rewards', 'length 4', 'batchSize = 3'],
    ],
    [
      'NaN reward',
      { rewards: Float32Array.from([1, Number.NaN, 0]) },
      ErrorCode.InvalidValue,
      ['rewards[1]', 'NaN', 'response 1'],
    ],
    [
      'infinite reward',
      { rewards: Float32Array.from([1, 0, Number.POSITIVE_INFINITY]) },
      ErrorCode.InvalidValue,
      ['rewards[2]', 'Infinity'],
    ],
    [
      'tokenRewards wrong length',
      { tokenRewards: new Float32Array(3) },
      ErrorCode.ShapeMismatch,
      ['tokenRewards', 'length 3'],
    ],
    [
      'oldLogProbs wrong dtype',
      { oldLogProbs: new Float64Array(12) },
      ErrorCode.InvalidArgument,
      ['oldLogProbs', 'Float32Array', 'Float64Array(12)'],
    ],
    [
      'refLogProbs NaN at a valid token',
      { refLogProbs: Float32Array.from({ length: 12 }, (_, k) => (k === 4 ? Number.NaN : 0)) },
      ErrorCode.InvalidValue,
      ['refLogProbs', 'response 1, token 0', 'flat index 4'],
    ],
    [
      'entropies wrong length',
      { entropies: new Float32Array(11) },
      ErrorCode.ShapeMismatch,
      ['entropies', 'length 11'],
    ],
    [
      'values infinite at a valid token',
      {
        values: Float32Array.from({ length: 12 }, (_, k) =>
          k === 0 ? Number.NEGATIVE_INFINITY : 0,
        ),
      },
      ErrorCode.InvalidValue,
      ['values', 'response 0, token 0'],
    ],
    [
      'planningMask not 0/1',
      { planningMask: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255]) },
      ErrorCode.InvalidValue,
      ['planningMask', 'holds 255', 'response 2, token 3'],
    ],
    [
      'responseTexts wrong count',
      { responseTexts: ['a', 'b'] },
      ErrorCode.ShapeMismatch,
      ['responseTexts', '3 strings'],
    ],
    [
      'responseTexts non-string',
      { responseTexts: ['a', 3, 'c'] },
      ErrorCode.InvalidArgument,
      ['responseTexts[1]'],
    ],
    [
      'tokenSpans wrong length',
      { tokenSpans: new Int32Array(12) },
      ErrorCode.ShapeMismatch,
      ['tokenSpans', 'length 12', '24'],
    ],
    [
      'tokenSpans without texts',
      { responseTexts: undefined },
      ErrorCode.MissingInput,
      ['tokenSpans', 'responseTexts'],
    ],
    [
      'tokenSpans out of the text',
      {
        tokenSpans: Int32Array.from([
          0, 5, 5, 7, 7, 12, 12, 99, 0, 2, 2, 5, -1, -1, -1, -1, 0, 2, -1, -1, -1, -1, -1, -1,
        ]),
      },
      ErrorCode.InvalidValue,
      ['tokenSpans', 'response 0, token 3', '[12, 99)', 'text length 16'],
    ],
    [
      'tokenSpans not monotonic',
      {
        tokenSpans: Int32Array.from([
          0, 5, 5, 7, 1, 3, 12, 16, 0, 2, 2, 5, -1, -1, -1, -1, 0, 2, -1, -1, -1, -1, -1, -1,
        ]),
      },
      ErrorCode.InvalidValue,
      ['not monotonic', 'response 0, token 2'],
    ],
    [
      'valid token without a span',
      {
        tokenSpans: Int32Array.from([
          0, 5, 5, 7, 7, 12, 12, 16, 0, 2, -1, -1, -1, -1, -1, -1, 0, 2, -1, -1, -1, -1, -1, -1,
        ]),
      },
      ErrorCode.InvalidValue,
      ['(-1, -1)', 'response 1, token 1'],
    ],
    ['prompts missing', { prompts: undefined }, ErrorCode.InvalidArgument, ['prompts']],
    [
      'prompt texts wrong count',
      { prompts: { groupIds: Int32Array.from([7, 2]), texts: ['x'] } },
      ErrorCode.ShapeMismatch,
      ['prompts.texts', '2 strings'],
    ],
    [
      'duplicate prompt group id',
      { prompts: { groupIds: Int32Array.from([7, 7]), texts: ['x', 'y'] } },
      ErrorCode.InvalidValue,
      ['prompts.groupIds[1]', 'repeats group id 7'],
    ],
    [
      'prompt tokens without offsets',
      {
        prompts: {
          groupIds: Int32Array.from([7, 2]),
          texts: ['x', 'y'],
          tokenIds: Int32Array.from([1]),
        },
      },
      ErrorCode.MissingInput,
      ['tokenOffsets'],
    ],
    [
      'prompt offsets wrong length',
      {
        prompts: {
          groupIds: Int32Array.from([7, 2]),
          texts: ['x', 'y'],
          tokenIds: Int32Array.from([1, 2]),
          tokenOffsets: Int32Array.from([0, 2]),
        },
      },
      ErrorCode.ShapeMismatch,
      ['tokenOffsets', 'length 2', 'prompts + 1 = 3'],
    ],
    [
      'prompt offsets decreasing',
      {
        prompts: {
          groupIds: Int32Array.from([7, 2]),
          texts: ['x', 'y'],
          tokenIds: Int32Array.from([1, 2]),
          tokenOffsets: Int32Array.from([0, 3, 2]),
        },
      },
      ErrorCode.InvalidValue,
      ['tokenOffsets decreases at index 2'],
    ],
  ];

  it.each(cases)(
    'rejects %s with a message naming the field',
    (_name, overrides, code, fragments) => {
      const error = errorOf(makeBatch(overrides));
      expect(error.code).toBe(code);
      for (const fragment of fragments) expect(error.message).toContain(fragment);
      expect(error.message.startsWith('@hicra/spec: ')).toBe(true);
    },
  );

  it('rejects a non-object batch', () => {
    expect(errorOf(null).code).toBe(ErrorCode.InvalidArgument);
    expect(errorOf(42).message).toContain('number 42');
  });

  it('names the caller and enforces required optional fields', () => {
    const { planningMask, ...rest } = makeBatch();
    void planningMask;
    const error = errorOf(rest, { source: '@hicra/advantage', require: ['planningMask'] });
    expect(error.code).toBe(ErrorCode.MissingInput);
    expect(error.message).toMatch(/^@hicra\/advantage: RolloutBatchV1\.planningMask is required/);
    expect(error.details).toEqual({ field: 'planningMask' });
  });

  it('skips finiteness checks when asked', () => {
    const batch = makeBatch({ rewards: Float32Array.from([Number.NaN, 0, 0]) });
    expect(() => validateRolloutBatch(batch, { checkFinite: false })).not.toThrow();
  });

  it('reports structured details for shape errors', () => {
    const error = errorOf(makeBatch({ tokenIds: new Int32Array(5) }));
    expect(error.details).toEqual({ field: 'tokenIds', expected: 12, actual: 5 });
  });
});

describe('responseLengths', () => {
  it('counts valid tokens per response', () => {
    expect(Array.from(responseLengths(makeBatch()))).toEqual([4, 2, 1]);
  });
});

describe('validateRolloutBatch mask checks, four entries at a time', () => {
  it('names the first entry above 1 at every position and byte offset of a long mask', () => {
    const batchSize = 3;
    const seqLen = 11; // rows that straddle the mask words
    const tokens = batchSize * seqLen;
    for (const shift of [0, 1, 2, 3]) {
      for (let at = 0; at < tokens; at++) {
        const responseMask = new Uint8Array(tokens + shift).subarray(shift);
        responseMask.fill(1);
        responseMask[at] = 2 + (at % 254);
        if (at + 3 < tokens) responseMask[at + 3] = 7; // a later bad entry is not the one named
        const error = expectHicraError(() =>
          validateRolloutBatch({
            batchSize,
            seqLen,
            groupIds: new Int32Array(batchSize),
            prompts: { groupIds: Int32Array.of(0), texts: [''] },
            tokenIds: new Int32Array(tokens),
            responseMask,
            rewards: new Float32Array(batchSize),
          }),
        );
        const row = Math.floor(at / seqLen);
        expect(error.message).toContain(
          `RolloutBatchV1.responseMask holds ${responseMask[at]} at response ${row}, token ${at - row * seqLen} (flat index ${at}); masks hold only 0 and 1`,
        );
      }
    }
  });
});

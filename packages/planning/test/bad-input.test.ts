import { ErrorCode, type PlanningInputV1 } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import {
  entropyForks,
  intersectClassifiers,
  placeboNgrams,
  strategicGrams,
  unionClassifiers,
} from '../src/index.js';

/** Two responses, T = 3: "wait, ok" (2 tokens + padding) and "so" (1 token + padding). */
function good(): PlanningInputV1 {
  return {
    batchSize: 2,
    seqLen: 3,
    texts: ['wait, ok', 'so'],
    tokenSpans: Int32Array.from([0, 4, 4, 8, -1, -1, 0, 2, -1, -1, -1, -1]),
    responseMask: Uint8Array.from([1, 1, 0, 1, 0, 0]),
    entropies: Float32Array.from([1, 2, 0, 3, 0, 0]),
  };
}

const cases: [string, (input: PlanningInputV1) => unknown, string, string[]][] = [
  ['not an object', () => null, ErrorCode.InvalidArgument, ['input must be an object']],
  [
    'texts and spans of different counts',
    (i) => ({ ...i, texts: ['wait, ok'] }),
    ErrorCode.ShapeMismatch,
    ['texts has 1 entries but batchSize is 2'],
  ],
  [
    'texts not an array',
    (i) => ({ ...i, texts: 'wait, ok' }),
    ErrorCode.InvalidArgument,
    ['texts must be an array of strings'],
  ],
  [
    'a text that is not a string',
    (i) => ({ ...i, texts: ['wait, ok', 3] }),
    ErrorCode.InvalidArgument,
    ['texts[1] must be a string'],
  ],
  [
    'spans of the wrong length',
    (i) => ({ ...i, tokenSpans: new Int32Array(10) }),
    ErrorCode.ShapeMismatch,
    ['tokenSpans has length 10', 'batchSize·seqLen·2 = 12'],
  ],
  [
    'spans as a plain array',
    (i) => ({ ...i, tokenSpans: [0, 4] }),
    ErrorCode.InvalidArgument,
    ['tokenSpans must be an Int32Array', 'Array(2)'],
  ],
  [
    'a span beyond the text',
    (i) => ({ ...i, tokenSpans: Int32Array.from([0, 4, 4, 9, -1, -1, 0, 2, -1, -1, -1, -1]) }),
    ErrorCode.InvalidValue,
    ['[4, 9) at response 0, token 1', 'text length 8'],
  ],
  [
    'a negative span start',
    (i) => ({ ...i, tokenSpans: Int32Array.from([0, 4, 4, 8, -1, -1, -2, 2, -1, -1, -1, -1]) }),
    ErrorCode.InvalidValue,
    ['[-2, 2) at response 1, token 0'],
  ],
  [
    'a span that ends before it starts',
    (i) => ({ ...i, tokenSpans: Int32Array.from([4, 0, 4, 8, -1, -1, 0, 2, -1, -1, -1, -1]) }),
    ErrorCode.InvalidValue,
    ['[4, 0) at response 0, token 0', '0 <= start <= end'],
  ],
  [
    'spans that are not monotonic',
    (i) => ({ ...i, tokenSpans: Int32Array.from([4, 8, 0, 4, -1, -1, 0, 2, -1, -1, -1, -1]) }),
    ErrorCode.InvalidValue,
    ['not monotonic at response 0, token 1', '[0, 4) after [4, 8)'],
  ],
  [
    'a valid token without a span',
    (i) => ({ ...i, responseMask: Uint8Array.from([1, 1, 1, 1, 0, 0]) }),
    ErrorCode.InvalidValue,
    ['(-1, -1) at response 0, token 2', 'a valid token'],
  ],
  [
    'a response mask of the wrong length',
    (i) => ({ ...i, responseMask: new Uint8Array(5) }),
    ErrorCode.ShapeMismatch,
    ['responseMask has length 5', 'batchSize·seqLen = 2·3 = 6'],
  ],
  [
    'a response mask with a 2',
    (i) => ({ ...i, responseMask: Uint8Array.from([1, 2, 0, 1, 0, 0]) }),
    ErrorCode.InvalidValue,
    ['responseMask holds 2 at response 0, token 1'],
  ],
  [
    'a negative batch size',
    (i) => ({ ...i, batchSize: -1 }),
    ErrorCode.InvalidValue,
    ['batchSize must be a non-negative integer, got -1'],
  ],
  [
    'a fractional sequence length',
    (i) => ({ ...i, seqLen: 1.5 }),
    ErrorCode.InvalidValue,
    ['seqLen must be a non-negative integer, got 1.5'],
  ],
  [
    'entropies of the wrong length',
    (i) => ({ ...i, entropies: new Float32Array(2) }),
    ErrorCode.ShapeMismatch,
    ['entropies has length 2'],
  ],
  [
    'entropies as float64',
    (i) => ({ ...i, entropies: new Float64Array(6) }),
    ErrorCode.InvalidArgument,
    ['entropies must be a Float32Array', 'Float64Array(6)'],
  ],
  [
    'a negative step',
    (i) => ({ ...i, step: -1 }),
    ErrorCode.InvalidValue,
    ['step must be a non-negative integer', 'got -1'],
  ],
  [
    'a fractional step',
    (i) => ({ ...i, step: 1.5 }),
    ErrorCode.InvalidValue,
    ['step must be a non-negative integer', 'got 1.5'],
  ],
  [
    'a step that is not a number',
    (i) => ({ ...i, step: '3' }),
    ErrorCode.InvalidValue,
    ['step must be a non-negative integer', 'got string'],
  ],
];

describe('every classifier rejects malformed input with an error naming the field', () => {
  const classifiers = {
    'strategic-grams': strategicGrams,
    'entropy-forks': entropyForks,
    'placebo-ngrams': placeboNgrams,
    union: unionClassifiers([strategicGrams]),
    intersection: intersectClassifiers([strategicGrams]),
  };
  for (const [name, classifier] of Object.entries(classifiers)) {
    it.each(cases)(`${name}: %s`, (_, mutate, code, fragments) => {
      const error = expectHicraError(() => classifier.classify(mutate(good()) as PlanningInputV1));
      expect(error.code).toBe(code);
      expect(error.message).toContain('@hicra/planning');
      expect(error.message).toContain(`${name}.classify`);
      for (const f of fragments) expect(error.message).toContain(f);
    });
  }

  it('the good input passes every classifier (the cases above fail for their own reason)', () => {
    for (const c of Object.values(classifiers)) expect(() => c.classify(good())).not.toThrow();
  });

  it('padding spans are not read: garbage there is accepted', () => {
    const input = {
      ...good(),
      tokenSpans: Int32Array.from([0, 4, 4, 8, 99, -5, 0, 2, 7, 7, -1, -1]),
    };
    expect(Array.from(strategicGrams.classify(input).mask)).toEqual([1, 0, 0, 1, 0, 0]);
  });

  it('without a response mask, a token is valid iff its span is not (-1, -1)', () => {
    const { responseMask: _, ...input } = good();
    expect(Array.from(strategicGrams.classify(input).mask)).toEqual([1, 0, 0, 1, 0, 0]);
  });

  it('an empty batch classifies to empty results', () => {
    const input = { batchSize: 0, seqLen: 4, texts: [], tokenSpans: new Int32Array(0) };
    const result = strategicGrams.classify(input);
    expect(result.mask).toHaveLength(0);
    expect(result.matches).toEqual([]);
  });

  it('findMatches and findOccurrences need a string', () => {
    for (const f of [
      () => strategicGrams.findMatches(3 as never),
      () => strategicGrams.findOccurrences(null as never),
    ]) {
      const error = expectHicraError(f);
      expect(error.code).toBe(ErrorCode.InvalidArgument);
      expect(error.message).toContain('text must be a string');
    }
  });
});

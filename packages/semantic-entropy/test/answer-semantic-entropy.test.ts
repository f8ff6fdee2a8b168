import { type EmbedderV1, ErrorCode, EVAL_METRIC_KEYS } from '@hicra/spec';
import { expectHicraError, expectHicraRejection } from '@hicra/spec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  answerSemanticEntropy,
  answerSemanticEntropyMetrics,
  answerSemanticEntropySync,
  clusterAnswers,
  clusterAnswersSync,
  createCosineJudge,
  createExactMatchJudge,
  createPairwiseJudge,
  discreteAnswerEntropy,
  type EquivalenceJudge,
  exactMatchJudge,
  likelihoodWeightedAnswerEntropy,
  normalizeAnswer,
} from '../src/index.js';
import { SOURCE } from './helpers.js';

const plogp = (p: number) => p * Math.log(p);

/** A pairwise exact-match judge that counts its calls. */
function countingJudge(asynchronous = false): EquivalenceJudge & { calls: number } {
  const judge = {
    calls: 0,
    ...createPairwiseJudge({
      name: 'counting',
      equivalent: (a, b) => {
        judge.calls++;
        return asynchronous ? Promise.resolve(a === b) : a === b;
      },
    }),
  };
  return judge;
}

/**
 * A tiny deterministic embedder: counts of 'x', 'y' and 'z' in the text. "xx" and "x" point
 * the same way (cosine 1), "x" and "y" are orthogonal, "xy" is at 45° to both (cosine 0.707).
 */
function letterEmbedder(asynchronous = false): EmbedderV1 & { calls: number } {
  const embedder = {
    dimension: 3,
    calls: 0,
    embed(texts: readonly string[]) {
      embedder.calls++;
      const out = new Float32Array(texts.length * 3);
      texts.forEach((text, i) => {
        for (const char of text) {
          const d = 'xyz'.indexOf(char);
          if (d >= 0) out[i * 3 + d]! += 1;
        }
      });
      return asynchronous ? Promise.resolve(out) : out;
    },
  };
  return embedder;
}

describe('greedy clustering', () => {
  it('compares each answer with class representatives only (counted calls)', () => {
    const judge = countingJudge();
    const clusters = clusterAnswersSync(['a', 'a', 'b', 'c', 'b', 'a'], judge);
    expect(Array.from(clusters.assignments)).toEqual([0, 0, 1, 2, 1, 0]);
    expect(Array.from(clusters.representatives)).toEqual([0, 2, 3]);
    expect(Array.from(clusters.sizes)).toEqual([3, 2, 1]);
    // answer 1: 1 call; 2: 1; 3: 2; 4: 2; 5: 1
    expect(judge.calls).toBe(7);
    expect(clusters.judgeCalls).toBe(7);
  });

  it('property: judge calls stay within n·k and match the greedy count exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { maxLength: 60 }),
        (answers) => {
          const judge = countingJudge();
          const clusters = clusterAnswersSync(answers, judge);
          const n = answers.length;
          const k = clusters.sizes.length;
          expect(judge.calls).toBe(clusters.judgeCalls);
          expect(judge.calls).toBeLessThanOrEqual(n * k);
          let expected = 0;
          const seen: string[] = [];
          for (const answer of answers) {
            const at = seen.indexOf(answer);
            expected += at >= 0 ? at + 1 : seen.length;
            if (at < 0) seen.push(answer);
          }
          expect(judge.calls).toBe(expected);
        },
      ),
    );
  });

  it('runs asynchronous judges, and refuses them in the sync variant', async () => {
    const judge = countingJudge(true);
    const clusters = await clusterAnswers(['a', 'b', 'a'], judge);
    expect(Array.from(clusters.sizes)).toEqual([2, 1]);
    expect(judge.calls).toBe(2);
    expectHicraError(() => clusterAnswersSync(['a', 'b'], countingJudge(true)), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['judge "counting" is asynchronous', 'use clusterAnswers'],
    });
    const asyncBind: EquivalenceJudge = { name: 'slow', bind: async () => () => true };
    expectHicraError(() => clusterAnswersSync(['a'], asyncBind), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['judge "slow" is asynchronous'],
    });
    expect(Array.from((await clusterAnswers(['a', 'b'], asyncBind)).sizes)).toEqual([2]);
  });

  it('exact match normalises case, width and whitespace', () => {
    expect(normalizeAnswer('  The\u00a0 ANSWER\n')).toBe('the answer');
    expect(normalizeAnswer('ｘ＝２')).toBe('x=2');
    const clusters = clusterAnswersSync(
      ['42', ' 42 ', '４２', '43', 'Forty  Two', 'forty two'],
      exactMatchJudge,
    );
    expect(Array.from(clusters.sizes)).toEqual([3, 1, 2]);
    const custom = createExactMatchJudge({ normalize: (s) => s.replace(/[^0-9]/g, '') });
    expect(Array.from(clusterAnswersSync(['x = 4', '4.', 'five'], custom).sizes)).toEqual([2, 1]);
  });

  it('cosine judge: one embed call per prompt, threshold on cosine similarity', async () => {
    const embedder = letterEmbedder();
    const strict = createCosineJudge({ embedder });
    const answers = ['xx', 'x', 'y', 'xy', 'yyy'];
    expect(Array.from(clusterAnswersSync(answers, strict).assignments)).toEqual([0, 0, 1, 2, 1]);
    expect(embedder.calls).toBe(1);
    const loose = createCosineJudge({ embedder, threshold: 0.7 });
    expect(Array.from(clusterAnswersSync(answers, loose).assignments)).toEqual([0, 0, 1, 0, 1]);
    const asyncJudge = createCosineJudge({ embedder: letterEmbedder(true) });
    expect(Array.from((await clusterAnswers(answers, asyncJudge)).assignments)).toEqual([
      0, 0, 1, 2, 1,
    ]);
    expectHicraError(() => clusterAnswersSync(answers, asyncJudge), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['judge "cosine" is asynchronous'],
    });
  });
});

describe('answer-level semantic entropy', () => {
  const clusters = clusterAnswersSync(['4', '4', '5', 'four'], exactMatchJudge);

  it('discrete estimator: p(C) = |C| / M (hand-computed)', () => {
    // sizes 2, 1, 1 -> 0.5 ln 2 + 0.5 ln 4
    expect(discreteAnswerEntropy(clusters)).toBeCloseTo(1.5 * Math.log(2), 15);
    expect(discreteAnswerEntropy(clusters, { base: 2 })).toBeCloseTo(1.5, 15);
  });

  it('likelihood-weighted estimator: p(C) ∝ Σ exp(ℓ), stable far from 0 (hand-computed)', () => {
    const logProbs = [Math.log(0.4), Math.log(0.2), Math.log(0.3), Math.log(0.1)];
    const expected = -(plogp(0.6) + plogp(0.3) + plogp(0.1));
    expect(likelihoodWeightedAnswerEntropy(clusters, logProbs)).toBeCloseTo(expected, 14);
    // shifting every log-prob by a constant changes nothing, even where exp() underflows
    const far = Float64Array.from(logProbs, (l) => l - 5000);
    expect(likelihoodWeightedAnswerEntropy(clusters, far)).toBeCloseTo(expected, 12);
    expect(likelihoodWeightedAnswerEntropy(clusters, Float32Array.from(logProbs))).toBeCloseTo(
      expected,
      6,
    );
    // equal likelihoods give the discrete estimator
    expect(likelihoodWeightedAnswerEntropy(clusters, [-3, -3, -3, -3])).toBeCloseTo(
      discreteAnswerEntropy(clusters),
      14,
    );
  });

  it('property: 0 for one class, ln n for n singletons, invariant to the order of answers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.string(), (n, answer) => {
        const one = clusterAnswersSync(new Array(n).fill(answer), exactMatchJudge);
        expect(discreteAnswerEntropy(one)).toBe(0);
        expect(likelihoodWeightedAnswerEntropy(one, new Array(n).fill(-2))).toBe(0);
        const singletons = clusterAnswersSync(
          Array.from({ length: n }, (_, i) => `a${i}`),
          exactMatchJudge,
        );
        expect(discreteAnswerEntropy(singletons)).toBe(Math.log(n));
        expect(likelihoodWeightedAnswerEntropy(singletons, new Array(n).fill(-7))).toBeCloseTo(
          Math.log(n),
          12,
        );
      }),
    );
    fc.assert(
      fc.property(
        fc
          .array(fc.constantFrom('1', '2', '3', 'x'), { maxLength: 30 })
          .chain((answers) =>
            fc.tuple(
              fc.constant(answers),
              fc.shuffledSubarray(answers, { minLength: answers.length }),
            ),
          ),
        ([answers, shuffled]) => {
          expect(discreteAnswerEntropy(clusterAnswersSync(shuffled, exactMatchJudge))).toBe(
            discreteAnswerEntropy(clusterAnswersSync(answers, exactMatchJudge)),
          );
        },
      ),
    );
  });

  it('per prompt and batch mean, sync and async alike', async () => {
    const input = {
      answers: ['4', '4', '5', 'four', 'x', 'x', 'y'],
      groupIds: Int32Array.from([3, 3, 3, 3, 9, 9, 9]),
      sequenceLogProbs: [Math.log(0.4), Math.log(0.2), Math.log(0.3), Math.log(0.1), -1, -1, -1],
    };
    const result = answerSemanticEntropySync(input);
    expect(result.groups.map((g) => g.groupId)).toEqual([3, 9]);
    expect(Array.from(result.groups[1]!.indices)).toEqual([4, 5, 6]);
    const second = -(plogp(2 / 3) + plogp(1 / 3));
    expect(result.groups[0]!.discrete).toBeCloseTo(1.5 * Math.log(2), 15);
    expect(result.groups[1]!.discrete).toBeCloseTo(second, 15);
    expect(result.groups[1]!.likelihoodWeighted).toBeCloseTo(second, 14);
    expect(result.meanDiscrete).toBeCloseTo((1.5 * Math.log(2) + second) / 2, 15);
    expect(result.meanLikelihoodWeighted).toBeCloseTo(
      (-(plogp(0.6) + plogp(0.3) + plogp(0.1)) + second) / 2,
      14,
    );
    // prompt 3: 1 + 1 + 2 comparisons; prompt 9: 1 + 1
    expect(result.judgeCalls).toBe(6);
    const viaAsync = await answerSemanticEntropy(input, { judge: countingJudge(true) });
    expect(viaAsync.meanDiscrete).toBe(result.meanDiscrete);
    expect(answerSemanticEntropyMetrics(result)).toEqual({
      [EVAL_METRIC_KEYS.answerSemanticEntropy]: result.meanDiscrete,
    });
    expect(answerSemanticEntropyMetrics(result, { estimator: 'likelihood-weighted' })).toEqual({
      [EVAL_METRIC_KEYS.answerSemanticEntropy]: result.meanLikelihoodWeighted,
    });
  });

  it('an empty batch has no groups and no mean; the metric is omitted', () => {
    const result = answerSemanticEntropySync({ answers: [], groupIds: [] });
    expect(result).toEqual({ groups: [], judgeCalls: 0 });
    expect(answerSemanticEntropyMetrics(result)).toEqual({});
    expect(
      answerSemanticEntropyMetrics(answerSemanticEntropySync({ answers: ['a'], groupIds: [1] }), {
        estimator: 'likelihood-weighted',
      }),
    ).toEqual({});
    expect(discreteAnswerEntropy(clusterAnswersSync([], exactMatchJudge))).toBe(0);
  });
});

describe('answer-level bad input', () => {
  const clusters = clusterAnswersSync(['a', 'b'], exactMatchJudge);

  it.each([
    [
      'answers and group ids of different lengths',
      () => answerSemanticEntropySync({ answers: ['a', 'b'], groupIds: [0] }),
      ErrorCode.ShapeMismatch,
      ['groupIds has length 1, expected 2'],
    ],
    [
      'answers and log-probs of different lengths',
      () =>
        answerSemanticEntropySync({
          answers: ['a', 'b'],
          groupIds: [0, 0],
          sequenceLogProbs: [-1],
        }),
      ErrorCode.ShapeMismatch,
      ['sequenceLogProbs has length 1, expected 2'],
    ],
    [
      'NaN log-probs',
      () => likelihoodWeightedAnswerEntropy(clusters, [-1, Number.NaN]),
      ErrorCode.InvalidValue,
      ['sequenceLogProbs[1] = NaN', 'finite and <= 0'],
    ],
    [
      'positive log-probs',
      () => answerSemanticEntropySync({ answers: ['a'], groupIds: [0], sequenceLogProbs: [0.5] }),
      ErrorCode.InvalidValue,
      ['sequenceLogProbs[0] = 0.5'],
    ],
    [
      'a fractional group id',
      () => answerSemanticEntropySync({ answers: ['a'], groupIds: [0.5] }),
      ErrorCode.InvalidValue,
      ['groupIds[0] must be an integer, got 0.5'],
    ],
    [
      'an answer that is not a string',
      () => answerSemanticEntropySync({ answers: ['a', 3 as never], groupIds: [0, 0] }),
      ErrorCode.InvalidArgument,
      ['answers[1] must be a string', 'number'],
    ],
    [
      'a judge that is not a judge',
      () => clusterAnswersSync(['a'], (() => true) as never),
      ErrorCode.InvalidArgument,
      ['judge must be an EquivalenceJudge'],
    ],
    [
      'a judge that answers with something else than a boolean',
      () => clusterAnswersSync(['a', 'b'], { name: 'fuzzy', bind: () => () => 0.7 as never }),
      ErrorCode.InvalidValue,
      ['judge "fuzzy" returned number 0.7 for answers 0 and 1', 'expected true or false'],
    ],
    [
      'a bind that returns no comparator',
      () => clusterAnswersSync(['a'], { name: 'broken', bind: () => undefined as never }),
      ErrorCode.InvalidValue,
      ['judge "broken".bind returned undefined'],
    ],
    [
      'clusters with negative sizes',
      () => discreteAnswerEntropy({ ...clusters, sizes: Int32Array.from([3, -1]) }),
      ErrorCode.InvalidValue,
      ['clusters.sizes[1] = -1'],
    ],
    [
      'clusters whose sizes do not add up',
      () => discreteAnswerEntropy({ ...clusters, sizes: Int32Array.from([2, 1]) }),
      ErrorCode.ShapeMismatch,
      ['clusters.sizes sum to 3, expected 2'],
    ],
    [
      'a cosine threshold out of range',
      () => createCosineJudge({ embedder: letterEmbedder(), threshold: 1.5 }),
      ErrorCode.InvalidValue,
      ['threshold must be in [-1, 1], got 1.5'],
    ],
    [
      'a cosine judge without an embedder',
      () => createCosineJudge({} as never),
      ErrorCode.InvalidArgument,
      ['embedder must be an EmbedderV1'],
    ],
    [
      'an embedding of the wrong length',
      () =>
        clusterAnswersSync(
          ['x', 'y'],
          createCosineJudge({ embedder: { dimension: 3, embed: () => new Float32Array(5) } }),
        ),
      ErrorCode.ShapeMismatch,
      ['embeddings have length 5, expected 6 (2 answers x dimension 3)'],
    ],
    [
      'a NaN embedding',
      () =>
        clusterAnswersSync(
          ['x'],
          createCosineJudge({
            embedder: { dimension: 2, embed: () => Float32Array.from([1, Number.NaN]) },
          }),
        ),
      ErrorCode.InvalidValue,
      ['embedding of answers[0] has NaN at dimension 1'],
    ],
    [
      'a zero embedding',
      () => clusterAnswersSync(['x', 'q'], createCosineJudge({ embedder: letterEmbedder() })),
      ErrorCode.InvalidValue,
      ['embedding of answers[1] is the zero vector'],
    ],
    [
      'a pairwise judge without a name',
      () => createPairwiseJudge({ name: '', equivalent: () => true }),
      ErrorCode.InvalidArgument,
      ['name must be a non-empty string'],
    ],
    [
      'an unknown estimator',
      () =>
        answerSemanticEntropyMetrics({ groups: [], judgeCalls: 0 }, { estimator: 'mean' as never }),
      ErrorCode.InvalidArgument,
      ['estimator must be "discrete" or "likelihood-weighted", got "mean"'],
    ],
  ] as const)('%s', (_name, fn, code, fragments) => {
    expectHicraError(fn, { code: code, source: SOURCE, message: fragments });
  });

  it('async paths reject with the same errors', async () => {
    await expectHicraRejection(
      answerSemanticEntropy({ answers: ['a'], groupIds: [0], sequenceLogProbs: [Number.NaN] }),
      { code: ErrorCode.InvalidValue, message: ['sequenceLogProbs[0] = NaN'] },
    );
    await expectHicraRejection(
      clusterAnswers(['x', 'q'], createCosineJudge({ embedder: letterEmbedder(true) })),
      { code: ErrorCode.InvalidValue, message: ['embedding of answers[1] is the zero vector'] },
    );
  });
});

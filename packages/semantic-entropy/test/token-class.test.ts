import { ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { topQMask } from '@hicra/tensor/kernels';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forkOverlap, TokenClassAccumulator, tokenClassStatistics } from '../src/index.js';
import { SOURCE } from './helpers.js';

const f32 = (values: number[]) => Float32Array.from(values);
const u8 = (values: number[]) => Uint8Array.from(values);

// B = 2, T = 3. Response 0: three tokens; response 1: two tokens and padding (garbage there).
const BATCH = {
  batchSize: 2,
  seqLen: 3,
  responseMask: u8([1, 1, 1, 1, 1, 0]),
  planningMask: u8([1, 0, 0, 0, 1, 0]),
  entropies: f32([1, 2, 3, 6, 4, Number.NaN]),
  logProbs: f32([-0.5, -1, -1.5, -3, -2, Number.NaN]),
};

describe('token-class statistics', () => {
  it('mean entropy and exp(mean NLL) per class (hand-computed)', () => {
    const { all, planning, execution } = tokenClassStatistics(BATCH);
    // all: entropies 1 2 3 6 4 -> 16/5; NLL 0.5 1 1.5 3 2 -> 8/5
    expect(all.tokens).toBe(5);
    expect(all.meanEntropy).toBeCloseTo(16 / 5, 14);
    expect(all.meanNll).toBeCloseTo(8 / 5, 14);
    expect(all.perplexity).toBeCloseTo(Math.exp(8 / 5), 13);
    // planning: tokens 0 and 4 -> entropy (1 + 4) / 2, NLL (0.5 + 2) / 2
    expect(planning.tokens).toBe(2);
    expect(planning.meanEntropy).toBeCloseTo(2.5, 14);
    expect(planning.perplexity).toBeCloseTo(Math.exp(1.25), 13);
    // execution: tokens 1, 2, 3 -> entropy 11/3, NLL 5.5/3
    expect(execution.tokens).toBe(3);
    expect(execution.meanEntropy).toBeCloseTo(11 / 3, 14);
    expect(execution.perplexity).toBeCloseTo(Math.exp(5.5 / 3), 13);
  });

  it('leaves undefined what has no input or no token', () => {
    const noPlanning = tokenClassStatistics({ ...BATCH, planningMask: u8([0, 0, 0, 0, 0, 0]) });
    expect(noPlanning.planning).toEqual({ tokens: 0 });
    expect(noPlanning.execution.meanEntropy).toBeCloseTo(16 / 5, 14);
    const { planningMask: _p, ...withoutMask } = BATCH;
    const unclassified = tokenClassStatistics(withoutMask);
    expect(unclassified.planning).toEqual({ tokens: 0 });
    expect(unclassified.execution).toEqual({ tokens: 0 });
    expect(unclassified.all.meanEntropy).toBeCloseTo(16 / 5, 14);
    const { entropies: _e, logProbs: _l, ...masksOnly } = BATCH;
    expect(tokenClassStatistics(masksOnly).all).toEqual({ tokens: 5 });
    const empty = tokenClassStatistics({ batchSize: 0, seqLen: 0, responseMask: u8([]) });
    expect(empty.all).toEqual({ tokens: 0 });
  });

  it('property: planning and execution partition the response tokens', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 8 }),
        fc.infiniteStream(
          fc.tuple(fc.boolean(), fc.boolean(), fc.float({ min: 0, max: 5, noNaN: true })),
        ),
        (batchSize, seqLen, stream) => {
          const size = batchSize * seqLen;
          const cells = [...stream.take(size)];
          const responseMask = u8(cells.map(([r]) => (r ? 1 : 0)));
          const planningMask = u8(cells.map(([r, p]) => (r && p ? 1 : 0)));
          const entropies = f32(cells.map(([, , h]) => h));
          const logProbs = f32(cells.map(([, , h]) => -h));
          const { all, planning, execution } = tokenClassStatistics({
            batchSize,
            seqLen,
            responseMask,
            planningMask,
            entropies,
            logProbs,
          });
          expect(planning.tokens + execution.tokens).toBe(all.tokens);
          if (all.tokens > 0) {
            const weighted =
              ((planning.meanEntropy ?? 0) * planning.tokens +
                (execution.meanEntropy ?? 0) * execution.tokens) /
              all.tokens;
            expect(weighted).toBeCloseTo(all.meanEntropy!, 10);
            expect(all.meanNll).toBeCloseTo(all.meanEntropy!, 12);
          }
        },
      ),
    );
  });
});

describe('fork-token overlap', () => {
  // T = 10 tokens with entropies 0..9: the 0.7 quantile is 6.3, so the top 30% are 7, 8, 9.
  const ten = {
    batchSize: 1,
    seqLen: 10,
    responseMask: new Uint8Array(10).fill(1),
    entropies: f32([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
  };

  it('shares of planning tokens in the top 30% and of top tokens that are planning (hand-computed)', () => {
    const planningMask = u8([1, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(forkOverlap({ ...ten, planningMask })).toEqual({
      planningTokens: 3,
      topTokens: 3,
      planningTopTokens: 2,
      planningInTopEntropy: 2 / 3,
      topEntropyIsPlanning: 2 / 3,
    });
    const onlyEight = u8([0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(forkOverlap({ ...ten, planningMask: onlyEight })).toMatchObject({
      planningInTopEntropy: 1,
      topEntropyIsPlanning: 1 / 3,
    });
    // q = 0.5: threshold 4.5 -> 5..9
    expect(forkOverlap({ ...ten, planningMask }, { topQ: 0.5 })).toMatchObject({
      topTokens: 5,
      planningTopTokens: 2,
    });
  });

  it('uses the tensor core’s top-q selection (batch scope by default, sequence on request)', () => {
    const batch = {
      batchSize: 2,
      seqLen: 4,
      responseMask: u8([1, 1, 1, 1, 1, 1, 1, 0]),
      planningMask: u8([0, 0, 0, 1, 1, 0, 0, 0]),
      entropies: f32([0.1, 0.2, 0.3, 0.4, 5, 6, 7, 0]),
    };
    for (const scope of ['batch', 'sequence'] as const) {
      const top = topQMask({
        ...batch,
        values: batch.entropies,
        mask: batch.responseMask,
        q: 0.3,
        scope,
      });
      const topTokens = top.reduce((a, b) => a + b, 0);
      const both = top.reduce((a, t, k) => a + (t & batch.planningMask[k]!), 0);
      expect(forkOverlap(batch, { topQScope: scope })).toMatchObject({
        topTokens,
        planningTopTokens: both,
      });
    }
    // batch scope: the top tokens (6, 7) are in response 1; per sequence, 0.4 is response 0's top
    expect(forkOverlap(batch).planningTopTokens).toBe(0);
    expect(forkOverlap(batch, { topQScope: 'sequence' }).planningTopTokens).toBe(1);
  });

  it('leaves the shares undefined without planning tokens or response tokens', () => {
    const none = forkOverlap({ ...ten, planningMask: new Uint8Array(10) });
    expect(none.planningInTopEntropy).toBeUndefined();
    expect(none.topEntropyIsPlanning).toBe(0);
    const empty = forkOverlap({
      batchSize: 1,
      seqLen: 2,
      responseMask: u8([0, 0]),
      planningMask: u8([0, 0]),
      entropies: f32([1, 2]),
    });
    expect(empty).toEqual({ planningTokens: 0, topTokens: 0, planningTopTokens: 0 });
  });

  it('needs entropies and a planning mask', () => {
    expectHicraError(() => forkOverlap({ ...ten } as never), {
      code: ErrorCode.MissingInput,
      source: SOURCE,
      message: ['forkOverlap: planningMask is required'],
    });
    expectHicraError(
      () =>
        forkOverlap({ ...ten, entropies: undefined, planningMask: new Uint8Array(10) } as never),
      {
        code: ErrorCode.MissingInput,
        source: SOURCE,
        message: ['forkOverlap: entropies is required'],
      },
    );
  });
});

describe('token-class bad input', () => {
  it.each([
    [
      'seqLen not an integer',
      { seqLen: 1.5 },
      ErrorCode.InvalidValue,
      ['seqLen must be a non-negative integer, got 1.5'],
    ],
    [
      'a response mask of the wrong length',
      { responseMask: u8([1, 1]) },
      ErrorCode.ShapeMismatch,
      ['responseMask has length 2, expected 6'],
    ],
    [
      'a response mask of the wrong dtype',
      { responseMask: [1, 1, 1, 1, 1, 0] },
      ErrorCode.InvalidArgument,
      ['responseMask must be a Uint8Array, got Array(6)'],
    ],
    [
      'a mask value that is not 0/1',
      { planningMask: u8([1, 0, 0, 0, 2, 0]) },
      ErrorCode.InvalidValue,
      ['planningMask[4] = 2; masks hold only 0 and 1'],
    ],
    [
      'a response-mask value that is not 0/1',
      { responseMask: u8([1, 1, 3, 1, 1, 0]) },
      ErrorCode.InvalidValue,
      ['responseMask[2] = 3; masks hold only 0 and 1', 'response 0, token 2'],
    ],
    [
      'a planning-mask value that is not 0/1 in the padding',
      { planningMask: u8([1, 0, 0, 0, 0, 7]) },
      ErrorCode.InvalidValue,
      ['planningMask[5] = 7; masks hold only 0 and 1'],
    ],
    [
      'planning tokens outside the response',
      { planningMask: u8([1, 0, 0, 0, 0, 1]) },
      ErrorCode.InvalidValue,
      ['planningMask[5] = 1 where responseMask[5] = 0', 'response 1, token 2'],
    ],
    [
      'log-probs of the wrong length',
      { logProbs: f32([-1, -1]) },
      ErrorCode.ShapeMismatch,
      ['logProbs has length 2, expected 6'],
    ],
    [
      'NaN log-probs at a response token',
      { logProbs: f32([-1, -1, Number.NaN, -1, -1, 0]) },
      ErrorCode.InvalidValue,
      ['logProbs[2] = NaN', 'response 0, token 2', 'finite and <= 0'],
    ],
    [
      '-Infinity log-probs',
      { logProbs: f32([-1, -1, -1, Number.NEGATIVE_INFINITY, -1, 0]) },
      ErrorCode.InvalidValue,
      ['logProbs[3] = -Infinity'],
    ],
    [
      'positive log-probs',
      { logProbs: f32([-1, 0.5, -1, -1, -1, 0]) },
      ErrorCode.InvalidValue,
      ['logProbs[1] = 0.5'],
    ],
    [
      'negative entropies',
      { entropies: f32([1, 1, 1, 1, -0.25, 0]) },
      ErrorCode.InvalidValue,
      ['entropies[4] = -0.25', 'finite and >= 0'],
    ],
    [
      'infinite entropies',
      { entropies: f32([1, Number.POSITIVE_INFINITY, 1, 1, 1, 0]) },
      ErrorCode.InvalidValue,
      ['entropies[1] = Infinity'],
    ],
    [
      'entropies of the wrong dtype',
      { entropies: Int32Array.from([1, 1, 1, 1, 1, 1]) },
      ErrorCode.InvalidArgument,
      ['entropies must be a Float32Array or Float64Array, got Int32Array(6)'],
    ],
  ] as const)('%s', (_name, override, code, fragments) => {
    expectHicraError(() => tokenClassStatistics({ ...BATCH, ...override } as never), {
      code: code,
      source: SOURCE,
      message: fragments,
    });
  });

  it('bad settings', () => {
    expectHicraError(() => new TokenClassAccumulator({ topQ: 0 }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['topQ must be in (0, 1], got 0'],
    });
    expectHicraError(() => new TokenClassAccumulator({ topQ: 1.5 }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['topQ must be in (0, 1]'],
    });
    expectHicraError(() => new TokenClassAccumulator({ topQScope: 'group' as never }), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['topQScope must be "batch" or "sequence", got "group"'],
    });
  });

  it('an input given with some batches only is an error, and a failed add changes nothing', () => {
    const { entropies: _e, ...withoutEntropies } = BATCH;
    const acc = new TokenClassAccumulator().add(BATCH);
    expect(() => acc.add({ ...BATCH, logProbs: f32([1, 1, 1, 1, 1, 1]) })).toThrow();
    expect(acc.tokens).toBe(5);
    acc.add(withoutEntropies);
    expectHicraError(() => acc.metrics(), {
      code: ErrorCode.MissingInput,
      source: SOURCE,
      message: ['entropies was given for 5 of 10 response tokens added'],
    });
  });

  it('merging different settings or malformed JSON is an error', () => {
    expectHicraError(
      () => new TokenClassAccumulator().merge(new TokenClassAccumulator({ topQ: 0.2 })),
      {
        code: ErrorCode.InvalidArgument,
        source: SOURCE,
        message: ['top-q settings differ (0.3/batch vs 0.2/batch)'],
      },
    );
    const json = new TokenClassAccumulator().add(BATCH).toJSON();
    expectHicraError(() => TokenClassAccumulator.fromJSON({ ...json, tokens: 4.5 }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['tokens must be a non-negative integer count, got 4.5'],
    });
    expectHicraError(() => TokenClassAccumulator.fromJSON({ ...json, entropySums: [1, -1, 0] }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['entropySums[1] must be a finite number >= 0'],
    });
    expectHicraError(() => TokenClassAccumulator.fromJSON({ ...json, classTokens: [5, 2, 2] }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['the token counts are inconsistent'],
    });
  });
});

describe('token-class sums over padded layouts (padding crossed four positions at a time)', () => {
  const shifted = <T extends Uint8Array | Float32Array>(a: T, shift: number): T => {
    const Ctor = a.constructor as new (n: number) => T;
    const out = new Ctor(a.length + shift).subarray(shift) as T;
    out.set(a);
    return out;
  };

  it('gives the same metrics with masks at any byte offset, and names the same bad position', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(13), { minLength: 1, maxLength: 9 }),
        fc.integer({ min: 1, max: 13 }),
        fc.nat(3),
        fc.nat(500),
        (lengths, seqLen, shift, at) => {
          const batchSize = lengths.length;
          const size = batchSize * seqLen;
          const responseMask = new Uint8Array(size);
          const planningMask = new Uint8Array(size);
          const entropies = new Float32Array(size).fill(Number.NaN); // garbage in padding
          const logProbs = new Float32Array(size);
          lengths.forEach((length, i) => {
            for (let t = 0; t < Math.min(length, seqLen); t++) {
              const k = i * seqLen + t;
              responseMask[k] = 1;
              planningMask[k] = (k * 7) % 3 === 0 ? 1 : 0;
              entropies[k] = ((k * 13) % 17) / 5;
              logProbs[k] = -((k * 11) % 7) / 4;
            }
          });
          const run = (rm: Uint8Array, pm: Uint8Array) => {
            try {
              return new TokenClassAccumulator()
                .add({ batchSize, seqLen, responseMask: rm, planningMask: pm, entropies, logProbs })
                .metrics();
            } catch (error) {
              return (error as Error).message;
            }
          };
          const expected = run(responseMask, planningMask);
          expect(run(shifted(responseMask, shift), shifted(planningMask, (shift * 3) % 4))).toEqual(
            expected,
          );
          // A planning token in the padding, wherever it falls, is the same error either way.
          const bad = new Uint8Array(planningMask);
          const k = at % size;
          if (responseMask[k] === 0) {
            bad[k] = 1;
            const message = run(responseMask, bad);
            expect(message).toContain(`planningMask[${k}] = 1 where responseMask[${k}] = 0`);
            expect(run(shifted(responseMask, shift), shifted(bad, shift))).toEqual(message);
          }
        },
      ),
    );
  });
});

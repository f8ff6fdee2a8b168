import { ErrorCode, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { SeededGenerator } from '@hicra/tensor/kernels';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  conditionalProceduralEntropy,
  createStepMetricsAccumulator,
  forkOverlap,
  StepMetricsAccumulator,
  type StepMetricsInput,
  stepMetrics,
  strategySemanticEntropy,
  tokenClassStatistics,
} from '../src/index.js';
import { buildResponse, CLASS_OF, type Piece, SOURCE } from './helpers.js';

const K = TRAIN_METRIC_KEYS;
const ALL_KEYS = [
  K.entropyAll,
  K.entropyPlanning,
  K.entropyExecution,
  K.perplexityAll,
  K.perplexityPlanning,
  K.perplexityExecution,
  K.strategySemanticEntropy,
  K.strategySemanticEntropyClustered,
  K.conditionalProceduralEntropy,
  K.planningMatchesPerResponse,
  K.planningInTopEntropy,
  K.topEntropyIsPlanning,
];

/**
 * A consistent synthetic batch: one token per word, so the planning mask is exactly the words
 * of the matched phrases. Seeded.
 */
function syntheticBatch(seed: number, batchSize: number, seqLen: number): StepMetricsInput {
  const rng = new SeededGenerator(seed);
  const responseMask = new Uint8Array(batchSize * seqLen);
  const planningMask = new Uint8Array(batchSize * seqLen);
  const entropies = new Float32Array(batchSize * seqLen);
  const logProbs = new Float32Array(batchSize * seqLen);
  const texts: string[] = [];
  const matches = [];
  for (let i = 0; i < batchSize; i++) {
    const pieces: Piece[] = [];
    let tokens = 0;
    while (tokens < seqLen - 6 && rng.nextFloat() < 0.9) {
      if (rng.nextFloat() < 0.3) {
        const gram = rng.nextInt(4);
        pieces.push({ gram });
        tokens += [1, 3, 1, 6][gram]!;
      } else {
        pieces.push({ word: ['3', '*', '8', '=', '24', 'so'][rng.nextInt(6)]! });
        tokens++;
      }
    }
    const { text, matches: m } = buildResponse(pieces);
    texts.push(text);
    matches.push(m);
    let t = 0;
    for (const piece of pieces) {
      const width = 'gram' in piece ? [1, 3, 1, 6][piece.gram]! : 1;
      for (let w = 0; w < width; w++, t++) {
        const k = i * seqLen + t;
        responseMask[k] = 1;
        planningMask[k] = 'gram' in piece ? 1 : 0;
        entropies[k] = rng.nextFloat() * ('gram' in piece ? 3 : 1);
        logProbs[k] = -rng.nextFloat() * 2;
      }
    }
  }
  return {
    batchSize,
    seqLen,
    responseMask,
    planningMask,
    entropies,
    logProbs,
    planningMatches: matches,
    responseTexts: texts,
  };
}

describe('stepMetrics', () => {
  it('returns every per-step metric under the spec keys, each equal to its own function', () => {
    const batch = syntheticBatch(7, 16, 40);
    const record = stepMetrics(batch, { classOf: CLASS_OF });
    expect(Object.keys(record).sort()).toEqual([...ALL_KEYS].sort());
    for (const value of Object.values(record)) expect(Number.isFinite(value)).toBe(true);
    const stats = tokenClassStatistics(batch);
    expect(record[K.entropyAll]).toBe(stats.all.meanEntropy);
    expect(record[K.entropyPlanning]).toBe(stats.planning.meanEntropy);
    expect(record[K.perplexityExecution]).toBe(stats.execution.perplexity);
    const fork = forkOverlap(batch);
    expect(record[K.planningInTopEntropy]).toBe(fork.planningInTopEntropy);
    expect(record[K.topEntropyIsPlanning]).toBe(fork.topEntropyIsPlanning);
    expect(record[K.strategySemanticEntropy]).toBe(strategySemanticEntropy(batch.planningMatches!));
    expect(record[K.conditionalProceduralEntropy]).toBe(
      conditionalProceduralEntropy(batch.planningMatches!, batch.responseTexts!),
    );
    const matches = batch.planningMatches!.reduce((n, list) => n + list.length, 0);
    expect(record[K.planningMatchesPerResponse]).toBe(matches / 16);
  });

  it('strategy entropies follow the base; token metrics do not', () => {
    const batch = syntheticBatch(3, 8, 30);
    const nats = stepMetrics(batch, { classOf: CLASS_OF });
    const bits = stepMetrics(batch, { classOf: CLASS_OF, base: 2 });
    expect(bits[K.strategySemanticEntropy]).toBeCloseTo(
      nats[K.strategySemanticEntropy]! / Math.LN2,
      14,
    );
    expect(bits[K.conditionalProceduralEntropy]).toBeCloseTo(
      nats[K.conditionalProceduralEntropy]! / Math.LN2,
      14,
    );
    expect(bits[K.entropyAll]).toBe(nats[K.entropyAll]);
    expect(bits[K.perplexityAll]).toBe(nats[K.perplexityAll]);
  });

  it('an empty batch gives an empty record', () => {
    expect(
      stepMetrics({
        batchSize: 0,
        seqLen: 5,
        responseMask: new Uint8Array(0),
        planningMask: new Uint8Array(0),
        entropies: new Float32Array(0),
        logProbs: new Float32Array(0),
        planningMatches: [],
        responseTexts: [],
      }),
    ).toEqual({});
  });

  it('omits metrics that are undefined, never writes NaN', () => {
    // no planning token, no match: no planning entropy/perplexity, no strategy entropy
    const batch = {
      batchSize: 1,
      seqLen: 3,
      responseMask: Uint8Array.from([1, 1, 0]),
      planningMask: Uint8Array.from([0, 0, 0]),
      entropies: Float32Array.from([1, 2, 0]),
      logProbs: Float32Array.from([-1, -2, 0]),
      planningMatches: [[]],
      responseTexts: ['3 * 8'],
    };
    expect(stepMetrics(batch)).toEqual({
      [K.entropyAll]: 1.5,
      [K.entropyExecution]: 1.5,
      [K.perplexityAll]: Math.exp(1.5),
      [K.perplexityExecution]: Math.exp(1.5),
      [K.topEntropyIsPlanning]: 0,
      [K.planningMatchesPerResponse]: 0,
    });
    // only masks: nothing but nothing
    expect(
      stepMetrics({ batchSize: 1, seqLen: 3, responseMask: Uint8Array.from([1, 1, 0]) }),
    ).toEqual({});
    // all tokens planning: no execution metrics
    const allPlanning = stepMetrics({ ...batch, planningMask: Uint8Array.from([1, 1, 0]) });
    expect(allPlanning[K.entropyExecution]).toBeUndefined();
    expect(allPlanning[K.perplexityExecution]).toBeUndefined();
    expect(allPlanning[K.planningInTopEntropy]).toBe(0.5);
  });

  it('property: merged micro-batches match the one-shot record (counts exactly, float sums to 1e-12)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 11 }),
        (seed, batchSize, cutAt) => {
          const cut = Math.min(cutAt, batchSize - 1);
          const seqLen = 24;
          const batch = syntheticBatch(seed, batchSize, seqLen);
          const slice = (from: number, to: number): StepMetricsInput => ({
            batchSize: to - from,
            seqLen,
            responseMask: batch.responseMask.slice(from * seqLen, to * seqLen),
            planningMask: batch.planningMask!.slice(from * seqLen, to * seqLen),
            entropies: (batch.entropies as Float32Array).slice(from * seqLen, to * seqLen),
            logProbs: (batch.logProbs as Float32Array).slice(from * seqLen, to * seqLen),
            planningMatches: batch.planningMatches!.slice(from, to),
            responseTexts: batch.responseTexts!.slice(from, to),
          });
          // One threshold for the whole batch needs the whole batch, so fork overlap is
          // compared per sequence here, where micro-batches and the batch agree exactly.
          const settings = { classOf: CLASS_OF, topQScope: 'sequence' as const };
          const once = stepMetrics(batch, settings);
          const a = createStepMetricsAccumulator(settings).add(slice(0, cut));
          const b = createStepMetricsAccumulator(settings).add(slice(cut, batchSize));
          const merged = a.clone().merge(b).metrics();
          const viaJson = StepMetricsAccumulator.fromJSON(JSON.parse(JSON.stringify(b)), {
            classOf: CLASS_OF,
          })
            .merge(StepMetricsAccumulator.fromJSON(JSON.parse(JSON.stringify(a))))
            .metrics();
          for (const record of [merged, viaJson]) {
            expect(Object.keys(record).sort()).toEqual(Object.keys(once).sort());
            for (const key of Object.keys(once)) {
              if (key.startsWith('strategy/') || key.startsWith('fork_overlap/'))
                expect(record[key]).toBe(once[key]);
              else expect(record[key]).toBeCloseTo(once[key]!, 12);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('stepMetrics bad input', () => {
  const batch = syntheticBatch(1, 3, 12);

  it.each([
    [
      'matches for the wrong number of responses',
      { planningMatches: [[]] },
      ErrorCode.ShapeMismatch,
      ['planningMatches has length 1, expected 3'],
    ],
    [
      'texts for the wrong number of responses',
      { responseTexts: ['a', 'b'] },
      ErrorCode.ShapeMismatch,
      ['responseTexts has length 2, expected 3'],
    ],
    [
      'a negative batch size',
      { batchSize: -1 },
      ErrorCode.InvalidValue,
      ['batchSize must be a non-negative integer, got -1'],
    ],
    [
      'log-probs for the wrong shape',
      { logProbs: new Float32Array(35) },
      ErrorCode.ShapeMismatch,
      ['logProbs has length 35, expected 36'],
    ],
    [
      'NaN log-probs',
      { logProbs: Float32Array.from({ length: 36 }, () => Number.NaN) },
      ErrorCode.InvalidValue,
      ['logProbs[0] = NaN'],
    ],
    [
      'a bad base',
      {},
      ErrorCode.InvalidArgument,
      ["base must be 'e' (nats) or 2 (bits)"],
      { base: 'ten' },
    ],
  ] as const)('%s', (_name, override, code, fragments, settings?: object) => {
    expectHicraError(
      () => stepMetrics({ ...batch, ...override } as never, (settings ?? {}) as never),
      { code: code, source: SOURCE, message: fragments },
    );
  });

  it('a bad match leaves the token sums untouched (everything is checked first)', () => {
    const acc = new StepMetricsAccumulator();
    const bad = [[{ start: -1, end: 4, gram: 'wait', gramId: 0 }], [], []];
    expect(() => acc.add({ ...batch, planningMatches: bad })).toThrow(/start -1/);
    expect(acc.responses).toBe(0);
    expect(acc.tokens.tokens).toBe(0);
    expect(acc.metrics()).toEqual({});
  });

  it('matches given for some batches only is an error', () => {
    const { planningMatches: _m, ...withoutMatches } = batch;
    const acc = new StepMetricsAccumulator().add(batch).add(withoutMatches);
    expectHicraError(() => acc.metrics(), {
      code: ErrorCode.MissingInput,
      source: SOURCE,
      message: ['planningMatches were given for 3 of 6 responses'],
    });
  });

  it('merging accumulators with different settings is an error', () => {
    expectHicraError(
      () => new StepMetricsAccumulator().merge(new StepMetricsAccumulator({ base: 2 })),
      { code: ErrorCode.InvalidArgument, source: SOURCE, message: ['base differs (e vs 2)'] },
    );
    expectHicraError(
      () => new StepMetricsAccumulator().merge(new StepMetricsAccumulator({ topQ: 0.2 })),
      { code: ErrorCode.InvalidArgument, source: SOURCE, message: ['top-q settings differ'] },
    );
    const acc = new StepMetricsAccumulator().add(batch);
    expectHicraError(() => StepMetricsAccumulator.fromJSON({ ...acc.toJSON(), responses: 1 }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['strategy.responses (3) exceeds responses (1)'],
    });
  });
});

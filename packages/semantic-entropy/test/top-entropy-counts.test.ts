import { topQMask } from '@hicra/tensor/kernels';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forkOverlap, TokenClassAccumulator } from '../src/index.js';

/** The fork-overlap counts as the definition gives them: topQMask over the response tokens. */
function reference(batch: {
  batchSize: number;
  seqLen: number;
  responseMask: Uint8Array;
  planningMask: Uint8Array;
  entropies: Float32Array | Float64Array;
  q: number;
}) {
  const top = topQMask({
    values: batch.entropies,
    mask: batch.responseMask,
    batchSize: batch.batchSize,
    seqLen: batch.seqLen,
    q: batch.q,
    scope: 'batch',
  });
  let topTokens = 0;
  let planningTopTokens = 0;
  for (let k = 0; k < top.length; k++) {
    topTokens += top[k]!;
    planningTopTokens += top[k]! & batch.planningMask[k]!;
  }
  return { topTokens, planningTopTokens };
}

/**
 * Entropies that stress the bucketed count: ties, zeros and -0, values that share a bucket
 * (1 + tiny), subnormals, a wide range, and values a float32 rounds together.
 */
const entropy = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    1 + 2 ** -8,
    1 + 2 ** -5,
    1 + 2 ** -20,
    1 + 2 ** -40,
    2,
    0.5,
    3,
    1e-40,
    5e-324,
    1e30,
  ),
  fc.double({ min: 0, max: 4, noNaN: true }),
  fc.integer({ min: 0, max: 5 }).map((i) => i / 4),
);

const batch = fc
  .record({
    batchSize: fc.integer({ min: 1, max: 6 }),
    seqLen: fc.integer({ min: 1, max: 40 }),
    float64: fc.boolean(),
    q: fc.oneof(fc.constantFrom(1, 0.3, 0.5, 1e-9), fc.double({ min: 1e-6, max: 1, noNaN: true })),
    seed: fc.array(fc.tuple(entropy, fc.nat(3), fc.boolean()), { minLength: 240, maxLength: 240 }),
  })
  .map(({ batchSize, seqLen, float64, q, seed }) => {
    const size = batchSize * seqLen;
    const responseMask = new Uint8Array(size);
    const planningMask = new Uint8Array(size);
    const entropies = float64 ? new Float64Array(size) : new Float32Array(size);
    for (let k = 0; k < size; k++) {
      const [h, kind, planning] = seed[k % seed.length]!;
      // kind 0: padding (garbage that must be ignored); otherwise a response token.
      responseMask[k] = kind === 0 ? 0 : 1;
      planningMask[k] = kind !== 0 && planning ? 1 : 0;
      entropies[k] = kind === 0 ? Number.NaN : h;
    }
    return { batchSize, seqLen, responseMask, planningMask, entropies, q };
  });

describe('fork-overlap counts from the token pass', () => {
  it('property: equal topQMask over the response tokens (float32 and float64, ties, -0)', () => {
    fc.assert(
      fc.property(batch, (b) => {
        const tokens = b.responseMask.reduce((n, v) => n + v, 0);
        const fork = forkOverlap(b, { topQ: b.q });
        if (tokens === 0) {
          expect(fork.topTokens).toBe(0);
          return;
        }
        expect(fork).toMatchObject(reference(b));
      }),
      { numRuns: 500 },
    );
  });

  it('equals topQMask on a large batch whose threshold bucket is crowded or at the edge', () => {
    const size = 50_000;
    const responseMask = new Uint8Array(size).fill(1);
    const planningMask = new Uint8Array(size);
    for (let k = 0; k < size; k += 3) planningMask[k] = 1;
    const cases: [string, (k: number) => number][] = [
      ['all equal', () => 1.5],
      ['two values', (k) => (k % 2 === 0 ? 0 : 2)],
      // One value per bucket: the next order statistic lies in another bucket.
      ['sparse', (k) => 2 ** ((k % 200) - 100)],
      ['one bucket, many values', (k) => 1 + (k % 977) * 2 ** -30],
      // Neighbouring buckets (float32: 8 bits of mantissa in the bucket; float64: 5).
      ['adjacent buckets, float32', (k) => (k % 2 === 0 ? 1 : 1 + 2 ** -8)],
      ['adjacent buckets, float64', (k) => (k % 2 === 0 ? 1 : 1 + 2 ** -5)],
      ['zeros and -0', (k) => (k % 5 === 0 ? -0 : k % 5 === 1 ? 0 : k / size)],
    ];
    for (const [name, value] of cases) {
      for (const Values of [Float32Array, Float64Array]) {
        const entropies = new Values(size);
        for (let k = 0; k < size; k++) entropies[k] = value(k);
        for (const q of [0.3, 0.5, 1, 1 / size, 0.99999]) {
          const b = { batchSize: 1, seqLen: size, responseMask, planningMask, entropies, q };
          const acc = new TokenClassAccumulator({ topQ: q }).add(b);
          expect(acc.forkOverlap(), `${name}, ${Values.name}, q = ${q}`).toMatchObject(
            reference(b),
          );
        }
      }
    }
  });

  it('takes the next order statistic from the next bucket when the threshold rounds onto it', () => {
    // 25,001 tokens at `low`, the last double of a bucket, and 25,000 at `high`, the first of the
    // next; the threshold low + 0.25·(high - low) rounds to low, so the `low` tokens are selected.
    const low = 1 + 2 ** -5 - 2 ** -52;
    const high = 1 + 2 ** -5;
    const size = 50_001;
    const entropies = new Float64Array(size);
    for (let k = 0; k < size; k++) entropies[k] = k < 25_001 ? low : high;
    const q = 1 - 25_000.25 / 50_000;
    const b = {
      batchSize: 1,
      seqLen: size,
      responseMask: new Uint8Array(size).fill(1),
      planningMask: new Uint8Array(size).fill(1),
      entropies,
      q,
    };
    expect(reference(b).topTokens).toBe(size);
    expect(forkOverlap(b, { topQ: q })).toMatchObject(reference(b));
  });
});

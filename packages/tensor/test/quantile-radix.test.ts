import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  finiteQuantileByRadix,
  quantileInPlace,
  topQMask,
  topQThreshold,
} from '../src/kernels/quantile.js';
import { SeededGenerator } from '../src/kernels/seeded-generator.js';

/** Equal as numbers (a quantile of -0 and +0 may come out as either zero). */
const same = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));

describe('the radix quantile', () => {
  it('equals quickselect on random finite values, ties and zeros of both signs', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.constantFrom(0, -0, 1, -1, 0.5, 1e-300, -1e300),
            fc.integer({ min: -5, max: 5 }),
          ),
          { minLength: 1, maxLength: 300 },
        ),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, p) => {
          const expected = quantileInPlace(Float64Array.from(values), p);
          const work = Float64Array.from(values);
          expect(same(finiteQuantileByRadix(work, p), expected)).toBe(true);
          expect(Array.from(work)).toEqual(values); // left as it was
        },
      ),
    );
  });

  it('selects the same top-q tokens as before on large batches', () => {
    const g = new SeededGenerator(11);
    for (const [n, draw] of [
      [5000, () => g.nextFloat() * 3],
      [9000, () => Math.floor(g.nextFloat() * 4) / 4], // heavy ties
      [7000, () => g.nextNormal(0, 1e-3)],
    ] as const) {
      const values = Float32Array.from({ length: n }, draw);
      const mask = Uint8Array.from({ length: n }, () => (g.nextFloat() < 0.9 ? 1 : 0));
      for (const q of [0.3, 0.01, 1]) {
        const top = topQMask({ values, mask, batchSize: 1, seqLen: n, q });
        const valid = Float64Array.from(values.filter((_, k) => mask[k] === 1));
        const threshold = quantileInPlace(valid, 1 - q);
        const expected = Uint8Array.from(values, (v, k) =>
          mask[k] === 1 && v >= threshold ? 1 : 0,
        );
        expect(top).toEqual(expected);
      }
    }
  });

  it('topQThreshold draws the threshold of topQMask (all entries valid)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), {
          minLength: 1,
          maxLength: 200,
        }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.boolean(),
        (raw, q, wide) => {
          const values = wide ? Float64Array.from(raw) : Float32Array.from(raw);
          const n = values.length;
          const top = topQMask({
            values,
            mask: new Uint8Array(n).fill(1),
            batchSize: 1,
            seqLen: n,
            q,
          });
          const threshold = topQThreshold(values, q);
          expect(Array.from(values, (v) => (v >= threshold ? 1 : 0))).toEqual(Array.from(top));
        },
      ),
    );
    const big = Float32Array.from({ length: 5000 }, (_, k) => (k * 7919) % 1013);
    const top = topQMask({
      values: big,
      mask: new Uint8Array(5000).fill(1),
      batchSize: 1,
      seqLen: 5000,
      q: 0.3,
    });
    const threshold = topQThreshold(big, 0.3);
    expect(Array.from(big, (v) => (v >= threshold ? 1 : 0))).toEqual(Array.from(top));
    expect(Number.isNaN(topQThreshold(new Float32Array(0), 0.3))).toBe(true);
    expect(() => topQThreshold(Float32Array.of(1, Number.NaN), 0.3)).toThrow(
      'topQMask: values[1] is NaN at a valid position; values must be finite',
    );
  });
});

import { ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CountMap, entropyFromCounts } from '../src/index.js';
import { SOURCE } from './helpers.js';

const plogp = (p: number) => (p === 0 ? 0 : p * Math.log(p));

describe('entropyFromCounts', () => {
  it('matches -Σ p ln p on hand-computed cases', () => {
    expect(entropyFromCounts([1, 1])).toBe(Math.log(2));
    expect(entropyFromCounts([2, 1])).toBeCloseTo(-(plogp(2 / 3) + plogp(1 / 3)), 15);
    // 0.5, 0.25, 0.25 -> 0.5 ln 2 + 0.5 ln 4 = 1.5 ln 2
    expect(entropyFromCounts([2, 1, 1])).toBeCloseTo(1.5 * Math.log(2), 15);
    expect(entropyFromCounts([6, 3, 1])).toBeCloseTo(-(plogp(0.6) + plogp(0.3) + plogp(0.1)), 15);
  });

  it('gives bits with base 2', () => {
    expect(entropyFromCounts([1, 1], { base: 2 })).toBe(1);
    expect(entropyFromCounts([2, 1, 1], { base: 2 })).toBeCloseTo(1.5, 15);
    expect(entropyFromCounts([1, 1, 1, 1], { base: 'e' })).toBe(Math.log(4));
  });

  it('is 0 for an empty distribution, all zeros, or a single class', () => {
    expect(entropyFromCounts([])).toBe(0);
    expect(entropyFromCounts([0, 0, 0])).toBe(0);
    expect(entropyFromCounts([0, 17, 0])).toBe(0);
    expect(entropyFromCounts([1])).toBe(0);
  });

  it('ignores zero counts', () => {
    expect(entropyFromCounts([0, 2, 0, 1])).toBe(entropyFromCounts([2, 1]));
  });

  it('takes arrays, typed arrays, iterables and Maps', () => {
    const expected = entropyFromCounts([3, 1, 2]);
    expect(entropyFromCounts(Int32Array.from([3, 1, 2]))).toBe(expected);
    expect(entropyFromCounts(new Set([3, 1, 2]))).toBe(expected);
    expect(
      entropyFromCounts(
        new Map([
          ['a', 3],
          ['b', 1],
          ['c', 2],
        ]),
      ),
    ).toBe(expected);
  });

  it('handles counts above the histogram range exactly like small ones', () => {
    const counts = [5000, 10_000, 3, 1, 4096, 4095];
    const total = counts.reduce((a, b) => a + b, 0);
    const direct = -counts.reduce((h, c) => h + plogp(c / total), 0);
    expect(entropyFromCounts(counts)).toBeCloseTo(direct, 13);
  });

  it('property: the order of the counts never changes a bit of the result', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 40 })
          .chain((counts) =>
            fc.tuple(
              fc.constant(counts),
              fc.shuffledSubarray(counts, { minLength: counts.length }),
            ),
          ),
        ([counts, shuffled]) => {
          expect(entropyFromCounts(shuffled)).toBe(entropyFromCounts(counts));
        },
      ),
    );
  });

  it('property: 0 for one class, ln n for n singletons, between 0 and ln k otherwise', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (c) => {
        expect(entropyFromCounts([c])).toBe(0);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), (n) => {
        expect(entropyFromCounts(new Array(n).fill(1))).toBe(Math.log(n));
        expect(entropyFromCounts(new Array(n).fill(1), { base: 2 })).toBeCloseTo(Math.log2(n), 12);
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 30 }),
        (counts) => {
          const h = entropyFromCounts(counts);
          expect(h).toBeGreaterThanOrEqual(0);
          expect(h).toBeLessThanOrEqual(Math.log(counts.length) + 1e-12);
          const total = counts.reduce((a, b) => a + b, 0);
          expect(h).toBeCloseTo(-counts.reduce((s, c) => s + plogp(c / total), 0), 12);
        },
      ),
    );
  });

  it('rejects negative, fractional and non-finite counts, naming the index', () => {
    expectHicraError(() => entropyFromCounts([1, -1]), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['counts[1]', 'non-negative integer', '-1'],
    });
    expectHicraError(() => entropyFromCounts([1, 2.5]), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['counts[1]', '2.5'],
    });
    expectHicraError(() => entropyFromCounts([Number.NaN]), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['counts[0]', 'NaN'],
    });
    expectHicraError(() => entropyFromCounts([Number.POSITIVE_INFINITY]), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['counts[0]', 'Infinity'],
    });
    expectHicraError(() => entropyFromCounts(['3'] as unknown as number[]), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['counts[0]', 'string'],
    });
    expectHicraError(() => entropyFromCounts(7 as unknown as number[]), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['counts must be an array, iterable or Map', 'number'],
    });
  });

  it('rejects an unknown base', () => {
    expectHicraError(() => entropyFromCounts([1, 1], { base: 10 as unknown as 2 }), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ["base must be 'e' (nats) or 2 (bits)", '10'],
    });
    expectHicraError(() => entropyFromCounts([1, 1], { base: Number.NaN as unknown as 2 }), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['got NaN'],
    });
  });
});

describe('CountMap', () => {
  it('counts, merges, clones and round-trips through JSON', () => {
    const a = new CountMap<string>().add('wait').add('wait').add('check', 3).add('zero', 0);
    expect(a.get('wait')).toBe(2);
    expect(a.get('check')).toBe(3);
    expect(a.has('zero')).toBe(false);
    expect(a.total).toBe(5);
    expect(a.size).toBe(2);
    const b = new CountMap<string>().add('check').add('new', 4);
    const merged = a.clone().merge(b);
    expect(Object.fromEntries(merged.entries())).toEqual({ wait: 2, check: 4, new: 4 });
    expect(a.total).toBe(5); // the clone was merged, not a
    const json = JSON.parse(JSON.stringify(merged));
    expect(Object.fromEntries(CountMap.from(json).entries())).toEqual({
      wait: 2,
      check: 4,
      new: 4,
    });
    expect(CountMap.from({ x: 1, y: 2 }).entropy()).toBe(entropyFromCounts([1, 2]));
    const classes = new CountMap<number>().add(3).add(7, 2);
    expect(CountMap.from<number>(JSON.parse(JSON.stringify(classes))).get(7)).toBe(2);
  });

  it('property: merging is commutative and associative, and equals one pass', () => {
    const keys = fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 30 });
    fc.assert(
      fc.property(keys, keys, keys, (x, y, z) => {
        const of = (list: string[]) => {
          const map = new CountMap<string>();
          for (const key of list) map.add(key);
          return map;
        };
        const sorted = (map: CountMap<string>) =>
          [...map.entries()].sort(([p], [q]) => (p < q ? -1 : 1));
        const left = of(x).merge(of(y)).merge(of(z));
        const right = of(x).merge(of(y).merge(of(z)));
        const swapped = of(z).merge(of(x)).merge(of(y));
        const once = of([...x, ...y, ...z]);
        for (const other of [right, swapped, once]) {
          expect(sorted(other)).toEqual(sorted(left));
          expect(other.entropy()).toBe(left.entropy());
          expect(other.total).toBe(left.total);
        }
      }),
    );
  });

  it('rejects bad counts and keys, naming them', () => {
    expectHicraError(() => new CountMap().add('a', -2), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['CountMap.add', 'count', '-2'],
    });
    expectHicraError(() => new CountMap().add('a', 0.5), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['count', '0.5'],
    });
    expectHicraError(() => new CountMap().add({} as unknown as string), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['key must be a string or a number', 'got Object'],
    });
    expectHicraError(() => CountMap.from([['a', -1]]), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['counts["a"]', '-1'],
    });
    expectHicraError(() => CountMap.from({ a: 1.5 }), {
      code: ErrorCode.InvalidValue,
      source: SOURCE,
      message: ['counts["a"]', '1.5'],
    });
    expectHicraError(() => CountMap.from([['a', 1, 2]] as unknown as [string, number][]), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['counts[0] must be a [key, count] pair'],
    });
    expectHicraError(() => CountMap.from(null as unknown as []), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['counts must be [key, count] pairs or a record'],
    });
    expectHicraError(() => new CountMap().merge({} as CountMap), {
      code: ErrorCode.InvalidArgument,
      source: SOURCE,
      message: ['merge: other must be a CountMap'],
    });
  });
});

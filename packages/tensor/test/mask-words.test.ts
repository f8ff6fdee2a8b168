import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  countOnes,
  firstNonBinary,
  firstNonFinite,
  firstOutsideSubset,
  maskWords,
  skipRun,
} from '../src/kernels/index.js';

/** A 0/1 mask (with long runs, as response masks have) at byte offset `shift` of its buffer. */
const maskAt = fc
  .record({
    runs: fc.array(fc.record({ value: fc.constantFrom(0, 1), length: fc.nat(13) }), {
      maxLength: 12,
    }),
    shift: fc.nat(3),
  })
  .map(({ runs, shift }) => {
    const values = runs.flatMap(({ value, length }) => Array<number>(length).fill(value));
    const buffer = new Uint8Array(values.length + shift + 3);
    const mask = buffer.subarray(shift, shift + values.length);
    mask.set(values);
    return mask;
  });

describe('word-wide mask scans', () => {
  it('skipRun finds the end of a run, as a byte loop does', () => {
    fc.assert(
      fc.property(
        maskAt,
        fc.nat(60),
        fc.nat(60),
        fc.constantFrom(0 as const, 1 as const),
        (m, a, b, value) => {
          const from = Math.min(a, m.length);
          const to = Math.min(Math.max(from, b), m.length);
          let expected = from;
          while (expected < to && m[expected] === value) expected++;
          expect(skipRun(maskWords(m), from, to, value)).toBe(expected);
        },
      ),
    );
  });

  it('countOnes counts as a byte loop does, over any range', () => {
    fc.assert(
      fc.property(maskAt, fc.nat(60), fc.nat(60), (m, a, b) => {
        const from = Math.min(a, m.length);
        const to = Math.min(Math.max(from, b), m.length);
        let expected = 0;
        for (let k = from; k < to; k++) expected += m[k]!;
        expect(countOnes(maskWords(m), from, to)).toBe(expected);
        if (from === 0 && to === m.length) expect(countOnes(maskWords(m))).toBe(expected);
      }),
    );
  });

  it('firstNonBinary and firstOutsideSubset find the first bad entry', () => {
    fc.assert(
      fc.property(maskAt, fc.nat(60), fc.nat(255), fc.boolean(), (sup, at, bad, sameShift) => {
        const n = sup.length;
        const buffer = new Uint8Array(n + 4);
        const sub = buffer.subarray(
          sameShift ? sup.byteOffset : 0,
          (sameShift ? sup.byteOffset : 0) + n,
        );
        for (let k = 0; k < n; k++) sub[k] = sup[k]! & (k % 3 === 0 ? 1 : 0);
        if (n > 0) sub[at % n] = bad;
        let expectedBinary = -1;
        let expectedSubset = -1;
        for (let k = 0; k < n; k++) {
          if (expectedBinary < 0 && sub[k]! > 1) expectedBinary = k;
          if (expectedSubset < 0 && (sub[k]! > 1 || sub[k]! > sup[k]!)) expectedSubset = k;
        }
        expect(firstNonBinary(maskWords(sub))).toBe(expectedBinary);
        expect(firstOutsideSubset(maskWords(sub), maskWords(sup))).toBe(expectedSubset);
      }),
    );
  });

  it('handles empty and tiny masks', () => {
    for (const m of [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(8).subarray(3, 5)]) {
      const w = maskWords(m);
      expect(countOnes(w)).toBe(m.reduce((a, b) => a + b, 0));
      expect(skipRun(w, 0, m.length, 0)).toBe(
        m.findIndex((v) => v !== 0) < 0 ? m.length : m.findIndex((v) => v !== 0),
      );
      expect(firstNonBinary(w)).toBe(-1);
    }
  });
});

describe('firstNonFinite', () => {
  it('finds the first NaN or infinity, as Number.isFinite does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.float(), fc.constantFrom(Number.NaN, Infinity, -Infinity, -0)), {
          maxLength: 40,
        }),
        fc.nat(40),
        (values, from) => {
          for (const array of [Float32Array.from(values), Float64Array.from(values)]) {
            let expected = -1;
            for (let k = from; k < array.length; k++) {
              if (!Number.isFinite(array[k])) {
                expected = k;
                break;
              }
            }
            expect(firstNonFinite(array, from)).toBe(expected);
          }
        },
      ),
    );
  });
});

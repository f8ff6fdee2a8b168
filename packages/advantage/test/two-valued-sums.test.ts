/**
 * `addTwoValued` against the token-by-token float64 loop it stands for: the same double to the
 * bit (Object.is, so -0 too) on random stretches, and on the cases its shortcut must refuse:
 * ties (a value of exactly half an ulp of the sum, odd multiples of it, next to steps of odd and
 * even ulps, from odd and even sums, growing and shrinking), binade crossings up and down, sums
 * crossing zero, a sum starting at zero, and huge and tiny magnitudes.
 */
import { maskWords, SeededGenerator } from '@hicra/tensor/kernels';
import { describe, expect, it } from 'vitest';
import { addTwoValued } from '../src/two-valued-sums.js';

function loop(s: number, selected: Uint8Array, start: number, end: number, x0: number, x1: number) {
  for (let t = start; t < end; t++) s += selected[t] === 1 ? x1 : x0;
  return s;
}

function ones(selected: Uint8Array, start: number, end: number): number {
  let count = 0;
  for (let t = start; t < end; t++) count += selected[t]!;
  return count;
}

function check(
  s: number,
  selected: Uint8Array,
  start: number,
  end: number,
  x0: number,
  x1: number,
  label: string,
): void {
  const expected = loop(s, selected, start, end, x0, x1);
  const got = addTwoValued(
    s,
    selected,
    maskWords(selected),
    start,
    end,
    ones(selected, start, end),
    x0,
    x1,
  );
  expect(Object.is(got, expected), `${label}: ${got} vs ${expected}`).toBe(true);
}

function selection(g: SeededGenerator, n: number, p: number, offset: number): Uint8Array {
  // At a byte offset into its buffer, so the word view has an unaligned head.
  const out = new Uint8Array(n + offset).subarray(offset);
  for (let t = 0; t < n; t++) out[t] = g.nextFloat() < p ? 1 : 0;
  return out;
}

describe('addTwoValued', () => {
  it('equals the float64 loop on random stretches, sums and value pairs', () => {
    const g = new SeededGenerator(41);
    for (let round = 0; round < 400; round++) {
      const n = 1 + g.nextInt(round % 4 === 0 ? 20_000 : 3_000);
      const selected = selection(g, n, [0, 0.02, 0.15, 0.5, 1][round % 5]!, round % 4);
      const start = g.nextInt(Math.max(1, n >> 3));
      const end = start + g.nextInt(n - start + 1);
      const scale = 2 ** (g.nextInt(80) - 40);
      const a = Math.fround((g.nextFloat() * 2 - 1) * scale) || scale;
      const alpha = [0, 0.2, 1, 0.999_999_9, g.nextFloat()][round % 5]!;
      const r = Math.fround(a + alpha * Math.abs(a));
      // The sum so far: zero, small, or large against the values, of either sign.
      const s = [0, a * 3, -a * 1000.5, g.nextNormal(0, 1) * scale * 1e6, 1e-300][round % 5]!;
      check(s, selected, start, end, a, r, `round ${round} (sum)`);
      check(Math.abs(s), selected, start, end, a * a, r * r, `round ${round} (squares)`);
    }
  });

  it('refuses ties, where rounding to even depends on the running sum', () => {
    const g = new SeededGenerator(43);
    const selected = selection(g, 5_000, 0.3, 1);
    // Sum 1 (ulp 2^-52): 2^-53 is exactly half an ulp, 3·2^-53 one and a half.
    for (const [x0, x1] of [
      [2 ** -53, 2 ** -53],
      [3 * 2 ** -53, 2 ** -52],
      [2 ** -52, 5 * 2 ** -53],
      [2 ** -54, 3 * 2 ** -53],
      [2 * 2 ** -52, 5 * 2 ** -53],
      [7 * 2 ** -53, 2 * 2 ** -52],
      [5 * 2 ** -53, 3 * 2 ** -53],
    ] as const) {
      check(1, selected, 0, selected.length, x0, x1, `ties ${x0}, ${x1}`);
      check(1 + 2 ** -52, selected, 0, selected.length, x0, x1, `ties from odd ${x0}, ${x1}`);
      check(-1, selected, 0, selected.length, -x0, -x1, `negative ties ${x0}, ${x1}`);
      check(-1 - 2 ** -52, selected, 3, 4_000, -x0, -x1, `negative ties from odd ${x0}, ${x1}`);
      // Shrinking towards zero (steps against the sum's sign), from an odd and an even sum.
      check(2 - 2 ** -51, selected, 0, 3_000, -x0, -x1, `shrinking ties ${x0}, ${x1}`);
      check(2 - 2 ** -52, selected, 1, 3_000, -x0, -x1, `shrinking ties, odd ${x0}, ${x1}`);
    }
  });

  it('follows the loop across binades, through zero and from zero', () => {
    const g = new SeededGenerator(47);
    const selected = selection(g, 30_000, 0.15, 3);
    const n = selected.length;
    // Up through many binades from a tiny start; down through zero into the other sign.
    check(0, selected, 0, n, 0.1, 0.12, 'from zero, growing');
    check(1e-3, selected, 0, n, 1.7, 2.04, 'from small, growing');
    check(5_000, selected, 0, n, -0.3, -0.24, 'down through zero');
    check(-5_000, selected, 0, n, 0.3, 0.36, 'up through zero');
    check(4096, selected, 0, n, -(2 ** -50), -(2 ** -49), 'tiny steps at a binade floor');
    check(2 ** 60, selected, 0, n, 1, 1.2, 'steps below half an ulp');
    check(1e300, selected, 0, n, 1e295, 1.2e295, 'near the double range');
    check(0, selected, 0, n, -0.5, 0, 'r = +0 (alpha 1, negative advantage)');
    check(3, selected, 0, n, 1.5, 1.5, 'alpha 0: one value');
  });
});

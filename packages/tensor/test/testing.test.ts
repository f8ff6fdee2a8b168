import { describe, expect, it } from 'vitest';
import { tf } from '../src/index.js';
import {
  createLeakChecker,
  expectClose,
  expectNoLeaks,
  randomMask,
  SeededGenerator,
  toFlatArray,
} from '../src/testing/index.js';

describe('@hicra/tensor/testing', () => {
  it('expectClose passes within tolerance and reports the worst mismatches', () => {
    expectClose([1, 2, 3], Float32Array.of(1, 2, 3.000001));
    expectClose([[1], [Number.NaN]], [1, Number.NaN]);
    expect(() => expectClose([1, 2, 3], [1, 2.5, 3.1], { label: 'x' })).toThrow(
      /x: 2 of 3 elements differ beyond tolerance; worst: \[1\] 2 vs 2.5; \[2\] 3 vs 3.1/,
    );
    expect(() => expectClose([1, 2], [1])).toThrow(/2 elements, expected 1/);
    expect(() => expectClose([Number.NaN], [1])).toThrow(/differ/);
    expect(() => expectClose([Number.NaN], [Number.NaN], { nanEqual: false })).toThrow(/differ/);
    expect(() => expectClose(1.1, 1, { atol: 0.05, rtol: 0 })).toThrow();
    expectClose(1.1, 1, { atol: 0.2 });
    tf.tidy(() => {
      expectClose(tf.tensor2d([[1, 2]]), [1, 2]);
      expect(() => expectClose(tf.tensor2d([[1, 2]]), tf.tensor1d([1, 2]))).toThrow(
        /shape \[1, 2\] differs from expected \[2\]/,
      );
    });
  });

  it('the leak checker catches a leaked tensor and passes clean code', () => {
    let leaked: ReturnType<typeof tf.zeros> | undefined;
    expect(() =>
      expectNoLeaks(() => {
        leaked = tf.zeros([2]);
        return leaked;
      }, 'leaky code'),
    ).toThrow(/leaky code leaked 1 tensor\(s\) \(\d+ alive before, \d+ after\)/);
    leaked!.dispose();
    const checker = createLeakChecker();
    checker.start();
    expect(
      expectNoLeaks(() => tf.tidy(() => tf.sum(tf.ones([3])).dataSync()[0]), 'clean code'),
    ).toBe(3);
    checker.check();
  });

  it('toFlatArray and randomMask', () => {
    expect(Array.from(toFlatArray([[1, [2]], 3] as never))).toEqual([1, 2, 3]);
    const mask = randomMask(new SeededGenerator(1), 4, 5, 2);
    for (let i = 0; i < 4; i++) {
      const row = Array.from(mask.subarray(i * 5, i * 5 + 5));
      const length = row.reduce((a, b) => a + b, 0);
      expect(length).toBeGreaterThanOrEqual(2);
      expect(row).toEqual([...new Array(length).fill(1), ...new Array(5 - length).fill(0)]);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { candidatePaths, loadNative, PREBUILT_PLATFORMS } from '../src/index.js';

const platform = `${process.platform}-${process.arch}`;
const load = loadNative();

describe('loadNative', () => {
  it('loads on every platform a prebuilt binary ships for', () => {
    if (!PREBUILT_PLATFORMS.includes(platform)) {
      expect(load.ok).toBe(false);
      return;
    }
    expect(load.ok ? load.path : load.reason).toMatch(/tensor_native\.node$/);
  });

  it('returns the same outcome on every call', () => {
    expect(loadNative()).toBe(load);
  });

  it('tries a local source build before the prebuild', () => {
    const [local, prebuilt] = candidatePaths('linux', 'x64');
    expect(local).toMatch(/build[/\\]tensor_native\.node$/);
    expect(prebuilt).toMatch(/prebuilds[/\\]linux-x64[/\\]tensor_native\.node$/);
  });
});

describe.skipIf(!load.ok)('the binding', () => {
  const native = load.ok ? load.binding : undefined;

  /** Reference product, in float64. */
  function reference(
    a: Float32Array,
    b: Float32Array,
    batch: number,
    strideA: number,
    strideB: number,
    m: number,
    n: number,
    k: number,
    ta: boolean,
    tb: boolean,
  ): Float64Array {
    const out = new Float64Array(batch * m * n);
    for (let p = 0; p < batch; p++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let q = 0; q < k; q++) {
            const av = a[p * strideA + (ta ? q * m + i : i * k + q)]!;
            const bv = b[p * strideB + (tb ? j * k + q : q * n + j)]!;
            sum += av * bv;
          }
          out[p * m * n + i * n + j] = sum;
        }
    return out;
  }

  const fill = (size: number, seed: number) =>
    Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37 + seed) * 2);

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    for (const shared of [false, true]) {
      it(`multiplies batches (transposeA ${ta}, transposeB ${tb}, ${shared ? 'one shared b' : 'a b per batch'})`, () => {
        const [batch, m, n, k] = [3, 5, 7, 4];
        const a = fill(batch * m * k, 1);
        const b = fill((shared ? 1 : batch) * k * n, 2);
        const out = new Float32Array(batch * m * n);
        const strideB = shared ? 0 : k * n;
        native!.matmul(a, b, out, batch, m * k, strideB, m, n, k, ta, tb);
        const expected = reference(a, b, batch, m * k, strideB, m, n, k, ta, tb);
        for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(expected[i]!, 4);
      });
    }
  }

  it('writes into views at an offset of a larger buffer', () => {
    const heap = new Float32Array(64);
    heap.set([1, 2, 3, 4], 8);
    heap.set([5, 6, 7, 8], 20);
    const out = new Float32Array(heap.buffer, 40 * 4, 4);
    native!.matmul(
      new Float32Array(heap.buffer, 8 * 4, 4),
      new Float32Array(heap.buffer, 20 * 4, 4),
      out,
      1,
      4,
      4,
      2,
      2,
      2,
      false,
      false,
    );
    expect([...out]).toEqual([19, 22, 43, 50]);
  });

  it('zeroes the output when the inner size is 0', () => {
    const out = new Float32Array(4).fill(9);
    native!.matmul(new Float32Array(0), new Float32Array(0), out, 1, 0, 0, 2, 2, 0, false, false);
    expect([...out]).toEqual([0, 0, 0, 0]);
  });

  it('refuses arrays too short for the sizes, and wrong argument types', () => {
    const a = new Float32Array(4);
    expect(() => native!.matmul(a, a, new Float32Array(4), 2, 4, 4, 2, 2, 2, false, false)).toThrow(
      RangeError,
    );
    expect(() =>
      native!.matmul(
        new Float64Array(4) as unknown as Float32Array,
        a,
        a,
        1,
        4,
        4,
        2,
        2,
        2,
        false,
        false,
      ),
    ).toThrow(/a must be a Float32Array/);
    expect(() => native!.matmul(a, a, a, -1, 4, 4, 2, 2, 2, false, false)).toThrow(RangeError);
  });

  it('computes tanh within a few float32 ulps, propagating NaN and saturating at ±infinity', () => {
    const x = Float32Array.from({ length: 1000 }, (_, i) => (i - 500) / 37);
    const specials = Float32Array.from([Number.NaN, Infinity, -Infinity, 0, -0, 1e-30, 40]);
    const input = Float32Array.from([...x, ...specials]);
    const out = new Float32Array(input.length);
    native!.tanh(input, out);
    for (let i = 0; i < x.length; i++) {
      expect(Math.abs(out[i]! - Math.tanh(x[i]!))).toBeLessThanOrEqual(3e-7);
    }
    expect(Array.from(out.subarray(x.length))).toEqual([
      Number.NaN,
      1,
      -1,
      0,
      -0,
      Math.fround(1e-30),
      1,
    ]);
    native!.tanh(input, input);
    expect(input[0]).toBe(out[0]);
    expect(() => native!.tanh(input, new Float32Array(2))).toThrow(RangeError);
  });

  it('sets and reports the thread count', () => {
    const before = native!.getThreads();
    native!.setThreads(1);
    expect(native!.getThreads()).toBe(1);
    expect(() => native!.setThreads(0)).toThrow(RangeError);
    native!.setThreads(before);
    expect(native!.blasInfo().config).toMatch(/OpenBLAS/);
  });
});

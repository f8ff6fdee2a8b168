/**
 * Test helpers for packages built on @hicra/tensor: tolerance comparisons for tensors and typed
 * arrays, a tensor-leak checker, and seeded random inputs. List `@hicra/tensor/testing/setup`
 * in vitest's `setupFiles` to check every test for leaks.
 */
import { SeededGenerator } from '../kernels/seeded-generator.js';
import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';

type Numbers = Tensor | ArrayLike<number> | number | NestedNumbers;
interface NestedNumbers extends ReadonlyArray<number | NestedNumbers> {}

export interface CloseOptions {
  /** Absolute tolerance; default 1e-5 (float32). */
  readonly atol?: number;
  /** Relative tolerance; default 1e-5. */
  readonly rtol?: number;
  /** Per-element absolute tolerance (overrides `atol`), e.g. scaled by the row's largest logit. */
  readonly atolAt?: (index: number) => number;
  /** Name used in the error message. */
  readonly label?: string;
  /** Whether NaN equals NaN; default true. */
  readonly nanEqual?: boolean;
}

/** Flattens a tensor, typed array, nested array or number to a Float64Array. */
export function toFlatArray(value: Numbers): Float64Array {
  if (value instanceof tf.Tensor) return Float64Array.from(value.dataSync());
  if (typeof value === 'number') return Float64Array.of(value);
  if (ArrayBuffer.isView(value)) return Float64Array.from(value as ArrayLike<number>);
  const out: number[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else out.push(v as number);
  };
  walk(value);
  return Float64Array.from(out);
}

/**
 * Throws unless `actual` and `expected` have the same number of elements and each pair
 * satisfies `|a - e| <= atol + rtol·|e|`. The message lists the worst mismatches with their
 * flat indices. Works on tensors (read with `dataSync`), typed arrays, nested arrays, numbers.
 */
export function expectClose(actual: Numbers, expected: Numbers, options: CloseOptions = {}): void {
  const label = options.label ? `${options.label}: ` : '';
  if (
    actual instanceof tf.Tensor &&
    expected instanceof tf.Tensor &&
    !tf.util.arraysEqual(actual.shape, expected.shape)
  ) {
    throw new Error(
      `${label}shape [${actual.shape.join(', ')}] differs from expected [${expected.shape.join(', ')}]`,
    );
  }
  const a = toFlatArray(actual);
  const e = toFlatArray(expected);
  if (a.length !== e.length) throw new Error(`${label}${a.length} elements, expected ${e.length}`);
  const rtol = options.rtol ?? 1e-5;
  const nanEqual = options.nanEqual ?? true;
  const bad: { index: number; actual: number; expected: number; excess: number }[] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (!(nanEqual && Number.isNaN(x) && Number.isNaN(y)))
        bad.push({ index: i, actual: x, expected: y, excess: Number.POSITIVE_INFINITY });
      continue;
    }
    if (x === y) continue;
    const tolerance = (options.atolAt?.(i) ?? options.atol ?? 1e-5) + rtol * Math.abs(y);
    const diff = Math.abs(x - y);
    if (!(diff <= tolerance))
      bad.push({ index: i, actual: x, expected: y, excess: diff - tolerance });
  }
  if (bad.length > 0) {
    bad.sort((p, q) => q.excess - p.excess);
    const worst = bad
      .slice(0, 5)
      .map((b) => `[${b.index}] ${b.actual} vs ${b.expected}`)
      .join('; ');
    throw new Error(
      `${label}${bad.length} of ${a.length} elements differ beyond tolerance; worst: ${worst}`,
    );
  }
}

/** Counts live tensors before and after a piece of work. */
export interface LeakChecker {
  /** Records the number of live tensors. */
  start(): void;
  /** Throws if more tensors are alive than at `start`, naming how many. */
  check(what?: string): void;
}

export function createLeakChecker(): LeakChecker {
  let before = 0;
  return {
    start() {
      before = tf.memory().numTensors;
    },
    check(what = 'the test') {
      const after = tf.memory().numTensors;
      if (after > before) {
        throw new Error(
          `${what} leaked ${after - before} tensor(s) (${before} alive before, ${after} after); dispose them or use tf.tidy`,
        );
      }
    },
  };
}

/** Runs `fn` and throws if it leaves tensors behind. Returns its result. */
export function expectNoLeaks<T>(fn: () => T, what = 'the call'): T {
  const checker = createLeakChecker();
  checker.start();
  const result = fn();
  checker.check(what);
  return result;
}

/** A float32 tensor of normal deviates from a seeded generator. */
export function randomTensor(
  generator: SeededGenerator,
  shape: number[],
  mean = 0,
  std = 1,
): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(generator.fillNormal(new Float32Array(size), mean, std), shape, 'float32');
}

/** `[B·T]` int32 ids uniform in [0, vocabSize). */
export function randomIds(
  generator: SeededGenerator,
  count: number,
  vocabSize: number,
): Int32Array {
  return Int32Array.from({ length: count }, () => generator.nextInt(vocabSize));
}

/** A right-padded `[B·T]` mask; each row has between `minLength` (default 1) and T valid tokens. */
export function randomMask(
  generator: SeededGenerator,
  batchSize: number,
  seqLen: number,
  minLength = 1,
): Uint8Array {
  const mask = new Uint8Array(batchSize * seqLen);
  for (let i = 0; i < batchSize; i++) {
    const length = minLength + generator.nextInt(seqLen - minLength + 1);
    mask.fill(1, i * seqLen, i * seqLen + length);
  }
  return mask;
}

export { SeededGenerator };

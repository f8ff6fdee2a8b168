import { ShapeError } from '@hicra/spec';
import { allOnKernelHeap, heapKernels, onKernelHeap } from '../simd/heap-kernels.js';
import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';
import { assertTensor, SOURCE } from './assert.js';
import { customGradient } from './custom-gradient.js';
import { hostCompute, hostMemoryBackend } from './host-memory.js';

/**
 * Swaps the last two axes. On the WASM backend with the SIMD kernels, one blocked pass over the
 * heap (tfjs's Transpose kernel took 632 ms for the [2,016, 32k] gradient of a language-model
 * head, the kernel about 120 ms); its gradient is the same swap of `dy`. Elsewhere
 * `tf.transpose`.
 */
function transposeLast(x: Tensor): Tensor {
  if (x.rank >= 2 && x.dtype === 'float32' && heapKernels() !== undefined) {
    return heapTransposeLast(x);
  }
  const perm = x.shape.map((_, i) => i);
  const r = x.rank;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return tf.transpose(x, perm);
}

const heapTransposeLast = (x: Tensor): Tensor =>
  customGradient(([input]: [Tensor]) => ({
    value: swapLastAxes(input),
    gradFunc: (dy: Tensor) => transposeLast(dy),
  }))(x);

function swapLastAxes(x: Tensor): Tensor {
  const rows = x.shape[x.rank - 2]!;
  const cols = x.shape[x.rank - 1]!;
  const batch = x.size / Math.max(1, rows * cols);
  const shape = [...x.shape.slice(0, -2), cols, rows];
  const [out] = hostCompute([x], [{ shape }], ([xs], [ys]) => {
    const kernels = heapKernels();
    if (kernels && onKernelHeap(kernels, xs!) && onKernelHeap(kernels, ys!)) {
      kernels.transpose(xs!.byteOffset, batch, rows, cols, ys!.byteOffset);
      return;
    }
    for (let b = 0; b < batch; b++) {
      const base = b * rows * cols;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) ys![base + c * rows + r] = xs![base + r * cols + c]!;
      }
    }
  });
  return out!;
}

/**
 * Matrix product `a · b` (optionally transposing either operand) whose forward and backward
 * passes never use the transpose flags of `BatchMatMul`: operands are transposed explicitly.
 * Measured on the WASM backend, matMul with transpose flags is 15-20x slower than on
 * pre-transposed inputs, and tfjs's built-in gradient uses those flags; with this op a
 * transformer training step is about 4x faster there. Results equal `tf.matMul`.
 *
 * Shapes: `a` `[..., M, K]`, `b` `[..., K, N]` with equal batch dimensions, or `a` of any rank
 * ≥ 2 with a 2-D `b` (a linear layer: `[B, T, D] · [D, E]`).
 */
export function matMul(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
  const op = 'matMul';
  assertTensor(op, 'a', a, { dtype: 'float32' });
  assertTensor(op, 'b', b, { dtype: 'float32' });
  if (a.rank < 2 || b.rank < 2) {
    throw new ShapeError(
      `${op}: a and b need rank >= 2, got a [${a.shape.join(', ')}] and b [${b.shape.join(', ')}]`,
      {
        source: SOURCE,
        details: { op, a: a.shape, b: b.shape },
      },
    );
  }
  const linear = b.rank === 2 && a.rank > 2;
  if (!linear && a.rank !== b.rank) {
    throw new ShapeError(
      `${op}: a [${a.shape.join(', ')}] and b [${b.shape.join(', ')}] need equal ranks (or a 2-D b); broadcasting batch dimensions is not supported`,
      { source: SOURCE, details: { op, a: a.shape, b: b.shape } },
    );
  }
  if (linear && transposeA) {
    throw new ShapeError(
      `${op}: transposeA is not supported for a [${a.shape.join(', ')}] times a 2-D b`,
      {
        source: SOURCE,
        details: { op, a: a.shape, b: b.shape },
      },
    );
  }
  const k1 = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  const k2 = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2];
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  if (k1 !== k2 || (!linear && !tf.util.arraysEqual(batchA, batchB))) {
    throw new ShapeError(
      `${op}: cannot multiply a [${a.shape.join(', ')}]${transposeA ? 'ᵀ' : ''} by b [${b.shape.join(', ')}]${transposeB ? 'ᵀ' : ''}: inner sizes ${k1} and ${k2}${linear ? '' : `, batch [${batchA.join(', ')}] vs [${batchB.join(', ')}]`}`,
      { source: SOURCE, details: { op, a: a.shape, b: b.shape, transposeA, transposeB } },
    );
  }
  return tf.tidy(() => {
    if (tf.getBackend() === 'native') {
      // OpenBLAS takes the transposes as flags at no cost: no copy either way.
      if (!linear) return flaggedMatMul(a, b, transposeA, transposeB);
      const flat = tf.reshape(a, [-1, a.shape[a.rank - 1]!]);
      const product = flaggedMatMul(flat, b, false, transposeB);
      return tf.reshape(product, [...a.shape.slice(0, -1), product.shape[1]!]);
    }
    const left = transposeA ? transposeLast(a) : a;
    const right = transposeB ? transposeLast(b) : b;
    if (linear) {
      const lead = left.shape.slice(0, -1);
      const flat = tf.reshape(left, [-1, left.shape[left.rank - 1]!]);
      return tf.reshape(plainMatMul(flat, right), [...lead, right.shape[1]!]);
    }
    return plainMatMul(left, right);
  });
}

/**
 * `op(a) · op(b)` (op a transpose where flagged) with a gradient that is also products with
 * flags, for the native backend, whose BatchMatMul hands the flags to sgemm.
 */
const flaggedMatMul = (a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor =>
  customGradient(([x, y]: [Tensor, Tensor], save) => {
    save([x, y]);
    return {
      value: tf.matMul(x, y, transposeA, transposeB),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [l, r] = saved as [Tensor, Tensor];
        // C = op(A)·op(B): dA = dC·op(B)ᵀ (transposed back when A was), likewise dB.
        if (!transposeA && !transposeB) {
          return [tf.matMul(dy, r, false, true), tf.matMul(l, dy, true, false)];
        }
        if (!transposeA) return [tf.matMul(dy, r), tf.matMul(dy, l, true, false)];
        if (!transposeB) return [tf.matMul(r, dy, false, true), tf.matMul(l, dy)];
        return [tf.matMul(r, dy, true, true), tf.matMul(dy, l, true, true)];
      },
    };
  })(a, b);

/** `x · y` with a gradient written without transpose flags. */
const plainMatMul = (x: Tensor, y: Tensor): Tensor =>
  customGradient(([left, right]: [Tensor, Tensor], save) => {
    save([left, right]);
    return {
      value: batchMatMul(left, right),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [l, r] = saved as [Tensor, Tensor];
        return [batchMatMul(dy, transposeLast(r)), rightGradient(l, dy)];
      },
    };
  })(x, y);

/**
 * `lᵀ · dy`, the gradient of the right operand. On WASM, XNNPACK packs the right operand of
 * every product anew, so when dy `[N, E]` is wider than l `[N, D]` the product is computed as
 * `(dyᵀ · l)ᵀ`, packing l instead: two transposes (one blocked pass each with the SIMD
 * kernels) cost less than packing the wider operand. Measured on WASM: a language-model head
 * (N = 504, V = 32k) 408 ms against 294 ms; the benchmark model's MLP and QKV weights (N =
 * 2,016, D = 128, E = 512 and 384) took a training step from 475 to 411-432 ms.
 */
function rightGradient(l: Tensor, dy: Tensor): Tensor {
  if (l.rank === 2 && dy.shape[1]! > l.shape[1]! && tf.getBackend() === 'wasm') {
    return transposeLast(tf.matMul(transposeLast(dy), l));
  }
  return batchMatMul(transposeLast(l), dy);
}

/**
 * `tf.matMul` of equal-rank operands, except on WASM with a batch of several matrices: there
 * `BatchMatMul` falls back to a plain scalar loop (1.9 GFLOP/s on attention's 128 × [63, 32]
 * products), while a 2-D product goes to XNNPACK. The batch is split into 2-D operands with
 * one host copy each side, multiplied one by one and joined; measured 1.3-1.8x faster on the
 * attention shapes of the benchmark model. Values equal up to float32 summation order.
 */
function batchMatMul(a: Tensor, b: Tensor): Tensor {
  const batch = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  if (a.rank < 3 || batch < 2 || tf.getBackend() !== 'wasm' || !hostMemoryBackend()) {
    return tf.matMul(a, b);
  }
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.rank - 1]!;
  if (heapKernels() !== undefined) {
    // One SIMD kernel call for the whole batch: no split, no join, no call per matrix.
    const [product] = hostCompute(
      [a, b],
      [{ shape: [...a.shape.slice(0, -2), m, n] }],
      ([as, bs], [cs]) => {
        const kernels = heapKernels()!;
        if (allOnKernelHeap(kernels, [as, bs, cs])) {
          kernels.batchMatMul(as!.byteOffset, bs!.byteOffset, cs!.byteOffset, batch, m, k, n);
          return;
        }
        for (let t = 0; t < batch; t++) {
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let sum = 0;
              for (let p = 0; p < k; p++)
                sum += as![(t * m + i) * k + p]! * bs![(t * k + p) * n + j]!;
              cs![(t * m + i) * n + j] = sum;
            }
          }
        }
      },
    );
    return product!;
  }
  return tf.tidy(() => {
    const left = splitBatch(a, batch, m * k, [m, k]);
    const right = splitBatch(b, batch, k * n, [k, n]);
    const products = left.map((l, i) => tf.matMul(l, right[i]!));
    const [joined] = hostCompute(
      products,
      [{ shape: [...a.shape.slice(0, -2), m, n] }],
      (parts, [out]) => {
        for (let i = 0; i < batch; i++) out!.set(parts[i]!, i * m * n);
      },
    );
    return joined!;
  });
}

function splitBatch(x: Tensor, batch: number, size: number, shape: number[]): Tensor[] {
  return hostCompute(
    [x],
    Array.from({ length: batch }, () => ({ shape })),
    ([xs], outs) => {
      for (let i = 0; i < batch; i++) outs[i]!.set(xs!.subarray(i * size, (i + 1) * size));
    },
  );
}

import { ShapeError } from '@hicra/spec';
import { allOnKernelHeap, heapKernels } from '../simd/heap-kernels.js';
import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';
import { assertTensor, SOURCE } from './assert.js';
import { customGradient } from './custom-gradient.js';
import { hostCompute, hostMemoryBackend } from './host-memory.js';

/**
 * Rotary position embedding, "rotate half" convention: the two halves `x₁, x₂` of the last axis
 * of `x` `[B, H, L, Dh]` become `x₁·cos − x₂·sin` and `x₂·cos + x₁·sin`, with the angle tables
 * `cos`, `sin` (`[B·L·Dh/2]`, row-major `[B, L, Dh/2]`, shared by every head) given as plain
 * arrays. On the WASM and CPU backends it is one loop each way (the gradient is the inverse
 * rotation), instead of a split, four products, two sums and a concat; elsewhere those tfjs ops.
 * Differentiable in `x`.
 */
export function rotaryEmbedding(x: Tensor, cos: Float32Array, sin: Float32Array): Tensor {
  const op = 'rotaryEmbedding';
  assertTensor(op, 'x', x, { rank: 4, dtype: 'float32' });
  const [batch, heads, length, headDim] = x.shape as [number, number, number, number];
  const half = headDim / 2;
  if (!Number.isInteger(half)) {
    throw new ShapeError(`${op}: the last axis of x [${x.shape.join(', ')}] must be even`, {
      source: SOURCE,
      details: { op, argument: 'x', shape: x.shape },
    });
  }
  const tableSize = batch * length * half;
  for (const [name, table] of [
    ['cos', cos],
    ['sin', sin],
  ] as const) {
    if (!(table instanceof Float32Array) || table.length !== tableSize) {
      throw new ShapeError(
        `${op}: ${name} must be a Float32Array of B·L·Dh/2 = ${tableSize} angles for x [${x.shape.join(', ')}]`,
        { source: SOURCE, details: { op, argument: name, expected: tableSize } },
      );
    }
  }
  if (!hostMemoryBackend()) {
    return tf.tidy(() => {
      const c = tf.tensor4d(cos, [batch, 1, length, half]);
      const s = tf.tensor4d(sin, [batch, 1, length, half]);
      const [first, second] = tf.split(x, [half, half], 3);
      return tf.concat(
        [
          tf.sub(tf.mul(first!, c), tf.mul(second!, s)),
          tf.add(tf.mul(second!, c), tf.mul(first!, s)),
        ],
        3,
      );
    });
  }
  // direction 1 rotates by +angle (forward), -1 by -angle (the gradient).
  const rotate = (from: ArrayLike<number>, to: Float32Array | Int32Array, direction: number) => {
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let l = 0; l < length; l++) {
          const base = ((b * heads + h) * length + l) * headDim;
          const angle = (b * length + l) * half;
          for (let i = 0; i < half; i++) {
            const c = cos[angle + i]!;
            const s = direction * sin[angle + i]!;
            const x1 = from[base + i]!;
            const x2 = from[base + half + i]!;
            to[base + i] = x1 * c - x2 * s;
            to[base + half + i] = x2 * c + x1 * s;
          }
        }
      }
    }
  };
  // On WASM a SIMD kernel, with the angle tables copied into scratch on the heap next to the
  // output (allocated with it, so that no later allocation detaches the views).
  const rotateOnHeap = (input: Tensor, direction: number): Tensor => {
    const kernels = heapKernels();
    const scratch = kernels ? [{ shape: [2 * tableSize] }] : [];
    const [out, tables] = hostCompute(
      [input],
      [{ shape: input.shape }, ...scratch],
      ([xs], [ys, tableView]) => {
        if (kernels && tableView && allOnKernelHeap(kernels, [xs, ys, tableView])) {
          const table = tableView as Float32Array;
          table.set(cos, 0);
          table.set(sin, tableSize);
          kernels.rotary(
            xs!.byteOffset,
            ys!.byteOffset,
            table.byteOffset,
            table.byteOffset + tableSize * 4,
            batch,
            heads,
            length,
            half,
            direction,
          );
          return;
        }
        rotate(xs!, ys as Float32Array, direction);
      },
    );
    tables?.dispose();
    return out!;
  };
  const fused = customGradient(([input]: [Tensor]) => ({
    value: rotateOnHeap(input, 1),
    gradFunc: (dy: Tensor) => rotateOnHeap(dy, -1),
  }));
  return fused(x);
}

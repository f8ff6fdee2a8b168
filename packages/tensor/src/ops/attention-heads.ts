import { ShapeError } from '@hicra/spec';
import { allOnKernelHeap, heapKernels } from '../simd/heap-kernels.js';
import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';
import { assertTensor, SOURCE } from './assert.js';
import { customGradient } from './custom-gradient.js';
import { hostCompute, hostMemoryBackend } from './host-memory.js';

/** Copies `[B, L, W]` columns `offset + h·Dh + d` to/from `[B, count, L, Dh]`. */
function copyHeads(
  wide: Float32Array,
  heads: Float32Array,
  shape: {
    batch: number;
    length: number;
    width: number;
    offset: number;
    count: number;
    dim: number;
  },
  toHeads: boolean,
): void {
  const { batch, length, width, offset, count, dim } = shape;
  const kernels = heapKernels();
  if (kernels && allOnKernelHeap(kernels, [wide, heads])) {
    kernels.copyHeads(
      wide.byteOffset,
      heads.byteOffset,
      batch,
      length,
      width,
      offset,
      count,
      dim,
      toHeads ? 1 : 0,
    );
    return;
  }
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < count; h++) {
      for (let l = 0; l < length; l++) {
        const w = (b * length + l) * width + offset + h * dim;
        const t = ((b * count + h) * length + l) * dim;
        if (toHeads) heads.set(wide.subarray(w, w + dim), t);
        else wide.set(heads.subarray(t, t + dim), w);
      }
    }
  }
}

/**
 * `count` attention heads of width `headDim` read from columns `offset ..` of a projection
 * `[B, L, W]` (a fused QKV output), as `[B, count, L, headDim]`: a slice, a reshape and a
 * transpose, done as one copy on the WASM and CPU backends (those three kernels elsewhere).
 * Differentiable: the gradient is `dy` copied back into zeros of x's shape.
 */
export function splitHeads(x: Tensor, offset: number, count: number, headDim: number): Tensor {
  const op = 'splitHeads';
  assertTensor(op, 'x', x, { rank: 3, dtype: 'float32' });
  const [batch, length, width] = x.shape as [number, number, number];
  if (
    !Number.isInteger(offset) ||
    !Number.isInteger(count) ||
    !Number.isInteger(headDim) ||
    offset < 0 ||
    count < 1 ||
    headDim < 1 ||
    offset + count * headDim > width
  ) {
    throw new ShapeError(
      `${op}: ${count} heads of width ${headDim} from column ${offset} do not fit x [${x.shape.join(', ')}]`,
      { source: SOURCE, details: { op, shape: x.shape, offset, count, headDim } },
    );
  }
  if (!hostMemoryBackend()) {
    return tf.tidy(() =>
      tf.transpose(
        tf.reshape(tf.slice(x, [0, 0, offset], [batch, length, count * headDim]), [
          batch,
          length,
          count,
          headDim,
        ]),
        [0, 2, 1, 3],
      ),
    );
  }
  const shape = { batch, length, width, offset, count, dim: headDim };
  const fused = customGradient(([input]: [Tensor]) => {
    const [value] = hostCompute(
      [input],
      [{ shape: [batch, count, length, headDim] }],
      ([xs], [out]) => copyHeads(xs as Float32Array, out as Float32Array, shape, true),
    );
    return {
      value: value!,
      gradFunc: (dy: Tensor) =>
        hostCompute([dy], [{ shape: [batch, length, width] }], ([dys], [dx]) => {
          if (offset !== 0 || count * headDim !== width) dx!.fill(0);
          copyHeads(dx as Float32Array, dys as Float32Array, shape, false);
        })[0]!,
    };
  });
  return fused(x);
}

/**
 * Heads `[B, H, L, Dh]` merged back to `[B, L, H·Dh]` (a transpose and a reshape; one copy on the
 * WASM and CPU backends). Differentiable.
 */
export function mergeHeads(x: Tensor): Tensor {
  const op = 'mergeHeads';
  assertTensor(op, 'x', x, { rank: 4, dtype: 'float32' });
  const [batch, count, length, headDim] = x.shape as [number, number, number, number];
  const width = count * headDim;
  if (!hostMemoryBackend()) {
    return tf.tidy(() => tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [batch, length, width]));
  }
  const shape = { batch, length, width, offset: 0, count, dim: headDim };
  const fused = customGradient(([input]: [Tensor]) => {
    const [value] = hostCompute([input], [{ shape: [batch, length, width] }], ([xs], [out]) =>
      copyHeads(out as Float32Array, xs as Float32Array, shape, false),
    );
    return {
      value: value!,
      gradFunc: (dy: Tensor) =>
        hostCompute([dy], [{ shape: [batch, count, length, headDim] }], ([dys], [dx]) =>
          copyHeads(dys as Float32Array, dx as Float32Array, shape, true),
        )[0]!,
    };
  });
  return fused(x);
}

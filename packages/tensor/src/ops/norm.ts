import { ShapeError } from '@hicra/spec';
import {
  allOnKernelHeap,
  float64Scratch,
  type HeapKernels,
  heapKernels,
} from '../simd/heap-kernels.js';
import type { Tensor } from '../tf.js';
import { tf } from '../tf.js';
import { assertFiniteNumber, assertTensor, SOURCE } from './assert.js';
import { customGradient } from './custom-gradient.js';
import { hostCompute, hostMemoryBackend } from './host-memory.js';

function checkNorm(
  op: string,
  x: Tensor,
  parameters: Record<string, Tensor | undefined>,
  epsilon: number,
): number {
  assertTensor(op, 'x', x, { dtype: 'float32' });
  if (x.rank < 1) {
    throw new ShapeError(`${op}: x must have rank >= 1, got a scalar`, {
      source: SOURCE,
      details: { op, argument: 'x', shape: x.shape },
    });
  }
  const width = x.shape[x.rank - 1]!;
  for (const [name, p] of Object.entries(parameters)) {
    if (p === undefined) continue;
    assertTensor(op, name, p, { dtype: 'float32' });
    if (p.rank !== 1 || p.shape[0] !== width) {
      throw new ShapeError(
        `${op}: ${name} must have shape [${width}] (the last axis of x [${x.shape.join(', ')}]), got [${p.shape.join(', ')}]`,
        { source: SOURCE, details: { op, argument: name, shape: p.shape, expected: [width] } },
      );
    }
  }
  assertFiniteNumber(op, 'epsilon', epsilon, { min: 0 });
  return width;
}

/**
 * Layer normalisation over the last axis: `(x - mean) / √(var + ε) · weight + bias` (biased
 * variance, as PyTorch's `LayerNorm`). On the WASM and CPU backends forward and backward are
 * each one loop over the rows (float64 row statistics) instead of about ten kernels each way;
 * elsewhere it is the same formula from tfjs ops. Differentiable in x, weight and bias.
 *
 * @param x float32 `[..., D]`
 * @param weight float32 `[D]`
 * @param bias float32 `[D]`
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, epsilon = 1e-5): Tensor {
  const op = 'layerNorm';
  const width = checkNorm(op, x, { weight, bias }, epsilon);
  if (!hostMemoryBackend()) {
    return tf.tidy(() => {
      const mean = tf.mean(x, -1, true);
      const centred = tf.sub(x, mean);
      const variance = tf.mean(tf.square(centred), -1, true);
      return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, epsilon))), weight), bias);
    });
  }
  const rows = x.size / Math.max(1, width);
  const fused = customGradient(([input, w, b]: [Tensor, Tensor, Tensor], save) => {
    save([input, w]);
    const means = new Float64Array(rows);
    const scales = new Float64Array(rows);
    const kernels = heapKernels();
    const [value, scratch] = hostCompute(
      [input, w, b],
      [{ shape: input.shape }, ...statsScratch(kernels, rows)],
      ([xs, ws, bs], [out, scratchView]) => {
        const stats = heapStats(kernels, [xs, ws, bs, out], scratchView, rows);
        if (stats) {
          kernels!.normForward(
            xs!.byteOffset,
            ws!.byteOffset,
            bs!.byteOffset,
            out!.byteOffset,
            rows,
            width,
            epsilon,
            0,
            stats.byteOffset,
          );
          for (let r = 0; r < rows; r++) {
            means[r] = stats[2 * r]!;
            scales[r] = stats[2 * r + 1]!;
          }
          return;
        }
        for (let r = 0; r < rows; r++) {
          const base = r * width;
          let sum = 0;
          for (let k = 0; k < width; k++) sum += xs![base + k]!;
          const mean = sum / width;
          let squares = 0;
          for (let k = 0; k < width; k++) {
            const c = xs![base + k]! - mean;
            squares += c * c;
          }
          const scale = 1 / Math.sqrt(squares / width + epsilon);
          means[r] = mean;
          scales[r] = scale;
          for (let k = 0; k < width; k++)
            out![base + k] = (xs![base + k]! - mean) * scale * ws![k]! + bs![k]!;
        }
      },
    );
    scratch?.dispose();
    return {
      value: value!,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const kernels = heapKernels();
        const [dx, dw, db, scratch] = hostCompute(
          [saved[0]!, saved[1]!, dy],
          [
            { shape: saved[0]!.shape },
            { shape: [width] },
            { shape: [width] },
            ...backwardScratch(kernels, rows, width),
          ],
          ([xs, ws, dys], [dx, dw, db, scratchView]) => {
            if (heapBackward(kernels, [xs, ws, dys, dx, dw, db], scratchView, means, scales, 0)) {
              return;
            }
            const gw = new Float64Array(width);
            const gb = new Float64Array(width);
            for (let r = 0; r < rows; r++) {
              const base = r * width;
              const mean = means[r]!;
              const scale = scales[r]!;
              let sumG = 0;
              let sumGX = 0;
              for (let k = 0; k < width; k++) {
                const d = dys![base + k]!;
                const xhat = (xs![base + k]! - mean) * scale;
                const g = d * ws![k]!;
                sumG += g;
                sumGX += g * xhat;
                gw[k] = gw[k]! + d * xhat;
                gb[k] = gb[k]! + d;
              }
              const meanG = sumG / width;
              const meanGX = sumGX / width;
              for (let k = 0; k < width; k++) {
                const xhat = (xs![base + k]! - mean) * scale;
                dx![base + k] = scale * (dys![base + k]! * ws![k]! - meanG - xhat * meanGX);
              }
            }
            dw!.set(gw);
            db!.set(gb);
          },
        );
        scratch?.dispose();
        return [dx!, dw!, db!];
      },
    };
  });
  return fused(x, weight, bias);
}

/**
 * RMS normalisation over the last axis: `x / √(mean(x²) + ε) · weight`. Fused on the WASM and
 * CPU backends like {@link layerNorm}; tfjs ops elsewhere. Differentiable in x and weight.
 *
 * @param x float32 `[..., D]`
 * @param weight float32 `[D]`
 */
export function rmsNorm(x: Tensor, weight: Tensor, epsilon = 1e-6): Tensor {
  const op = 'rmsNorm';
  const width = checkNorm(op, x, { weight }, epsilon);
  if (!hostMemoryBackend()) {
    return tf.tidy(() => {
      const rms = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), epsilon));
      return tf.mul(tf.mul(x, rms), weight);
    });
  }
  const rows = x.size / Math.max(1, width);
  const fused = customGradient(([input, w]: [Tensor, Tensor], save) => {
    save([input, w]);
    const scales = new Float64Array(rows);
    const kernels = heapKernels();
    const [value, scratch] = hostCompute(
      [input, w],
      [{ shape: input.shape }, ...statsScratch(kernels, rows)],
      ([xs, ws], [out, scratchView]) => {
        const stats = heapStats(kernels, [xs, ws, out], scratchView, rows);
        if (stats) {
          kernels!.normForward(
            xs!.byteOffset,
            ws!.byteOffset,
            0,
            out!.byteOffset,
            rows,
            width,
            epsilon,
            1,
            stats.byteOffset,
          );
          for (let r = 0; r < rows; r++) scales[r] = stats[2 * r + 1]!;
          return;
        }
        for (let r = 0; r < rows; r++) {
          const base = r * width;
          let squares = 0;
          for (let k = 0; k < width; k++) squares += xs![base + k]! * xs![base + k]!;
          const scale = 1 / Math.sqrt(squares / width + epsilon);
          scales[r] = scale;
          for (let k = 0; k < width; k++) out![base + k] = xs![base + k]! * scale * ws![k]!;
        }
      },
    );
    scratch?.dispose();
    return {
      value: value!,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const kernels = heapKernels();
        const [dx, dw, scratch] = hostCompute(
          [saved[0]!, saved[1]!, dy],
          [
            { shape: saved[0]!.shape },
            { shape: [width] },
            ...backwardScratch(kernels, rows, width),
          ],
          ([xs, ws, dys], [dx, dw, scratchView]) => {
            if (heapBackward(kernels, [xs, ws, dys, dx, dw], scratchView, undefined, scales, 1)) {
              return;
            }
            const gw = new Float64Array(width);
            for (let r = 0; r < rows; r++) {
              const base = r * width;
              const scale = scales[r]!;
              let sumGX = 0;
              for (let k = 0; k < width; k++) {
                const d = dys![base + k]!;
                const xhat = xs![base + k]! * scale;
                sumGX += d * ws![k]! * xhat;
                gw[k] = gw[k]! + d * xhat;
              }
              const meanGX = sumGX / width;
              for (let k = 0; k < width; k++) {
                const xhat = xs![base + k]! * scale;
                dx![base + k] = scale * (dys![base + k]! * ws![k]! - xhat * meanGX);
              }
            }
            dw!.set(gw);
          },
        );
        scratch?.dispose();
        return [dx!, dw!];
      },
    };
  });
  return fused(x, weight);
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh approximation (PyTorch's `gelu(approximate='tanh')`, GPT-2's `gelu_new`):
 * `0.5·x·(1 + tanh(u))` with `u = √(2/π)·(x + 0.044715·x³)`, computed as the equal
 * `x·σ(2u)`: WASM's Sigmoid kernel is vectorised and its Tanh is not (measured on 1M elements:
 * 1.2 ms against 19 ms); the two forms differ by float32 rounding (at most 2e-7 here). On the
 * WASM and CPU backends the backward is one loop over host memory from the saved input and
 * sigmoid, instead of the dozen kernels autodiff records. Differentiable.
 */
export function geluTanh(x: Tensor): Tensor {
  assertTensor('geluTanh', 'x', x, { dtype: 'float32' });
  const parts = (input: Tensor) => {
    const cube = tf.mul(tf.mul(input, input), input);
    const s = tf.sigmoid(tf.mul(2 * GELU_C, tf.add(input, tf.mul(GELU_A, cube))));
    return { s, y: tf.mul(input, s) };
  };
  if (!hostMemoryBackend()) return tf.tidy(() => parts(x).y);
  const n = x.size;
  const fused = customGradient(([input]: [Tensor], save) => {
    const { s, y } = parts(input);
    save([input, s]);
    return {
      value: y,
      // d/dx x·σ(2u) = σ + x·σ(1 − σ)·2u'(x), u' = √(2/π)(1 + 3·0.044715·x²)
      gradFunc: (dy: Tensor, saved: Tensor[]) =>
        hostCompute(
          [saved[0]!, saved[1]!, dy],
          [{ shape: saved[0]!.shape }],
          ([xs, ss, dys], [dx]) => {
            const kernels = heapKernels();
            if (kernels && allOnKernelHeap(kernels, [xs, ss, dys, dx])) {
              kernels.geluBackward(
                xs!.byteOffset,
                ss!.byteOffset,
                dys!.byteOffset,
                dx!.byteOffset,
                n,
                GELU_C,
                GELU_A,
              );
              return;
            }
            for (let i = 0; i < n; i++) {
              const v = xs![i]!;
              const sg = ss![i]!;
              const slope = sg + 2 * v * sg * (1 - sg) * GELU_C * (1 + 3 * GELU_A * v * v);
              dx![i] = dys![i]! * slope;
            }
          },
        )[0]!,
    };
  });
  return fused(x);
}

type HostView = Float32Array | Int32Array | Uint8Array;

/** Scratch for the forward's per-row (mean, scale), as a float32 tensor of 4 per row. */
function statsScratch(kernels: HeapKernels | undefined, rows: number) {
  return kernels ? [{ shape: [rows * 4] }] : [];
}

/** Scratch for the backward: the rows' stats, then 2·width float64 accumulators. */
function backwardScratch(kernels: HeapKernels | undefined, rows: number, width: number) {
  return kernels ? [{ shape: [rows * 4 + width * 4] }] : [];
}

/** The float64 stats view of the forward's scratch when every view is on the kernels' heap. */
function heapStats(
  kernels: HeapKernels | undefined,
  views: (HostView | undefined)[],
  scratch: HostView | undefined,
  rows: number,
): Float64Array | undefined {
  if (kernels === undefined || scratch === undefined) return undefined;
  if (!allOnKernelHeap(kernels, [...views, scratch])) return undefined;
  return float64Scratch(scratch, rows * 2);
}

/**
 * Runs the SIMD backward of a norm when every view is on the kernels' heap: writes the
 * forward's `means` (none for RMS) and `scales` into the scratch and calls the kernel; false
 * (nothing written) otherwise. `views`: x, weight, dy, dx, dw and, for layer norm, db.
 */
function heapBackward(
  kernels: HeapKernels | undefined,
  views: (HostView | undefined)[],
  scratch: HostView | undefined,
  means: Float64Array | undefined,
  scales: Float64Array,
  rms: 0 | 1,
): boolean {
  if (kernels === undefined || scratch === undefined) return false;
  if (!allOnKernelHeap(kernels, [...views, scratch])) return false;
  const rows = scales.length;
  const [xs, ws, dys, dx, dw, db] = views;
  const width = ws!.length;
  const space = float64Scratch(scratch, rows * 2 + width * 2);
  if (space === undefined) return false;
  for (let r = 0; r < rows; r++) {
    space[2 * r] = means ? means[r]! : 0;
    space[2 * r + 1] = scales[r]!;
  }
  kernels.normBackward(
    xs!.byteOffset,
    ws!.byteOffset,
    dys!.byteOffset,
    space.byteOffset,
    rows,
    width,
    rms,
    dx!.byteOffset,
    dw!.byteOffset,
    db ? db.byteOffset : 0,
    space.byteOffset + rows * 2 * 8,
  );
  return true;
}

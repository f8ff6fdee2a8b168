/**
 * The `native` backend: the WASM backend's storage and kernels, with the hot kernels replaced by
 * native code from the optional package `@hicra/tensor-native` (a Node-API addon on OpenBLAS).
 *
 * It is one `BackendWasm` instance registered under a second name: tensors live on the WASM
 * heap either way, so switching between `wasm` and `native` moves no data, and every kernel not
 * replaced here is the WASM backend's own. A replaced kernel hands the addon `Float32Array`
 * views of the heap (no copies). Replaced so far, each chosen from a profile of the training
 * step: `BatchMatMul` (OpenBLAS `sgemm`), `Tanh`, `Exp` and `Softmax` (glibc's vector
 * `tanhf`/`expf`; WASM's are scalar), `Transpose`, `SplitV`, `Concat` and `GatherV2` (strided
 * copies; WASM's go through per-element loops or one Slice per part), float32 `Add`, `Sub`, `Multiply` and `RealDiv`
 * with broadcasting (plain IEEE arithmetic, bit-identical to WASM's) and `Identity` (shares the input's storage, as the
 * CPU backend does, where WASM copies). Other dtypes and layouts fall back to the WASM kernel.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from './tf.js';

/** The slice of `@hicra/tensor-native`'s binding this backend uses. */
export interface NativeKernels {
  tanh(x: Float32Array, out: Float32Array): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  exp(x: Float32Array, out: Float32Array): void;
  gather(
    x: Float32Array,
    indices: Int32Array,
    out: Float32Array,
    outer: number,
    axisSize: number,
    inner: number,
  ): void;
  binary(
    op: 0 | 1 | 2 | 3,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    shape: Int32Array,
    stridesA: Int32Array,
    stridesB: Int32Array,
  ): void;
  copyBlocks(
    src: Float32Array,
    dst: Float32Array,
    outer: number,
    block: number,
    srcStride: number,
    dstStride: number,
  ): void;
  transpose(x: Float32Array, out: Float32Array, shape: Int32Array, perm: Int32Array): void;
  matmul(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    batch: number,
    strideA: number,
    strideB: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
  ): void;
}

/** What the native kernels need of a `BackendWasm` (its public fields). */
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  readSync(dataId: object): unknown;
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): TensorInfo;
  incRef(dataId: object): void;
}

export const NATIVE_TFJS_BACKEND = 'native';

/** The kernels replaced on `native`; every other kernel is the WASM backend's. */
export const NATIVE_KERNELS: readonly string[] = [
  'BatchMatMul',
  'Tanh',
  'Identity',
  'Softmax',
  'Transpose',
  'SplitV',
  'Concat',
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Exp',
  'GatherV2',
];

let registered = false;

/**
 * Registers the `native` tfjs backend (once per process): the initialised `wasm` backend
 * instance under a second name, the WASM kernels copied to it, and native kernels over the hot
 * ones. The WASM backend must be initialised first.
 */
export function registerNativeBackend(binding: NativeKernels): void {
  if (registered) return;
  const wasm = tf.engine().registry.wasm;
  if (wasm === undefined) throw new Error('the WASM backend must be initialised first');
  tf.registerBackend(NATIVE_TFJS_BACKEND, () => wasm, 0);
  const kernels = tf.getKernelsForBackend('wasm');
  const wasmKernel = (name: string) => {
    const kernel = kernels.find((k) => k.kernelName === name);
    if (kernel === undefined) throw new Error(`the WASM backend has no ${name} kernel`);
    return kernel.kernelFunc;
  };
  const replaced = new Map<string, KernelFunc>([
    ['BatchMatMul', batchMatMul(binding, wasmKernel('BatchMatMul'))],
    ['Tanh', unary((x, out) => binding.tanh(x, out), wasmKernel('Tanh'))],
    ['Identity', identity(wasmKernel('Identity'))],
    ['Softmax', softmax(binding, wasmKernel('Softmax'))],
    ['Transpose', transpose(binding, wasmKernel('Transpose'))],
    ['SplitV', splitV(binding, wasmKernel('SplitV'))],
    ['Concat', concat(binding, wasmKernel('Concat'))],
    ['Add', binary(binding, 0, wasmKernel('Add'))],
    ['Sub', binary(binding, 1, wasmKernel('Sub'))],
    ['Multiply', binary(binding, 2, wasmKernel('Multiply'))],
    ['RealDiv', binary(binding, 3, wasmKernel('RealDiv'))],
    ['Exp', unary((x, out) => binding.exp(x, out), wasmKernel('Exp'))],
    ['GatherV2', gatherV2(binding, wasmKernel('GatherV2'))],
  ]);
  for (const kernel of kernels) {
    const kernelFunc = replaced.get(kernel.kernelName) ?? kernel.kernelFunc;
    const config: KernelConfig = { ...kernel, backendName: NATIVE_TFJS_BACKEND, kernelFunc };
    tf.registerKernel(config);
  }
  registered = true;
}

/** float32 and int32 are 4-byte words that the bit-exact copy kernels move unchanged. */
const isWord = (dtype: string) => dtype === 'float32' || dtype === 'int32';

/** Row-major strides of `shape` read as `outShape` (broadcast axes get stride 0). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): Int32Array {
  const strides = new Int32Array(outShape.length);
  let stride = 1;
  for (let i = outShape.length - 1, j = shape.length - 1; i >= 0; i--, j--) {
    const dim = j >= 0 ? shape[j]! : 1;
    strides[i] = dim === 1 ? 0 : stride;
    stride *= dim;
  }
  return strides;
}

function binary(binding: NativeKernels, op: 0 | 1 | 2 | 3, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (outShape.length > 8) return fallback(args);
    const out = backend.makeOutput(outShape, 'float32');
    const size = tf.util.sizeFromShape(outShape);
    if (size === 0) return out;
    const shape = outShape.length === 0 ? [1] : outShape;
    binding.binary(
      op,
      f32(backend, a, tf.util.sizeFromShape(a.shape)),
      f32(backend, b, tf.util.sizeFromShape(b.shape)),
      f32(backend, out, size),
      Int32Array.from(shape),
      broadcastStrides(a.shape, shape),
      broadcastStrides(b.shape, shape),
    );
    return out;
  };
}

/** An elementwise float32 kernel run by the addon (`run(x, out)`); other dtypes fall back. */
function unary(
  run: (x: Float32Array, out: Float32Array) => void,
  fallback: KernelFunc,
): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32') return fallback(args);
    const size = tf.util.sizeFromShape(x.shape);
    const out = backend.makeOutput([...x.shape], 'float32');
    if (size > 0) run(f32(backend, x, size), f32(backend, out, size));
    return out;
  };
}

function gatherV2(binding: NativeKernels, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    if (!isWord(x.dtype) || indices.dtype !== 'int32' || batchDims !== 0) return fallback(args);
    const $axis = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const outer = tf.util.sizeFromShape(x.shape.slice(0, $axis));
    const axisSize = x.shape[$axis]!;
    const inner = tf.util.sizeFromShape(x.shape.slice($axis + 1));
    const count = tf.util.sizeFromShape(indices.shape);
    const outShape = [...x.shape.slice(0, $axis), ...indices.shape, ...x.shape.slice($axis + 1)];
    const out = backend.makeOutput(outShape, x.dtype as 'float32');
    const size = outer * count * inner;
    if (count === 0) return out;
    const offset = backend.dataIdMap.get(indices.dataId)!.memoryOffset;
    try {
      binding.gather(
        f32(backend, x, outer * axisSize * inner),
        new Int32Array(backend.wasm.HEAPU8.buffer, offset, count),
        f32(backend, out, size),
        outer,
        axisSize,
        inner,
      );
    } catch (error) {
      (backend as unknown as { disposeData(dataId: object): void }).disposeData(out.dataId);
      throw new Error(error instanceof Error ? error.message : String(error));
    }
    return out;
  };
}

function softmax(binding: NativeKernels, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { logits } = args.inputs as { logits: TensorInfo };
    const { dim } = args.attrs as unknown as { dim: number };
    const rank = logits.shape.length;
    if (logits.dtype !== 'float32' || rank === 0 || (dim !== -1 && dim !== rank - 1)) {
      return fallback(args);
    }
    const cols = logits.shape[rank - 1]!;
    const size = tf.util.sizeFromShape(logits.shape);
    const out = backend.makeOutput([...logits.shape], 'float32');
    if (size > 0)
      binding.softmax(f32(backend, logits, size), f32(backend, out, size), size / cols, cols);
    return out;
  };
}

function transpose(binding: NativeKernels, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { x } = args.inputs as { x: TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    const rank = x.shape.length;
    if (!isWord(x.dtype) || rank < 1 || rank > 8) return fallback(args);
    const size = tf.util.sizeFromShape(x.shape);
    const out = backend.makeOutput(
      perm.map((axis) => x.shape[axis]!),
      x.dtype as 'float32',
    );
    if (size > 0) {
      binding.transpose(
        f32(backend, x, size),
        f32(backend, out, size),
        Int32Array.from(x.shape),
        Int32Array.from(perm),
      );
    }
    return out;
  };
}

function splitV(binding: NativeKernels, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as unknown as {
      numOrSizeSplits: number | number[];
      axis: number;
    };
    if (!isWord(x.dtype)) return fallback(args);
    const $axis = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(
      x as unknown as tf.Tensor,
      numOrSizeSplits,
      $axis,
    );
    const outer = tf.util.sizeFromShape(x.shape.slice(0, $axis));
    const inner = tf.util.sizeFromShape(x.shape.slice($axis + 1));
    const total = tf.util.sizeFromShape(x.shape);
    const stride = x.shape[$axis]! * inner;
    let offset = 0;
    return sizes.map((part) => {
      const shape = [...x.shape];
      shape[$axis] = part;
      const out = backend.makeOutput(shape, x.dtype as 'float32');
      const block = part * inner;
      if (outer > 0 && block > 0) {
        const src = f32(backend, x, total).subarray(offset * inner);
        binding.copyBlocks(src, f32(backend, out, outer * block), outer, block, stride, block);
      }
      offset += part;
      return out;
    });
  };
}

function concat(binding: NativeKernels, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const inputs = args.inputs as unknown as TensorInfo[];
    const first = inputs[0];
    if (first === undefined || !inputs.every((t) => isWord(t.dtype) && t.dtype === first.dtype)) {
      return fallback(args);
    }
    const $axis = tf.util.parseAxisParam(
      (args.attrs as unknown as { axis: number }).axis,
      first.shape,
    )[0]!;
    const shapes = inputs.map((t) => t.shape);
    tf.backend_util.assertParamsConsistent(shapes, $axis);
    const outShape = tf.backend_util.computeOutShape(shapes, $axis);
    const nonEmpty = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    if (nonEmpty.length === 1) return identity(fallback)({ ...args, inputs: { x: nonEmpty[0]! } });
    const out = backend.makeOutput(outShape, first.dtype as 'float32');
    const total = tf.util.sizeFromShape(outShape);
    if (total === 0) return out;
    const outer = tf.util.sizeFromShape(outShape.slice(0, $axis));
    const inner = tf.util.sizeFromShape(outShape.slice($axis + 1));
    const stride = outShape[$axis]! * inner;
    let offset = 0;
    for (const t of inputs) {
      const block = t.shape[$axis]! * inner;
      if (block > 0 && outer > 0) {
        const dst = f32(backend, out, total).subarray(offset * inner);
        binding.copyBlocks(f32(backend, t, outer * block), dst, outer, block, block, stride);
      }
      offset += t.shape[$axis]!;
    }
    return out;
  };
}

function f32(backend: WasmBackendLike, tensor: TensorInfo, size: number): Float32Array {
  const data = backend.dataIdMap.get(tensor.dataId);
  if (data === undefined) throw new Error('native: a tensor is not on the WASM heap');
  return new Float32Array(backend.wasm.HEAPU8.buffer, data.memoryOffset, size);
}

/** Identity shares the input's storage (tensors are immutable; storage is reference-counted). */
function identity(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === 'string') return fallback(args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

function batchMatMul(binding: NativeKernels, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend: backendArg, attrs } = args;
    const backend = backendArg as unknown as WasmBackendLike;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as {
      transposeA: boolean;
      transposeB: boolean;
    };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      throw new Error(`BatchMatMul on native takes float32 tensors, got ${a.dtype} and ${b.dtype}`);
    }
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
    tf.util.assert(
      k === kb,
      () =>
        `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
    const batch = tf.util.sizeFromShape(outer);
    // Equal batches, or one side a single matrix, map to strided sgemm calls; other
    // broadcasts (e.g. [2, 1] against [1, 3]) go to the WASM kernel.
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) {
      return fallback(args);
    }
    const out = backend.makeOutput([...outer, m, n], 'float32');
    // Views are made after the output is allocated: allocating may grow (and detach) the heap.
    binding.matmul(
      f32(backend, a, batchA * m * k),
      f32(backend, b, batchB * k * n),
      f32(backend, out, batch * m * n),
      batch,
      batchA === 1 ? 0 : m * k,
      batchB === 1 ? 0 : k * n,
      m,
      n,
      k,
      transposeA,
      transposeB,
    );
    return out;
  };
}

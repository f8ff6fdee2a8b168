import type { DataType, Tensor } from '../tf.js';
import { tf } from '../tf.js';

type HostArray = Float32Array | Int32Array | Uint8Array;

interface TensorInfoLike {
  readonly dataId: object;
  readonly shape: number[];
  readonly dtype: DataType;
}

/** The two methods of the WASM backend (tfjs-backend-wasm 4.x) that expose its heap. */
interface HeapBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfoLike;
  typedArrayFromHeap(info: TensorInfoLike): HostArray;
}

function heapBackend(): HeapBackend | undefined {
  const backend = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof backend.makeOutput === 'function' &&
    typeof backend.typedArrayFromHeap === 'function'
    ? (backend as HeapBackend)
    : undefined;
}

/**
 * Whether the current backend keeps tensors in this process's memory (`wasm`, `cpu`, and
 * `native`, which is the WASM backend with native kernels, its tensors on the same heap), so an
 * op can run as one plain loop over the values instead of a chain of kernels. Elsewhere (a GPU
 * backend, tfjs-node) the ops keep their kernel path.
 */
export function hostMemoryBackend(): boolean {
  const name = tf.getBackend();
  if (name === 'wasm') {
    shareIdentityOnWasm();
    return true;
  }
  // `native` registers its own storage-sharing Identity (decision 0077).
  return name === 'cpu' || (name === 'native' && heapBackend() !== undefined);
}

let identityShared = false;

/**
 * Replaces the WASM backend's `Identity` kernel (a full copy of the input) with one that shares
 * the input's buffer and counts the reference, as the CPU backend's does and as WASM's own
 * `Reshape` already does. tfjs clones every tensor a kernel or custom gradient saves for the
 * backward pass, so on WASM a training step copied each saved activation once more (the
 * profile's `Identity` row). Values are unchanged: no WASM kernel writes into its inputs, and
 * buffers are freed when their last reference goes. Done once, the first time a host-memory op
 * runs on WASM; a no-op if the kernel is not registered.
 */
function shareIdentityOnWasm(): void {
  if (identityShared) return;
  identityShared = true;
  const original = tf.getKernel('Identity', 'wasm');
  if (original === undefined) return;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: TensorInfoLike };
      const backend = args.backend as unknown as { incRef?: (dataId: object) => void };
      if (x.dtype === 'string' || typeof backend.incRef !== 'function') {
        return (original.kernelFunc as (a: typeof args) => TensorInfoLike)(args) as never;
      }
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as never;
    },
  });
}

/** Whether the current backend keeps tensors on the WASM heap (`wasm`, and `native` over it). */
function onHeap(): boolean {
  const name = tf.getBackend();
  return name === 'wasm' || name === 'native';
}

export interface HostOutput {
  readonly shape: number[];
  readonly dtype?: 'float32' | 'int32';
}

/**
 * Runs `fill` over views of `inputs` and of newly allocated `outputs`, and returns the outputs
 * as tensors. On WASM the views are the heap itself (no copy in or out); on other host-memory
 * backends the inputs are read with `dataSync` (the CPU backend's own arrays, not copies) and
 * the outputs are fresh arrays handed to `tf.tensor`. `fill` must write every output element
 * (WASM memory is not zeroed) and must not write to the inputs.
 */
export function hostCompute(
  inputs: readonly Tensor[],
  outputs: readonly HostOutput[],
  fill: (inputs: HostArray[], outputs: HostArray[]) => void,
): Tensor[] {
  const heap = onHeap() ? heapBackend() : undefined;
  if (heap) {
    // Allocate first: a heap growth replaces the buffer every earlier view points into.
    const infos = outputs.map((o) => heap.makeOutput(o.shape, o.dtype ?? 'float32'));
    const inViews = inputs.map((t) => heap.typedArrayFromHeap(t as unknown as TensorInfoLike));
    const outViews = infos.map((info) => heap.typedArrayFromHeap(info));
    fill(inViews, outViews);
    return infos.map((info) =>
      tf
        .engine()
        .makeTensorFromTensorInfo(
          info as Parameters<ReturnType<typeof tf.engine>['makeTensorFromTensorInfo']>[0],
        ),
    );
  }
  const inViews = inputs.map((t) => t.dataSync() as HostArray);
  const outViews = outputs.map((o) => {
    const size = o.shape.reduce((a, b) => a * b, 1);
    return o.dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  });
  fill(inViews, outViews);
  return outViews.map((values, i) =>
    tf.tensor(values, outputs[i]!.shape, outputs[i]!.dtype ?? 'float32'),
  );
}

/**
 * A writable view of a tensor's own values, for ops that update a buffer they own in place (a
 * KV cache). WASM: the heap itself; CPU: the backend's array. Anything else has no such view
 * (`undefined`). Never use it on a tensor that anything else may read as immutable.
 */
export function hostWritableView(t: Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  if (onHeap()) {
    const heap = heapBackend();
    return heap
      ? (heap.typedArrayFromHeap(t as unknown as TensorInfoLike) as Float32Array)
      : undefined;
  }
  if (tf.getBackend() === 'cpu') return t.dataSync() as Float32Array;
  return undefined;
}

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
 * Whether the current backend keeps tensors in this process's memory (`wasm`, `cpu`), so an op
 * can run as one plain loop over the values instead of a chain of kernels. Elsewhere (a GPU
 * backend, tfjs-node) the ops keep their kernel path.
 */
export function hostMemoryBackend(): boolean {
  const name = tf.getBackend();
  return name === 'wasm' || name === 'cpu';
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
  const heap = tf.getBackend() === 'wasm' ? heapBackend() : undefined;
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

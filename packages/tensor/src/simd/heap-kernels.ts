import { tf } from '../tf.js';
import { KERNELS_BASE64 } from './binary.js';

/**
 * The WASM SIMD kernels of `simd/kernels.c`, instantiated over the WASM backend's own memory, so
 * they read and write tensors where tfjs keeps them. Every argument named `*Ptr` is a byte
 * offset into that memory: `view.byteOffset` of a view from `hostCompute` on the same heap.
 */
export interface HeapKernels {
  /** The memory the kernels run over; a view is theirs when `view.buffer === memory.buffer`. */
  readonly memory: WasmMemory;
  /**
   * Per row of `x` [rows, cols]: max, Σ exp(x − max), Σ exp(x − max)·(x − max), written as three
   * float64 values per row at `outPtr` (8-byte aligned).
   */
  softmaxRowStats(xPtr: number, rows: number, cols: number, outPtr: number): void;
  /**
   * out[i, j] = p·(a_i + b_i·log p), log p = x[i, j] − max_i − log s_i; `coefPtr` holds four
   * float64 per row, (max_i, log s_i, a_i, b_i). p = 0 gives 0.
   */
  softmaxStatsGrad(xPtr: number, rows: number, cols: number, coefPtr: number, outPtr: number): void;
  /**
   * One sequence's decoding-step attention: `out[h] = softmax(scale·q[h]·kᵀ)·v` over the cache
   * columns listed (int32) at `columnsPtr`; q and out `[heads, dim]`, the cache
   * `[kvHeads, capacity, dim]`, `group` query heads a kv head; `weightsPtr`: `count` floats of
   * scratch.
   */
  decodeAttentionRow(
    qPtr: number,
    keysPtr: number,
    valuesPtr: number,
    outPtr: number,
    heads: number,
    group: number,
    capacity: number,
    dim: number,
    columnsPtr: number,
    count: number,
    scale: number,
    weightsPtr: number,
  ): void;
  /**
   * Layer normalisation (or, with `rms` 1, RMS normalisation: no mean, no bias) of each row of
   * x [rows, width]; `statsPtr` (or 0) receives (mean, 1/√(var + eps)) per row as float64.
   */
  normForward(
    xPtr: number,
    weightPtr: number,
    biasPtr: number,
    outPtr: number,
    rows: number,
    width: number,
    epsilon: number,
    rms: number,
    statsPtr: number,
  ): void;
  /**
   * The gradient of {@link normForward} from x, the weight, dy and the forward's stats:
   * dx [rows, width], dw and db [width] (`dbPtr` 0 for RMS); `accPtr`: 2·width float64 of
   * scratch.
   */
  normBackward(
    xPtr: number,
    weightPtr: number,
    dyPtr: number,
    statsPtr: number,
    rows: number,
    width: number,
    rms: number,
    dxPtr: number,
    dwPtr: number,
    dbPtr: number,
    accPtr: number,
  ): void;
  /** dx = dy·(s + 2x·s(1 − s)·c·(1 + 3a·x²)): GELU's gradient from x and its s = σ(2u). */
  geluBackward(
    xPtr: number,
    sPtr: number,
    dyPtr: number,
    dxPtr: number,
    n: number,
    c: number,
    a: number,
  ): void;
  /**
   * Heads between `wide` [batch, length, width] (columns `offset + h·dim + d`) and `heads`
   * [batch, count, length, dim]; `toHeads` 1 copies wide → heads, 0 heads → wide.
   */
  copyHeads(
    widePtr: number,
    headsPtr: number,
    batch: number,
    length: number,
    width: number,
    offset: number,
    count: number,
    dim: number,
    toHeads: number,
  ): void;
  /**
   * Rotary embedding ("rotate half") of [batch, heads, length, 2·half] by the angle tables
   * [batch, length, half]; `direction` -1 rotates back (the gradient).
   */
  rotary(
    fromPtr: number,
    toPtr: number,
    cosPtr: number,
    sinPtr: number,
    batch: number,
    heads: number,
    length: number,
    half: number,
    direction: number,
  ): void;
  /** c[t] = a[t] · b[t] for `batch` row-major products [m, k] · [k, n]. */
  batchMatMul(
    aPtr: number,
    bPtr: number,
    cPtr: number,
    batch: number,
    m: number,
    k: number,
    n: number,
  ): void;
  /** out[b, c, r] = in[b, r, c] for `batch` matrices of [rows, cols]. */
  transpose(inPtr: number, batch: number, rows: number, cols: number, outPtr: number): void;
}

interface EmscriptenModule {
  readonly asm?: { readonly memory?: unknown };
}

/** The parts of the WebAssembly API used here (the package's `lib` has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  readonly Memory: abstract new (...args: never[]) => WasmMemory;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (
    module: object,
    imports: object,
  ) => { readonly exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const instances = new WeakMap<WasmMemory, HeapKernels>();
let compiled: object | null | undefined;
let enabled = typeof process === 'undefined' || process.env.HICRA_SIMD_KERNELS !== '0';

/**
 * The kernels over the current backend's heap, or `undefined` where they cannot run: a backend
 * other than `wasm` / `native`, a WASM backend whose memory is not reachable, a runtime without
 * WASM SIMD, or kernels turned off (`HICRA_SIMD_KERNELS=0`, or {@link setHeapKernelsEnabled}).
 * Callers then run their plain JavaScript loops, which give the same values up to float32
 * rounding.
 */
export function heapKernels(): HeapKernels | undefined {
  if (!enabled) return undefined;
  const name = tf.getBackend();
  if (name !== 'wasm' && name !== 'native') return undefined;
  const memory = backendMemory();
  if (memory === undefined) return undefined;
  const cached = instances.get(memory);
  if (cached !== undefined) return cached;
  const module = compileKernels();
  if (module === undefined) return undefined;
  const { exports } = new wasmApi!.Instance(module, { env: { memory } });
  const kernels: HeapKernels = {
    memory,
    softmaxRowStats: exports.softmax_row_stats as HeapKernels['softmaxRowStats'],
    softmaxStatsGrad: exports.softmax_stats_grad as HeapKernels['softmaxStatsGrad'],
    decodeAttentionRow: exports.decode_attention_row as HeapKernels['decodeAttentionRow'],
    transpose: exports.transpose as HeapKernels['transpose'],
    normForward: exports.norm_forward as HeapKernels['normForward'],
    normBackward: exports.norm_backward as HeapKernels['normBackward'],
    geluBackward: exports.gelu_backward as HeapKernels['geluBackward'],
    copyHeads: exports.copy_heads as HeapKernels['copyHeads'],
    rotary: exports.rotary as HeapKernels['rotary'],
    batchMatMul: exports.batch_matmul as HeapKernels['batchMatMul'],
  };
  instances.set(memory, kernels);
  return kernels;
}

/**
 * Turns the SIMD kernels off or on for this process (the plain JavaScript loops run instead);
 * returns the previous setting. For benchmarks and tests that compare the two paths.
 * @internal
 */
export function setHeapKernelsEnabled(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

/** Whether `view` lies in the kernels' memory (so its `byteOffset` is a pointer there). */
export function onKernelHeap(kernels: HeapKernels, view: ArrayBufferView): boolean {
  return view.buffer === kernels.memory.buffer;
}

/**
 * Whether every view lies in the kernels' memory: the test before handing their `byteOffset`s
 * to a kernel.
 */
export function allOnKernelHeap(
  kernels: HeapKernels,
  views: readonly (ArrayBufferView | undefined)[],
): boolean {
  for (const view of views) if (view === undefined || !onKernelHeap(kernels, view)) return false;
  return true;
}

/**
 * `length` float64 values over the start of `view` (scratch allocated as a float32 tensor of
 * twice the length), or `undefined` when `view` is not 8-byte aligned.
 */
export function float64Scratch(view: ArrayBufferView, length: number): Float64Array | undefined {
  return view.byteOffset % 8 === 0
    ? new Float64Array(view.buffer, view.byteOffset, length)
    : undefined;
}

function backendMemory(): WasmMemory | undefined {
  const backend = tf.backend() as unknown as { wasm?: EmscriptenModule };
  const memory = backend.wasm?.asm?.memory;
  return wasmApi !== undefined && memory instanceof wasmApi.Memory ? memory : undefined;
}

/** Compiles the module once; `undefined` (remembered) where this runtime cannot. */
function compileKernels(): object | undefined {
  if (compiled !== undefined) return compiled ?? undefined;
  if (wasmApi === undefined) {
    compiled = null;
    return undefined;
  }
  try {
    const bytes = Uint8Array.from(atob(KERNELS_BASE64), (c) => c.charCodeAt(0));
    compiled = new wasmApi!.Module(bytes);
  } catch {
    // No WASM SIMD here, or synchronous compilation refused (a browser's main thread).
    compiled = null;
  }
  return compiled ?? undefined;
}

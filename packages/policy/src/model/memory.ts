/**
 * How much memory a transformer needs, and whether the current backend can hold it. Checked
 * before anything is allocated, so a model that cannot fit fails with a message that says why
 * and what to do, instead of a WASM abort (or an out-of-memory kill) halfway through the work.
 *
 * The estimates follow measurements (`pnpm --filter @hicra/bench bench:model-limits`,
 * 2026-12-07, tfjs 4.22). On WASM a model that has run holds its weights twice over: XNNPACK
 * keeps a packed copy of every weight matrix after its first matmul, and a tied output head adds
 * a transposed copy of the embedding and that copy's packed copy; the largest model that ran
 * (405M parameters) fitted this count within 6%, and every larger one aborted, or worse, returned
 * unwritten logits without an error. On the CPU backend a forward pass needed 1.3x the weights.
 * A short training step (Adam, 64 tokens) peaked at 60 bytes a parameter on both backends:
 * weights, gradients, two Adam moments, the tape, and the optimizer's per-variable temporaries.
 * Longer batches add activations on top, which these estimates do not see.
 */
import { freemem, totalmem } from 'node:os';
import { ResourceLimitError } from '@hicra/spec';
import { tf } from '@hicra/tensor';
import { parameterCount, parameterShapes, type TransformerConfig } from './config.js';

const SOURCE = '@hicra/policy';

/**
 * The most the tfjs WASM backend's heap can grow to: 4 GiB less one 64 KiB page
 * (`getHeapMax()` of tfjs-backend-wasm 4.22, a 32-bit address space).
 */
export const WASM_HEAP_LIMIT_BYTES = 4_294_901_760;

/** The measured memory factors (see the file comment); the checks use them. */
export const MEMORY_FACTORS = {
  /**
   * WASM: the weights, a packed copy of every matrix, and for a tied head two more copies of the
   * embedding, times this margin for activations and the heap's own overhead.
   */
  wasmRunMargin: 1.1,
  /** CPU and native backends: memory a forward pass needs per byte of float32 weights. */
  runFactor: 1.3,
  /**
   * Bytes a short training step needs per parameter: 60 measured, plus a margin for the heap's
   * own overhead (a 70.8M-parameter model whose 60 bytes a parameter came within 1% of the
   * WASM limit aborted).
   */
  trainingBytesPerParameter: 64,
} as const;

export interface ModelMemory {
  readonly parameters: number;
  /** The float32 weights: what holding the model takes. */
  readonly weightBytes: number;
  /** What running a forward pass takes on the WASM backend (weights, packed copies, margin). */
  readonly wasmRunBytes: number;
  /** What running a forward pass takes on the CPU and native backends. */
  readonly runBytes: number;
  /** What a short training step takes (weights, gradients, Adam moments, the tape). */
  readonly trainingBytes: number;
}

export function modelMemory(config: TransformerConfig): ModelMemory {
  const parameters = parameterCount(config);
  let matrices = 0;
  for (const [name, shape] of parameterShapes(config))
    if (shape.length === 2 && name !== 'embed.weight') matrices += shape[0]! * shape[1]!;
  const embedding = config.vocabSize * config.width;
  const packed = parameters + matrices + (config.tiedEmbeddings ? 2 * embedding : 0);
  return {
    parameters,
    weightBytes: parameters * 4,
    wasmRunBytes: Math.ceil(packed * 4 * MEMORY_FACTORS.wasmRunMargin),
    runBytes: Math.ceil(parameters * 4 * MEMORY_FACTORS.runFactor),
    trainingBytes: parameters * MEMORY_FACTORS.trainingBytesPerParameter,
  };
}

/**
 * The bytes the backend can address: the WASM heap limit (for `native` too, whose tensors live
 * on the WASM heap), or for the other backends (tensors in JavaScript or native memory) the
 * machine's memory. `undefined` for an unknown backend.
 */
export function backendMemoryLimit(backend: string = tf.getBackend()): number | undefined {
  if (backend === 'wasm' || backend === 'native') return WASM_HEAP_LIMIT_BYTES;
  if (backend === 'cpu' || backend === 'tensorflow') return totalmem();
  return undefined;
}

/** Bytes in the largest binary unit that keeps the number at least 1 (`1.50 GiB`, `370 KiB`). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0
    ? `${bytes} bytes`
    : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** What the model is for: holding its weights, running it, or training it. */
export type MemoryPurpose = 'hold' | 'run' | 'train';

const NEEDS = {
  hold: 'its float32 weights need',
  wasmRun:
    'running it on WASM (the weights, the packed copy of every matrix XNNPACK keeps, and copies of a tied embedding) needs about',
  run: 'running it (the weights and a forward pass) needs about',
  train:
    'training it (weights, gradients, Adam moments and the tape, measured at 60 bytes a parameter for a short sequence) needs about',
} as const;

/**
 * Throws a `ResourceLimitError` when the model cannot be held (`hold`), run (`run`, the
 * default) or trained (`train`) within what the current backend can address. Nothing is
 * allocated. `limitBytes` overrides the backend's limit (tests, or a tighter budget).
 */
export function checkModelFits(
  config: TransformerConfig,
  options: {
    readonly purpose?: MemoryPurpose;
    readonly limitBytes?: number;
    readonly what?: string;
  } = {},
): ModelMemory {
  const memory = modelMemory(config);
  const purpose = options.purpose ?? 'run';
  const backend = tf.getBackend();
  const limit = options.limitBytes ?? backendMemoryLimit(backend);
  const onWasmHeap = backend === 'wasm' || backend === 'native';
  const need: keyof typeof NEEDS = purpose === 'run' && onWasmHeap ? 'wasmRun' : purpose;
  const needed =
    need === 'hold'
      ? memory.weightBytes
      : need === 'wasmRun'
        ? memory.wasmRunBytes
        : need === 'run'
          ? memory.runBytes
          : memory.trainingBytes;
  if (limit !== undefined && needed > limit) {
    const where =
      options.limitBytes !== undefined
        ? `the limit of ${formatBytes(limit)} given`
        : onWasmHeap
          ? `the ${formatBytes(limit)} the ${backend === 'native' ? 'native (WASM-heap)' : 'WASM'} backend can address; use a smaller model, or the cpu or tensorflow backend (HICRA_BACKEND=cpu)`
          : `the ${formatBytes(limit)} of this machine (${formatBytes(freemem())} free)`;
    throw new ResourceLimitError(
      `${options.what ?? 'the model'} has ${memory.parameters.toLocaleString('en-US')} parameters: ${NEEDS[need]} ${formatBytes(needed)}, more than ${where}`,
      {
        source: SOURCE,
        details: {
          neededBytes: needed,
          limitBytes: limit,
          backend,
          parameters: memory.parameters,
          purpose,
        },
      },
    );
  }
  return memory;
}

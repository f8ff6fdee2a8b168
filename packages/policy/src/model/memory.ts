/**
 * How much memory a transformer needs, and whether the current backend can hold it. Checked
 * before anything is allocated, so a model that cannot fit fails with a message that says why
 * and what to do, instead of a WASM `RangeError` (or an aborted process) halfway through a load.
 */
import { freemem, totalmem } from 'node:os';
import { ResourceLimitError } from '@hicra/spec';
import { tf } from '@hicra/tensor';
import { parameterCount, type TransformerConfig } from './config.js';

const SOURCE = '@hicra/policy';

/**
 * The most the tfjs WASM backend's heap can grow to: 4 GiB less one 64 KiB page
 * (`getHeapMax()` of tfjs-backend-wasm 4.22, a 32-bit address space).
 */
export const WASM_HEAP_LIMIT_BYTES = 4_294_901_760;

/** Float32 copies of the weights a training step holds: weights, gradients, Adam's two moments. */
const TRAINING_COPIES = 4;

export interface ModelMemory {
  readonly parameters: number;
  /** The float32 weights. */
  readonly weightBytes: number;
  /** Weights, gradients and Adam moments (activations come on top, and grow with the batch). */
  readonly trainingBytes: number;
}

export function modelMemory(config: TransformerConfig): ModelMemory {
  const parameters = parameterCount(config);
  return {
    parameters,
    weightBytes: parameters * 4,
    trainingBytes: parameters * 4 * TRAINING_COPIES,
  };
}

/**
 * The bytes the backend can address: the WASM heap limit, or for the other backends (tensors in
 * JavaScript or native memory) the machine's memory. `undefined` for an unknown backend.
 */
export function backendMemoryLimit(backend: string = tf.getBackend()): number | undefined {
  if (backend === 'wasm') return WASM_HEAP_LIMIT_BYTES;
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

/**
 * Throws a `ResourceLimitError` when the model's weights (`purpose: 'load'`), or its weights,
 * gradients and Adam moments (`'train'`), exceed what the current backend can address. Nothing
 * is allocated. `limitBytes` overrides the backend's limit (tests, or a tighter budget).
 */
export function checkModelFits(
  config: TransformerConfig,
  options: {
    readonly purpose?: 'load' | 'train';
    readonly limitBytes?: number;
    readonly what?: string;
  } = {},
): ModelMemory {
  const memory = modelMemory(config);
  const purpose = options.purpose ?? 'load';
  const backend = tf.getBackend();
  const limit = options.limitBytes ?? backendMemoryLimit(backend);
  const needed = purpose === 'load' ? memory.weightBytes : memory.trainingBytes;
  if (limit !== undefined && needed > limit) {
    const where =
      options.limitBytes !== undefined
        ? `the limit of ${formatBytes(limit)} given`
        : backend === 'wasm'
          ? `the ${formatBytes(limit)} the WASM backend can address; use a smaller model, or the cpu or tensorflow backend (HICRA_BACKEND=cpu)`
          : `the ${formatBytes(limit)} of this machine (${formatBytes(freemem())} free)`;
    throw new ResourceLimitError(
      `${options.what ?? 'the model'} has ${memory.parameters.toLocaleString('en-US')} parameters: ${purpose === 'load' ? 'its float32 weights need' : 'training it (weights, gradients and Adam moments, before activations) needs'} ${formatBytes(needed)}, more than ${where}`,
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

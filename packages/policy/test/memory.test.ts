import { ResourceLimitError } from '@hicra/spec';
import { currentBackend, initBackend } from '@hicra/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backendMemoryLimit,
  checkModelFits,
  formatBytes,
  modelMemory,
  resolveTransformerConfig,
  WASM_HEAP_LIMIT_BYTES,
} from '../src/index.js';

/** Qwen3-0.6B's architecture (config.json on the Hugging Face Hub), resolved without weights. */
const qwen3Small = resolveTransformerConfig({
  vocabSize: 151_936,
  contextLength: 40_960,
  width: 1024,
  layers: 28,
  heads: 16,
  kvHeads: 8,
  headDim: 128,
  mlpWidth: 3072,
  mlp: 'swiglu',
  norm: 'rmsnorm',
  tiedEmbeddings: true,
  qkNorm: true,
});

/** Llama-3.1-8B's architecture. */
const llama8b = resolveTransformerConfig({
  vocabSize: 128_256,
  contextLength: 131_072,
  width: 4096,
  layers: 32,
  heads: 32,
  kvHeads: 8,
  mlpWidth: 14_336,
  mlp: 'swiglu',
  norm: 'rmsnorm',
});

it('counts parameters as the published models do', () => {
  // Qwen3-0.6B: 596,049,920 parameters with the tied embedding counted once.
  expect(modelMemory(qwen3Small).parameters).toBe(596_049_920);
  // Llama-3.1-8B: 8,030,261,248.
  expect(modelMemory(llama8b).parameters).toBe(8_030_261_248);
  expect(modelMemory(qwen3Small)).toMatchObject({
    weightBytes: 596_049_920 * 4,
    trainingBytes: 596_049_920 * 16,
  });
});

it('formats byte counts in binary units', () => {
  expect(formatBytes(512)).toBe('512 bytes');
  expect(formatBytes(379_136)).toBe('370 KiB');
  expect(formatBytes(2 ** 30 * 1.5)).toBe('1.50 GiB');
  expect(formatBytes(WASM_HEAP_LIMIT_BYTES)).toBe('4.00 GiB');
});

describe('on the WASM backend', () => {
  let previous: string | undefined;
  beforeAll(async () => {
    previous = currentBackend()?.name;
    await initBackend('wasm');
  });
  afterAll(async () => {
    if (previous !== undefined && previous !== 'wasm') await initBackend(previous as 'cpu');
  });

  it('holds a 0.6B model for inference but refuses to train it, naming the 4 GiB heap', () => {
    expect(backendMemoryLimit()).toBe(WASM_HEAP_LIMIT_BYTES);
    expect(() => checkModelFits(qwen3Small)).not.toThrow();
    let caught: unknown;
    try {
      checkModelFits(qwen3Small, { purpose: 'train', what: 'Qwen3-0.6B' });
    } catch (error) {
      caught = error;
    }
    expect(ResourceLimitError.isInstance(caught)).toBe(true);
    expect((caught as Error).message).toContain(
      'Qwen3-0.6B has 596,049,920 parameters: training it (weights, gradients and Adam moments, before activations) needs 8.88 GiB, more than the 4.00 GiB the WASM backend can address',
    );
  });

  it('refuses to load an 8B model at all', () => {
    expect(() => checkModelFits(llama8b)).toThrow(
      /float32 weights need 29\.9 GiB, more than the 4\.00 GiB the WASM backend/,
    );
  });
});

import { ResourceLimitError } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { currentBackend, initBackend, tf } from '@hicra/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backendMemoryLimit,
  checkModelFits,
  formatBytes,
  MEMORY_FACTORS,
  modelMemory,
  resolveTransformerConfig,
  TransformerPolicy,
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
    runBytes: Math.ceil(596_049_920 * 4 * MEMORY_FACTORS.runFactor),
    trainingBytes: 596_049_920 * MEMORY_FACTORS.trainingBytesPerParameter,
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

  it('holds Qwen3-0.6B but refuses to run or train it (its forward pass aborted when measured)', () => {
    expect(backendMemoryLimit()).toBe(WASM_HEAP_LIMIT_BYTES);
    expect(() => checkModelFits(qwen3Small, { purpose: 'hold' })).not.toThrow();
    expectHicraError(() => checkModelFits(qwen3Small, { what: 'Qwen3-0.6B' }), {
      errorClass: ResourceLimitError,
      message:
        'Qwen3-0.6B has 596,049,920 parameters: running it on WASM (the weights, the packed copy of every matrix XNNPACK keeps, and copies of a tied embedding) needs about 5.52 GiB, more than the 4.00 GiB the WASM backend can address',
    });
    expect(() => checkModelFits(qwen3Small, { purpose: 'train' })).toThrow(
      /training it .* needs about 35\.5 GiB/,
    );
  });

  it('agrees with the measured limits: Qwen2.5-0.5B runs cut to 18 layers but not whole, a 57M model trains, a 71M one does not', () => {
    const qwen25 = (layers: number) =>
      resolveTransformerConfig({
        vocabSize: 151_936,
        contextLength: 32_768,
        width: 896,
        layers,
        heads: 14,
        kvHeads: 2,
        mlpWidth: 4864,
        mlp: 'swiglu',
        norm: 'rmsnorm',
        tiedEmbeddings: true,
        attentionBias: 'qkv',
      });
    expect(modelMemory(qwen25(24)).parameters).toBe(494_032_768);
    // Whole, its forward pass returned unwritten logits without an error; at 18 layers it ran.
    expect(() => checkModelFits(qwen25(24))).toThrow(ResourceLimitError);
    expect(() => checkModelFits(qwen25(18))).not.toThrow();
    // SmolLM2-135M's shape cut to 8 and 12 layers (56.6M and 70.8M parameters).
    const smol = (layers: number) =>
      resolveTransformerConfig({
        vocabSize: 49_152,
        contextLength: 8192,
        width: 576,
        layers,
        heads: 9,
        kvHeads: 3,
        mlpWidth: 1536,
        mlp: 'swiglu',
        norm: 'rmsnorm',
        tiedEmbeddings: true,
      });
    expect(modelMemory(smol(8)).parameters).toBe(56_632_896);
    expect(() => checkModelFits(smol(8), { purpose: 'train' })).not.toThrow();
    expect(() => checkModelFits(smol(12), { purpose: 'train' })).toThrow(ResourceLimitError);
  });

  it('refuses to load or create an 8B model at all, allocating nothing', () => {
    expect(() => checkModelFits(llama8b, { purpose: 'hold' })).toThrow(
      /float32 weights need 29\.9 GiB, more than the 4\.00 GiB the WASM backend/,
    );
    const before = tf.memory().numTensors;
    expect(() => TransformerPolicy.create(llama8b, { seed: 0 })).toThrow(
      /running it on WASM .* needs about \d+\.\d GiB, more than the 4\.00 GiB/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});

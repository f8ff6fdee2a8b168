import type { TransformerConfigInput } from '@hicra/policy';

/** The small policy of the reference app: trains in minutes on two CPU cores (WASM). */
export function smallModel(vocabSize: number): TransformerConfigInput {
  return {
    vocabSize,
    contextLength: 96,
    width: 64,
    layers: 2,
    heads: 4,
    mlp: 'gelu',
    norm: 'layernorm',
  };
}

/** A tiny policy for tests and smoke runs. */
export function tinyModel(vocabSize: number): TransformerConfigInput {
  return { vocabSize, contextLength: 96, width: 16, layers: 1, heads: 2 };
}

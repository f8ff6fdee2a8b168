import type { RolloutBatchV1 } from '../src/index.js';

/** A small valid batch: 3 responses (two groups), T = 4, every optional field present. */
export function makeBatch(
  overrides: Partial<Record<keyof RolloutBatchV1, unknown>> = {},
): RolloutBatchV1 {
  const texts = ['Wait, 3 * 8 = 24', 'ok 24', 'no'];
  // Spans: response 0 has 4 tokens, response 1 has 2, response 2 has 1.
  const spans = [
    [0, 5],
    [5, 7],
    [7, 12],
    [12, 16],
    [0, 2],
    [2, 5],
    [-1, -1],
    [-1, -1],
    [0, 2],
    [-1, -1],
    [-1, -1],
    [-1, -1],
  ].flat();
  const mask = [1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0];
  const base: RolloutBatchV1 = {
    batchSize: 3,
    seqLen: 4,
    groupIds: Int32Array.from([7, 7, 2]),
    prompts: { groupIds: Int32Array.from([7, 2]), texts: ['make 24', 'say no'] },
    tokenIds: Int32Array.from([5, 6, 7, 8, 9, 10, 0, 0, 11, 0, 0, 0]),
    responseMask: Uint8Array.from(mask),
    rewards: Float32Array.from([1, 0, 0.5]),
    tokenRewards: Float32Array.from([0, 0, 0, 1, 0, 0, 0, 0, 0.5, 0, 0, 0]),
    oldLogProbs: Float32Array.from(mask.map((m) => -m)),
    refLogProbs: Float32Array.from(mask.map((m) => -2 * m)),
    entropies: Float32Array.from(mask.map((m) => m * 0.5)),
    values: Float32Array.from(mask.map(() => 0.1)),
    planningMask: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    responseTexts: texts,
    tokenSpans: Int32Array.from(spans),
  };
  return { ...base, ...overrides } as RolloutBatchV1;
}

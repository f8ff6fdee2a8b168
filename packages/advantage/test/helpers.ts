import { readFileSync } from 'node:fs';
import type { RolloutBatchV1 } from '@hicra/spec';

export function loadFixture<T>(name: string): T[] {
  return JSON.parse(readFileSync(new URL(`./fixtures/verl/${name}.json`, import.meta.url), 'utf8'))
    .cases;
}

export interface FixtureInputs {
  index: number[];
  responseMask: number[][];
  rewards: number[];
  tokenLevelRewards?: number[][];
  values?: number[][];
}

/** A RolloutBatchV1 from a verl fixture case. */
export function batchFromFixture(c: FixtureInputs): RolloutBatchV1 {
  const batchSize = c.responseMask.length;
  const seqLen = c.responseMask[0]!.length;
  const groups = [...new Set(c.index)];
  return {
    batchSize,
    seqLen,
    groupIds: Int32Array.from(c.index),
    prompts: { groupIds: Int32Array.from(groups), texts: groups.map((g) => `prompt ${g}`) },
    tokenIds: new Int32Array(batchSize * seqLen),
    responseMask: Uint8Array.from(c.responseMask.flat()),
    rewards: Float32Array.from(c.rewards),
    ...(c.tokenLevelRewards ? { tokenRewards: Float32Array.from(c.tokenLevelRewards.flat()) } : {}),
    ...(c.values ? { values: Float32Array.from(c.values.flat()) } : {}),
  };
}

/** The fixtures' rule: |a - e| <= atol + 1e-5·|e|; returns the first failing index or -1. */
export function firstMismatch(
  actual: ArrayLike<number>,
  expected: number[],
  atol: number,
  only?: Uint8Array,
): number {
  for (let k = 0; k < expected.length; k++) {
    if (only && only[k] !== 1) continue;
    if (!(Math.abs(actual[k]! - expected[k]!) <= atol + 1e-5 * Math.abs(expected[k]!))) return k;
  }
  return -1;
}

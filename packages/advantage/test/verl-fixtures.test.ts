import { describe, expect, it } from 'vitest';
import {
  createGaeEstimator,
  createGrpoEstimator,
  createReinforcePlusPlusEstimator,
  opo,
  reinforcePlusPlusBaseline,
  rloo,
} from '../src/index.js';
import { batchFromFixture, type FixtureInputs, firstMismatch, loadFixture } from './helpers.js';

type Case = FixtureInputs & {
  advantages: number[][];
  returns?: number[][];
  normByStd?: boolean;
  epsilon?: number;
  gamma?: number;
  lam?: number;
};

function expectMatches(
  name: string,
  index: number,
  actual: Float32Array,
  expected: number[][],
  atol: number,
  only?: Uint8Array,
) {
  const flat = expected.flat();
  const k = firstMismatch(actual, flat, atol, only);
  expect(k, `${name} case ${index}: index ${k}: ${actual[k]} vs ${flat[k]}`).toBe(-1);
}

describe('verl golden vectors', () => {
  it.each([
    ['grpo', 1e-6],
    ['rloo', 1e-6],
    ['opo', 1e-6],
    ['reinforce_pp_baseline', 1e-4],
  ] as const)('%s: every case', (file, atol) => {
    const cases = loadFixture<Case>(file);
    expect(cases.length).toBeGreaterThan(0);
    cases.forEach((c, index) => {
      const batch = batchFromFixture(c);
      const estimator =
        file === 'grpo'
          ? createGrpoEstimator({ normByStd: c.normByStd!, epsilon: c.epsilon! })
          : file === 'rloo'
            ? rloo
            : file === 'opo'
              ? opo
              : reinforcePlusPlusBaseline;
      const result = estimator.estimate(batch);
      expectMatches(file, index, result.advantages, c.advantages, atol);
    });
  });

  it('grpo covers both std settings and groups of one', () => {
    const cases = loadFixture<Case>('grpo');
    expect(new Set(cases.map((c) => c.normByStd))).toEqual(new Set([true, false]));
    expect(
      cases.some((c) => c.index.some((id) => c.index.filter((x) => x === id).length === 1)),
    ).toBe(true);
  });

  it('reinforce_pp: every case (advantages and returns)', () => {
    loadFixture<Case>('reinforce_pp').forEach((c, index) => {
      const batch = batchFromFixture(c);
      const result = createReinforcePlusPlusEstimator({ gamma: c.gamma! }).estimate(batch);
      expectMatches('reinforce_pp advantages', index, result.advantages, c.advantages, 1e-4);
      expectMatches(
        'reinforce_pp returns',
        index,
        result.returns!,
        c.returns!,
        1e-4,
        batch.responseMask,
      );
    });
  });

  it('gae: every case, compared on valid positions (verl leaves whitened values in padding)', () => {
    loadFixture<Case>('gae').forEach((c, index) => {
      const batch = batchFromFixture(c);
      const result = createGaeEstimator({ gamma: c.gamma!, lambda: c.lam! }).estimate(batch);
      expectMatches(
        'gae advantages',
        index,
        result.advantages,
        c.advantages,
        1e-6,
        batch.responseMask,
      );
      expectMatches('gae returns', index, result.returns!, c.returns!, 1e-6);
      for (let k = 0; k < batch.responseMask.length; k++) {
        if (batch.responseMask[k] === 0) expect(result.advantages[k]).toBe(0);
      }
    });
  });
});

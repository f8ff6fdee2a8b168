import { type RolloutBatchV1, TRAIN_METRIC_KEYS } from '@hicra/spec';
import { describe, expect, it } from 'vitest';
import {
  createForkTokensAssigner,
  createGrpoPassKEstimator,
  createHicraAssigner,
  createHicraCodeVariantAssigner,
  createHighEntropyAdvantageAssigner,
  creditFromEstimate,
  drGrpo,
  grpo,
} from '../src/index.js';

/** Two groups; T = 4. Group 5: rewards 1, 0, 1 (lengths 4, 2, 3). Group 9: reward 0.5 alone (length 1). */
function batch(extra: Partial<RolloutBatchV1> = {}): RolloutBatchV1 {
  return {
    batchSize: 4,
    seqLen: 4,
    groupIds: Int32Array.of(5, 5, 9, 5),
    prompts: { groupIds: Int32Array.of(5, 9), texts: ['p5', 'p9'] },
    tokenIds: new Int32Array(16),
    responseMask: Uint8Array.of(1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0),
    rewards: Float32Array.of(1, 0, 0.5, 1),
    planningMask: Uint8Array.of(1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),
    entropies: Float32Array.of(0.1, 2, 0.3, 0.2, 1.5, 0.05, 0, 0, 0.9, 0, 0, 0, 3, 0.4, 0.6, 0),
    ...extra,
  };
}

describe('GRPO and Dr.GRPO by hand', () => {
  it('centres by the group mean and divides by the unbiased std; a group of one keeps its score', () => {
    const b = batch();
    // group 5: mean 2/3, unbiased std sqrt(1/3) = 0.57735
    const std = Math.sqrt(1 / 3);
    const a1 = (1 - 2 / 3) / (std + 1e-6);
    const a0 = (0 - 2 / 3) / (std + 1e-6);
    const advantages = Array.from(grpo.estimate(b).advantages);
    expect(advantages[0]).toBeCloseTo(a1, 5);
    expect(advantages[4]).toBeCloseTo(a0, 5);
    expect(advantages.slice(6, 8)).toEqual([0, 0]);
    expect(advantages[8]).toBeCloseTo(0.5 / (1 + 1e-6), 7); // mean 0, std 1, as verl
    expect(
      Array.from(drGrpo.estimate(b).advantages.subarray(0, 2)).map((x) => Number(x.toFixed(5))),
    ).toEqual([0.33333, 0.33333]);
  });

  it('uses the sum of token rewards when the batch carries them', () => {
    const tokenRewards = new Float32Array(16);
    tokenRewards[3] = 1;
    tokenRewards[1] = 0.5; // a process reward inside response 0
    tokenRewards[13] = 1;
    const result = drGrpo.estimate(batch({ tokenRewards }));
    // scores: 1.5, 0, 0 (row 2 has no token reward), 1 -> group 5 mean 2.5/3
    expect(result.advantages[0]).toBeCloseTo(1.5 - 2.5 / 3, 5);
    expect(result.advantages[8]).toBeCloseTo(0, 6);
  });

  it('warns when given values it does not use', () => {
    const result = grpo.estimate(batch({ values: new Float32Array(16) }));
    expect(result.warnings).toEqual([
      {
        code: 'ignored-input',
        message: 'grpo does not use RolloutBatchV1.values; it was ignored',
        source: 'estimator:grpo',
      },
    ]);
    expect(grpo.estimate(batch()).warnings).toEqual([]);
  });

  it('reports advantage statistics over the mask', () => {
    const { diagnostics } = drGrpo.estimate(batch());
    expect(diagnostics[TRAIN_METRIC_KEYS.advantageMin]).toBeCloseTo(-2 / 3, 6);
    expect(diagnostics[TRAIN_METRIC_KEYS.advantageMax]).toBeCloseTo(0.5, 6);
  });
});

describe('GRPO pass@k by hand', () => {
  it('gives only the best response of each group r_max - r_second', () => {
    const b = batch({ rewards: Float32Array.of(0.9, 0.2, 0.5, 0.4) });
    const plain = createGrpoPassKEstimator({ normByStd: false }).estimate(b).advantages;
    expect(Array.from(plain.subarray(0, 4)).map((x) => Number(x.toFixed(6)))).toEqual([
      0.5, 0.5, 0.5, 0.5,
    ]);
    expect(Array.from(plain.subarray(4, 8))).toEqual([0, 0, 0, 0]);
    expect(Array.from(plain.subarray(8, 16))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]); // group of one, then the third response
    const scaled = createGrpoPassKEstimator().estimate(b).advantages[0]!;
    const std = Math.sqrt(((0.9 - 0.5) ** 2 + (0.2 - 0.5) ** 2 + (0.4 - 0.5) ** 2) / 2);
    expect(scaled).toBeCloseTo(0.5 / (std + 1e-6), 4);
  });

  it('gives 0 to a tie for the best', () => {
    const b = batch({ rewards: Float32Array.of(1, 0, 0.5, 1) });
    expect(
      Array.from(createGrpoPassKEstimator().estimate(b).advantages).every((a) => a === 0),
    ).toBe(true);
  });
});

describe('HICRA by hand', () => {
  const start = (b: RolloutBatchV1) => creditFromEstimate(b, drGrpo.estimate(b));

  it('A + alpha·|A| on planning tokens: x1.2 for positive, x0.8 for negative, execution untouched', () => {
    const b = batch();
    const credit = start(b);
    const out = createHicraAssigner({ alpha: 0.2 }).assign(b, credit);
    const a = (x: number) => Number(x.toFixed(5));
    // response 0 (A = 1/3): planning tokens 0 and 3
    expect(Array.from(out.advantages.subarray(0, 4)).map(a)).toEqual([
      a(0.4),
      a(1 / 3),
      a(1 / 3),
      a(0.4),
    ]);
    // response 1 (A = -2/3): planning tokens 0 and 1 -> -2/3 · 0.8
    expect(Array.from(out.advantages.subarray(4, 6)).map(a)).toEqual([
      a(-0.8 * (2 / 3)),
      a(-0.8 * (2 / 3)),
    ]);
    // response 3 (A = 1/3): planning token 1
    expect(Array.from(out.advantages.subarray(12, 15)).map(a)).toEqual([
      a(1 / 3),
      a(0.4),
      a(1 / 3),
    ]);
    expect(out.lossMask).toEqual(credit.lossMask);
    expect(out.diagnostics[TRAIN_METRIC_KEYS.planningTokenShare]).toBeCloseTo(5 / 10, 6);
    expect(out.diagnostics[TRAIN_METRIC_KEYS.amplifiedTokenShare]).toBeCloseTo(5 / 10, 6);
    expect(out.diagnostics[TRAIN_METRIC_KEYS.lossMaskedShare]).toBe(0);
  });

  it('alpha 0 changes nothing, alpha 1 doubles positives and zeroes negatives', () => {
    const b = batch();
    const credit = start(b);
    expect(createHicraAssigner({ alpha: 0 }).assign(b, credit).advantages).toEqual(
      credit.advantages,
    );
    const one = createHicraAssigner({ alpha: 1 }).assign(b, credit).advantages;
    expect(one[0]).toBeCloseTo(2 / 3, 6);
    expect(one[4]).toBe(0);
  });
});

describe('the baselines by hand', () => {
  const start = (b: RolloutBatchV1) => creditFromEstimate(b, drGrpo.estimate(b));

  it('high-entropy advantage amplifies the top-q entropy tokens of the batch', () => {
    const b = batch();
    // 10 valid entropies: 0.1 2 0.3 0.2 1.5 0.05 0.9 3 0.4 0.6 -> q = 0.3 keeps >= 0.7-quantile
    // sorted: 0.05 0.1 0.2 0.3 0.4 0.6 0.9 1.5 2 3; position 6.3 -> 0.9 + 0.3·0.6 = 1.08: keeps 2, 1.5, 3
    const out = createHighEntropyAdvantageAssigner({ alpha: 0.2, q: 0.3 }).assign(
      b,
      start(b),
    ).advantages;
    expect(out[1]).toBeCloseTo(0.4, 5);
    expect(out[4]).toBeCloseTo(-0.8 * (2 / 3), 5);
    expect(out[12]).toBeCloseTo(0.4, 5);
    expect(out[0]).toBeCloseTo(1 / 3, 5);
  });

  it('fork tokens keep the loss mask only at or above the (1 - rho) quantile; advantages unchanged', () => {
    const b = batch();
    const credit = start(b);
    const out = createForkTokensAssigner({ rho: 0.3 }).assign(b, credit);
    expect(out.advantages).toBe(credit.advantages);
    expect(Array.from(out.lossMask)).toEqual([0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    expect(out.diagnostics[TRAIN_METRIC_KEYS.lossMaskedShare]).toBeCloseTo(0.7, 6);
  });

  it('fork tokens AND with an incoming loss mask', () => {
    const b = batch();
    const credit = {
      ...start(b),
      lossMask: Uint8Array.of(1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0),
    };
    expect(Array.from(createForkTokensAssigner({ rho: 0.3 }).assign(b, credit).lossMask)).toEqual([
      0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    ]);
  });

  it('the code variant touches only positive responses longer than their group mean', () => {
    const b = batch();
    // group 5 lengths 4, 2, 3 -> mean 3: only response 0 (A > 0, length 4) qualifies
    const out = createHicraCodeVariantAssigner({ alpha: 0.2, q: 0.3 }).assign(
      b,
      start(b),
    ).advantages;
    // response 0: planning tokens 0, 3; top-30% entropy within it: 0.1 2 0.3 0.2 -> 0.7-quantile at 2.1: 0.3 + 0.1·1.7 = 0.47 -> token 1
    const a = (x: number) => Number(x.toFixed(5));
    expect(Array.from(out.subarray(0, 4)).map(a)).toEqual([a(0.4), a(0.4), a(1 / 3), a(0.4)]);
    expect(out[4]).toBeCloseTo(-2 / 3, 6); // negative response: never damped here
    expect(out[13]).toBeCloseTo(1 / 3, 6); // response 3 has length 3 = the mean: not longer
  });
});

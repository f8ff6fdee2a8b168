import { ErrorCode, HicraError, type RolloutBatchV1 } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import {
  createDrGrpoEstimator,
  createGaeEstimator,
  createGrpoEstimator,
  createGrpoPassKEstimator,
  createHicraAssigner,
  createReinforcePlusPlusEstimator,
  defaultRegistry,
  defineEstimator,
} from '../src/index.js';

/** B responses of `seqLen` valid tokens each, one reward per response. */
function batchOf(
  rewards: readonly number[],
  groupIds: readonly number[],
  extra: Partial<RolloutBatchV1> = {},
  seqLen = 2,
): RolloutBatchV1 {
  const groups = [...new Set(groupIds)];
  return {
    batchSize: rewards.length,
    seqLen,
    groupIds: Int32Array.from(groupIds),
    prompts: { groupIds: Int32Array.from(groups), texts: groups.map((g) => `prompt ${g}`) },
    tokenIds: new Int32Array(rewards.length * seqLen),
    responseMask: new Uint8Array(rewards.length * seqLen).fill(1),
    rewards: Float32Array.from(rewards),
    ...extra,
  };
}

const ESTIMATORS = defaultRegistry.estimatorNames();

describe('numeric settings are checked where the estimator is configured', () => {
  it.each([
    ['grpo', 0],
    ['grpo', -1e-6],
    ['grpo', Number.POSITIVE_INFINITY],
    ['grpo', Number.NaN],
    ['dr-grpo', 0],
    ['grpo-pass-k', 0],
    ['grpo-pass-k', -1],
  ])('%s rejects epsilon = %s in the registry, naming the key and the range', (name, epsilon) => {
    const error = expectHicraError(() => defaultRegistry.estimator({ name, epsilon }));
    expect(error.code).toBe(ErrorCode.InvalidConfig);
    expect(error.message).toContain('config key estimator.epsilon');
    expect(error.message).toContain(name);
    expect(error.message).toContain(Number.isFinite(epsilon) ? 'a number > 0' : 'a finite number');
    expect(error.message).toContain(`got ${String(epsilon)}`);
  });

  it.each([
    ['createGrpoEstimator', 'epsilon', '0', () => createGrpoEstimator({ epsilon: 0 })],
    ['createDrGrpoEstimator', 'epsilon', '-1', () => createDrGrpoEstimator({ epsilon: -1 })],
    [
      'createGrpoPassKEstimator',
      'epsilon',
      'NaN',
      () => createGrpoPassKEstimator({ epsilon: Number.NaN }),
    ],
    ['createGaeEstimator', 'gamma', '1.5', () => createGaeEstimator({ gamma: 1.5 })],
    [
      'createGaeEstimator',
      'lambda',
      '-Infinity',
      () => createGaeEstimator({ lambda: Number.NEGATIVE_INFINITY }),
    ],
    [
      'createReinforcePlusPlusEstimator',
      'gamma',
      '-0.1',
      () => createReinforcePlusPlusEstimator({ gamma: -0.1 }),
    ],
  ])(
    '%s checks %s = %s itself, with the schema its registration declares',
    (_factory, key, shown, make) => {
      const error = expectHicraError(make);
      expect(error.code).toBe(ErrorCode.InvalidConfig);
      expect(error.message).toContain(`config key ${key}`);
      expect(error.message).toMatch(
        shown === 'NaN' || shown === '-Infinity'
          ? /a finite number/
          : key === 'epsilon'
            ? /a number > 0/
            : /a number (>= 0|<= 1)/,
      );
      expect(error.message).toContain(`got ${shown}`);
      expect(error.details).toMatchObject({ setting: key });
    },
  );

  it('epsilon > 0 keeps a group whose rewards are all equal finite (advantage 0)', () => {
    const batch = batchOf([1, 1, 0.5, 0.5], [0, 0, 1, 1]);
    for (const epsilon of [1e-6, 1e-30]) {
      const { advantages } = createGrpoEstimator({ epsilon }).estimate(batch);
      expect(Array.from(advantages)).toEqual(new Array(8).fill(0));
    }
  });
});

describe('huge finite rewards: finite advantages or a clear error, never Inf or NaN', () => {
  const MAX = 3e38;
  const cases: [string, RolloutBatchV1][] = [
    ['rewards ±3e38 in one group', batchOf([MAX, -MAX], [0, 0])],
    ['rewards 3e38, 3e38, -3e38 in one group', batchOf([MAX, MAX, -MAX], [0, 0, 0])],
    ['rewards ±3e38 in groups of one', batchOf([MAX, -MAX], [0, 1])],
    [
      'token rewards summing to ±6e38',
      batchOf([0, 0], [0, 0], { tokenRewards: Float32Array.from([MAX, MAX, -MAX, -MAX]) }),
    ],
    [
      'token rewards summing to ±6e38 in groups of one',
      batchOf([0, 0], [0, 1], { tokenRewards: Float32Array.from([MAX, MAX, -MAX, -MAX]) }),
    ],
  ];
  const withValues = (batch: RolloutBatchV1, value: number): RolloutBatchV1 => ({
    ...batch,
    values: new Float32Array(batch.batchSize * batch.seqLen).fill(value),
  });

  for (const name of ESTIMATORS) {
    it(`${name}`, () => {
      for (const [label, base] of cases) {
        for (const batch of name === 'gae'
          ? [withValues(base, 0), withValues(base, -MAX), withValues(base, MAX)]
          : [base]) {
          let result: ReturnType<ReturnType<typeof defaultRegistry.estimator>['estimate']>;
          try {
            result = defaultRegistry.estimator(name).estimate(batch);
          } catch (error) {
            if (!HicraError.isInstance(error)) throw error;
            expect(error.code, `${name}, ${label}`).toBe(ErrorCode.NonFinite);
            expect(error.message).toContain(`${name}: the `);
            expect(error.message).toMatch(/(advantage|return) (of|at) response \d+/);
            expect(error.message).toMatch(/\(group \d+\)/);
            expect(error.message).toContain('outside the float32 range');
            expect(error.details).toMatchObject({ estimator: name });
            continue;
          }
          expect(Array.from(result.advantages).every(Number.isFinite), `${name}, ${label}`).toBe(
            true,
          );
          if (result.returns !== undefined)
            expect(Array.from(result.returns).every(Number.isFinite), `${name}, ${label}`).toBe(
              true,
            );
        }
      }
    });
  }

  it('rloo on ±3e38 names the estimator, the response, the group and the quantity', () => {
    const error = expectHicraError(() => defaultRegistry.estimator('rloo').estimate(cases[0]![1]));
    expect(error.code).toBe(ErrorCode.NonFinite);
    // The rewards are float32: 3e38 is stored as 3.0000000054977558e38.
    const value = 2 * Math.fround(MAX);
    expect(error.message).toBe(
      `@hicra/advantage: rloo: the advantage of response 0 (group 0) is ${value}, outside the float32 range of the result (±3.4028234663852886e+38); the inputs are finite but too large for this estimator: rescale the rewards`,
    );
    expect(error.details).toMatchObject({
      estimator: 'rloo',
      quantity: 'advantage',
      response: 0,
      group: 0,
      value: String(value),
    });
  });

  it('whitening estimators compute in float64 and stay finite on rewards near the float32 limit', () => {
    const batch = cases[1]![1];
    const { advantages } = defaultRegistry
      .estimator('reinforce-plus-plus-baseline')
      .estimate(batch);
    // Centred scores 1e38, 1e38, -2e38 (float64) on two tokens each, whitened over the six
    // tokens: mean 0, unbiased variance (4·1 + 2·4)/5 = 2.4 (in units of 1e38).
    const expected = [1, 1, 1, 1, -2, -2].map((x) => x / Math.sqrt(2.4));
    for (let k = 0; k < expected.length; k++) expect(advantages[k]).toBeCloseTo(expected[k]!, 5);
  });

  it('reinforce-plus-plus names the return that overflows, by response and token', () => {
    const error = expectHicraError(() =>
      defaultRegistry.estimator('reinforce-plus-plus').estimate(cases[3]![1]),
    );
    expect(error.code).toBe(ErrorCode.NonFinite);
    expect(error.message).toContain(
      `reinforce-plus-plus: the return at response 0, token 0 (group 0) is ${2 * Math.fround(MAX)}, outside the float32 range`,
    );
  });

  it('a custom estimator with neither compute nor perResponse is refused when defined, naming it', () => {
    const error = expectHicraError(() =>
      defineEstimator({ name: 'empty' } as unknown as Parameters<typeof defineEstimator>[0]),
    );
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    expect(error.message).toContain('estimator "empty" needs compute(batch) or perResponse(batch)');
  });

  it('an estimator given only perResponse broadcasts it over the valid tokens', () => {
    const halves = defineEstimator({
      name: 'halves',
      perResponse: (batch) => Float64Array.from({ length: batch.batchSize }, (_, i) => i + 0.5),
    });
    const { advantages } = halves.estimate(batchOf([1, 0], [0, 0]));
    const batch = batchOf([1, 0], [0, 0]);
    expect(Array.from(advantages)).toEqual(
      Array.from(batch.responseMask, (m, k) => (m === 1 ? Math.floor(k / batch.seqLen) + 0.5 : 0)),
    );
  });

  it('a custom estimator returning non-finite advantages is stopped, naming it', () => {
    const broken = defineEstimator({
      name: 'broken',
      compute: (batch) => {
        const advantages = new Float32Array(batch.batchSize * batch.seqLen);
        advantages[3] = Number.NaN;
        return { advantages };
      },
    });
    const error = expectHicraError(() => broken.estimate(batchOf([1, 0], [0, 0])));
    expect(error.code).toBe(ErrorCode.NonFinite);
    expect(error.message).toContain(
      'broken: the advantage at response 1, token 1 (group 0) is NaN',
    );
  });

  it('hicra cannot amplify an advantage past the float32 range silently', () => {
    const batch = batchOf([1, 0], [0, 1], { planningMask: Uint8Array.from([1, 0, 0, 0]) });
    const advantages = Float32Array.from([3.3e38, 3.3e38, 0, 0]);
    const error = expectHicraError(() =>
      createHicraAssigner({ alpha: 0.2 }).assign(batch, {
        advantages,
        lossMask: new Uint8Array(batch.responseMask),
        diagnostics: {},
        warnings: [],
      }),
    );
    expect(error.code).toBe(ErrorCode.NonFinite);
    expect(error.message).toContain(
      'assigner hicra: the advantage at response 0, token 0 (group 0) is',
    );
    expect(error.message).toContain('is Infinity: the result overflowed the float32 range');
  });
});

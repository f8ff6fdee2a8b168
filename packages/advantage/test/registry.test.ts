import {
  ConfigError,
  type CreditAssignerRegistrationV1,
  type CreditAssignerV1,
  ErrorCode,
  type RolloutBatchV1,
  TRAIN_METRIC_KEYS,
  UnknownNameError,
} from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { describe, expect, it } from 'vitest';
import {
  CreditRegistry,
  composeCredit,
  createCreditPipeline,
  createHicraAssigner,
  creditStatistics,
  defaultRegistry,
  drGrpo,
  grpo,
} from '../src/index.js';
import { randomRolloutBatch } from '../src/testing/index.js';

describe('CreditRegistry', () => {
  it('holds every built-in under the names of @hicra/spec', () => {
    expect(defaultRegistry.estimatorNames()).toEqual([
      'dr-grpo',
      'gae',
      'grpo',
      'grpo-pass-k',
      'opo',
      'reinforce-plus-plus',
      'reinforce-plus-plus-baseline',
      'rloo',
    ]);
    expect(defaultRegistry.assignerNames()).toEqual([
      'fork-tokens',
      'hicra',
      'hicra-code-variant',
      'high-entropy-advantage',
    ]);
  });

  it('builds a pipeline from the JSON config and runs it', () => {
    const batch = randomRolloutBatch(new SeededGenerator(1), { emptyRows: false });
    const pipeline = createCreditPipeline({
      estimator: { name: 'grpo', normByStd: false },
      assigners: [
        { name: 'hicra', alpha: 0.2 },
        { name: 'fork-tokens', rho: 0.5 },
      ],
    });
    const credit = pipeline.run(batch);
    const manual = createHicraAssigner({ alpha: 0.2 }).assign(batch, {
      advantages: drGrpo.estimate(batch).advantages,
      lossMask: new Uint8Array(batch.responseMask),
      diagnostics: {},
      warnings: [],
    });
    expect(credit.advantages).toEqual(manual.advantages);
    expect(credit.lossMask.reduce((a, b) => a + b, 0)).toBeLessThan(
      batch.responseMask.reduce((a, b) => a + b, 0),
    );
    expect(pipeline.config.assigners.map((a) => a.name)).toEqual(['hicra', 'fork-tokens']);
    expect(credit.diagnostics['credit/hicra/amplified_token_share']).toBeGreaterThan(0);
  });

  it("reports the final credit's statistics, even after an assigner that passes stale diagnostics through", () => {
    const batch = randomRolloutBatch(new SeededGenerator(4), { emptyRows: false });
    // Written by hand against the contract, as a contributor might: it triples every advantage,
    // drops the first response token from the loss and returns the diagnostics it was given.
    const tripler: CreditAssignerV1 = {
      name: 'tripler',
      assign(_batch, credit) {
        const lossMask = new Uint8Array(credit.lossMask);
        lossMask[lossMask.indexOf(1)] = 0;
        return { ...credit, advantages: credit.advantages.map((a) => 3 * a), lossMask };
      },
    };
    const credit = composeCredit(grpo, [tripler]).run(batch);
    const estimated = grpo.estimate(batch).diagnostics;
    const direct = creditStatistics(batch, credit);
    expect(credit.diagnostics).toMatchObject(direct);
    expect(credit.diagnostics[TRAIN_METRIC_KEYS.advantageStd]).toBeCloseTo(
      3 * estimated[TRAIN_METRIC_KEYS.advantageStd]!,
      4,
    );
    let tokens = 0;
    for (const m of batch.responseMask) tokens += m;
    expect(credit.diagnostics[TRAIN_METRIC_KEYS.lossMaskedShare]).toBeCloseTo(1 / tokens, 6);
  });

  it('passes the estimator returns through the pipeline', () => {
    const batch = randomRolloutBatch(new SeededGenerator(2));
    expect(
      createCreditPipeline({ estimator: { name: 'gae', gamma: 0.9, lambda: 0.9 } }).run(batch)
        .returns,
    ).toBeInstanceOf(Float32Array);
    expect(
      createCreditPipeline({ estimator: { name: 'grpo' } }).run(batch).returns,
    ).toBeUndefined();
  });

  it.each([
    [
      { estimator: { name: 'gpro' } },
      ErrorCode.UnknownName,
      ['unknown estimator "gpro"', 'known estimators: "dr-grpo", "gae", "grpo"'],
    ],
    [
      { estimator: { name: 'grpo' }, assigners: [{ name: 'hicrra' }] },
      ErrorCode.UnknownName,
      ['unknown assigner "hicrra"', '"hicra"'],
    ],
    [
      { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra', alpha: 1.5 }] },
      ErrorCode.InvalidConfig,
      ['config key assigners[0].alpha', 'expected a number <= 1, got 1.5'],
    ],
    [
      { estimator: { name: 'grpo' }, assigners: [{ name: 'hicra', alpah: 0.2 }] },
      ErrorCode.InvalidConfig,
      ['assigners[0].alpah', 'unknown setting; valid settings: alpha'],
    ],
    [
      { estimator: { name: 'grpo', epsilon: -1 } },
      ErrorCode.InvalidConfig,
      ['estimator.epsilon', 'expected a number > 0, got -1'],
    ],
    [{ estimator: { name: 'gae', lambda: 2 } }, ErrorCode.InvalidConfig, ['estimator.lambda']],
    [
      { estimator: { name: 'grpo' }, assigners: [{ name: 'fork-tokens', rho: 0 }] },
      ErrorCode.InvalidConfig,
      ['assigners[0].rho', '> 0'],
    ],
    [
      {
        estimator: { name: 'grpo' },
        assigners: [{ name: 'high-entropy-advantage', scope: 'token' }],
      },
      ErrorCode.InvalidConfig,
      ['scope', '"batch", "sequence"'],
    ],
    [{ estimators: [] }, ErrorCode.InvalidConfig, ['unknown key']],
  ])('rejects %j with a clear error', (config, code, fragments) => {
    const error = expectHicraError(() => createCreditPipeline(config));
    expect(error.code).toBe(code);
    for (const fragment of fragments) expect(error.message).toContain(fragment);
  });

  it('registers a third-party plug-in, refuses a duplicate name unless replacing', () => {
    const registry = new CreditRegistry();
    const registration: CreditAssignerRegistrationV1 = {
      kind: 'assigner',
      name: 'negate-nothing',
      description: 'identity',
      settings: {},
      create: () => ({ name: 'negate-nothing', assign: (_b, credit) => credit }),
    };
    registry.register(registration);
    expect(registry.assignerNames()).toContain('negate-nothing');
    expect(ConfigError.isInstance(expectHicraError(() => registry.register(registration)))).toBe(
      true,
    );
    registry.register(registration, { replace: true });
    // The default registry cannot change: importing a plug-in never changes what others resolve.
    expectHicraError(() => defaultRegistry.register(registration), {
      code: ErrorCode.InvalidConfig,
      message: ['default registry', 'cannot change', 'negate-nothing', 'new CreditRegistry()'],
    });
    expect(defaultRegistry.assignerNames()).not.toContain('negate-nothing');
    expect(new CreditRegistry({ builtins: false }).estimatorNames()).toEqual([]);
    expect(
      UnknownNameError.isInstance(
        expectHicraError(() =>
          new CreditRegistry({ builtins: false }).describe('assigner', 'hicra'),
        ),
      ),
    ).toBe(true);
  });
});

describe('bad input gets a clear error, never silent NaN', () => {
  const base = (): RolloutBatchV1 =>
    randomRolloutBatch(new SeededGenerator(3), { emptyRows: false });

  it('group ids that do not match B', () => {
    const b = base();
    const error = expectHicraError(() => grpo.estimate({ ...b, groupIds: b.groupIds.subarray(1) }));
    expect(error.code).toBe(ErrorCode.ShapeMismatch);
    expect(error.message).toMatch(
      /^@hicra\/advantage: RolloutBatchV1\.groupIds has length \d+; expected batchSize = \d+/,
    );
  });

  it('NaN or infinite rewards name the response', () => {
    const b = base();
    const rewards = b.rewards.slice();
    rewards[2] = Number.NaN;
    expect(expectHicraError(() => grpo.estimate({ ...b, rewards })).message).toContain(
      'rewards[2] is NaN',
    );
    rewards[2] = Number.POSITIVE_INFINITY;
    expect(expectHicraError(() => grpo.estimate({ ...b, rewards })).message).toContain(
      '(response 2)',
    );
  });

  it('masks that are not 0/1 and lengths that do not match', () => {
    const b = base();
    const mask = b.responseMask.slice();
    mask[0] = 3;
    expect(expectHicraError(() => grpo.estimate({ ...b, responseMask: mask })).code).toBe(
      ErrorCode.InvalidValue,
    );
    expect(expectHicraError(() => grpo.estimate({ ...b, tokenIds: new Int32Array(3) })).code).toBe(
      ErrorCode.ShapeMismatch,
    );
  });

  it('a planning mask missing when hicra needs it; entropies missing for the entropy strategies', () => {
    const { planningMask, entropies, values, ...rest } = base();
    void [planningMask, entropies, values];
    const credit = {
      advantages: grpo.estimate(rest).advantages,
      lossMask: new Uint8Array(rest.responseMask),
      diagnostics: {},
      warnings: [],
    };
    const error = expectHicraError(() => createHicraAssigner().assign(rest, credit));
    expect(error.code).toBe(ErrorCode.MissingInput);
    expect(error.message).toContain('RolloutBatchV1.planningMask is required here but absent');
    expect(
      expectHicraError(() => defaultRegistry.assigner('fork-tokens').assign(rest, credit)).message,
    ).toContain('entropies');
    expect(
      expectHicraError(() => defaultRegistry.estimator('gae').estimate(rest)).message,
    ).toContain('values');
  });

  it('alpha outside [0, 1] when constructed directly, by the schema the registry uses', () => {
    for (const [alpha, expected] of [
      [-0.1, 'a number >= 0, got -0.1'],
      [1.01, 'a number <= 1, got 1.01'],
      [Number.NaN, 'a finite number, got NaN'],
    ] as const) {
      const error = expectHicraError(() => createHicraAssigner({ alpha }), {
        code: ErrorCode.InvalidConfig,
        message: ['config key alpha', 'hicra', expected],
      });
      expect(error.message).toBe(
        expectHicraError(() => defaultRegistry.assigner({ name: 'hicra', alpha }, '')).message,
      );
    }
  });

  it('credit that does not fit the batch', () => {
    const b = base();
    const good = {
      advantages: grpo.estimate(b).advantages,
      lossMask: new Uint8Array(b.responseMask),
      diagnostics: {},
      warnings: [],
    };
    const hicra = createHicraAssigner();
    expect(
      expectHicraError(() => hicra.assign(b, { ...good, advantages: new Float32Array(2) })).message,
    ).toContain('credit.advantages must be a Float32Array of batchSize·seqLen');
    const wide = new Uint8Array(b.responseMask.length).fill(1);
    expect(expectHicraError(() => hicra.assign(b, { ...good, lossMask: wide })).message).toContain(
      'subset of the response mask',
    );
    const nan = good.advantages.slice();
    nan[0] = Number.NaN;
    expect(expectHicraError(() => hicra.assign(b, { ...good, advantages: nan })).message).toContain(
      'credit.advantages is NaN',
    );
  });
});

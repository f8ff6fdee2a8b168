import { CreditRegistry } from '@hicra/advantage';
import { describeConformance, randomRolloutBatch, SeededGenerator } from '@hicra/advantage/testing';
import { ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import { createExecutionDamping, executionDamping } from '../src/index.js';

// The whole conformance suite, in one call, with the invariants the registration declares.
describeConformance({ describe, it }, executionDamping);
describeConformance(
  { describe, it },
  { ...executionDamping, create: () => createExecutionDamping({ beta: 1 }) },
  {
    invariants: ['advantages-unchanged'],
  },
);

describe('execution-damping', () => {
  it('plugs into a registry and a pipeline config by name', () => {
    const registry = new CreditRegistry().register(executionDamping);
    const pipeline = registry.pipeline({
      estimator: { name: 'grpo' },
      assigners: [{ name: 'execution-damping', beta: 0 }],
    });
    const batch = randomRolloutBatch(new SeededGenerator(5), { emptyRows: false });
    const credit = pipeline.run(batch);
    for (let k = 0; k < credit.advantages.length; k++) {
      if (batch.planningMask![k] === 0) expect(credit.advantages[k] === 0, `index ${k}`).toBe(true);
    }
    expect(() =>
      registry.pipeline({
        estimator: { name: 'grpo' },
        assigners: [{ name: 'execution-damping', beta: 2 }],
      }),
    ).toThrow(/assigners\[0\]\.beta: execution-damping: expected a number <= 1, got 2/);
  });

  it('rejects a batch without a planning mask', () => {
    const { planningMask, ...batch } = randomRolloutBatch(new SeededGenerator(6));
    void planningMask;
    const credit = {
      advantages: new Float32Array(batch.batchSize * batch.seqLen),
      lossMask: new Uint8Array(batch.responseMask),
      diagnostics: {},
      warnings: [],
    };
    expectHicraError(() => createExecutionDamping().assign(batch, credit), {
      code: ErrorCode.MissingInput,
    });
  });
});

import type { CreditAssignerV1 } from '@hicra/spec';
import { describe, expect, it } from 'vitest';
import {
  builtinAssigners,
  builtinEstimators,
  createGaeEstimator,
  defineAssigner,
} from '../src/index.js';
import { checkConformance, describeConformance, type Invariant } from '../src/testing/index.js';

const estimatorInvariants: Record<string, Invariant[]> = {
  grpo: ['group-shift-invariant'],
  'dr-grpo': ['group-shift-invariant'],
  rloo: ['group-shift-invariant'],
  opo: ['group-shift-invariant'],
  'reinforce-plus-plus-baseline': ['group-shift-invariant'],
  'grpo-pass-k': ['group-shift-invariant'],
  'reinforce-plus-plus': [],
  gae: [],
};
const assignerInvariants: Record<string, Invariant[]> = {
  hicra: ['never-flips-sign', 'execution-untouched', 'loss-mask-unchanged'],
  'hicra-code-variant': ['never-flips-sign', 'loss-mask-unchanged'],
  'high-entropy-advantage': ['never-flips-sign', 'loss-mask-unchanged'],
  'fork-tokens': ['advantages-unchanged'],
};

describe('every built-in passes the conformance suite', () => {
  // The kit reads each registration's declared invariants; no option repeats them.
  for (const registration of builtinEstimators) {
    describeConformance({ describe, it }, registration);
  }
  for (const registration of builtinAssigners) {
    describeConformance({ describe, it }, registration);
    // also downstream of an estimator whose advantages vary within a response
    describeConformance({ describe, it }, registration, {
      upstream: createGaeEstimator({ gamma: 0.9, lambda: 0.8 }),
      seed: 7,
    });
  }
  it('every built-in declares the invariants it documents', () => {
    for (const registration of builtinEstimators)
      expect([...(registration.invariants ?? [])]).toEqual(estimatorInvariants[registration.name]);
    for (const registration of builtinAssigners)
      expect([...(registration.invariants ?? [])]).toEqual(assignerInvariants[registration.name]);
  });
  it('checks the invariants a registration declares', () => {
    const report = checkConformance(builtinAssigners.find((r) => r.name === 'hicra')!, {
      batches: 2,
    });
    expect(report.checks).toContain('invariant: execution-untouched');
  });
  it('lists every built-in invariant table entry', () => {
    expect(Object.keys(estimatorInvariants).sort()).toEqual(
      builtinEstimators.map((r) => r.name).sort(),
    );
    expect(Object.keys(assignerInvariants).sort()).toEqual(
      builtinAssigners.map((r) => r.name).sort(),
    );
  });
});

describe('the conformance suite catches broken strategies', () => {
  const broken = (
    name: string,
    compute: Parameters<typeof defineAssigner>[0]['compute'],
  ): CreditAssignerV1 => defineAssigner({ name, compute });

  it('an assigner that flips signs', () => {
    const flip = broken('flip', (_batch, credit) => ({
      advantages: credit.advantages.map((a) => -a),
    }));
    const report = checkConformance(flip, { invariants: ['never-flips-sign'] });
    expect(report.failures.map((f) => f.check)).toEqual(['invariant: never-flips-sign']);
  });

  it('an assigner that mutates its input and touches execution tokens', () => {
    const mutate = broken('mutate', (_batch, credit) => {
      credit.advantages[0] = credit.advantages[0]! * 2 + 1;
      return {};
    });
    const checks = checkConformance(mutate, { invariants: ['execution-untouched'] }).failures.map(
      (f) => f.check,
    );
    expect(checks).toContain('does not mutate its inputs');
    expect(checks).toContain('is deterministic');
  });

  it('an assigner that writes into padding or widens the loss mask', () => {
    const padding = broken('padding', (batch) => ({
      advantages: new Float32Array(batch.batchSize * batch.seqLen).fill(1),
    }));
    expect(checkConformance(padding).failures.map((f) => f.check)).toContain(
      'zero outside the mask and finite inside',
    );
    const widen: CreditAssignerV1 = {
      name: 'widen',
      assign: (batch, credit) => ({
        ...credit,
        lossMask: new Uint8Array(batch.batchSize * batch.seqLen).fill(1),
      }),
    };
    expect(checkConformance(widen).failures.map((f) => f.check)).toContain(
      'loss mask is a subset of the response mask',
    );
  });

  it('an estimator that is not shift invariant, or not deterministic', () => {
    const raw = {
      name: 'raw',
      estimate: (
        batch: Parameters<typeof defineAssigner>[0] extends never
          ? never
          : import('@hicra/spec').RolloutBatchV1,
      ) => ({
        advantages: Float32Array.from(
          batch.responseMask,
          (m, k) => m * batch.rewards[Math.floor(k / batch.seqLen)]!,
        ),
        diagnostics: {},
        warnings: [],
      }),
    };
    expect(
      checkConformance(raw, { invariants: ['group-shift-invariant'] }).failures.map((f) => f.check),
    ).toEqual(['invariant: group-shift-invariant']);
    let calls = 0;
    const noisy = {
      name: 'noisy',
      estimate: (batch: import('@hicra/spec').RolloutBatchV1) => ({
        advantages: Float32Array.from(batch.responseMask, (m) => m * ++calls),
        diagnostics: {},
        warnings: [],
      }),
    };
    expect(checkConformance(noisy).failures.map((f) => f.check)).toContain('is deterministic');
  });
});

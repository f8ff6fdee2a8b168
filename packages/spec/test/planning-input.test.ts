import { describe, expectTypeOf, it } from 'vitest';
import type { PlanningInputV1 } from '../src/index.js';

describe('PlanningInputV1', () => {
  it('takes an optional step (a call counter seeded classifiers mix into their seed)', () => {
    expectTypeOf<PlanningInputV1['step']>().toEqualTypeOf<number | undefined>();
    const withoutStep: PlanningInputV1 = {
      batchSize: 0,
      seqLen: 0,
      texts: [],
      tokenSpans: new Int32Array(0),
    };
    const withStep: PlanningInputV1 = { ...withoutStep, step: 12 };
    expectTypeOf(withStep).toMatchTypeOf<PlanningInputV1>();
  });
});

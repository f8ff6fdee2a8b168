/**
 * The fused pipeline path (built-in stages: validated once, no re-checks between stages, the
 * estimator's fresh array amplified in place, the final statistics computed once) against the
 * stage-by-stage path through the public `estimate` and `assign`, which a pipeline takes when
 * any stage is not a built-in. Equal to the bit, diagnostics and their key order included, and
 * the same first error for bad input.
 */
import {
  type AdvantageEstimatorV1,
  type CreditAssignerV1,
  HicraError,
  type RolloutBatchV1,
} from '@hicra/spec';
import { SeededGenerator } from '@hicra/tensor/kernels';
import { describe, expect, it } from 'vitest';
import {
  composeCredit,
  createHicraAssigner,
  defaultRegistry,
  defineEstimator,
  type PipelineCreditV1,
} from '../src/index.js';
import { randomRolloutBatch } from '../src/testing/index.js';

/** The same stage behind a plain object: the pipeline cannot fuse it. */
const opaqueEstimator = (e: AdvantageEstimatorV1): AdvantageEstimatorV1 => ({
  name: e.name,
  estimate: (batch) => e.estimate(batch),
});
const opaqueAssigner = (a: CreditAssignerV1): CreditAssignerV1 => ({
  name: a.name,
  assign: (batch, credit) => a.assign(batch, credit),
});

function bits(values: Float32Array | undefined): number[] | undefined {
  return values === undefined
    ? undefined
    : Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

function outcome(run: () => PipelineCreditV1): unknown {
  try {
    const credit = run();
    return {
      advantages: bits(credit.advantages),
      lossMask: Array.from(credit.lossMask),
      diagnostics: credit.diagnostics,
      keys: Object.keys(credit.diagnostics),
      warnings: credit.warnings,
      returns: bits(credit.returns),
    };
  } catch (error) {
    if (!HicraError.isInstance(error)) throw error;
    return { error: error.constructor.name, message: error.message, details: error.details };
  }
}

/** Runs a pipeline fused and stage by stage, on its own copy of the batch each time. */
function expectSameAsStaged(
  estimator: AdvantageEstimatorV1,
  assigners: readonly CreditAssignerV1[],
  batch: RolloutBatchV1,
  label: string,
): unknown {
  const fused = outcome(() => composeCredit(estimator, assigners).run({ ...batch }));
  const staged = outcome(() =>
    composeCredit(opaqueEstimator(estimator), assigners.map(opaqueAssigner)).run({ ...batch }),
  );
  expect(fused, label).toEqual(staged);
  return fused;
}

const PIPELINES: [string, string[]][] = [
  ['grpo', ['hicra']],
  ['grpo', []],
  ['dr-grpo', ['hicra', 'hicra']],
  ['rloo', ['high-entropy-advantage', 'hicra']],
  ['gae', ['hicra']],
  ['reinforce-plus-plus', ['high-entropy-advantage']],
  ['opo', ['hicra']],
  ['grpo-pass-k', ['hicra']],
];

function withEntropies(batch: RolloutBatchV1, generator: SeededGenerator): RolloutBatchV1 {
  const tokens = batch.batchSize * batch.seqLen;
  const entropies = new Float32Array(tokens);
  const values = new Float32Array(tokens);
  for (let k = 0; k < tokens; k++) {
    if (batch.responseMask[k] === 1) {
      entropies[k] = generator.nextFloat() * 3;
      values[k] = generator.nextNormal(0, 1);
    }
  }
  return { ...batch, entropies, values };
}

describe('the fused credit pipeline', () => {
  it('equals the stage-by-stage pipeline on random batches', () => {
    const generator = new SeededGenerator(19);
    for (let round = 0; round < 60; round++) {
      const batch = withEntropies(
        randomRolloutBatch(generator, {
          // Groups of one, empty rows and every alignment of the rows in the mask words.
          maxGroupSize: round % 3 === 0 ? 1 : 8,
          tokenRewards: round % 4 === 1,
          ...(round % 5 === 0 ? { seqLen: 1 + (round % 9) } : {}),
        }),
        generator,
      );
      for (const [estimator, assigners] of PIPELINES) {
        expectSameAsStaged(
          defaultRegistry.estimator(estimator),
          assigners.map((name) => defaultRegistry.assigner(name)),
          batch,
          `round ${round}: ${estimator} + ${assigners.join(', ')}`,
        );
      }
    }
  });

  it('equals it on an empty response mask, a batch of one token and masks at odd offsets', () => {
    const generator = new SeededGenerator(7);
    const base = randomRolloutBatch(generator, { groups: 2, seqLen: 5 });
    const tokens = base.batchSize * base.seqLen;
    const shifted = (mask: Uint8Array, shift: number): Uint8Array => {
      const out = new Uint8Array(mask.length + shift).subarray(shift);
      out.set(mask);
      return out;
    };
    const cases: [string, RolloutBatchV1][] = [
      [
        'empty masks',
        { ...base, responseMask: new Uint8Array(tokens), planningMask: new Uint8Array(tokens) },
      ],
      [
        'masks at byte offsets 1 and 3',
        {
          ...base,
          responseMask: shifted(base.responseMask, 1),
          planningMask: shifted(base.planningMask!, 3),
        },
      ],
    ];
    for (const [label, batch] of cases) {
      for (const [estimator, assigners] of PIPELINES.filter(([e]) => e !== 'gae')) {
        expectSameAsStaged(
          defaultRegistry.estimator(estimator),
          assigners.map((name) => defaultRegistry.assigner(name)),
          withEntropies(batch, generator),
          `${label}: ${estimator} + ${assigners.join(', ')}`,
        );
      }
    }
  });

  it('equals it on long responses, with holes in the response mask and planning in padding', () => {
    // Responses long enough that the per-response pass adds its sums a stretch at a time
    // (two-valued sums) rather than token by token, at several alphas, and response masks with
    // several runs per row.
    const generator = new SeededGenerator(23);
    for (let round = 0; round < 12; round++) {
      const base = randomRolloutBatch(generator, {
        groups: 2 + (round % 3),
        seqLen: 300 + generator.nextInt(2_500),
        tokenRewards: round % 4 === 3,
      });
      const responseMask = new Uint8Array(base.responseMask);
      const planningMask = new Uint8Array(base.planningMask!);
      const tokens = responseMask.length;
      if (round % 2 === 1) {
        // Holes: short stretches cleared inside the responses (their token rewards stay on
        // valid tokens only when there are none).
        for (let k = 0; k < tokens; k++)
          if (base.tokenRewards === undefined && generator.nextFloat() < 0.002)
            responseMask.fill(0, k, Math.min(tokens, k + 1 + generator.nextInt(40)));
        // Planning marks in padding, which no advantage there can show.
        for (let k = 0; k < tokens; k++)
          if (responseMask[k] === 0 && generator.nextFloat() < 0.1) planningMask[k] = 1;
      }
      // Masks at byte offsets: the selection's words then start at an even or odd index.
      const at = (mask: Uint8Array, offset: number): Uint8Array => {
        const out = new Uint8Array(mask.length + offset).subarray(offset);
        out.set(mask);
        return out;
      };
      const shifted = round % 3 === 2;
      const batch = withEntropies(
        {
          ...base,
          responseMask: shifted ? at(responseMask, 1) : responseMask,
          planningMask: shifted ? at(planningMask, 2 + (round % 2)) : planningMask,
        },
        generator,
      );
      const alpha = [0.2, 0, 1, 0.7][round % 4]!;
      for (const estimator of ['grpo', 'dr-grpo', 'rloo', 'opo', 'grpo-pass-k']) {
        for (const assigners of [
          [createHicraAssigner({ alpha })],
          [defaultRegistry.assigner('high-entropy-advantage'), createHicraAssigner({ alpha })],
        ]) {
          expectSameAsStaged(
            defaultRegistry.estimator(estimator),
            assigners,
            batch,
            `round ${round}: ${estimator} + ${assigners.map((a) => a.name).join(', ')}, alpha ${alpha}`,
          );
        }
      }
    }
  });

  it('equals it where a per-response advantage is -0, +0 or overflows only where unselected', () => {
    const batch = randomRolloutBatch(new SeededGenerator(29), { seqLen: 200, emptyRows: false });
    const tokens = batch.batchSize * batch.seqLen;
    // One value per response (the deferred broadcast), from the staged estimator's compute.
    const values = [-0, 0, 3.3e38, -3.3e38, 1e-40, -1.5];
    const planningMask = new Uint8Array(batch.planningMask!);
    // The huge positive responses have no planning token, so HICRA never amplifies them.
    for (let i = 2; i < batch.batchSize; i += values.length)
      planningMask.fill(0, i * batch.seqLen, (i + 1) * batch.seqLen);
    const perResponse = (b: RolloutBatchV1) =>
      Float64Array.from({ length: b.batchSize }, (_, i) => values[i % values.length]!);
    const broadcastBy = defineEstimator({
      name: 'given',
      compute: (b) => {
        const out = new Float32Array(b.batchSize * b.seqLen);
        const v = perResponse(b);
        for (let k = 0; k < out.length; k++)
          if (b.responseMask[k] === 1) out[k] = v[Math.floor(k / b.seqLen)]!;
        return { advantages: out };
      },
      perResponse,
    });
    const input = { ...batch, planningMask };
    const result = expectSameAsStaged(broadcastBy, [createHicraAssigner()], input, 'zeros');
    expect(result).not.toHaveProperty('error');
    // Selected there, the huge response overflows: the same first error either way.
    const overflowing = expectSameAsStaged(
      broadcastBy,
      [createHicraAssigner()],
      { ...batch, planningMask: new Uint8Array(tokens).fill(1) },
      'overflow',
    );
    expect(overflowing).toHaveProperty('error');
  });

  it("falls back to compute when an estimator's perResponse is not one value per response", () => {
    const batch = randomRolloutBatch(new SeededGenerator(31), { emptyRows: false });
    const lying = defineEstimator({
      name: 'short-per-response',
      compute: (b) => ({
        advantages: Float32Array.from({ length: b.batchSize * b.seqLen }, (_, k) =>
          b.responseMask[k] === 1 ? 0.5 : 0,
        ),
      }),
      perResponse: (b) => new Float64Array(b.batchSize - 1),
    });
    const result = expectSameAsStaged(lying, [createHicraAssigner()], batch, 'short');
    expect(result).not.toHaveProperty('error');
  });

  it('keeps -0 advantages (HICRA leaves zeros alone)', () => {
    const minusZero = defineEstimator({
      name: 'minus-zero',
      compute: (batch) => ({
        advantages: new Float32Array(batch.batchSize * batch.seqLen).fill(-0),
      }),
    });
    const batch = randomRolloutBatch(new SeededGenerator(3));
    const credit = composeCredit(minusZero, [createHicraAssigner()]).run(batch);
    expect(credit.advantages.every((a) => Object.is(a, -0))).toBe(true);
    expectSameAsStaged(minusZero, [createHicraAssigner()], batch, '-0');
  });

  it('throws the same first error: overflow in HICRA, missing mask, wrong estimator length', () => {
    const batch = randomRolloutBatch(new SeededGenerator(5), { emptyRows: false });
    const tokens = batch.batchSize * batch.seqLen;
    // Advantages that HICRA pushes past the float32 limit (3.3e38 · 1.2), in padding too.
    const huge = defineEstimator({
      name: 'huge',
      compute: () => ({ advantages: new Float32Array(tokens).fill(3.3e38) }),
    });
    const hugeInPadding = defineEstimator({
      name: 'huge-in-padding',
      compute: (b) => ({
        advantages: Float32Array.from({ length: tokens }, (_, k) =>
          b.responseMask[k] === 1 ? 1 : 3.3e38,
        ),
      }),
    });
    const everywhere = { ...batch, planningMask: new Uint8Array(tokens).fill(1) };
    const short = defineEstimator({
      name: 'short',
      compute: () => ({ advantages: new Float32Array(tokens - 1) }),
    });
    const { planningMask: _, ...withoutPlanning } = batch;
    const cases: [string, AdvantageEstimatorV1, RolloutBatchV1][] = [
      ['overflow', huge, batch],
      ['overflow in padding', hugeInPadding, everywhere],
      ['wrong length', short, batch],
      ['missing planning mask', defaultRegistry.estimator('grpo'), withoutPlanning],
    ];
    for (const [label, estimator, input] of cases) {
      const result = expectSameAsStaged(estimator, [createHicraAssigner()], input, label);
      expect(result, label).toHaveProperty('error');
    }
  });

  it('rejects non-finite rewards with the same message', () => {
    const batch = randomRolloutBatch(new SeededGenerator(6), { emptyRows: false });
    const rewards = new Float32Array(batch.rewards);
    rewards[1] = Number.NaN;
    const result = expectSameAsStaged(
      defaultRegistry.estimator('grpo'),
      [createHicraAssigner()],
      { ...batch, rewards },
      'NaN reward',
    );
    expect(result).toHaveProperty('error');
  });
});

import {
  ErrorCode,
  KL_ESTIMATOR_NAMES,
  type KlEstimatorName,
  LOSS_NAMES,
  type LossAggregationMode,
  type LossNameV1,
  type LossSettingsV1,
} from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type EngineLossInput,
  engineLoss,
  policyLoss,
  type Scalar,
  type Tensor,
  tf,
} from '../src/index.js';
import { expectClose, randomMask, SeededGenerator } from '../src/testing/index.js';
import { BACKENDS, loadFixture, useBackend } from './helpers.js';

/** A padded batch as typed arrays, `[B·T]` each; padding holds garbage on purpose. */
interface Batch {
  readonly B: number;
  readonly T: number;
  readonly mask: Float32Array;
  readonly logProbs: Float32Array;
  readonly oldLogProbs: Float32Array;
  readonly advantages: Float32Array;
  readonly weights: Float32Array;
  readonly entropies: Float32Array;
  readonly refLogProbs: Float32Array;
}

const FIELDS = [
  'mask',
  'logProbs',
  'oldLogProbs',
  'advantages',
  'weights',
  'entropies',
  'refLogProbs',
] as const;

function randomBatch(generator: SeededGenerator, B: number, T: number, logRatioStd = 0.4): Batch {
  const n = B * T;
  const normal = (mean: number, std: number) =>
    generator.fillNormal(new Float32Array(n), mean, std);
  const mask = Float32Array.from(randomMask(generator, B, T, 0));
  const oldLogProbs = normal(-1.5, 0.7);
  const logProbs = Float32Array.from(oldLogProbs, (v) => v + generator.nextNormal(0, logRatioStd));
  const refLogProbs = Float32Array.from(logProbs, (v) => v + generator.nextNormal(0, 0.4));
  const batch: Batch = {
    B,
    T,
    mask,
    logProbs,
    oldLogProbs,
    advantages: normal(0, 1),
    weights: generator.fillUniform(new Float32Array(n), 0.1, 2),
    entropies: generator.fillUniform(new Float32Array(n), 0, 3),
    refLogProbs,
  };
  // Garbage on padding: large enough to overflow exp if it were ever read.
  for (let i = 0; i < n; i++) {
    if (mask[i] === 0)
      for (const field of FIELDS.slice(1)) batch[field][i] = generator.nextNormal(0, 200);
  }
  return batch;
}

function toInput(batch: Batch): EngineLossInput {
  const t = (values: Float32Array) => tf.tensor2d(values, [batch.B, batch.T], 'float32');
  return {
    mask: t(batch.mask),
    logProbs: t(batch.logProbs),
    oldLogProbs: t(batch.oldLogProbs),
    advantages: t(batch.advantages),
    weights: t(batch.weights),
    entropies: t(batch.entropies),
    refLogProbs: t(batch.refLogProbs),
  };
}

const clip = (x: number, low: number, high: number) => Math.min(Math.max(x, low), high);

/** Values a loss treats as constants (torch's `detach`), computed at the point of evaluation. */
interface Frozen {
  readonly cispoCoefficient?: Float64Array;
  readonly gspoLogRatio?: Float64Array;
}

/** The settings with the documented defaults filled in. */
function withDefaults(name: LossNameV1, s: LossSettingsV1) {
  const thresholds = name === 'cispo' ? [0, 4] : [0.8, 1.2];
  const epsLow = s.clipRatioLow ?? 0.2;
  return {
    low: s.clipLowThreshold ?? thresholds[0]!,
    high: s.clipHighThreshold ?? thresholds[1]!,
    ratioLow: 1 - epsLow,
    ratioHigh: 1 + (s.clipRatioHigh ?? epsLow),
    clamp: s.logRatioClamp ?? 20,
    beta: s.beta ?? Number.NaN,
    c: s.clipRatioC,
    entropyCoefficient: s.entropyCoefficient ?? 0,
    klCoefficient: s.klCoefficient ?? 0,
    klEstimator: s.klEstimator ?? 'k3',
  };
}

function klReference(lp: number, ref: number, estimator: KlEstimatorName): number {
  switch (estimator) {
    case 'k1':
      return lp - ref;
    case 'abs':
      return Math.abs(lp - ref);
    case 'k2':
      return 0.5 * (lp - ref) ** 2;
    case 'k3': {
      const d = clip(ref - lp, -20, 20);
      return clip(Math.exp(d) - d - 1, -10, 10);
    }
  }
}

function freeze(name: LossNameV1, b: Batch, s: LossSettingsV1, lp: Float64Array): Frozen {
  const o = withDefaults(name, s);
  if (name === 'cispo') {
    return {
      cispoCoefficient: Float64Array.from(lp, (v, i) =>
        clip(Math.exp(v - b.oldLogProbs[i]!), o.low, o.high),
      ),
    };
  }
  if (name === 'gspo') {
    const perRow = new Float64Array(b.B);
    for (let r = 0; r < b.B; r++) {
      let total = 0;
      let count = 0;
      for (let t = 0; t < b.T; t++) {
        const i = r * b.T + t;
        if (b.mask[i]! > 0) {
          total += lp[i]! - b.oldLogProbs[i]!;
          count++;
        }
      }
      perRow[r] = total / Math.max(count, 1);
    }
    return { gspoLogRatio: perRow };
  }
  return {};
}

/**
 * The loss as a plain float64 formula, straight from PROTOCOLS.md 1.8 and verl; `frozen` holds
 * the detached values, so the gradient is the derivative with `frozen` held fixed.
 */
function referenceLoss(
  name: LossNameV1,
  b: Batch,
  s: LossSettingsV1,
  lp: Float64Array,
  frozen: Frozen,
): number {
  const o = withDefaults(name, s);
  let total = 0;
  for (let i = 0; i < b.mask.length; i++) {
    if (!(b.mask[i]! > 0)) continue;
    const A = b.advantages[i]!;
    const w = b.weights[i]!;
    const old = b.oldLogProbs[i]!;
    const r = Math.exp(lp[i]! - old);
    let term: number;
    switch (name) {
      case 'cross-entropy':
        term = -lp[i]! * w;
        break;
      case 'importance-sampling':
        term = -r * A;
        break;
      case 'ppo':
        term = -Math.min(r * A, clip(r, o.low, o.high) * A);
        break;
      case 'cispo':
        term = -frozen.cispoCoefficient![i]! * lp[i]! * A;
        break;
      case 'dro':
        term = -(lp[i]! * A - 0.5 * o.beta * (lp[i]! - old) ** 2);
        break;
      case 'verl-ppo':
      case 'gspo': {
        const logRatio =
          name === 'verl-ppo'
            ? lp[i]! - old
            : frozen.gspoLogRatio![Math.floor(i / b.T)]! + (lp[i]! - b.logProbs[i]!);
        const ratio = Math.exp(clip(logRatio, -o.clamp, o.clamp));
        let l = Math.max(-A * ratio, -A * clip(ratio, o.ratioLow, o.ratioHigh));
        if (o.c !== undefined && A < 0) l = Math.min(l, -A * o.c);
        term = w * l;
        break;
      }
    }
    if (o.entropyCoefficient !== 0) term -= o.entropyCoefficient * w * b.entropies[i]!;
    if (o.klCoefficient !== 0)
      term += o.klCoefficient * w * klReference(lp[i]!, b.refLogProbs[i]!, o.klEstimator);
    total += term;
  }
  return total;
}

/** The reference loss, its gradient (central differences in float64) and the metrics. */
function reference(name: LossNameV1, b: Batch, s: LossSettingsV1) {
  const lp = Float64Array.from(b.logProbs);
  const frozen = freeze(name, b, s, lp);
  const loss = referenceLoss(name, b, s, lp, frozen);
  const grad = new Float64Array(lp.length);
  const h = 1e-6;
  for (let i = 0; i < lp.length; i++) {
    const plus = Float64Array.from(lp);
    const minus = Float64Array.from(lp);
    plus[i]! += h;
    minus[i]! -= h;
    grad[i] =
      (referenceLoss(name, b, s, plus, frozen) - referenceLoss(name, b, s, minus, frozen)) /
      (2 * h);
  }
  const o = withDefaults(name, s);
  let tokens = 0;
  let clipped = 0;
  let dualClipped = 0;
  let entropy = 0;
  let kl = 0;
  for (let i = 0; i < lp.length; i++) {
    if (!(b.mask[i]! > 0)) continue;
    tokens++;
    const w = b.weights[i]!;
    entropy += w * b.entropies[i]!;
    kl += w * klReference(lp[i]!, b.refLogProbs[i]!, o.klEstimator);
    const A = b.advantages[i]!;
    const r = Math.exp(lp[i]! - b.oldLogProbs[i]!);
    if (name === 'ppo' && -clip(r, o.low, o.high) * A > -r * A) clipped++;
    if (name === 'cispo' && (r < o.low || r > o.high)) clipped++;
    if (name === 'verl-ppo' || name === 'gspo') {
      const logRatio =
        name === 'verl-ppo'
          ? lp[i]! - b.oldLogProbs[i]!
          : frozen.gspoLogRatio![Math.floor(i / b.T)]!;
      const ratio = Math.exp(clip(logRatio, -o.clamp, o.clamp));
      const unclipped = -A * ratio;
      const clippedTerm = -A * clip(ratio, o.ratioLow, o.ratioHigh);
      if (clippedTerm > unclipped) clipped++;
      if (o.c !== undefined && A < 0 && Math.max(unclipped, clippedTerm) > -A * o.c) dualClipped++;
    }
  }
  return { loss, grad, tokens, clipped, dualClipped, entropy, kl };
}

/** Settings a loss reads, drawn at random (absent keys take the defaults). */
function settingsArbitrary(name: LossNameV1): fc.Arbitrary<LossSettingsV1> {
  const real = (min: number, max: number) => fc.double({ min, max, noNaN: true });
  const common = {
    entropyCoefficient: real(0, 0.5),
    klCoefficient: real(0, 0.5),
    klEstimator: fc.constantFrom(...KL_ESTIMATOR_NAMES),
  };
  const own: Record<LossNameV1, Record<string, fc.Arbitrary<unknown>>> = {
    'cross-entropy': {},
    'importance-sampling': {},
    ppo: { clipLowThreshold: real(0, 1), clipHighThreshold: real(1, 2) },
    cispo: { clipLowThreshold: real(0, 1), clipHighThreshold: real(1, 4) },
    dro: {},
    'verl-ppo': {
      clipRatioLow: real(0, 0.5),
      clipRatioHigh: real(0, 0.5),
      clipRatioC: real(1.1, 4),
      logRatioClamp: real(0.2, 20),
    },
    gspo: {
      clipRatioLow: real(0, 0.3),
      clipRatioHigh: real(0, 0.3),
      logRatioClamp: real(0.05, 20),
    },
  };
  const optional = fc.record({ ...own[name], ...common }, { requiredKeys: [] });
  return name === 'dro'
    ? fc.tuple(optional, real(0.01, 3)).map(([s, beta]) => ({ ...s, beta }))
    : (optional as fc.Arbitrary<LossSettingsV1>);
}

const read = (t: Tensor) => t.dataSync()[0]!;

function valueAndGrad(
  name: LossNameV1,
  input: EngineLossInput,
  settings: LossSettingsV1,
): { result: ReturnType<typeof engineLoss>; grad: Tensor } {
  const grad = tf.grad((x: Tensor) => engineLoss(name, { ...input, logProbs: x }, settings).loss)(
    input.logProbs,
  );
  return { result: engineLoss(name, input, settings), grad };
}

/** The weights that fold verl's aggregation mode into a token sum. */
function aggregationWeights(
  mask: ArrayLike<number>,
  B: number,
  T: number,
  mode: LossAggregationMode,
): Float32Array {
  const counts = Array.from({ length: B }, (_, r) => {
    let n = 0;
    for (let t = 0; t < T; t++) n += mask[r * T + t]!;
    return n;
  });
  const total = counts.reduce((a, c) => a + c, 0);
  const sequences = counts.filter((c) => c > 0).length;
  return Float32Array.from(mask, (m, i) => {
    const n = counts[Math.floor(i / T)]!;
    if (m === 0) return 0;
    switch (mode) {
      case 'token-mean':
        return 1 / total;
      case 'seq-mean-token-sum':
        return 1 / sequences;
      case 'seq-mean-token-mean':
        return 1 / (n * sequences);
      case 'seq-mean-token-sum-norm':
        return 1 / T;
    }
  });
}

const MODES = [
  'token-mean',
  'seq-mean-token-sum',
  'seq-mean-token-mean',
  'seq-mean-token-sum-norm',
] as const;

describe.each(BACKENDS)('engineLoss on %s', (backend) => {
  it.each(LOSS_NAMES)(
    '%s matches its formula in value, gradient and metrics (property)',
    async (name) => {
      await useBackend(backend);
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 6 }),
          settingsArbitrary(name),
          (seed, B, T, settings) => {
            const batch = randomBatch(new SeededGenerator(seed), B, T);
            const expected = reference(name, batch, settings);
            tf.tidy(() => {
              const { result, grad } = valueAndGrad(name, toInput(batch), settings);
              expectClose(result.loss, expected.loss, { atol: 1e-4, rtol: 1e-4, label: 'loss' });
              expectClose(result.metrics['loss:sum']!, expected.loss, {
                atol: 1e-4,
                rtol: 1e-4,
                label: 'loss:sum',
              });
              expectClose(grad, expected.grad, { atol: 1e-4, rtol: 1e-3, label: 'gradient' });
              const g = grad.dataSync();
              for (let i = 0; i < g.length; i++)
                if (batch.mask[i] === 0) expect(g[i] === 0).toBe(true);
              const m = result.metrics;
              expect(read(m['tokens:sum']!)).toBe(expected.tokens);
              expectClose(m['entropy:sum']!, expected.entropy, { atol: 1e-4, rtol: 1e-4 });
              expectClose(m['kl:sum']!, expected.kl, { atol: 1e-4, rtol: 1e-4 });
              if (['ppo', 'cispo', 'verl-ppo', 'gspo'].includes(name))
                expect(read(m['clipped:sum']!)).toBe(expected.clipped);
              else expect(m['clipped:sum']).toBeUndefined();
              if (name === 'verl-ppo' && settings.clipRatioC !== undefined)
                expect(read(m['dual-clipped:sum']!)).toBe(expected.dualClipped);
              else expect(m['dual-clipped:sum']).toBeUndefined();
            });
          },
        ),
        { numRuns: 15, seed: 7 },
      );
    },
  );

  it('the entropy term takes its gradient through the entropies, padding excluded', async () => {
    await useBackend(backend);
    const batch = randomBatch(new SeededGenerator(11), 3, 5);
    tf.tidy(() => {
      const input = toInput(batch);
      const grad = tf.grad(
        (h: Tensor) =>
          engineLoss('ppo', { ...input, entropies: h }, { entropyCoefficient: 0.3 }).loss,
      )(input.entropies!);
      expectClose(
        grad,
        Float32Array.from(batch.weights, (w, i) => (batch.mask[i] ? -0.3 * w : 0)),
        { atol: 1e-6 },
      );
    });
  });

  it('Tinker losses use the documented defaults (ppo 0.8/1.2, cispo 0/4, klEstimator k3)', async () => {
    await useBackend(backend);
    const batch = randomBatch(new SeededGenerator(12), 4, 6, 1);
    tf.tidy(() => {
      const input = toInput(batch);
      for (const [name, explicit] of [
        ['ppo', { clipLowThreshold: 0.8, clipHighThreshold: 1.2 }],
        ['cispo', { clipLowThreshold: 0, clipHighThreshold: 4 }],
        ['verl-ppo', { clipRatioLow: 0.2, clipRatioHigh: 0.2, logRatioClamp: 20 }],
        ['gspo', { clipRatioLow: 0.2, clipRatioHigh: 0.2, logRatioClamp: 20 }],
        ['cross-entropy', { klCoefficient: 0.1, klEstimator: 'k3' }],
      ] as const) {
        const implicit = name === 'cross-entropy' ? { klCoefficient: 0.1 } : {};
        expectClose(
          engineLoss(name, input, implicit).loss,
          engineLoss(name, input, explicit).loss,
          { atol: 0, rtol: 0, label: name },
        );
      }
    });
  });

  it('bounds that differ as doubles but not as float32 clip correctly (WASM clamp)', async () => {
    await useBackend(backend);
    const batch = randomBatch(new SeededGenerator(13), 3, 4);
    const cases = [
      ['cispo', { clipLowThreshold: 0.99999997, clipHighThreshold: 1 }],
      ['ppo', { clipLowThreshold: 1, clipHighThreshold: 1.00000001 }],
      ['verl-ppo', { clipRatioLow: 1e-8, clipRatioHigh: 0 }],
    ] as const;
    for (const [name, settings] of cases) {
      const expected = reference(name, batch, settings);
      tf.tidy(() => {
        const { result, grad } = valueAndGrad(name, toInput(batch), settings);
        expectClose(result.loss, expected.loss, { atol: 1e-4, rtol: 1e-4, label: name });
        expectClose(grad, expected.grad, { atol: 1e-4, rtol: 1e-3, label: name });
      });
    }
  });

  it('token-mean verl-ppo with clip-higher = Tinker ppo with 1/Σmask folded into the advantages = verl-ppo with weights mask/Σmask', async () => {
    await useBackend(backend);
    const batch = randomBatch(new SeededGenerator(21), 5, 8, 0.3);
    tf.tidy(() => {
      const input = toInput(batch);
      const total = batch.mask.reduce((a, m) => a + m, 0);
      const shape: [number, number] = [batch.B, batch.T];
      const folded = tf.div(input.advantages!, total);
      const policy = (x: Tensor) => {
        const r = policyLoss(
          {
            logProbs: x,
            oldLogProbs: input.oldLogProbs!,
            advantages: input.advantages!,
            lossMask: input.mask,
          },
          // policyLoss always dual-clips; a huge c turns it off (as verl_tinker does).
          { mode: 'token-mean', clipRatioLow: 0.2, clipRatioHigh: 0.28, clipRatioC: 1e9 },
        );
        return r.loss;
      };
      const ppo = (x: Tensor) =>
        engineLoss(
          'ppo',
          { ...input, logProbs: x, advantages: folded },
          { clipLowThreshold: 0.8, clipHighThreshold: 1.28 },
        ).loss;
      const weights = tf.tensor2d(
        aggregationWeights(batch.mask, batch.B, batch.T, 'token-mean'),
        shape,
      );
      const verl = (x: Tensor) =>
        engineLoss(
          'verl-ppo',
          { ...input, logProbs: x, weights },
          { clipRatioLow: 0.2, clipRatioHigh: 0.28 },
        ).loss;
      const x = input.logProbs;
      const expectedLoss = policy(x);
      const expectedGrad = tf.grad(policy)(x);
      // The batch must exercise both clip sides, or the test would prove little.
      const clipped = read(
        engineLoss(
          'ppo',
          { ...input, advantages: folded },
          { clipLowThreshold: 0.8, clipHighThreshold: 1.28 },
        ).metrics['clipped:sum']!,
      );
      expect(clipped).toBeGreaterThan(0);
      expect(clipped).toBeLessThan(total);
      for (const [label, f] of [
        ['ppo', ppo],
        ['verl-ppo', verl],
      ] as const) {
        expectClose(f(x), expectedLoss, { atol: 1e-6, rtol: 1e-5, label: `${label} loss` });
        expectClose(tf.grad(f)(x), expectedGrad, {
          atol: 1e-7,
          rtol: 1e-4,
          label: `${label} gradient`,
        });
      }
    });
  });

  it.each(MODES)(
    'policyLoss in %s mode = verl-ppo with the mode folded into weights (also with dual clip) = ppo with it folded into advantages',
    async (mode) => {
      await useBackend(backend);
      const batch = randomBatch(new SeededGenerator(22), 6, 7, 0.5);
      tf.tidy(() => {
        const input = toInput(batch);
        const shape: [number, number] = [batch.B, batch.T];
        const w = aggregationWeights(batch.mask, batch.B, batch.T, mode);
        const weights = tf.tensor2d(w, shape);
        for (const clipRatioC of [undefined, 2]) {
          const policy = (x: Tensor) =>
            policyLoss(
              {
                logProbs: x,
                oldLogProbs: input.oldLogProbs!,
                advantages: input.advantages!,
                lossMask: input.mask,
              },
              { mode, clipRatioLow: 0.2, clipRatioHigh: 0.28, clipRatioC: clipRatioC ?? 1e9 },
            ).loss;
          const verl = (x: Tensor) =>
            engineLoss(
              'verl-ppo',
              { ...input, logProbs: x, weights },
              { clipRatioLow: 0.2, clipRatioHigh: 0.28, ...(clipRatioC ? { clipRatioC } : {}) },
            ).loss;
          const x = input.logProbs;
          const label = `${mode}, clipRatioC ${clipRatioC}`;
          expectClose(verl(x), policy(x), { atol: 1e-6, rtol: 1e-5, label });
          expectClose(tf.grad(verl)(x), tf.grad(policy)(x), { atol: 1e-7, rtol: 1e-4, label });
        }
        const ppo = (x: Tensor) =>
          engineLoss(
            'ppo',
            { ...input, logProbs: x, advantages: tf.mul(input.advantages!, weights) },
            { clipLowThreshold: 0.8, clipHighThreshold: 1.28 },
          ).loss;
        const verl = (x: Tensor) =>
          engineLoss(
            'verl-ppo',
            { ...input, logProbs: x, weights },
            { clipRatioLow: 0.2, clipRatioHigh: 0.28 },
          ).loss;
        const x = input.logProbs;
        expectClose(ppo(x), verl(x), { atol: 1e-6, rtol: 1e-5 });
        expectClose(tf.grad(ppo)(x), tf.grad(verl)(x), { atol: 1e-7, rtol: 1e-4 });
      });
    },
  );

  it("verl-ppo with folded weights reproduces verl's golden vectors (loss, clip counts)", async () => {
    await useBackend(backend);
    interface PolicyCase {
      oldLogProbs: number[][];
      logProbs: number[][];
      advantages: number[][];
      responseMask: number[][];
      lossAggMode: LossAggregationMode;
      clipRatioLow: number;
      clipRatioHigh: number;
      clipRatioC: number;
      loss: number;
      clipFraction: number;
      clipFractionLower: number;
    }
    const { cases } = loadFixture<PolicyCase>('policy_loss_vanilla');
    cases.forEach((c, index) => {
      tf.tidy(() => {
        const B = c.responseMask.length;
        const T = c.responseMask[0]!.length;
        const mask = c.responseMask.flat();
        const result = engineLoss(
          'verl-ppo',
          {
            logProbs: tf.tensor2d(c.logProbs),
            oldLogProbs: tf.tensor2d(c.oldLogProbs),
            advantages: tf.tensor2d(c.advantages),
            mask: tf.tensor2d(c.responseMask),
            weights: tf.tensor2d(aggregationWeights(mask, B, T, c.lossAggMode), [B, T]),
          },
          {
            clipRatioLow: c.clipRatioLow,
            clipRatioHigh: c.clipRatioHigh,
            clipRatioC: c.clipRatioC,
          },
        );
        const label = `case ${index} (${c.lossAggMode})`;
        expectClose(result.loss, c.loss, { atol: 1e-6, rtol: 1e-4, label: `${label} loss` });
        const tokens = read(result.metrics['tokens:sum']!);
        expectClose(read(result.metrics['clipped:sum']!) / tokens, c.clipFraction, {
          atol: 1e-6,
          label: `${label} clipped`,
        });
        expectClose(read(result.metrics['dual-clipped:sum']!) / tokens, c.clipFractionLower, {
          atol: 1e-6,
          label: `${label} dual-clipped`,
        });
      });
    });
  });

  it.each(LOSS_NAMES)(
    '%s is additive: the loss, gradient and metrics of a union are the sums of its parts',
    async (name) => {
      await useBackend(backend);
      const generator = new SeededGenerator(31);
      const settings: LossSettingsV1 = {
        ...(name === 'dro' ? { beta: 0.7 } : {}),
        ...(name === 'verl-ppo' ? { clipRatioC: 2 } : {}),
        entropyCoefficient: 0.01,
        klCoefficient: 0.05,
      };
      const T = 6;
      const first = randomBatch(generator, 3, T, 0.5);
      // The second part is narrower: padding it to T (with garbage) must change nothing.
      const second = randomBatch(generator, 2, 4, 0.5);
      const widened = { ...second, T } as Batch;
      for (const field of FIELDS) {
        const out = new Float32Array(second.B * T).fill(field === 'mask' ? 0 : Number.NaN);
        for (let r = 0; r < second.B; r++) out.set(second[field].subarray(r * 4, r * 4 + 4), r * T);
        (widened as unknown as Record<string, Float32Array>)[field] = out;
      }
      const union = { ...first, B: first.B + second.B } as Batch;
      for (const field of FIELDS) {
        const out = new Float32Array(union.B * T);
        out.set(first[field]);
        out.set(widened[field], first[field].length);
        (union as unknown as Record<string, Float32Array>)[field] = out;
      }
      tf.tidy(() => {
        const parts = [first, second].map((b) => valueAndGrad(name, toInput(b), settings));
        const whole = valueAndGrad(name, toInput(union), settings);
        expectClose(whole.result.loss, read(parts[0]!.result.loss) + read(parts[1]!.result.loss), {
          atol: 1e-5,
          rtol: 1e-5,
          label: 'loss',
        });
        for (const [key, value] of Object.entries(whole.result.metrics)) {
          expectClose(
            value,
            parts.reduce((a, p) => a + read(p.result.metrics[key] as Scalar), 0),
            { atol: 1e-5, rtol: 1e-5, label: key },
          );
        }
        const secondGrad = tf.pad(parts[1]!.grad, [
          [0, 0],
          [0, T - 4],
        ]);
        expectClose(whole.grad, tf.concat([parts[0]!.grad, secondGrad], 0), {
          atol: 1e-6,
          rtol: 1e-5,
          label: 'gradient',
        });
      });
    },
  );

  it.each(LOSS_NAMES)(
    '%s: NaN and Inf on padding are ignored; NaN at a real position makes the loss NaN',
    async (name) => {
      await useBackend(backend);
      const settings: LossSettingsV1 = name === 'dro' ? { beta: 1 } : {};
      tf.tidy(() => {
        const mask = tf.tensor2d([[1, 1, 0, 0]]);
        const base = {
          logProbs: tf.tensor2d([[-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY]]),
          oldLogProbs: tf.tensor2d([[-1.2, -0.4, Number.NEGATIVE_INFINITY, Number.NaN]]),
          advantages: tf.tensor2d([[1, -1, Number.POSITIVE_INFINITY, Number.NaN]]),
          weights: tf.tensor2d([[1, 2, Number.NaN, Number.POSITIVE_INFINITY]]),
          mask,
        };
        const { result, grad } = valueAndGrad(name, base, settings);
        expect(Number.isFinite(read(result.loss))).toBe(true);
        const g = grad.dataSync();
        expect(Number.isFinite(g[0]) && Number.isFinite(g[1])).toBe(true);
        expect(g[2] === 0 && g[3] === 0).toBe(true);
        const fields =
          name === 'cross-entropy'
            ? (['logProbs', 'weights'] as const)
            : (['logProbs', 'oldLogProbs', 'advantages'] as const);
        for (const field of fields) {
          const poisoned = tf.tensor2d([[Number.NaN, -0.5, 0, 0]]);
          const loss = engineLoss(name, { ...base, [field]: poisoned }, settings).loss;
          expect(Number.isNaN(read(loss)), `${name}: NaN in ${field}`).toBe(true);
        }
      });
    },
  );

  it('an all-padding batch gives 0 and a zero gradient', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const zeros = () => tf.zeros([2, 3]);
      for (const name of LOSS_NAMES) {
        const input = {
          logProbs: zeros(),
          oldLogProbs: zeros(),
          advantages: zeros(),
          mask: zeros(),
        };
        const { result, grad } = valueAndGrad(name, input, name === 'dro' ? { beta: 1 } : {});
        expect(read(result.loss) === 0).toBe(true);
        expect(grad.dataSync().every((v) => v === 0)).toBe(true);
      }
    });
  });

  it('leaves no tensor behind', async () => {
    await useBackend(backend);
    const input = toInput(randomBatch(new SeededGenerator(41), 2, 3));
    const before = tf.memory().numTensors;
    const result = engineLoss('verl-ppo', input, {
      clipRatioC: 3,
      klCoefficient: 0.1,
      entropyCoefficient: 0.1,
    });
    const outputs = [result.loss, ...Object.values(result.metrics)];
    expect(new Set(outputs).size).toBe(outputs.length);
    expect(tf.memory().numTensors - before).toBe(outputs.length);
    tf.dispose(outputs);
    tf.dispose(Object.values(input) as Tensor[]);
  });
});

describe('engineLoss bad input: a typed error naming the argument', () => {
  const z = () => tf.zeros([2, 3]);
  const rl = (): EngineLossInput => ({
    logProbs: z(),
    oldLogProbs: z(),
    advantages: z(),
    mask: z(),
  });
  it.each([
    [
      'an unknown loss name, listing the known ones',
      () => engineLoss('grpo' as LossNameV1, rl()),
      ErrorCode.UnknownName,
      'name',
      [
        'unknown loss "grpo"',
        '"cispo"',
        '"cross-entropy"',
        '"dro"',
        '"gspo"',
        '"importance-sampling"',
        '"ppo"',
        '"verl-ppo"',
      ],
    ],
    [
      'ppo without oldLogProbs',
      () => engineLoss('ppo', { logProbs: z(), advantages: z(), mask: z() }),
      ErrorCode.MissingInput,
      'input.oldLogProbs',
      ['input.oldLogProbs is required by loss "ppo"'],
    ],
    [
      'dro without advantages',
      () => engineLoss('dro', { logProbs: z(), oldLogProbs: z(), mask: z() }, { beta: 1 }),
      ErrorCode.MissingInput,
      'input.advantages',
      ['input.advantages is required by loss "dro"'],
    ],
    [
      'no mask',
      () => engineLoss('cross-entropy', { logProbs: z() } as EngineLossInput),
      ErrorCode.MissingInput,
      'input.mask',
      ['input.mask'],
    ],
    [
      'an entropy coefficient without entropies',
      () => engineLoss('importance-sampling', rl(), { entropyCoefficient: 0.1 }),
      ErrorCode.MissingInput,
      'input.entropies',
      ['input.entropies is required by settings.entropyCoefficient'],
    ],
    [
      'a KL coefficient without reference log-probs',
      () => engineLoss('cross-entropy', { logProbs: z(), mask: z() }, { klCoefficient: 0.1 }),
      ErrorCode.MissingInput,
      'input.refLogProbs',
      ['input.refLogProbs is required by settings.klCoefficient'],
    ],
    [
      'advantages of another shape',
      () => engineLoss('ppo', { ...rl(), advantages: tf.zeros([2, 4]) }),
      ErrorCode.ShapeMismatch,
      'input.advantages',
      ['input.advantages has shape [2, 4] but input.logProbs has shape [2, 3]'],
    ],
    [
      'weights of another shape',
      () => engineLoss('cross-entropy', { logProbs: z(), mask: z(), weights: tf.zeros([3, 2]) }),
      ErrorCode.ShapeMismatch,
      'input.weights',
      ['input.weights has shape [3, 2]'],
    ],
    [
      'log-probs of rank 1',
      () => engineLoss('cross-entropy', { logProbs: tf.zeros([3]), mask: tf.zeros([3]) }),
      ErrorCode.ShapeMismatch,
      'input.logProbs',
      ['input.logProbs must have rank 2', '[3]'],
    ],
    [
      'an int32 mask',
      () => engineLoss('cross-entropy', { logProbs: z(), mask: tf.zeros([2, 3], 'int32') }),
      ErrorCode.InvalidArgument,
      'input.mask',
      ['input.mask must have dtype float32', 'int32'],
    ],
    [
      'weights as a typed array',
      () =>
        engineLoss('cross-entropy', {
          logProbs: z(),
          mask: z(),
          weights: new Float32Array(6) as unknown as Tensor,
        }),
      ErrorCode.InvalidArgument,
      'input.weights',
      ['input.weights must be a tf.Tensor, got Float32Array(6)'],
    ],
    [
      'a setting the loss does not read',
      () => engineLoss('ppo', rl(), { beta: 0.1 }),
      ErrorCode.InvalidArgument,
      'settings.beta',
      ['settings.beta is not a setting of loss "ppo"', '"clipLowThreshold"'],
    ],
    [
      'dual clip on gspo',
      () => engineLoss('gspo', rl(), { clipRatioC: 3 }),
      ErrorCode.InvalidArgument,
      'settings.clipRatioC',
      ['settings.clipRatioC is not a setting of loss "gspo"'],
    ],
    [
      'relative clip ratios on Tinker ppo',
      () => engineLoss('ppo', rl(), { clipRatioLow: 0.2 }),
      ErrorCode.InvalidArgument,
      'settings.clipRatioLow',
      ['not a setting of loss "ppo"'],
    ],
    [
      'any clip setting on cross-entropy',
      () => engineLoss('cross-entropy', rl(), { clipLowThreshold: 0.8 }),
      ErrorCode.InvalidArgument,
      'settings.clipLowThreshold',
      ['not a setting of loss "cross-entropy"'],
    ],
    [
      'a NaN threshold',
      () => engineLoss('ppo', rl(), { clipLowThreshold: Number.NaN }),
      ErrorCode.InvalidArgument,
      'settings.clipLowThreshold',
      ['settings.clipLowThreshold must be a finite number', 'got NaN'],
    ],
    [
      'a low threshold above 1',
      () => engineLoss('cispo', rl(), { clipLowThreshold: 1.1 }),
      ErrorCode.InvalidArgument,
      'settings.clipLowThreshold',
      ['<= 1', 'got 1.1'],
    ],
    [
      'a high threshold below 1',
      () => engineLoss('ppo', rl(), { clipHighThreshold: 0.9 }),
      ErrorCode.InvalidArgument,
      'settings.clipHighThreshold',
      ['>= 1', 'got 0.9'],
    ],
    [
      'a negative low threshold',
      () => engineLoss('cispo', rl(), { clipLowThreshold: -0.1 }),
      ErrorCode.InvalidArgument,
      'settings.clipLowThreshold',
      ['>= 0'],
    ],
    [
      'dro without beta',
      () => engineLoss('dro', rl()),
      ErrorCode.InvalidArgument,
      'settings.beta',
      ['settings.beta must be a finite number > 0', 'loss "dro" requires it', 'got undefined'],
    ],
    [
      'dro with beta 0',
      () => engineLoss('dro', rl(), { beta: 0 }),
      ErrorCode.InvalidArgument,
      'settings.beta',
      ['> 0', 'got 0'],
    ],
    [
      'dro with an infinite beta',
      () => engineLoss('dro', rl(), { beta: Number.POSITIVE_INFINITY }),
      ErrorCode.InvalidArgument,
      'settings.beta',
      ['got Infinity'],
    ],
    [
      'a dual-clip constant of 1',
      () => engineLoss('verl-ppo', rl(), { clipRatioC: 1 }),
      ErrorCode.InvalidArgument,
      'settings.clipRatioC',
      ['settings.clipRatioC must be a finite number > 1'],
    ],
    [
      'a clip ratio above 1',
      () => engineLoss('gspo', rl(), { clipRatioLow: 1.5 }),
      ErrorCode.InvalidArgument,
      'settings.clipRatioLow',
      ['<= 1'],
    ],
    [
      'a negative high clip ratio',
      () => engineLoss('verl-ppo', rl(), { clipRatioHigh: -0.1 }),
      ErrorCode.InvalidArgument,
      'settings.clipRatioHigh',
      ['>= 0'],
    ],
    [
      'a log-ratio clamp of 0',
      () => engineLoss('verl-ppo', rl(), { logRatioClamp: 0 }),
      ErrorCode.InvalidArgument,
      'settings.logRatioClamp',
      ['> 0'],
    ],
    [
      'a negative entropy coefficient',
      () => engineLoss('ppo', rl(), { entropyCoefficient: -1 }),
      ErrorCode.InvalidArgument,
      'settings.entropyCoefficient',
      ['>= 0'],
    ],
    [
      'an infinite KL coefficient',
      () => engineLoss('ppo', rl(), { klCoefficient: Number.POSITIVE_INFINITY }),
      ErrorCode.InvalidArgument,
      'settings.klCoefficient',
      ['got Infinity'],
    ],
    [
      'an unknown KL estimator',
      () => engineLoss('ppo', rl(), { klEstimator: 'k4' as KlEstimatorName }),
      ErrorCode.InvalidArgument,
      'settings.klEstimator',
      ['settings.klEstimator must be one of', '"k3"', 'got "k4"'],
    ],
    [
      'settings that are not an object',
      () => engineLoss('ppo', rl(), 0.2 as unknown as LossSettingsV1),
      ErrorCode.InvalidArgument,
      'settings',
      ['settings must be an object, got number'],
    ],
    [
      'a disposed tensor',
      () => {
        const old = z();
        old.dispose();
        return engineLoss('ppo', { ...rl(), oldLogProbs: old });
      },
      ErrorCode.InvalidArgument,
      'input.oldLogProbs',
      ['input.oldLogProbs is a disposed tensor'],
    ],
  ] as const)('%s', (_label, fn, code, argument, fragments) => {
    const error = expectHicraError(
      () =>
        tf.tidy(() => {
          fn();
        }),
      { code, message: fragments },
    );
    expect(error.details['argument']).toBe(argument);
  });

  it('a setting given as undefined counts as absent', () => {
    tf.tidy(() => {
      const z = tf.zeros([1, 2]);
      const input = { logProbs: z, oldLogProbs: z, advantages: z, mask: tf.ones([1, 2]) };
      expect(read(engineLoss('ppo', input, { beta: undefined }).loss)).toBe(0);
    });
  });
});

import { describe, it } from 'vitest';
import {
  aggregateLoss,
  klPenalty,
  policyLoss,
  tf,
  tokenEntropy,
  tokenLogProbs,
  tokenLogProbsAndEntropy,
} from '../src/index.js';
import { expectClose } from '../src/testing/index.js';
import { BACKENDS, FIXTURE_TOLERANCE, loadFixture, useBackend } from './helpers.js';

interface EntropyCase {
  logits: number[][][];
  labels: number[][];
  entropy: number[][];
  logProbs: number[][];
}
interface KlCase {
  logProbs: number[][];
  refLogProbs: number[][];
  k1: number[][];
  abs: number[][];
  k2: number[][];
  k3: number[][];
}
interface PolicyCase {
  oldLogProbs: number[][];
  logProbs: number[][];
  advantages: number[][];
  responseMask: number[][];
  lossAggMode:
    | 'token-mean'
    | 'seq-mean-token-sum'
    | 'seq-mean-token-mean'
    | 'seq-mean-token-sum-norm';
  clipRatioLow: number;
  clipRatioHigh: number;
  clipRatioC: number;
  loss: number;
  clipFraction: number;
  ppoKl: number;
  clipFractionLower: number;
}

const entropyCases = loadFixture<EntropyCase>('entropy_logprobs').cases;
const klCases = loadFixture<KlCase>('kl_penalty').cases;
const policyCases = loadFixture<PolicyCase>('policy_loss_vanilla').cases;

describe.each(BACKENDS)('verl golden vectors on %s', (backend) => {
  it(`entropy and log-probs: all ${entropyCases.length} cases (chunked and not)`, async () => {
    await useBackend(backend);
    entropyCases.forEach((c, index) => {
      // atol = 4e-6 · (1 + the row's largest |logit|), per position.
      const rowScale = c.logits.flatMap((row) =>
        row.map((logits) => 4e-6 * (1 + Math.max(...logits.map(Math.abs)))),
      );
      const tolerance = { atolAt: (i: number) => rowScale[i]!, rtol: 1e-5 };
      tf.tidy(() => {
        const logits = tf.tensor3d(c.logits);
        const labels = tf.tensor2d(c.labels, undefined, 'int32');
        expectClose(tokenEntropy(logits), c.entropy, {
          ...tolerance,
          label: `case ${index} entropy`,
        });
        expectClose(tokenLogProbs(logits, labels), c.logProbs, {
          ...tolerance,
          label: `case ${index} logProbs`,
        });
        const both = tokenLogProbsAndEntropy(logits, labels, { chunkRows: 3 });
        expectClose(both.entropies, c.entropy, {
          ...tolerance,
          label: `case ${index} entropy (chunked)`,
        });
        expectClose(both.logProbs, c.logProbs, {
          ...tolerance,
          label: `case ${index} logProbs (chunked)`,
        });
      });
    });
  });

  it(`KL estimators: all ${klCases.length} cases`, async () => {
    await useBackend(backend);
    klCases.forEach((c, index) => {
      tf.tidy(() => {
        const logp = tf.tensor2d(c.logProbs);
        const ref = tf.tensor2d(c.refLogProbs);
        for (const name of ['k1', 'abs', 'k2', 'k3'] as const) {
          expectClose(klPenalty(logp, ref, name), c[name], {
            ...FIXTURE_TOLERANCE,
            label: `case ${index} ${name}`,
          });
        }
      });
    });
  });

  it(`clipped policy loss: all ${policyCases.length} cases, four aggregation modes`, async () => {
    await useBackend(backend);
    policyCases.forEach((c, index) => {
      tf.tidy(() => {
        const mask = tf.tensor2d(c.responseMask);
        const result = policyLoss(
          {
            logProbs: tf.tensor2d(c.logProbs),
            oldLogProbs: tf.tensor2d(c.oldLogProbs),
            advantages: tf.tensor2d(c.advantages),
            lossMask: mask,
            normaliserMask: mask,
          },
          {
            mode: c.lossAggMode,
            clipRatioLow: c.clipRatioLow,
            clipRatioHigh: c.clipRatioHigh,
            clipRatioC: c.clipRatioC,
          },
        );
        const label = `case ${index} (${c.lossAggMode})`;
        expectClose(result.loss, c.loss, { ...FIXTURE_TOLERANCE, label: `${label} loss` });
        expectClose(result.clipFraction, c.clipFraction, {
          ...FIXTURE_TOLERANCE,
          label: `${label} clipFraction`,
        });
        expectClose(result.clipFractionLower, c.clipFractionLower, {
          ...FIXTURE_TOLERANCE,
          label: `${label} clipFractionLower`,
        });
        expectClose(result.approxKl, c.ppoKl, { ...FIXTURE_TOLERANCE, label: `${label} ppoKl` });
      });
    });
  });

  it('aggregateLoss agrees with the policy loss on the same per-token values', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const loss = tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const mask = tf.tensor2d([
        [1, 1, 0],
        [1, 0, 0],
      ]);
      expectClose(aggregateLoss(loss, mask, 'token-mean'), 7 / 3);
      expectClose(aggregateLoss(loss, mask, 'seq-mean-token-sum'), (3 + 4) / 2);
      expectClose(aggregateLoss(loss, mask, 'seq-mean-token-mean'), (1.5 + 4) / 2);
      expectClose(aggregateLoss(loss, mask, 'seq-mean-token-sum-norm'), 7 / 3);
      expectClose(aggregateLoss(loss, mask, 'seq-mean-token-sum-norm', { scaleFactor: 7 }), 1);
    });
  });
});

import { describe, expect, it } from 'vitest';
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
import { BACKENDS, useBackend } from './helpers.js';

describe.each(BACKENDS)('edge cases on %s', (backend) => {
  it('all-masked rows contribute nothing and give no NaN, in every mode', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const loss = tf.tensor2d([
        [1, 2],
        [Number.NaN, 9],
      ]);
      const mask = tf.tensor2d([
        [1, 1],
        [0, 0],
      ]);
      // A NaN at a masked position is excluded by masking, not multiplied through... except that
      // 0 · NaN is NaN: the ops are defined on finite losses; use finite values with masked rows.
      const finite = tf.where(tf.isNaN(loss), tf.zerosLike(loss), loss);
      expectClose(aggregateLoss(finite, mask, 'token-mean'), 1.5);
      expectClose(aggregateLoss(finite, mask, 'seq-mean-token-sum'), 3);
      expectClose(aggregateLoss(finite, mask, 'seq-mean-token-mean'), 1.5);
      expectClose(aggregateLoss(finite, mask, 'seq-mean-token-sum-norm'), 1.5);
      const empty = tf.zeros([2, 2]);
      for (const mode of [
        'token-mean',
        'seq-mean-token-sum',
        'seq-mean-token-mean',
        'seq-mean-token-sum-norm',
      ] as const) {
        expectClose(aggregateLoss(finite, empty, mode), 0, { label: mode });
      }
      const result = policyLoss({
        logProbs: tf.tensor2d([[-1, -2]]),
        oldLogProbs: tf.tensor2d([[-1.5, -2]]),
        advantages: tf.tensor2d([[1, -1]]),
        lossMask: tf.zeros([1, 2]),
      });
      for (const value of Object.values(result))
        expect(Number.isNaN(value.dataSync()[0])).toBe(false);
      expectClose(result.loss, 0);
    });
  });

  it('the normaliser mask counts tokens the loss mask cleared (HICRA fork tokens)', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const loss = tf.tensor2d([[2, 4, 6, 8]]);
      const response = tf.tensor2d([[1, 1, 1, 1]]);
      const lossMask = tf.tensor2d([[1, 0, 1, 0]]);
      expectClose(aggregateLoss(loss, lossMask, 'token-mean', { normaliserMask: response }), 8 / 4);
      expectClose(
        aggregateLoss(loss, lossMask, 'seq-mean-token-mean', { normaliserMask: response }),
        8 / 4,
      );
      expectClose(aggregateLoss(loss, lossMask, 'token-mean'), 8 / 2);
    });
  });

  it('B = 1 and T = 1 work', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const logits = tf.tensor3d([[[0, Math.log(3)]]]);
      const labels = tf.tensor2d([[1]], [1, 1], 'int32');
      expectClose(tokenLogProbs(logits, labels), [[Math.log(0.75)]]);
      expectClose(tokenEntropy(logits), [[-(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75))]]);
      const result = policyLoss({
        logProbs: tf.tensor2d([[-0.5]]),
        oldLogProbs: tf.tensor2d([[-0.5]]),
        advantages: tf.tensor2d([[2]]),
        lossMask: tf.tensor2d([[1]]),
      });
      expectClose(result.loss, -2);
      expectClose(result.clipFraction, 0);
    });
  });

  it('logits of ±1000 stay finite and exact', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [1000, -1000, 0],
        [-1000, -1000, -1000],
        [1000, 1000, -1000],
      ]);
      const labels = Int32Array.from([0, 2, 2]);
      const { logProbs, entropies } = tokenLogProbsAndEntropy(logits, labels);
      expectClose(logProbs, [0, -Math.log(3), -2000 - Math.log(2)], { atol: 1e-3 });
      expectClose(entropies, [0, Math.log(3), Math.log(2)], { atol: 1e-3 });
      const grad = tf.grad((x) => tf.sum(tokenLogProbsAndEntropy(x, labels).entropies))(logits);
      expect(Array.from(grad.dataSync()).every(Number.isFinite)).toBe(true);
    });
  });

  it('NaN in a row of logits propagates to that row only (documented behaviour)', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [0, Number.NaN],
        [0, 0],
      ]);
      const labels = Int32Array.from([0, 0]);
      const logProbs = tokenLogProbs(logits, labels).dataSync();
      expect(Number.isNaN(logProbs[0])).toBe(true);
      expectClose(logProbs[1]!, Math.log(0.5));
      const entropy = tokenEntropy(logits).dataSync();
      expect(Number.isNaN(entropy[0])).toBe(true);
      expectClose(entropy[1]!, Math.log(2));
      for (const estimator of ['k1', 'abs', 'k2', 'k3'] as const) {
        const kl = klPenalty(
          tf.tensor1d([Number.NaN, -1]),
          tf.tensor1d([-1, -1]),
          estimator,
        ).dataSync();
        expect(Number.isNaN(kl[0]), estimator).toBe(true);
        expect(kl[1], estimator).toBe(0);
      }
      const base = {
        logProbs: tf.tensor2d([[-1, -2]]),
        oldLogProbs: tf.tensor2d([[-1, -2]]),
        advantages: tf.tensor2d([[1, 1]]),
        lossMask: tf.tensor2d([[1, 0]]),
      };
      const nanAt = (column: number) =>
        tf.tensor2d([[column === 0 ? Number.NaN : -1, column === 1 ? Number.NaN : -2]]);
      for (const field of ['logProbs', 'oldLogProbs', 'advantages'] as const) {
        const masked = policyLoss({ ...base, [field]: nanAt(0) }).loss.dataSync()[0];
        expect(Number.isNaN(masked), `${field} NaN at a loss-masked token`).toBe(true);
        const ignored = policyLoss({ ...base, [field]: nanAt(1) }).loss.dataSync()[0];
        expect(Number.isFinite(ignored), `${field} NaN outside the loss mask`).toBe(true);
      }
    });
  });

  it('-Infinity logits (a masked vocabulary) have probability 0 and add nothing to the entropy', async () => {
    await useBackend(backend);
    const inf = Number.NEGATIVE_INFINITY;
    tf.tidy(() => {
      const masked = tf.tensor2d([
        [0, inf, 0, inf],
        [1, 2, inf, 3],
        [inf, inf, 5, inf],
      ]);
      // The same rows without their -Infinity entries (a masked entry is simply absent).
      const kept = [[0, 0], [1, 2, 3], [5]];
      const entropyOf = (row: number[]) => {
        const m = Math.max(...row);
        const z = row.reduce((s, x) => s + Math.exp(x - m), 0);
        return -row.reduce((s, x) => {
          const logP = x - m - Math.log(z);
          return s + Math.exp(logP) * logP;
        }, 0);
      };
      const expected = kept.map(entropyOf);
      const labels = Int32Array.from([2, 3, 2]);
      for (const chunkRows of [1, 2, 3]) {
        expectClose(tokenEntropy(masked, { chunkRows }), expected, {
          atol: 1e-6,
          label: `chunkRows ${chunkRows}`,
        });
        const both = tokenLogProbsAndEntropy(masked, labels, { chunkRows });
        expectClose(both.entropies, expected, { atol: 1e-6 });
        expectClose(
          both.logProbs,
          [-Math.log(2), 3 - Math.log(Math.E + Math.E ** 2 + Math.E ** 3), 0],
          { atol: 1e-6 },
        );
        expectClose(tokenLogProbs(masked, labels, { chunkRows }), both.logProbs, { atol: 1e-6 });
        // Gradients: finite everywhere, 0 at masked entries, and at the other entries equal to the
        // gradient computed on the rows without their masked entries.
        const weights = tf.tensor1d([0.5, -1, 2]);
        const entropyGrad = tf.grad((x) => tf.sum(tf.mul(tokenEntropy(x, { chunkRows }), weights)))(
          masked,
        );
        const bothGrad = tf.grad((x) => {
          const r = tokenLogProbsAndEntropy(x, labels, { chunkRows });
          return tf.sum(tf.mul(tf.add(r.entropies, r.logProbs), weights));
        })(masked);
        for (const [name, grad] of [
          ['tokenEntropy', entropyGrad],
          ['tokenLogProbsAndEntropy', bothGrad],
        ] as const) {
          const g = grad.arraySync() as number[][];
          expect(
            g.flat().every(Number.isFinite),
            `${name} gradient finite (chunkRows ${chunkRows})`,
          ).toBe(true);
          const m = masked.arraySync() as number[][];
          for (const [i, row] of m.entries()) {
            for (const [j, x] of row.entries()) {
              if (x === inf)
                expect(Math.abs(g[i]![j]!), `${name} gradient at masked [${i}, ${j}]`).toBe(0);
            }
          }
        }
        kept.forEach((row, i) => {
          const x = tf.tensor2d([row]);
          const w = tf.tensor1d([[0.5, -1, 2][i]!]);
          const reference = tf
            .grad((y) => tf.sum(tf.mul(tokenEntropy(y), w)))(x)
            .dataSync();
          const actual = (entropyGrad.arraySync() as number[][])[i]!.filter(
            (_, j) => (masked.arraySync() as number[][])[i]![j] !== inf,
          );
          expectClose(actual, Array.from(reference), { atol: 1e-6, label: `row ${i}` });
        });
      }
    });
  });

  it('a row whose logits are all -Infinity has no distribution: NaN in that row only (documented)', async () => {
    await useBackend(backend);
    const inf = Number.NEGATIVE_INFINITY;
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [inf, inf, inf],
        [0, 0, inf],
      ]);
      const labels = Int32Array.from([0, 0]);
      for (const chunkRows of [1, 2]) {
        const entropy = tokenEntropy(logits, { chunkRows }).dataSync();
        expect(Number.isNaN(entropy[0])).toBe(true);
        expectClose(entropy[1]!, Math.log(2));
        const both = tokenLogProbsAndEntropy(logits, labels, { chunkRows });
        expect(Number.isNaN(both.logProbs.dataSync()[0])).toBe(true);
        expect(Number.isNaN(both.entropies.dataSync()[0])).toBe(true);
        expectClose(both.entropies.dataSync()[1]!, Math.log(2));
        expect(Number.isNaN(tokenLogProbs(logits, labels, { chunkRows }).dataSync()[0])).toBe(true);
        const grad = tf
          .grad((x) => tf.sum(tokenEntropy(x, { chunkRows })))(logits)
          .arraySync() as number[][];
        expect(grad[1]!.every(Number.isFinite)).toBe(true);
      }
    });
  });

  it('k3 is clamped for extreme log-ratios', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const kl = klPenalty(tf.tensor1d([-100, 0]), tf.tensor1d([0, -100]), 'k3');
      // ref - logp = 100 -> 20 -> exp(20) - 21, capped at 10; -100 -> -20 -> e^-20 + 19, capped at 10.
      expectClose(kl, [10, 10], { atol: 1e-4 });
      expectClose(klPenalty(tf.tensor1d([0]), tf.tensor1d([-2]), 'k3'), [Math.exp(-2) + 1], {
        atol: 1e-6,
      });
    });
  });

  it('chunking 2,048 rows of a 32k vocabulary is bounded and equals the unchunked result', async () => {
    await useBackend(backend);
    if (backend === 'cpu') return; // same code path; the pure-JS backend is too slow for this size
    tf.tidy(() => {
      const rows = 256;
      const vocab = 32_000;
      const logits = tf.randomNormal([rows, vocab], 0, 3, 'float32', 7);
      const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7919) % vocab);
      const before = tf.memory().numBytes;
      let peak = 0;
      const chunked = tf.tidy(() => {
        const r = tokenLogProbsAndEntropy(logits, labels, { chunkRows: 32 });
        peak = tf.memory().numBytes - before;
        return tf.concat([r.logProbs, r.entropies]);
      });
      const whole = tf.tidy(() => {
        const r = tokenLogProbsAndEntropy(logits, labels, { chunkRows: rows });
        return tf.concat([r.logProbs, r.entropies]);
      });
      expectClose(chunked, whole, { atol: 1e-4 });
      // Forward intermediates of a chunk are freed as it completes: far below one logits copy.
      expect(peak).toBeLessThan(rows * vocab * 4);
    });
  });
});

import { describe, expect, it } from 'vitest';
import {
  embeddingLookup,
  matMul,
  policyLoss,
  type Tensor,
  tf,
  tokenEntropy,
  tokenLogProbs,
  tokenLogProbsAndEntropy,
} from '../src/index.js';
import { expectClose, randomIds, randomTensor, SeededGenerator } from '../src/testing/index.js';
import { BACKENDS, useBackend } from './helpers.js';

/**
 * Central finite difference of a scalar function along random directions, compared with the
 * directional derivative from the analytic gradient: (f(x + εv) - f(x - εv)) / 2ε ≈ ⟨∇f, v⟩.
 */
function checkGradient(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  generator: SeededGenerator,
  epsilon = 1e-2,
  tolerance = 2e-3,
): void {
  const gradient = tf.tidy(() => tf.grad((input: Tensor) => f(input))(x));
  for (let trial = 0; trial < 3; trial++) {
    tf.tidy(() => {
      const direction = randomTensor(generator, x.shape);
      const analytic = tf.sum(tf.mul(gradient, direction)).dataSync()[0]!;
      const plus = f(tf.add(x, tf.mul(direction, epsilon))).dataSync()[0]!;
      const minus = f(tf.sub(x, tf.mul(direction, epsilon))).dataSync()[0]!;
      const numeric = (plus - minus) / (2 * epsilon);
      expect(Math.abs(analytic - numeric)).toBeLessThanOrEqual(tolerance * (1 + Math.abs(numeric)));
    });
  }
  gradient.dispose();
}

describe.each(BACKENDS)('gradients on %s', (backend) => {
  it('token log-probs match finite differences and the autodiff of log-softmax', async () => {
    await useBackend(backend);
    const generator = new SeededGenerator(1);
    const logits = randomTensor(generator, [3, 5, 11], 0, 2);
    const labels = tf.tensor2d(randomIds(generator, 15, 11), [3, 5], 'int32');
    const weights = randomTensor(generator, [3, 5]);
    const f = (x: Tensor) => tf.sum(tf.mul(tokenLogProbs(x, labels, { chunkRows: 4 }), weights));
    checkGradient(f, logits, generator);
    const reference = (x: Tensor) =>
      tf.sum(
        tf.mul(
          tf.sum(tf.mul(tf.logSoftmax(x), tf.cast(tf.oneHot(labels, 11), 'float32')), -1),
          weights,
        ),
      );
    tf.tidy(() => expectClose(tf.grad(f)(logits), tf.grad(reference)(logits), { atol: 1e-5 }));
    tf.dispose([logits, labels, weights]);
  });

  it('token entropy matches finite differences and the autodiff of -Σ p log p', async () => {
    await useBackend(backend);
    const generator = new SeededGenerator(2);
    const logits = randomTensor(generator, [4, 9, 7], 0, 2);
    const weights = randomTensor(generator, [4, 9]);
    const f = (x: Tensor) => tf.sum(tf.mul(tokenEntropy(x, { chunkRows: 5 }), weights));
    checkGradient(f, logits, generator);
    const reference = (x: Tensor) => {
      const logp = tf.logSoftmax(x);
      return tf.sum(tf.mul(tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)), weights));
    };
    tf.tidy(() => expectClose(tf.grad(f)(logits), tf.grad(reference)(logits), { atol: 1e-5 }));
    tf.dispose([logits, weights]);
  });

  it('the combined op has the gradient of its two parts, chunked or not', async () => {
    await useBackend(backend);
    const generator = new SeededGenerator(3);
    const logits = randomTensor(generator, [23, 13], 0, 3);
    const labels = randomIds(generator, 23, 13);
    const [wl, we] = [randomTensor(generator, [23]), randomTensor(generator, [23])];
    const combined = (chunkRows: number) => (x: Tensor) => {
      const { logProbs, entropies } = tokenLogProbsAndEntropy(x, labels, { chunkRows });
      return tf.add(tf.sum(tf.mul(logProbs, wl)), tf.sum(tf.mul(entropies, we)));
    };
    const separate = (x: Tensor) =>
      tf.add(tf.sum(tf.mul(tokenLogProbs(x, labels), wl)), tf.sum(tf.mul(tokenEntropy(x), we)));
    tf.tidy(() => {
      const whole = tf.grad(combined(1000))(logits);
      expectClose(tf.grad(combined(5))(logits), whole, { atol: 1e-6, label: 'chunked vs whole' });
      expectClose(tf.grad(combined(1))(logits), whole, { atol: 1e-6, label: 'one row a chunk' });
      expectClose(tf.grad(separate)(logits), whole, { atol: 1e-6, label: 'separate ops' });
      const values = tokenLogProbsAndEntropy(logits, labels, { chunkRows: 5 });
      expectClose(values.logProbs, tokenLogProbs(logits, labels, { chunkRows: 1000 }), {
        atol: 1e-6,
      });
      expectClose(values.entropies, tokenEntropy(logits, { chunkRows: 7 }), { atol: 1e-6 });
    });
    checkGradient(combined(4), logits, generator);
    tf.dispose([logits, wl, we]);
  });

  it('the policy loss matches finite differences in each aggregation mode', async () => {
    await useBackend(backend);
    const generator = new SeededGenerator(4);
    const shape = [4, 6];
    const oldLogProbs = randomTensor(generator, shape, -1, 0.3);
    // Small steps from the old policy keep the ratio away from the clip kinks.
    const logProbs = tf.tidy(() => tf.add(oldLogProbs, randomTensor(generator, shape, 0, 0.02)));
    const advantages = randomTensor(generator, shape);
    const lossMask = tf.tensor2d(
      [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0],
      [4, 6],
    );
    for (const mode of [
      'token-mean',
      'seq-mean-token-sum',
      'seq-mean-token-mean',
      'seq-mean-token-sum-norm',
    ] as const) {
      const f = (x: Tensor) => {
        const result = policyLoss(
          { logProbs: x, oldLogProbs, advantages, lossMask },
          { mode, clipRatioLow: 0.2, clipRatioHigh: 0.28 },
        );
        tf.dispose([result.clipFraction, result.clipFractionLower, result.approxKl]);
        return result.loss;
      };
      checkGradient(f, logProbs, generator, 1e-3, 5e-3);
    }
    tf.dispose([oldLogProbs, logProbs, advantages, lossMask]);
  });

  it('matMul equals tf.matMul and has the same gradients, with and without transposes', async () => {
    await useBackend(backend);
    const generator = new SeededGenerator(5);
    const cases: [number[], number[], boolean, boolean][] = [
      [[3, 4], [4, 5], false, false],
      [[4, 3], [4, 5], true, false],
      [[3, 4], [5, 4], false, true],
      [[4, 3], [5, 4], true, true],
      [[2, 3, 4], [2, 4, 5], false, false],
      [[2, 2, 4, 3], [2, 2, 5, 4], true, true],
      [[2, 3, 4], [4, 5], false, false],
      [[2, 3, 4], [5, 4], false, true],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      tf.tidy(() => {
        const a = randomTensor(generator, sa);
        const b = randomTensor(generator, sb);
        const weights = randomTensor(generator, matMul(a, b, ta, tb).shape);
        const ours = (x: Tensor, y: Tensor) => tf.sum(tf.mul(matMul(x, y, ta, tb), weights));
        const theirs = (x: Tensor, y: Tensor) => {
          if (sb.length === 2 && sa.length > 2) {
            const flat = tf.reshape(x, [-1, sa[sa.length - 1]!]);
            return tf.sum(
              tf.mul(tf.reshape(tf.matMul(flat, y, false, tb), weights.shape), weights),
            );
          }
          return tf.sum(tf.mul(tf.matMul(x, y, ta, tb), weights));
        };
        const label = `a ${sa} b ${sb} ${ta} ${tb}`;
        expectClose(ours(a, b), theirs(a, b), { atol: 1e-4, label });
        const [ga, gb] = tf.grads(ours)([a, b]);
        const [ra, rb] = tf.grads(theirs)([a, b]);
        expectClose(ga!, ra!, { atol: 1e-4, label: `${label} da` });
        expectClose(gb!, rb!, { atol: 1e-4, label: `${label} db` });
      });
    }
  });

  it('embeddingLookup gathers rows and its table gradient is a scatter-add', async () => {
    await useBackend(backend);
    tf.tidy(() => {
      const table = tf.tensor2d([
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
      const ids = tf.tensor2d(
        [
          [2, 0],
          [2, 2],
        ],
        undefined,
        'int32',
      );
      const rows = embeddingLookup(table, ids);
      expect(rows.shape).toEqual([2, 2, 2]);
      expectClose(rows, [5, 6, 1, 2, 5, 6, 5, 6]);
      const weights = tf.tensor3d([1, 10, 100, 1000, 2, 20, 3, 30], [2, 2, 2]);
      const grad = tf.grad((t: Tensor) => tf.sum(tf.mul(embeddingLookup(t, ids), weights)))(table);
      // row 0 receives ids[0][1]; row 2 receives three lookups; row 1 none.
      expectClose(grad, [100, 1000, 0, 0, 1 + 2 + 3, 10 + 20 + 30]);
      expectClose(embeddingLookup(table, Int32Array.from([1])), [3, 4]);
    });
  });
});

#!/usr/bin/env node
// Smoke test of the *built* package, as a consumer sees it (run by `pnpm check:exports` after a
// build): the gradients bundled into dist register, and a gradient flows on both embedded backends.
import { initBackend, policyLoss, tf, tokenLogProbs } from '@hicra/tensor';

for (const backend of ['cpu', 'wasm']) {
  await initBackend(backend);
  const grad = tf.tidy(() => {
    const logits = tf.tensor2d([[0, 0]]);
    const labels = Int32Array.of(1);
    return tf.grad((x) => {
      const logProbs = tf.reshape(tokenLogProbs(x, labels), [1, 1]);
      const result = policyLoss({
        logProbs,
        oldLogProbs: tf.tensor2d([[Math.log(0.5)]]),
        advantages: tf.tensor2d([[1]]),
        lossMask: tf.tensor2d([[1]]),
      });
      tf.dispose([result.clipFraction, result.clipFractionLower, result.approxKl]);
      return result.loss;
    })(logits);
  });
  // loss = -A·ratio, ratio = p1 / 0.5 at p1 = 0.5: d loss / d logits = -2 · p1 · (onehot - p) = [0.5, -0.5]
  const values = Array.from(grad.dataSync());
  grad.dispose();
  if (Math.abs(values[0] - 0.5) > 1e-6 || Math.abs(values[1] + 0.5) > 1e-6) {
    console.error(`@hicra/tensor smoke test on ${backend}: gradient ${values} != [0.5, -0.5]`);
    process.exit(1);
  }
  if (tf.memory().numTensors !== 0) {
    console.error(
      `@hicra/tensor smoke test on ${backend}: ${tf.memory().numTensors} tensors leaked`,
    );
    process.exit(1);
  }
}
console.log('@hicra/tensor: built package computes gradients on cpu and wasm');

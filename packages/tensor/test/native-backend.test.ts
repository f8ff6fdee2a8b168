import { BackendUnavailableError, ErrorCode, InvalidArgumentError } from '@hicra/spec';
import { expectHicraRejection } from '@hicra/spec/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  currentBackend,
  embeddingLookup,
  initBackend,
  matMul,
  type Tensor,
  tf,
} from '../src/index.js';
import { NATIVE } from './helpers.js';

const initial = currentBackend()?.name ?? 'wasm';
afterAll(async () => {
  await initBackend(initial);
});

const platform = `${process.platform}-${process.arch}`;
// On linux-x64 the prebuilt binary ships in @hicra/tensor-native and must load.
const mustLoad = platform === 'linux-x64';
const reason = NATIVE.ok ? '' : NATIVE.reason;

describe('the native backend: loading', () => {
  it(`loads the prebuilt addon on linux-x64 (here ${platform})`, () => {
    if (mustLoad) expect(NATIVE.ok ? 'loaded' : reason).toBe('loaded');
    else expect(NATIVE.ok || reason.length > 0).toBe(true);
  });

  it('says why when @hicra/tensor-native is not installed, and wasm still works', async () => {
    const error = await expectHicraRejection(
      initBackend('native', {
        importModule: (specifier) =>
          specifier === '@hicra/tensor-native'
            ? Promise.reject(new Error("Cannot find package '@hicra/tensor-native'"))
            : import(specifier),
      }),
    );
    expect(error.code).toBe(ErrorCode.BackendUnavailable);
    expect(error.message).toContain('npm install @hicra/tensor-native');
    await initBackend('wasm');
    expect(tf.tidy(() => tf.add(tf.scalar(1), 2).dataSync()[0])).toBe(3);
  });

  it('says why when the addon cannot load (absent binary, wrong platform, load error)', async () => {
    const error = await expectHicraRejection(
      initBackend('native', {
        importModule: async (specifier) =>
          specifier === '@hicra/tensor-native'
            ? {
                loadNative: () => ({
                  ok: false,
                  reason: 'no prebuilt binary ships for darwin-arm64 (simulated)',
                  tried: ['/x/build/tensor_native.node'],
                }),
              }
            : import(specifier),
      }),
    );
    expect(BackendUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toContain('backend native is unavailable: no prebuilt binary ships');
    expect(error.details).toMatchObject({ tried: ['/x/build/tensor_native.node'] });
  });

  it('refuses a bad thread count, naming the variable', async () => {
    const error = await expectHicraRejection(initBackend('native', { threads: 0 }));
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect(error.message).toContain('integer from 1 to 256, got 0');
    const previous = process.env.HICRA_NATIVE_THREADS;
    process.env.HICRA_NATIVE_THREADS = 'two';
    try {
      const fromEnv = await expectHicraRejection(initBackend('native'));
      expect(fromEnv.message).toContain('"two" (HICRA_NATIVE_THREADS)');
    } finally {
      if (previous === undefined) delete process.env.HICRA_NATIVE_THREADS;
      else process.env.HICRA_NATIVE_THREADS = previous;
    }
  });
});

/** Values of a tensor list, disposed. */
function values(tensors: Tensor[]): Float32Array[] {
  const out = tensors.map((t) => t.dataSync() as Float32Array);
  for (const t of tensors) t.dispose();
  return out;
}

function expectClose(actual: Float32Array[], expected: Float32Array[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    expect(a.length).toBe(e.length);
    let worst = 0;
    for (let j = 0; j < a.length; j++) {
      if (!Number.isFinite(e[j]!)) {
        expect(a[j], `output ${i}[${j}]`).toBe(e[j]);
        continue;
      }
      worst = Math.max(worst, Math.abs(a[j]! - e[j]!) / (1 + Math.abs(e[j]!)));
    }
    expect(worst, `output ${i}`).toBeLessThanOrEqual(tolerance);
  }
}

/** Matrix products in every layout tfjs and hicra produce, with their gradients. */
function products(): Tensor[] {
  return tf.tidy(() => {
    const a = tf.randomNormal([3, 4, 6, 8], 0, 1, 'float32', 1);
    const b = tf.randomNormal([3, 4, 8, 5], 0, 1, 'float32', 2);
    const w = tf.randomNormal([8, 5], 0, 1, 'float32', 3);
    const x = tf.randomNormal([7, 8], 0, 1, 'float32', 4);
    const one = tf.randomNormal([1, 8, 5], 0, 1, 'float32', 5);
    const grads = tf.grads((p: Tensor, q: Tensor) =>
      tf.sum(tf.square(tf.tanh(tf.matMul(p, q, true, true)))),
    );
    const t = tf.linspace(-12, 12, 999);
    return [
      tf.matMul(a, b),
      tf.matMul(b, a, true, true),
      tf.matMul(a, tf.transpose(b, [0, 1, 3, 2]), false, true),
      tf.matMul(tf.transpose(a, [0, 1, 3, 2]), b, true, false),
      matMul(a, w),
      matMul(a, b),
      matMul(b, a, true, true),
      tf.matMul(x, w),
      tf.matMul(tf.reshape(a, [12, 6, 8]), tf.tile(one, [12, 1, 1])),
      tf.matMul(tf.reshape(a, [12, 6, 8]), one),
      tf.matMul(tf.zeros([2, 3, 0]), tf.zeros([2, 0, 4])),
      tf.tanh(t),
      tf.grad((v: Tensor) => tf.sum(tf.tanh(v)))(t),
      tf.clone(t),
      tf.softmax(tf.reshape(a, [3, 4, 48])),
      tf.exp(tf.concat([tf.reshape(a, [-1]), tf.tensor1d([-Infinity, Infinity, Number.NaN, 100])])),
      tf.gather(a, tf.tensor1d([2, 0, 2], 'int32'), 2),
      tf.gather(a, tf.tensor2d([1, 0, 3, 3], [2, 2], 'int32'), 1),
      tf.gather(tf.reshape(a, [-1]), tf.tensor1d([5, 7, 0], 'int32')),
      tf.gather(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor1d([1, 1, 0], 'int32')),
      tf.add(a, tf.slice(tf.reshape(b, [3, 4, 5, 8]), [0, 0, 0, 0], [3, 4, 1, 8])),
      tf.sub(tf.scalar(1), a),
      tf.mul(a, tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8])),
      tf.mul(tf.reshape(a, [3, 4, 6, 8, 1]), tf.ones([1, 1, 1, 1, 3])),
      tf.div(a, tf.reshape(tf.range(1, 25), [1, 4, 6, 1])),
      tf.div(tf.tensor1d([1, -1, 0, Number.NaN]), tf.tensor1d([0, 0, 0, 1])),
      tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')),
      tf.mul(tf.scalar(3), tf.scalar(4)),
      tf.softmax(
        tf.tensor2d([
          [0, -Infinity, 1],
          [Number.NaN, 0, 0],
        ]),
      ),
      tf.transpose(a, [0, 2, 1, 3]),
      tf.transpose(tf.randomNormal([3, 37, 45], 0, 1, 'float32', 9), [0, 2, 1]),
      tf.transpose(tf.randomNormal([70, 33], 0, 1, 'float32', 10)),
      tf.transpose(a, [3, 1, 0, 2]),
      tf.transpose(tf.cast(a, 'int32'), [1, 0, 3, 2]),
      tf.transpose(tf.tensor1d([1, 2, 3])),
      ...tf.split(a, [3, 1, 4], 3),
      ...tf.split(a, 2, 2),
      ...tf.split(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 3, 0),
      tf.concat([a, a, a], 3),
      tf.concat([tf.slice(a, [0, 0, 0, 0], [3, 4, 6, 2]), a], 3),
      tf.concat([a, tf.zeros([3, 4, 0, 8]), a], 2),
      tf.concat([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3], 'int32')]),
      ...tf.grads((p: Tensor) => tf.sum(tf.mul(tf.softmax(p), tf.linspace(0, 1, 5))))([
        tf.randomNormal([2, 5], 0, 1, 'float32', 8),
      ]),
      ...grads([
        tf.randomNormal([4, 6], 0, 1, 'float32', 6),
        tf.randomNormal([5, 4], 0, 1, 'float32', 7),
      ]),
    ];
  });
}

/** One step of a small attention + MLP language model: loss, gradients, Adam update. */
function trainingStep(): Tensor[] {
  const [batch, seq, width, vocab] = [4, 8, 16, 12];
  const init = (shape: number[], seed: number) =>
    tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, 0.2, 'float32', seed)));
  const embed = init([vocab, width], 11);
  const wq = init([width, width], 12);
  const wk = init([width, width], 13);
  const wv = init([width, width], 14);
  const up = init([width, 4 * width], 15);
  const down = init([4 * width, width], 16);
  const head = init([width, vocab], 17);
  const variables = [embed, wq, wk, wv, up, down, head];
  const ids = tf.tensor2d(
    Array.from({ length: batch * seq }, (_, i) => (i * 7 + 3) % vocab),
    [batch, seq],
    'int32',
  );
  const targets = tf.tidy(() =>
    tf.oneHot(
      tf.tensor1d(
        Array.from({ length: batch * seq }, (_, i) => (((i * 7 + 3) % vocab) + 1) % vocab),
        'int32',
      ),
      vocab,
    ),
  );
  const mask = tf.tidy(() => tf.linalg.bandPart(tf.ones([seq, seq]), -1, 0));
  const optimizer = tf.train.adam(1e-2);
  const losses: Tensor[] = [];
  for (let step = 0; step < 2; step++) {
    const loss = optimizer.minimize(
      () =>
        tf.tidy(() => {
          const x = embeddingLookup(embed, ids);
          const q = matMul(x, wq);
          const k = matMul(x, wk);
          const v = matMul(x, wv);
          const scores = tf.add(
            tf.mul(matMul(q, k, false, true), 1 / Math.sqrt(width)),
            tf.mul(tf.sub(1, mask), -1e9),
          );
          const attended = tf.add(x, matMul(tf.softmax(scores), v));
          const hidden = tf.add(attended, matMul(tf.tanh(matMul(attended, up)), down));
          const logits = tf.reshape(matMul(hidden, head), [batch * seq, vocab]);
          return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), -1))) as tf.Scalar;
        }),
      true,
      variables,
    )!;
    losses.push(loss);
  }
  const result = [...losses, ...variables.map((v) => v.clone())];
  optimizer.dispose();
  for (const t of [ids, targets, mask, ...variables]) t.dispose();
  return result;
}

describe.skipIf(!NATIVE.ok)(
  `the native backend: results${NATIVE.ok ? '' : ` (skipped: ${reason})`}`,
  () => {
    it('reports its OpenBLAS build and thread count', async () => {
      const info = await initBackend('native', { threads: 1 });
      expect(info).toMatchObject({ name: 'native', tfjsBackend: 'native', simd: true });
      expect(info.native?.threads).toBe(1);
      expect(info.native?.blas).toMatch(/^OpenBLAS \d/);
      expect(tf.getBackend()).toBe('native');
    });

    it('matrix products and their gradients equal the WASM and CPU backends', async () => {
      await initBackend('wasm');
      const wasm = values(products());
      await initBackend('cpu');
      const cpu = values(products());
      await initBackend('native');
      const native = values(products());
      expectClose(native, wasm, 1e-5);
      expectClose(native, cpu, 1e-5);
    });

    it('with two OpenBLAS threads, products still equal WASM', async () => {
      await initBackend('wasm');
      const wasm = values(products());
      await initBackend('native', { threads: 2 });
      const native = values(products());
      expectClose(native, wasm, 1e-5);
      await initBackend('native', { threads: 1 });
    });

    it('a training step (attention, MLP, log-softmax, Adam) matches WASM within float32 tolerance', async () => {
      await initBackend('wasm');
      const wasm = values(trainingStep());
      await initBackend('native');
      const native = values(trainingStep());
      expectClose(native, wasm, 1e-4);
    });

    it('Identity shares storage and disposing either copy keeps the other', async () => {
      await initBackend('native');
      const x = tf.tensor1d([1, 2, 3]);
      const y = tf.clone(x);
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
      const v = tf.variable(y);
      y.dispose();
      const doubled = tf.mul(v, 2) as tf.Tensor1D;
      v.assign(doubled);
      doubled.dispose();
      expect(Array.from(v.dataSync())).toEqual([2, 4, 6]);
      v.dispose();
    });

    it('GatherV2 refuses an index out of range, naming it, and leaks nothing', async () => {
      await initBackend('native');
      const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      const indices = tf.tensor1d([0, 2], 'int32');
      expect(() => tf.gather(x, indices)).toThrow(/index value 2 is not in \[0, 1\]/);
      tf.dispose([x, indices]);
    });

    it('shares tensors with wasm: switching moves no data and keeps values', async () => {
      await initBackend('wasm');
      const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      await initBackend('native');
      const y = tf.matMul(x, x);
      expect(Array.from(y.dataSync())).toEqual([7, 10, 15, 22]);
      await initBackend('wasm');
      const z = tf.add(y, x);
      expect(Array.from(z.dataSync())).toEqual([8, 12, 18, 26]);
      tf.dispose([x, y, z]);
    });
  },
);

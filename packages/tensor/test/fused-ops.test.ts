import { ErrorCode } from '@hicra/spec';
import { expectHicraError } from '@hicra/spec/testing';
import { describe, expect, it } from 'vitest';
import {
  decodeAttention,
  embeddingLookup,
  geluTanh,
  layerNorm,
  matMul,
  mergeHeads,
  rmsNorm,
  rotaryEmbedding,
  splitHeads,
  type Tensor,
  tf,
} from '../src/index.js';
import { expectClose, randomTensor, SeededGenerator } from '../src/testing/index.js';
import { BACKENDS, useBackend } from './helpers.js';

/**
 * Value and gradients of `fused` equal those of `reference` (the unfused tfjs formula) for a
 * random weighting of the output, with respect to every input.
 */
function expectSameAsReference(
  fused: (...inputs: Tensor[]) => Tensor,
  reference: (...inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  generator: SeededGenerator,
  atol = 1e-5,
): void {
  tf.tidy(() => {
    const expected = reference(...inputs);
    expectClose(fused(...inputs), expected, { atol, label: 'value' });
    const weights = randomTensor(generator, expected.shape);
    const loss =
      (f: (...x: Tensor[]) => Tensor) =>
      (...x: Tensor[]) =>
        tf.sum(tf.mul(f(...x), weights));
    const got = tf.grads(loss(fused))(inputs);
    const want = tf.grads(loss(reference))(inputs);
    got.forEach((g, i) => {
      expectClose(g, want[i]!, { atol, label: `gradient of input ${i}` });
    });
  });
}

const unfusedLayerNorm = (x: Tensor, w: Tensor, b: Tensor) => {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-5))), w), b);
};
const unfusedRmsNorm = (x: Tensor, w: Tensor) =>
  tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-6))), w);
const unfusedGelu = (x: Tensor) => {
  const inner = tf.mul(
    Math.sqrt(2 / Math.PI),
    tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))),
  );
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
};

describe.each(BACKENDS)('fused ops equal their unfused formulas on %s', (backend) => {
  it('layerNorm and rmsNorm: value and gradients in x, weight and bias', async () => {
    await useBackend(backend);
    const g = new SeededGenerator(11);
    const x = randomTensor(g, [3, 5, 16], 0.5, 2);
    const w = randomTensor(g, [16], 1, 0.3);
    const b = randomTensor(g, [16]);
    expectSameAsReference((a, c, d) => layerNorm(a!, c!, d!), unfusedLayerNorm, [x, w, b], g);
    expectSameAsReference((a, c) => rmsNorm(a!, c!), unfusedRmsNorm, [x, w], g);
    // Per-head norm of a rank-4 tensor over its last axis.
    const heads = randomTensor(g, [2, 3, 4, 8]);
    const hw = randomTensor(g, [8], 1, 0.2);
    expectSameAsReference((a, c) => rmsNorm(a!, c!), unfusedRmsNorm, [heads, hw], g);
    tf.dispose([x, w, b, heads, hw]);
  });

  it('geluTanh: value (within float32 rounding of the tanh form) and gradient', async () => {
    await useBackend(backend);
    const g = new SeededGenerator(12);
    const x = randomTensor(g, [4, 7, 33], 0, 3);
    expectSameAsReference((a) => geluTanh(a!), unfusedGelu, [x], g, 2e-6);
    tf.tidy(() => {
      const big = tf.tensor1d([-60, -20, 0, 20, 60]);
      expectClose(geluTanh(big), [0, 0, 0, 20, 60], { atol: 1e-6 });
    });
    x.dispose();
  });

  it('rotaryEmbedding: rotate-half of each head, gradient the inverse rotation', async () => {
    await useBackend(backend);
    const g = new SeededGenerator(13);
    const [batch, heads, length, dim] = [2, 3, 5, 8];
    const x = randomTensor(g, [batch, heads, length, dim]);
    const half = dim / 2;
    const angles = g.fillNormal(new Float32Array(batch * length * half), 0, 2);
    const cos = angles.map(Math.cos);
    const sin = angles.map(Math.sin);
    const reference = (input: Tensor) => {
      const c = tf.tensor4d(cos, [batch, 1, length, half]);
      const s = tf.tensor4d(sin, [batch, 1, length, half]);
      const [first, second] = tf.split(input, [half, half], 3);
      return tf.concat(
        [
          tf.sub(tf.mul(first!, c), tf.mul(second!, s)),
          tf.add(tf.mul(second!, c), tf.mul(first!, s)),
        ],
        3,
      );
    };
    expectSameAsReference((a) => rotaryEmbedding(a!, cos, sin), reference, [x], g);
    x.dispose();
  });

  it('splitHeads and mergeHeads: the slice-reshape-transpose and its inverse', async () => {
    await useBackend(backend);
    const g = new SeededGenerator(14);
    const qkv = randomTensor(g, [2, 5, 3 * 4 + 2 * 2 * 4]);
    const reference = (offset: number, count: number) => (x: Tensor) =>
      tf.transpose(
        tf.reshape(tf.slice(x, [0, 0, offset], [2, 5, count * 4]), [2, 5, count, 4]),
        [0, 2, 1, 3],
      );
    expectSameAsReference((a) => splitHeads(a!, 0, 3, 4), reference(0, 3), [qkv], g);
    expectSameAsReference((a) => splitHeads(a!, 12, 2, 4), reference(12, 2), [qkv], g);
    expectSameAsReference((a) => splitHeads(a!, 20, 2, 4), reference(20, 2), [qkv], g);
    const heads = randomTensor(g, [2, 3, 5, 4]);
    expectSameAsReference(
      (a) => mergeHeads(a!),
      (a) => tf.reshape(tf.transpose(a, [0, 2, 1, 3]), [2, 5, 12]),
      [heads],
      g,
    );
    tf.dispose([qkv, heads]);
  });

  it('batched matMul (split into 2-D products on WASM): value and gradients of tf.matMul', async () => {
    await useBackend(backend);
    const g = new SeededGenerator(15);
    const a = randomTensor(g, [2, 3, 7, 5]);
    const b = randomTensor(g, [2, 3, 5, 6]);
    expectSameAsReference(
      (x, y) => matMul(x!, y!),
      (x, y) => tf.matMul(x, y),
      [a, b],
      g,
    );
    const bt = randomTensor(g, [2, 3, 6, 5]);
    expectSameAsReference(
      (x, y) => matMul(x!, y!, false, true),
      (x, y) => tf.matMul(x, y, false, true),
      [a, bt],
      g,
    );
    tf.dispose([a, b, bt]);
  });

  it('embeddingLookup on a 32k table: rows and a scatter-add gradient', async () => {
    await useBackend(backend);
    const g = new SeededGenerator(16);
    const table = randomTensor(g, [32_000, 4]);
    const ids = Int32Array.of(31_999, 5, 5, 0);
    tf.tidy(() => {
      const weights = randomTensor(g, [4, 4]);
      expectClose(embeddingLookup(table, ids), tf.gather(table, tf.tensor1d(ids, 'int32')));
      const grad = tf.grad((t: Tensor) => tf.sum(tf.mul(embeddingLookup(t, ids), weights)))(table);
      const w = weights.arraySync() as number[][];
      const rows = tf
        .gather(grad, tf.tensor1d([31_999, 5, 0, 1], 'int32'))
        .arraySync() as number[][];
      expectClose(rows[0]!, w[0]!);
      expectClose(
        rows[1]!,
        w[1]!.map((v, k) => v + w[2]![k]!),
      );
      expectClose(rows[2]!, w[3]!);
      expectClose(rows[3]!, [0, 0, 0, 0]);
    });
    table.dispose();
  });

  it('decodeAttention writes the cache in place and equals dense attention over it', async () => {
    await useBackend(backend);
    const g = new SeededGenerator(17);
    const [batch, heads, kvHeads, dim, capacity, past] = [2, 4, 2, 8, 6, 3];
    const q = randomTensor(g, [batch, heads, 1, dim]);
    const k = randomTensor(g, [batch, kvHeads, 1, dim]);
    const v = randomTensor(g, [batch, kvHeads, 1, dim]);
    const cache = {
      keys: randomTensor(g, [batch, kvHeads, capacity, dim]),
      values: randomTensor(g, [batch, kvHeads, capacity, dim]),
    };
    // Row 1 has a padded first key.
    const keyMask = Uint8Array.of(1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1);
    tf.tidy(() => {
      const before = { keys: tf.clone(cache.keys), values: tf.clone(cache.values) };
      const out = decodeAttention(q, k, v, cache, past, keyMask);
      // Column `past` now holds the new key and value; the others are untouched.
      const column = (t: Tensor, at: number) =>
        tf.slice(t, [0, 0, at, 0], [batch, kvHeads, 1, dim]);
      expectClose(column(cache.keys, past), k, { atol: 0 });
      expectClose(column(cache.values, past), v, { atol: 0 });
      expectClose(column(cache.keys, 0), column(before.keys, 0), { atol: 0 });
      // Dense reference over columns 0..past with the mask, heads grouped 2 per key head.
      const keys = tf.slice(cache.keys, [0, 0, 0, 0], [batch, kvHeads, past + 1, dim]);
      const values = tf.slice(cache.values, [0, 0, 0, 0], [batch, kvHeads, past + 1, dim]);
      const expand = (t: Tensor) =>
        tf.reshape(tf.tile(tf.expandDims(t, 2), [1, 1, 2, 1, 1]), [batch, heads, past + 1, dim]);
      const maskRows = Array.from({ length: batch }, (_, b) =>
        Array.from({ length: past + 1 }, (_, i) => (keyMask[b * capacity + i] === 1 ? 0 : -1e9)),
      );
      const scores = tf.add(
        tf.div(tf.matMul(q, expand(keys), false, true), Math.sqrt(dim)),
        tf.reshape(tf.tensor2d(maskRows), [batch, 1, 1, past + 1]),
      );
      expectClose(out, tf.matMul(tf.softmax(scores), expand(values)), { atol: 1e-5 });
    });
    tf.dispose([q, k, v, cache.keys, cache.values]);
  });
});

describe('fused ops reject bad input, naming the argument', () => {
  it.each([
    [
      'a norm weight of the wrong width',
      () => layerNorm(tf.zeros([2, 4]), tf.ones([3]), tf.zeros([4])),
      ErrorCode.ShapeMismatch,
      ['layerNorm', 'weight', '[4]', '[3]'],
    ],
    [
      'a negative epsilon',
      () => rmsNorm(tf.zeros([2, 4]), tf.ones([4]), -1),
      ErrorCode.InvalidArgument,
      ['rmsNorm', 'epsilon'],
    ],
    [
      'int input to geluTanh',
      () => geluTanh(tf.zeros([2], 'int32')),
      ErrorCode.InvalidArgument,
      ['geluTanh', 'float32'],
    ],
    [
      'rotary tables of the wrong length',
      () => rotaryEmbedding(tf.zeros([1, 2, 3, 4]), new Float32Array(5), new Float32Array(6)),
      ErrorCode.ShapeMismatch,
      ['rotaryEmbedding', 'cos', '6'],
    ],
    [
      'an odd head width for rotary',
      () => rotaryEmbedding(tf.zeros([1, 2, 3, 5]), new Float32Array(6), new Float32Array(6)),
      ErrorCode.ShapeMismatch,
      ['rotaryEmbedding', 'even'],
    ],
    [
      'heads beyond the projection',
      () => splitHeads(tf.zeros([1, 2, 8]), 4, 2, 4),
      ErrorCode.ShapeMismatch,
      ['splitHeads', '2 heads of width 4 from column 4', '[1, 2, 8]'],
    ],
    [
      'a decode query of two positions',
      () =>
        decodeAttention(
          tf.zeros([1, 2, 2, 4]),
          tf.zeros([1, 2, 1, 4]),
          tf.zeros([1, 2, 1, 4]),
          { keys: tf.zeros([1, 2, 3, 4]), values: tf.zeros([1, 2, 3, 4]) },
          0,
          new Uint8Array(3),
        ),
      ErrorCode.ShapeMismatch,
      ['decodeAttention', 'query'],
    ],
    [
      'a decode step past the cache capacity',
      () =>
        decodeAttention(
          tf.zeros([1, 2, 1, 4]),
          tf.zeros([1, 2, 1, 4]),
          tf.zeros([1, 2, 1, 4]),
          { keys: tf.zeros([1, 2, 3, 4]), values: tf.zeros([1, 2, 3, 4]) },
          3,
          new Uint8Array(3),
        ),
      ErrorCode.InvalidArgument,
      ['decodeAttention', 'past', '[0, 3)'],
    ],
  ] as const)('%s', (_, call, code, fragments) => {
    const error = expectHicraError(
      () =>
        tf.tidy(() => {
          (call as () => unknown)();
        }),
      { code, message: fragments },
    );
    expect(error.message.startsWith('@hicra/tensor: ')).toBe(true);
  });

  it('decodeAttention checks the key mask length', () => {
    tf.tidy(() => {
      expect(() =>
        decodeAttention(
          tf.zeros([1, 2, 1, 4]),
          tf.zeros([1, 2, 1, 4]),
          tf.zeros([1, 2, 1, 4]),
          { keys: tf.zeros([1, 2, 3, 4]), values: tf.zeros([1, 2, 3, 4]) },
          0,
          new Uint8Array(2),
        ),
      ).toThrow(/keyMask must be a Uint8Array of B·capacity = 3/);
    });
  });
});

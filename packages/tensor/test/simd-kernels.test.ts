import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeAttention,
  geluTanh,
  layerNorm,
  matMul,
  mergeHeads,
  rmsNorm,
  rotaryEmbedding,
  splitHeads,
  type Tensor,
  tf,
  tokenLogProbsAndEntropy,
} from '../src/index.js';
import { KERNELS_BASE64, SOURCE_SHA256 } from '../src/simd/binary.js';
import { heapKernels, setHeapKernelsEnabled } from '../src/simd/heap-kernels.js';
import { expectClose, randomTensor, SeededGenerator } from '../src/testing/index.js';
import { BACKENDS, useBackend } from './helpers.js';

/** The WebAssembly API's module reflection (the package's `lib` has no DOM types). */
interface WasmModuleApi {
  readonly Module: {
    new (bytes: Uint8Array): object;
    imports(module: object): { module: string; name: string; kind: string }[];
    exports(module: object): { name: string; kind: string }[];
  };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmModuleApi }).WebAssembly;

const HEAP_BACKENDS = BACKENDS.filter((name) => name === 'wasm' || name === 'native');

/** `f` with the SIMD kernels on and off, as plain arrays (the JS loops are the reference). */
function bothPaths<T>(f: () => T): { simd: T; plain: T } {
  expect(heapKernels(), 'the SIMD kernels load on this backend').toBeDefined();
  const simd = f();
  const previous = setHeapKernelsEnabled(false);
  try {
    expect(heapKernels()).toBeUndefined();
    return { simd, plain: f() };
  } finally {
    setHeapKernelsEnabled(previous);
  }
}

/** Log-probs, entropies and the gradient of a random weighting of both, as arrays. */
function statistics(logits: Tensor, labels: Int32Array, weights: [Tensor, Tensor]) {
  return tf.tidy(() => {
    const { logProbs, entropies } = tokenLogProbsAndEntropy(logits, labels);
    const grad = tf.grad((x: Tensor) => {
      const r = tokenLogProbsAndEntropy(x, labels);
      return tf.add(
        tf.sum(tf.mul(r.logProbs, weights[0])),
        tf.sum(tf.mul(r.entropies, weights[1])),
      );
    })(logits);
    return {
      logProbs: Array.from(logProbs.dataSync()),
      entropies: Array.from(entropies.dataSync()),
      grad: Array.from(grad.dataSync()),
    };
  });
}

/** |a - b| <= atol + rtol·|b| elementwise, NaN only where NaN (reports the first miss). */
function expectNear(got: number[], want: number[], label: string, atol = 1e-6, rtol = 2e-5): void {
  expect(got.length, label).toBe(want.length);
  const miss = want.findIndex((b, i) => {
    const a = got[i]!;
    return Number.isNaN(b) ? !Number.isNaN(a) : !(Math.abs(a - b) <= atol + rtol * Math.abs(b));
  });
  expect(miss === -1 ? 'all equal' : `${label}[${miss}]: ${got[miss]} vs ${want[miss]}`).toBe(
    'all equal',
  );
}

describe('the WASM SIMD kernels module', () => {
  it('was built from the committed simd/kernels.c', () => {
    const source = readFileSync(new URL('../simd/kernels.c', import.meta.url));
    expect(createHash('sha256').update(source).digest('hex')).toBe(SOURCE_SHA256);
  });

  it('imports only its memory, owns no data segment, and exports its kernels', () => {
    const bytes = Buffer.from(KERNELS_BASE64, 'base64');
    const module = new wasm.Module(bytes);
    expect(wasm.Module.imports(module)).toEqual([
      { module: 'env', name: 'memory', kind: 'memory' },
    ]);
    expect(wasm.Module.exports(module).map((e) => e.name)).toEqual([
      'softmax_row_stats',
      'softmax_stats_grad',
      'decode_attention_row',
      'transpose',
      'norm_forward',
      'norm_backward',
      'gelu_backward',
      'copy_heads',
      'rotary',
      'batch_matmul',
    ]);
    const sections: number[] = [];
    for (let at = 8; at < bytes.length; ) {
      sections.push(bytes[at++]!);
      let size = 0;
      for (let shift = 0; ; shift += 7) {
        const byte = bytes[at++]!;
        size += (byte & 0x7f) * 2 ** shift;
        if ((byte & 0x80) === 0) break;
      }
      at += size;
    }
    expect(sections).not.toContain(11); // data
  });

  it('the build script checks that the binary matches the source', () => {
    const script = fileURLToPath(new URL('../scripts/build-simd.mjs', import.meta.url));
    expect(execFileSync(process.execPath, [script, '--check'], { encoding: 'utf8' })).toContain(
      'matches',
    );
  });
});

describe.each(HEAP_BACKENDS)('SIMD kernels on %s equal the plain loops', (backend) => {
  afterEach(() => {
    setHeapKernelsEnabled(true);
  });

  it('log-probs, entropies and their gradient, every vocabulary tail and special value', async () => {
    await useBackend(backend);
    const generator = new SeededGenerator(19);
    for (const vocab of [1, 2, 3, 4, 5, 7, 8, 63, 64, 257]) {
      const rows = 9;
      const values = Float32Array.from({ length: rows * vocab }, () => generator.nextNormal() * 6);
      // Row 1: a masked entry; row 2: every entry but one masked; row 3: a NaN; row 4: only
      // -Infinity; row 5: far-apart logits (most probabilities underflow); row 6: ±1000.
      if (vocab > 1) values[1 * vocab + vocab - 1] = Number.NEGATIVE_INFINITY;
      for (let j = 1; j < vocab; j++) values[2 * vocab + j] = Number.NEGATIVE_INFINITY;
      values[3 * vocab + Math.floor(vocab / 2)] = Number.NaN;
      for (let j = 0; j < vocab; j++) values[4 * vocab + j] = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < vocab; j++) values[5 * vocab + j] = -200 * j;
      for (let j = 0; j < vocab; j++) values[6 * vocab + j] = j % 2 === 0 ? 1000 : -1000;
      const labels = Int32Array.from({ length: rows }, (_, i) =>
        i === 1 || i === 2 ? 0 : generator.nextInt(vocab),
      );
      const { simd, plain } = bothPaths(() =>
        tf.tidy(() => {
          const logits = tf.tensor2d(values, [rows, vocab]);
          const weights: [Tensor, Tensor] = [
            randomTensor(new SeededGenerator(vocab), [rows]),
            randomTensor(new SeededGenerator(vocab + 1), [rows]),
          ];
          return statistics(logits, labels, weights);
        }),
      );
      expectNear(simd.logProbs, plain.logProbs, `V=${vocab} log-probs`);
      expectNear(simd.entropies, plain.entropies, `V=${vocab} entropies`);
      expectNear(simd.grad, plain.grad, `V=${vocab} gradient`);
    }
  });

  it('a 32k-vocabulary head: the statistics and the gradient agree to float32 rounding', async () => {
    await useBackend(backend);
    const rows = 6;
    const vocab = 32_000;
    const generator = new SeededGenerator(7);
    const values = Float32Array.from({ length: rows * vocab }, () => generator.nextNormal() * 3);
    const labels = Int32Array.from({ length: rows }, () => generator.nextInt(vocab));
    const { simd, plain } = bothPaths(() =>
      tf.tidy(() =>
        statistics(tf.tensor2d(values, [rows, vocab]), labels, [
          tf.fill([rows], 0.5),
          tf.fill([rows], -0.25),
        ]),
      ),
    );
    expectNear(simd.logProbs, plain.logProbs, 'log-probs', 1e-5);
    expectNear(simd.entropies, plain.entropies, 'entropies', 1e-5);
    expectNear(simd.grad, plain.grad, 'gradient', 1e-9, 1e-4);
  });

  it('transposes every shape exactly, batched or not, and its gradient is the transpose', async () => {
    await useBackend(backend);
    const generator = new SeededGenerator(3);
    const shapes = [
      [1, 1],
      [3, 5],
      [4, 4],
      [7, 9],
      [33, 65],
      [64, 128],
      [2, 63, 32],
      [2, 3, 5, 7],
    ];
    for (const shape of shapes) {
      tf.tidy(() => {
        const x = randomTensor(generator, shape);
        const inner = shape.slice(0, -2);
        const [m, k] = shape.slice(-2) as [number, number];
        // x · I through matMul's transposeA path: the transpose is all it computes.
        const identity = tf.eye(m);
        const batchedIdentity =
          inner.length === 0 ? identity : tf.broadcastTo(identity, [...inner, m, m]);
        const { simd, plain } = bothPaths(() => {
          const value = matMul(x, batchedIdentity, true, false);
          const grad = tf.grad((a: Tensor) =>
            tf.sum(
              tf.mul(
                matMul(a, batchedIdentity, true, false),
                tf.reshape(tf.range(0, value.size), value.shape),
              ),
            ),
          )(x);
          return { value: Array.from(value.dataSync()), grad: Array.from(grad.dataSync()) };
        });
        expect(simd.value, `[${shape}]`).toEqual(plain.value);
        expect(simd.grad, `[${shape}] gradient`).toEqual(plain.grad);
        expectClose(
          tf.tensor(simd.value, [...inner, k, m]),
          tf.transpose(x, [...inner.map((_, i) => i), inner.length + 1, inner.length]),
          { atol: 0, label: `[${shape}]` },
        );
      });
    }
  });

  it('decode attention: grouped heads, odd widths, padded and empty rows, every cache length', async () => {
    await useBackend(backend);
    for (const [heads, kvHeads, dim] of [
      [4, 2, 32],
      [3, 3, 6],
      [2, 1, 5],
      [8, 2, 16],
    ] as const) {
      const [batch, capacity] = [3, 11];
      // Row 1: a padded prefix; row 2: no real column at all (its output is zero).
      const keyMask = new Uint8Array(batch * capacity);
      for (let c = 0; c < capacity; c++) {
        keyMask[c] = 1;
        keyMask[capacity + c] = c < 3 ? 0 : 1;
      }
      for (let past = 0; past < capacity; past += 3) {
        const step = () =>
          tf.tidy(() => {
            const seed = new SeededGenerator(heads * 100 + past);
            const cache = {
              keys: randomTensor(seed, [batch, kvHeads, capacity, dim]),
              values: randomTensor(seed, [batch, kvHeads, capacity, dim]),
            };
            const out = decodeAttention(
              randomTensor(seed, [batch, heads, 1, dim]),
              randomTensor(seed, [batch, kvHeads, 1, dim]),
              randomTensor(seed, [batch, kvHeads, 1, dim]),
              cache,
              past,
              keyMask,
            );
            return {
              out: Array.from(out.dataSync()),
              keys: Array.from(cache.keys.dataSync()),
              values: Array.from(cache.values.dataSync()),
            };
          });
        const { simd, plain } = bothPaths(step);
        const label = `heads ${heads}/${kvHeads}, dim ${dim}, past ${past}`;
        expectNear(simd.out, plain.out, label, 1e-6, 1e-5);
        expect(simd.keys, `${label}: the cache written in place`).toEqual(plain.keys);
        expect(simd.values, `${label}: the cache written in place`).toEqual(plain.values);
        const rowSize = heads * dim;
        expect(
          simd.out.slice(2 * rowSize).every((x) => x === 0),
          `${label}: empty row`,
        ).toBe(true);
      }
    }
  });

  it('layer and RMS norms and GELU: values and every gradient, any width', async () => {
    await useBackend(backend);
    for (const width of [1, 3, 4, 6, 128]) {
      const shape = [3, 5, width];
      const run = () =>
        tf.tidy(() => {
          const seed = new SeededGenerator(width);
          const x = randomTensor(seed, shape, 0.5, 2);
          const weight = randomTensor(seed, [width]);
          const bias = randomTensor(seed, [width]);
          const dy = randomTensor(seed, shape);
          const arrays = (ts: Tensor[]) => ts.map((t) => Array.from(t.dataSync()));
          const weighted = (y: Tensor) => tf.sum(tf.mul(y, dy));
          return {
            layer: arrays([
              layerNorm(x, weight, bias),
              ...tf.grads((a: Tensor, w: Tensor, b: Tensor) => weighted(layerNorm(a, w, b)))([
                x,
                weight,
                bias,
              ]),
            ]),
            rms: arrays([
              rmsNorm(x, weight),
              ...tf.grads((a: Tensor, w: Tensor) => weighted(rmsNorm(a, w)))([x, weight]),
            ]),
            gelu: arrays([geluTanh(x), tf.grad((a: Tensor) => weighted(geluTanh(a)))(x)]),
          };
        });
      const { simd, plain } = bothPaths(run);
      for (const op of ['layer', 'rms', 'gelu'] as const) {
        simd[op].forEach((values, i) => {
          expectNear(values, plain[op][i]!, `width ${width}: ${op} output ${i}`, 1e-5, 1e-4);
        });
      }
    }
  });

  it('head splits and merges and the rotary embedding: values and gradients, odd widths', async () => {
    await useBackend(backend);
    for (const [count, dim] of [
      [4, 32],
      [3, 6],
      [2, 5],
    ] as const) {
      const [batch, length] = [2, 7];
      const width = 3 * count * dim + 1; // a spare column the heads do not cover
      const run = () =>
        tf.tidy(() => {
          const seed = new SeededGenerator(count * dim);
          const x = randomTensor(seed, [batch, length, width]);
          const half = Math.floor(dim / 2);
          const angles = Float32Array.from({ length: batch * length * half }, () =>
            seed.nextNormal(),
          );
          const cos = angles.map(Math.cos);
          const sin = angles.map(Math.sin);
          const heads = (input: Tensor) => splitHeads(input, count * dim, count, dim);
          const rotated = (input: Tensor) =>
            dim % 2 === 0 ? rotaryEmbedding(heads(input), cos, sin) : heads(input);
          const merged = (input: Tensor) => mergeHeads(rotated(input));
          const dy = randomTensor(seed, [batch, length, count * dim]);
          return [merged(x), tf.grad((input: Tensor) => tf.sum(tf.mul(merged(input), dy)))(x)].map(
            (t) => Array.from(t.dataSync()),
          );
        });
      const { simd, plain } = bothPaths(run);
      expectNear(simd[0]!, plain[0]!, `${count} heads of ${dim}: value`, 1e-6, 1e-5);
      expectNear(simd[1]!, plain[1]!, `${count} heads of ${dim}: gradient`, 1e-6, 1e-5);
    }
  });

  it('batched matrix products: every tail of m, k and n, and their gradients', async () => {
    await useBackend(backend);
    for (const [batch, m, k, n] of [
      [2, 1, 1, 1],
      [3, 2, 5, 16],
      [2, 3, 4, 17],
      [4, 63, 32, 63],
      [2, 5, 7, 35],
    ] as const) {
      const run = () =>
        tf.tidy(() => {
          const seed = new SeededGenerator(m * 1000 + n);
          const a = randomTensor(seed, [batch, m, k]);
          const b = randomTensor(seed, [batch, k, n]);
          const dy = randomTensor(seed, [batch, m, n]);
          const [da, db] = tf.grads((x: Tensor, y: Tensor) => tf.sum(tf.mul(matMul(x, y), dy)))([
            a,
            b,
          ]);
          return [matMul(a, b), da!, db!].map((t) => Array.from(t.dataSync()));
        });
      const { simd, plain } = bothPaths(run);
      simd.forEach((values, i) => {
        expectNear(
          values,
          plain[i]!,
          `[${batch}, ${m}, ${k}] · [${k}, ${n}] output ${i}`,
          1e-5,
          1e-5,
        );
      });
    }
  });
});

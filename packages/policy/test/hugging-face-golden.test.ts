/**
 * The golden Hugging Face models (test/fixtures/hf, copied unchanged from shared/fixtures/hf):
 * each folder loaded through `loadHuggingFaceModel` must reproduce the logits, per-token
 * log-probs and greedy continuations of a PyTorch port of transformers' modeling code, on the
 * WASM and the CPU backend, with and without the KV cache.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { currentBackend, initBackend, tf } from '@hicra/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadHuggingFaceModel,
  ropeInverseFrequencies,
  type TransformerPolicy,
} from '../src/index.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'hf');
const FOLDERS = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

interface GoldenCase {
  readonly inputIds: number[];
  readonly logits: number[][];
  readonly tokenLogprobs: number[];
  readonly greedyTokens: number[];
}

interface Golden {
  readonly name: string;
  readonly tolerance: { readonly logitsAtol: number; readonly tokenLogprobsAtol: number };
  readonly ropeInvFreq: number[];
  readonly cases: GoldenCase[];
}

const golden = (folder: string): Golden =>
  JSON.parse(readFileSync(join(FIXTURES, folder, 'expected.json'), 'utf8'));

/** The largest |a - b| over two equally long arrays. */
function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++)
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  return worst;
}

const ragged = (prompt: number[]) => ({
  tokenIds: Int32Array.from(prompt),
  offsets: Int32Array.from([0, prompt.length]),
});

/** Greedy decoding by full recomputation: argmax of the last position, append, run again. */
function greedyWithoutCache(policy: TransformerPolicy, prompt: number[], steps: number): number[] {
  const ids = [...prompt];
  for (let s = 0; s < steps; s++) {
    const logits = policy.fullLogits(Int32Array.from(ids), 1, ids.length);
    const last = tf.tidy(() => tf.argMax(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, -1]), -1));
    ids.push(last.dataSync()[0]!);
    tf.dispose([logits, last]);
  }
  return ids.slice(prompt.length);
}

it('the fixtures are the five documented models, unchanged', () => {
  expect(FOLDERS).toEqual([
    'llama-bf16',
    'llama3-ropescaling',
    'qwen2-tied',
    'qwen2-untied-sharded',
    'qwen3-qknorm',
  ]);
});

describe.each(['wasm', 'cpu'] as const)('Hugging Face golden models on %s', (backend) => {
  let previous: string | undefined;
  beforeAll(async () => {
    previous = currentBackend()?.name;
    await initBackend(backend);
  });
  afterAll(async () => {
    if (previous !== undefined && previous !== backend) await initBackend(previous as 'wasm');
  });

  describe.each(FOLDERS)('%s', (folder) => {
    const expected = golden(folder);

    it('computes the rotary inverse frequencies transformers does', async () => {
      const { policy } = await loadHuggingFaceModel(join(FIXTURES, folder));
      try {
        const ours = ropeInverseFrequencies(policy.config);
        expect(ours.length).toBe(expected.ropeInvFreq.length);
        expected.ropeInvFreq.forEach((value, j) => {
          expect(Math.abs(ours[j]! - value) / value).toBeLessThan(1e-6);
        });
      } finally {
        policy.dispose();
      }
    });

    it('matches the full logits and the per-token log-probs of every case', async () => {
      const { policy } = await loadHuggingFaceModel(join(FIXTURES, folder));
      try {
        for (const c of expected.cases) {
          const L = c.inputIds.length;
          const logits = policy.fullLogits(Int32Array.from(c.inputIds), 1, L);
          const diff = maxAbsDiff(logits.dataSync(), c.logits.flat());
          logits.dispose();
          expect(diff, `logits of the ${L}-token case`).toBeLessThanOrEqual(
            expected.tolerance.logitsAtol,
          );
          if (L < 2) continue;
          // Scoring the continuation of the first token gives log p(input[t+1] | input[..t]).
          const { logProbs } = await policy.score({
            batchSize: 1,
            seqLen: L - 1,
            prompts: ragged(c.inputIds.slice(0, 1)),
            tokenIds: Int32Array.from(c.inputIds.slice(1)),
            responseMask: new Uint8Array(L - 1).fill(1),
          });
          expect(
            maxAbsDiff(logProbs, c.tokenLogprobs),
            `log-probs of the ${L}-token case`,
          ).toBeLessThanOrEqual(expected.tolerance.tokenLogprobsAtol);
        }
      } finally {
        policy.dispose();
      }
    });

    it('continues every case greedily with the expected tokens, with and without the KV cache', async () => {
      const { policy } = await loadHuggingFaceModel(join(FIXTURES, folder));
      try {
        for (const c of expected.cases) {
          const steps = c.greedyTokens.length;
          const sampled = await policy.sample({
            prompts: ragged(c.inputIds),
            samplesPerPrompt: 1,
            maxNewTokens: steps,
            temperature: 0,
            seed: 0,
          });
          expect(Array.from(sampled.tokenIds), 'KV-cache decoding').toEqual(c.greedyTokens);
          expect(greedyWithoutCache(policy, c.inputIds, steps), 'full recomputation').toEqual(
            c.greedyTokens,
          );
        }
      } finally {
        policy.dispose();
      }
    });
  });
});

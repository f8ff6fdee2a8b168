/**
 * Benchmark: @hicra/policy's transformer on the CPU and WASM backends next to a PyTorch model
 * of the same architecture (CPU, one thread) in the same run: a training step (forward,
 * cross-entropy, backward, Adam) at B = 32, T = 64, width 128, 2 layers, 4 heads, V = 64 and
 * V = 32k, and KV-cache sampling of 32 sequences × 64 new tokens. Prints a ratio table and
 * peak memory. The CPU backend runs the V = 64 cases only (pure JS; the V = 32k step would take
 * minutes).
 *
 *   node --import tsx --conditions=@hicra/source src/policy-step.ts [--runs 3] [--backends wasm,cpu,native] [--threads 1] [--vocab 64,32000]
 *
 * `native` (the optional `@hicra/tensor-native` OpenBLAS kernels) runs with `--threads` OpenBLAS
 * threads, and the PyTorch peer then runs with as many threads (default 1 for both).
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TransformerPolicy } from '@hicra/policy';
import { initBackend, SeededGenerator, tf } from '@hicra/tensor';
import { median } from './lib/measure.js';
import { POLICY_MODEL } from './lib/policy-model.js';
import { ensureTorchPeer, PYTHON, peerEnvironment } from './lib/torch-peer.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '3'));
const WARMUP = 1;
type Backend = 'wasm' | 'cpu' | 'native';
const BACKENDS = arg('backends', 'wasm,cpu').split(',') as Backend[];
const THREADS = Number(arg('threads', '1'));
const VOCABS = arg('vocab', '64,32000').split(',').map(Number);
const SHAPE = {
  batch: 32,
  seq: 64,
  width: POLICY_MODEL.width,
  layers: POLICY_MODEL.layers,
  heads: POLICY_MODEL.heads,
};
const CASES = [
  { name: 'V=64', vocab: 64, sample: true },
  { name: 'V=32k', vocab: 32_000, sample: false },
].filter((c) => VOCABS.includes(c.vocab));

async function time(fn: () => Promise<void> | void, runs: number): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times;
}

async function ours(backend: Backend, vocab: number, sample: boolean) {
  await initBackend(backend, backend === 'native' ? { threads: THREADS } : {});
  const policy = TransformerPolicy.create({ ...POLICY_MODEL, vocabSize: vocab }, { seed: 0 });
  const g = new SeededGenerator(1);
  const { batch, seq } = SHAPE;
  const tokenIds = Int32Array.from({ length: batch * seq }, () => g.nextInt(vocab));
  const prompts = {
    tokenIds: Int32Array.from({ length: batch }, () => g.nextInt(vocab)),
    offsets: Int32Array.from({ length: batch + 1 }, (_, i) => i),
  };
  const request = {
    prompts,
    batchSize: batch,
    seqLen: seq - 1,
    tokenIds: tokenIds.subarray(0, batch * (seq - 1)),
    responseMask: new Uint8Array(batch * (seq - 1)).fill(1),
  };
  const optimizer = tf.train.adam(1e-3);
  const step = () => {
    const cost = optimizer.minimize(
      () => tf.neg(tf.mean(policy.tokenStatistics(request).logProbs)) as tf.Scalar,
      true,
      policy.trainableVariables(),
    );
    cost?.dataSync();
    cost?.dispose();
  };
  const train = await time(step, RUNS);
  const profile = await tf.profile(() => {
    step();
  });
  let sampling: number[] | undefined;
  if (sample) {
    sampling = await time(async () => {
      await policy.sample({
        prompts,
        samplesPerPrompt: 1,
        maxNewTokens: 64,
        temperature: 1,
        seed: 3,
      });
    }, RUNS);
  }
  optimizer.dispose();
  policy.dispose();
  return {
    train: median(train),
    sample: sampling ? median(sampling) : undefined,
    peakMb: profile.peakBytes / 2 ** 20,
  };
}

async function main() {
  ensureTorchPeer();
  const peerCases = CASES.map((c) => ({
    ...c,
    ...SHAPE,
    runs: RUNS,
    warmup: WARMUP,
    sample_sequences: 32,
    sample_tokens: 64,
  }));
  const peer = spawnSync(
    PYTHON,
    [
      resolve(here, '../peers/policy_step.py'),
      JSON.stringify({ cases: peerCases, threads: THREADS }),
    ],
    {
      env: {
        ...peerEnvironment(),
        OMP_NUM_THREADS: String(THREADS),
        OPENBLAS_NUM_THREADS: String(THREADS),
        MKL_NUM_THREADS: String(THREADS),
      },
      encoding: 'utf8',
    },
  );
  if (peer.status !== 0) throw new Error(`the PyTorch peer failed:\n${peer.stderr}`);
  const torch = JSON.parse(peer.stdout) as {
    torch: string;
    threads: number;
    peak_rss_mb: number;
    cases: Record<string, { train_step_ms: number; sample_ms?: number }>;
  };
  const rows = [
    '| case | backend | ours (ms) | PyTorch (ms) | ours / PyTorch | peak tensor memory (MB) |',
    '|---|---|---|---|---|---|',
  ];
  for (const backend of BACKENDS) {
    for (const c of CASES) {
      if (backend === 'cpu' && c.vocab > 64) {
        rows.push(
          `| training step ${c.name} | cpu | not run (pure-JS backend; minutes a step) | ${torch.cases[c.name]!.train_step_ms.toFixed(0)} | - | - |`,
        );
        continue;
      }
      const result = await ours(backend, c.vocab, c.sample);
      const peer = torch.cases[c.name]!;
      rows.push(
        `| training step ${c.name} | ${backend} | ${result.train.toFixed(0)} | ${peer.train_step_ms.toFixed(0)} | ${(result.train / peer.train_step_ms).toFixed(2)} | ${result.peakMb.toFixed(0)} |`,
      );
      if (result.sample !== undefined && peer.sample_ms !== undefined) {
        rows.push(
          `| KV-cache sampling 32×64, ${c.name} | ${backend} | ${result.sample.toFixed(0)} | ${peer.sample_ms.toFixed(0)} | ${(result.sample / peer.sample_ms).toFixed(2)} | - |`,
        );
      }
    }
  }
  console.log(
    `@hicra/policy vs PyTorch ${torch.torch} (${torch.threads} thread(s), peak RSS ${torch.peak_rss_mb.toFixed(0)} MB); B = ${SHAPE.batch}, T = ${SHAPE.seq}, width ${SHAPE.width}, ${SHAPE.layers} layers, ${SHAPE.heads} heads; median of ${RUNS} after ${WARMUP} warm-up`,
  );
  console.log(rows.join('\n'));
}

await main();

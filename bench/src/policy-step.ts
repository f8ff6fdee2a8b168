/**
 * Benchmark: @hicra/policy's transformer on every available backend (WASM, the pure-JS CPU
 * backend, and the native CPU backend when @hicra/tensor has one) next to a PyTorch model of the
 * same architecture (CPU, one thread) in the same run: a training step (forward, cross-entropy,
 * backward, Adam) at B = 32, T = 64, width 128, 2 layers, 4 heads, V = 64 and V = 32k, and
 * KV-cache sampling of 32 sequences × 64 new tokens. Prints a ratio table and peak memory. The
 * CPU backend runs the V = 64 cases only (pure JS; the V = 32k step would take minutes), once
 * each by default (`--cpu-runs`, no warm-up): its step takes about 40 s.
 *
 *   node --import tsx --conditions=@hicra/source src/policy-step.ts [--runs 3] [--backends wasm,cpu,native] [--cases v64,v32k] [--threads 1] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '@hicra/tensor';
import { count, forEachFlag, list, measureFlag, runScript } from './lib/args.js';
import { median } from './lib/measure.js';
import {
  availableBackends,
  createPolicyWorkload,
  POLICY_BACKENDS,
  type PolicyBackend,
  SAMPLING,
  STEP_SHAPE,
  useBackend,
} from './lib/policy-workload.js';
import { formatLoad } from './lib/run-info.js';
import { ensureTorchPeer, PYTHON, peerEnvironment } from './lib/torch-peer.js';

const here = dirname(fileURLToPath(import.meta.url));

const CASES = [
  { name: 'V=64', key: 'v64', vocab: 64, sample: true },
  { name: 'V=32k', key: 'v32k', vocab: 32_000, sample: false },
] as const;
type CaseKey = (typeof CASES)[number]['key'];
const CASE_KEYS = CASES.map((c) => c.key);

interface Options {
  runs: number;
  warmup: number;
  cpuRuns: number;
  backends: PolicyBackend[];
  cases: CaseKey[];
  threads: number;
  json: string | undefined;
  help: boolean;
}

const USAGE = `Usage: pnpm --filter @hicra/bench bench:policy -- [flags]

The transformer's training step (V = 64 and 32k) and KV-cache sampling (32 x 64) on each
available backend, next to the same model in PyTorch (one thread), in the same run.

  --runs N          timed runs after the warm-up, on each side [3]
  --warmup N        warm-up runs [1]; the first is profiled (tf.profile) for the peak tensor memory
  --cpu-runs N      timed runs on the cpu backend, which has no warm-up (about 40 s a step) [1]
  --backends LIST   subset of ${POLICY_BACKENDS.join(',')} [all]; a backend @hicra/tensor lacks or cannot
                    start is skipped with its reason (cpu runs V = 64 only)
  --cases LIST      subset of ${CASE_KEYS.join(',')} [both]
  --threads N       OpenBLAS threads of the native backend; the PyTorch peer then runs with N
                    threads too [1]
  --json FILE       also write the results as JSON (what bench:summary reads)
  --help            this text`;

function parse(argv: readonly string[]): Options {
  const options: Options = {
    runs: 3,
    warmup: 1,
    cpuRuns: 1,
    backends: [...POLICY_BACKENDS],
    cases: [...CASE_KEYS],
    threads: 1,
    json: undefined,
    help: false,
  };
  forEachFlag(argv, USAGE, (flag, value) => {
    if (measureFlag(options, flag, value)) return true;
    switch (flag) {
      case '--cpu-runs':
        options.cpuRuns = count(flag, value(), 1);
        return true;
      case '--backends':
        options.backends = list(flag, value(), POLICY_BACKENDS);
        return true;
      case '--cases':
        options.cases = list(flag, value(), CASE_KEYS);
        return true;
      case '--threads':
        options.threads = count(flag, value(), 1);
        return true;
      default:
        return false;
    }
  });
  return options;
}

async function time(
  fn: () => Promise<unknown> | unknown,
  warmup: number,
  runs: number,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times;
}

async function ours(backend: PolicyBackend, vocab: number, sample: boolean, options: Options) {
  await useBackend(backend, options.threads);
  const before = tf.memory().numTensors;
  const workload = createPolicyWorkload(vocab);
  const losses: number[] = [];
  // The pure-JS CPU backend takes about 40 s a step: one timed run, no warm-up, by default.
  const warmup = backend === 'cpu' ? 0 : options.warmup;
  const runs = backend === 'cpu' ? options.cpuRuns : options.runs;
  // The first warm-up step runs under tf.profile, for the peak tensor memory.
  let peakMb: number | undefined;
  if (warmup > 0) {
    const profile = await tf.profile(() => {
      losses.push(workload.step());
    });
    peakMb = profile.peakBytes / 2 ** 20;
  }
  const train = await time(() => losses.push(workload.step()), warmup - 1, runs);
  const sampling = sample ? await time(() => workload.sample(), warmup, runs) : [];
  workload.dispose();
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`${backend}, V = ${vocab}: ${leaked} tensors leaked`);
  if (!losses.every(Number.isFinite)) {
    throw new Error(`${backend}, V = ${vocab}: a non-finite loss (${losses.join(', ')})`);
  }
  return { train, sampling, peakMb, firstLoss: losses[0]! };
}

/** One measured workload, as `bench:summary` reads it. */
export interface PolicyRow {
  readonly workload: 'trainStepV64' | 'trainStepV32k' | 'sampling';
  readonly backend: PolicyBackend;
  readonly oursMs: number;
  readonly peerMs: number;
  readonly oursTimesMs: number[];
  readonly peerTimesMs: number[];
  readonly peakTensorMb?: number;
  /** The loss of the first step (seeded weights): about ln V on both sides. */
  readonly firstLoss?: number;
}

async function main(options: Options): Promise<number> {
  ensureTorchPeer();
  const cases = CASES.filter((c) => options.cases.includes(c.key));
  const loadStart = loadavg();
  const peerCases = cases.map((c) => ({
    name: c.name,
    vocab: c.vocab,
    sample: c.sample,
    ...STEP_SHAPE,
    runs: options.runs,
    warmup: options.warmup,
    sample_sequences: SAMPLING.sequences,
    sample_tokens: SAMPLING.newTokens,
  }));
  console.error(`bench:policy: the PyTorch peer (${cases.map((c) => c.name).join(', ')}) ...`);
  const peer = spawnSync(
    PYTHON,
    [
      resolve(here, '../peers/policy_step.py'),
      JSON.stringify({ cases: peerCases, threads: options.threads }),
    ],
    { env: peerEnvironment(process.env, options.threads), encoding: 'utf8' },
  );
  if (peer.status !== 0) throw new Error(`the PyTorch peer failed:\n${peer.stderr}`);
  const torch = JSON.parse(peer.stdout) as {
    torch: string;
    threads: number;
    peak_rss_mb: number;
    cases: Record<
      string,
      {
        train_step_ms: number;
        train_times_ms: number[];
        sample_ms?: number;
        sample_times_ms?: number[];
      }
    >;
  };
  const { run: backends, skipped } = await availableBackends(options.backends);
  for (const s of skipped) console.error(`bench:policy: skipping ${s.backend}: ${s.reason}`);
  const rows = [
    '| case | backend | ours (ms) | PyTorch (ms) | ours / PyTorch | peak tensor memory (MB) |',
    '|---|---|---|---|---|---|',
  ];
  const results: PolicyRow[] = [];
  for (const backend of backends) {
    for (const c of cases) {
      const peerCase = torch.cases[c.name]!;
      if (backend === 'cpu' && c.vocab > 64) {
        rows.push(
          `| training step ${c.name} | cpu | not run (pure-JS backend; minutes a step) | ${peerCase.train_step_ms.toFixed(0)} | - | - |`,
        );
        continue;
      }
      console.error(`bench:policy: ${backend}, ${c.name} ...`);
      const result = await ours(backend, c.vocab, c.sample, options);
      const train = median(result.train);
      rows.push(
        `| training step ${c.name} | ${backend} | ${train.toFixed(0)} | ${peerCase.train_step_ms.toFixed(0)} | ${(train / peerCase.train_step_ms).toFixed(2)} | ${result.peakMb?.toFixed(0) ?? '-'} |`,
      );
      results.push({
        workload: c.vocab === 64 ? 'trainStepV64' : 'trainStepV32k',
        backend,
        oursMs: train,
        peerMs: peerCase.train_step_ms,
        oursTimesMs: result.train,
        peerTimesMs: peerCase.train_times_ms,
        ...(result.peakMb === undefined ? {} : { peakTensorMb: result.peakMb }),
        firstLoss: result.firstLoss,
      });
      if (result.sampling.length > 0 && peerCase.sample_ms !== undefined) {
        const sample = median(result.sampling);
        rows.push(
          `| KV-cache sampling ${SAMPLING.sequences}×${SAMPLING.newTokens}, ${c.name} | ${backend} | ${sample.toFixed(0)} | ${peerCase.sample_ms.toFixed(0)} | ${(sample / peerCase.sample_ms).toFixed(2)} | - |`,
        );
        results.push({
          workload: 'sampling',
          backend,
          oursMs: sample,
          peerMs: peerCase.sample_ms,
          oursTimesMs: result.sampling,
          peerTimesMs: peerCase.sample_times_ms ?? [],
        });
      }
    }
  }
  const loadEnd = loadavg();
  console.log(
    `@hicra/policy vs PyTorch ${torch.torch} (${torch.threads} thread, peak RSS ${torch.peak_rss_mb.toFixed(0)} MB); B = ${STEP_SHAPE.batch}, T = ${STEP_SHAPE.seq}, width ${STEP_SHAPE.width}, ${STEP_SHAPE.layers} layers, ${STEP_SHAPE.heads} heads; median of ${options.runs} after ${options.warmup} warm-up; load average ${formatLoad(loadStart)} at the start, ${formatLoad(loadEnd)} at the end`,
  );
  for (const s of skipped) console.log(`(${s.backend} not measured: ${s.reason})`);
  console.log(rows.join('\n'));
  if (options.json !== undefined) {
    writeFileSync(
      options.json,
      `${JSON.stringify(
        {
          torch: { version: torch.torch, threads: torch.threads, peakRssMb: torch.peak_rss_mb },
          runs: options.runs,
          warmup: options.warmup,
          skipped,
          rows: results,
          load: { start: loadStart, end: loadEnd },
        },
        null,
        2,
      )}\n`,
    );
  }
  return 0;
}

await runScript(parse, USAGE, main);

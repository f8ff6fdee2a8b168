/**
 * Benchmark: is memory per training step flat? Runs `bench:policy`'s training step (V = 64,
 * WASM by default) N times in a row and records, after every step, the process's resident set
 * (RSS), V8's heap, the WASM module's linear memory, and tfjs's `numBytes` / `numTensors`. Prints
 * the peak and final of each and flags growth:
 *
 * - tensors: `numTensors` and `numBytes` after the last step must equal their values after the
 *   first (Adam's moments exist from then on); any difference is a leak, and fails the run;
 * - RSS: the median RSS of the last tenth of the steps may exceed the median of the tenth right
 *   after the warm-up (a tenth of the run, at least 10 steps) by at most `--rss-growth-mb`
 *   (32 MiB by default), else the run fails. V8 collects garbage when it chooses, so RSS moves
 *   by up to ±20 MiB from one step to the next with no leak (medians over windows smooth that);
 *   a leak of one 2048 × 128 float activation (1 MiB) a step would cross the limit within 200
 *   steps.
 *
 *   node --import tsx --conditions=@hicra/source src/step-memory.ts [--steps 200] [--backend wasm] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { tf } from '@hicra/tensor';
import { count, forEachFlag, list, measureFlag, runScript } from './lib/args.js';
import { median } from './lib/measure.js';
import {
  availableBackends,
  createPolicyWorkload,
  POLICY_BACKENDS,
  type PolicyBackend,
  STEP_SHAPE,
  useBackend,
} from './lib/policy-workload.js';
import { formatLoad } from './lib/run-info.js';

interface Options {
  steps: number;
  backend: PolicyBackend;
  vocab: number;
  rssGrowthMb: number;
  json: string | undefined;
  help: boolean;
}

const USAGE = `Usage: pnpm --filter @hicra/bench bench:memory -- [flags]

Runs the policy benchmark's training step N times and prints peak and final memory (RSS, V8 heap,
WASM memory, tfjs numBytes and numTensors); fails on tensor growth or RSS growth over the limit.

  --steps N           training steps [200]
  --backend NAME      one of ${POLICY_BACKENDS.join(', ')} [wasm]
  --vocab N           vocabulary [64]
  --rss-growth-mb N   largest allowed RSS growth after the warm-up steps, MiB [32]
  --json FILE         also write the results as JSON (what bench:summary reads)
  --help              this text`;

function parse(argv: readonly string[]): Options {
  const options: Options = {
    steps: 200,
    backend: 'wasm',
    vocab: 64,
    rssGrowthMb: 32,
    json: undefined,
    help: false,
  };
  forEachFlag(argv, USAGE, (flag, value) => {
    if (measureFlag(options, flag, value)) return true;
    switch (flag) {
      case '--steps':
        options.steps = count(flag, value(), 2);
        return true;
      case '--backend':
        options.backend = list(flag, value(), POLICY_BACKENDS)[0]!;
        return true;
      case '--vocab':
        options.vocab = count(flag, value(), 2);
        return true;
      case '--rss-growth-mb':
        options.rssGrowthMb = count(flag, value(), 0);
        return true;
      default:
        return false;
    }
  });
  return options;
}

const MiB = 2 ** 20;

interface Sample {
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** The WASM module's linear memory (grow-only), when the backend is WASM. */
  readonly wasmMemoryMb: number | undefined;
  readonly tensorMb: number;
  readonly numTensors: number;
}

function wasmMemoryBytes(): number | undefined {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength;
}

function sample(): Sample {
  const usage = process.memoryUsage();
  const memory = tf.memory();
  const wasm = wasmMemoryBytes();
  return {
    rssMb: usage.rss / MiB,
    heapUsedMb: usage.heapUsed / MiB,
    wasmMemoryMb: wasm === undefined ? undefined : wasm / MiB,
    tensorMb: memory.numBytes / MiB,
    numTensors: memory.numTensors,
  };
}

export interface MemoryResult {
  readonly backend: PolicyBackend;
  readonly vocab: number;
  readonly steps: number;
  readonly warmupSteps: number;
  readonly stepMs: { readonly median: number; readonly first: number; readonly last: number };
  readonly start: Sample;
  readonly afterFirstStep: Sample;
  readonly afterWarmup: Sample;
  readonly peak: Sample;
  readonly final: Sample;
  /** Median RSS of the last window minus that of the window after the warm-up. */
  readonly rssGrowthMb: number;
  readonly rssGrowthLimitMb: number;
  /** Steps per window (a tenth of the run, at least 5, fitting twice after the warm-up). */
  readonly window: number;
  readonly rssWindowsMb: { readonly afterWarmup: number; readonly last: number };
  readonly tensorGrowth: { readonly numTensors: number; readonly bytes: number };
  readonly flat: boolean;
  readonly problems: string[];
  /** RSS after every step, MiB. */
  readonly rssMbPerStep: number[];
}

async function main(options: Options): Promise<number> {
  const { run, skipped } = await availableBackends([options.backend]);
  if (run.length === 0) throw new Error(`backend ${options.backend}: ${skipped[0]!.reason}`);
  await useBackend(options.backend);
  const loadStart = loadavg();
  const start = sample();
  const workload = createPolicyWorkload(options.vocab);
  const warmupSteps = Math.min(options.steps - 1, Math.max(10, Math.ceil(options.steps / 10)));
  const samples: Sample[] = [];
  const times: number[] = [];
  for (let i = 0; i < options.steps; i++) {
    const t0 = performance.now();
    const loss = workload.step();
    times.push(performance.now() - t0);
    if (!Number.isFinite(loss)) throw new Error(`step ${i + 1}: the loss is ${loss}`);
    samples.push(sample());
    if ((i + 1) % 20 === 0 || i + 1 === options.steps) {
      const s = samples[i]!;
      console.error(
        `bench:memory: step ${i + 1}/${options.steps}: RSS ${s.rssMb.toFixed(0)} MiB, tensors ${s.numTensors} (${s.tensorMb.toFixed(1)} MiB), ${times[i]!.toFixed(0)} ms`,
      );
    }
  }
  workload.dispose();
  const loadEnd = loadavg();
  const max = (pick: (s: Sample) => number | undefined) => {
    const values = samples.map(pick).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : Math.max(...values);
  };
  const peak: Sample = {
    rssMb: max((s) => s.rssMb)!,
    heapUsedMb: max((s) => s.heapUsedMb)!,
    wasmMemoryMb: max((s) => s.wasmMemoryMb),
    tensorMb: max((s) => s.tensorMb)!,
    numTensors: max((s) => s.numTensors)!,
  };
  const first = samples[0]!;
  const afterWarmup = samples[warmupSteps - 1]!;
  const final = samples[samples.length - 1]!;
  const window = Math.max(
    1,
    Math.min(
      Math.max(5, Math.round(options.steps / 10)),
      Math.floor((options.steps - warmupSteps) / 2),
    ),
  );
  const rssOf = (from: number, to: number) => median(samples.slice(from, to).map((s) => s.rssMb));
  const rssWindowsMb = {
    afterWarmup: rssOf(warmupSteps, warmupSteps + window),
    last: rssOf(options.steps - window, options.steps),
  };
  const rssGrowthMb = rssWindowsMb.last - rssWindowsMb.afterWarmup;
  const tensorGrowth = {
    numTensors: final.numTensors - first.numTensors,
    bytes: Math.round((final.tensorMb - first.tensorMb) * MiB),
  };
  const problems: string[] = [];
  if (tensorGrowth.numTensors !== 0 || tensorGrowth.bytes !== 0) {
    problems.push(
      `tensors grew by ${tensorGrowth.numTensors} (${tensorGrowth.bytes} bytes) between step 1 and step ${options.steps}`,
    );
  }
  if (rssGrowthMb > options.rssGrowthMb) {
    problems.push(
      `the median RSS grew by ${rssGrowthMb.toFixed(1)} MiB from steps ${warmupSteps + 1}–${warmupSteps + window} to steps ${options.steps - window + 1}–${options.steps} (limit ${options.rssGrowthMb} MiB)`,
    );
  }
  const result: MemoryResult = {
    backend: options.backend,
    vocab: options.vocab,
    steps: options.steps,
    warmupSteps,
    stepMs: {
      median: median(times),
      first: times[0]!,
      last: times[times.length - 1]!,
    },
    start,
    afterFirstStep: first,
    afterWarmup,
    peak,
    final,
    rssGrowthMb,
    rssGrowthLimitMb: options.rssGrowthMb,
    window,
    rssWindowsMb,
    tensorGrowth,
    flat: problems.length === 0,
    problems,
    rssMbPerStep: samples.map((s) => Math.round(s.rssMb * 10) / 10),
  };
  const mb = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1));
  console.log(
    `Memory over ${options.steps} training steps, ${options.backend}, V = ${options.vocab}, B = ${STEP_SHAPE.batch}, T = ${STEP_SHAPE.seq}; median step ${result.stepMs.median.toFixed(0)} ms; load average ${formatLoad(loadStart)} at the start, ${formatLoad(loadEnd)} at the end`,
  );
  console.log('');
  console.log(
    '| when | RSS (MiB) | V8 heap used (MiB) | WASM memory (MiB) | tfjs numBytes (MiB) | numTensors |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  const line = (name: string, s: Sample) =>
    console.log(
      `| ${name} | ${mb(s.rssMb)} | ${mb(s.heapUsedMb)} | ${mb(s.wasmMemoryMb)} | ${mb(s.tensorMb)} | ${s.numTensors} |`,
    );
  line('before the first step', start);
  line('after step 1', first);
  line(`after step ${warmupSteps} (warm-up)`, afterWarmup);
  line(`peak over ${options.steps} steps (each column's own)`, peak);
  line(`final (after step ${options.steps})`, final);
  console.log('');
  console.log(
    result.flat
      ? `flat: tensors unchanged from step 1 to ${options.steps}; median RSS ${rssWindowsMb.afterWarmup.toFixed(1)} MiB over steps ${warmupSteps + 1}–${warmupSteps + window}, ${rssWindowsMb.last.toFixed(1)} MiB over steps ${options.steps - window + 1}–${options.steps}: ${rssGrowthMb >= 0 ? '+' : ''}${rssGrowthMb.toFixed(1)} MiB (limit ${options.rssGrowthMb} MiB)`
      : `GROWTH: ${problems.join('; ')}`,
  );
  if (options.json !== undefined) {
    writeFileSync(
      options.json,
      `${JSON.stringify({ ...result, load: { start: loadStart, end: loadEnd } }, null, 2)}\n`,
    );
  }
  return result.flat ? 0 : 1;
}

await runScript(parse, USAGE, main);

/**
 * Benchmark: a Hugging Face model folder (Qwen3 architecture, seeded random weights, F32
 * safetensors) loaded by @hicra/policy's `loadHuggingFaceModel`, next to the same folder read by
 * a PyTorch port of transformers' Qwen3 (CPU, one thread) in the same run: teacher-forced
 * scoring (`score`: per-token log-probs and entropies of 8 responses of 256 tokens after
 * 16-token prompts) and greedy KV-cache sampling (`sample`: 8 × 64 new tokens). Checks that
 * both compute the same numbers and the same tokens, prints a ratio table and peak memory, and
 * writes results/hf-model.json. See bench/README.md.
 *
 *   node --import tsx --conditions=@hicra/source src/hf-model.ts [--runs 3] [--backends wasm,cpu] [--help]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHuggingFaceModel } from '@hicra/policy';
import type { PolicyV1 } from '@hicra/spec';
import { type BackendInfo, initBackend, tf } from '@hicra/tensor';
import { commonFlag, count, forEachFlag, list, runScript } from './lib/args.js';
import { readArray } from './lib/data.js';
import {
  HF_SEED,
  MIN_GREEDY_MARGIN,
  parameterCountOf,
  pickedPrompts,
  QWEN3_SHAPE,
  type Qwen3Shape,
  qwen3Config,
  tokenInputs,
  WORKLOAD,
  writeQwen3Folder,
  writeTokenInputs,
} from './lib/hf-model-data.js';
import { compare, median, type Outputs } from './lib/measure.js';
import { markdownTable, type Row, ratioOf } from './lib/report.js';
import { formatLoad, machine, sourceState } from './lib/run-info.js';
import { ensureTorchPeer, runTorchPeer, type TorchOp, type TorchReport } from './lib/torch-peer.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PEER_SCRIPT = join(BENCH_DIR, 'peers', 'hf_model.py');
/** Agreement: every per-token log-prob (and entropy) within this of PyTorch's. */
const LOG_PROB_ATOL = 1e-3;
/** The packages whose uncommitted changes the results record. */
const MEASURED = ['packages/policy', 'packages/tensor', 'packages/spec'];

const HF_GROUPS = ['forward', 'sample'] as const;
type HfGroup = (typeof HF_GROUPS)[number];
const HF_BACKENDS = ['wasm', 'cpu'] as const;
type HfBackend = (typeof HF_BACKENDS)[number];

interface HfOptions {
  readonly runs: number;
  readonly warmup: number;
  readonly cpuRuns: number;
  readonly cpuWarmup: number;
  readonly backends: readonly HfBackend[];
  readonly groups: readonly HfGroup[];
  readonly layers: number;
  readonly vocab: number;
  readonly out: string;
  readonly keepData: boolean;
  readonly help: boolean;
}

const DEFAULTS: HfOptions = {
  runs: 3,
  warmup: 1,
  cpuRuns: 1,
  cpuWarmup: 0,
  backends: ['wasm'],
  groups: HF_GROUPS,
  layers: QWEN3_SHAPE.layers,
  vocab: QWEN3_SHAPE.vocab,
  out: 'results/hf-model.json',
  keepData: false,
  help: false,
};

const USAGE = `Usage: pnpm --filter @hicra/bench bench:hf-model -- [flags]

Loads a seeded Qwen3 model folder (Hugging Face layout) with @hicra/policy and times scoring
(${WORKLOAD.prompts} x ${WORKLOAD.scoreTokens} tokens) and greedy KV-cache sampling (${WORKLOAD.prompts} x ${WORKLOAD.newTokens} new tokens) next to a
PyTorch port of the same model (CPU, one thread), measured in the same run, and prints a ratio
table and peak memory.

Flags (defaults in brackets):
  --runs N          timed runs on WASM and in PyTorch [${DEFAULTS.runs}]
  --warmup N        warm-up runs before those (the first one also measures tfjs's peak tensor bytes) [${DEFAULTS.warmup}]
  --cpu-runs N      timed runs on the CPU backend (pure JS: minutes per scoring run) [${DEFAULTS.cpuRuns}]
  --cpu-warmup N    warm-up runs on the CPU backend [${DEFAULTS.cpuWarmup}]
  --backends LIST   comma-separated subset of ${HF_BACKENDS.join(',')} [${DEFAULTS.backends.join(',')}]
  --groups LIST     comma-separated subset of ${HF_GROUPS.join(',')} [${DEFAULTS.groups.join(',')}]
  --layers N        decoder layers, for quick checks [${DEFAULTS.layers}]
  --vocab N         vocabulary size, for quick checks [${DEFAULTS.vocab}]
  --out FILE        JSON results, relative to bench/ [${DEFAULTS.out}]
  --keep-data       keep the model folder and the exchanged .bin files (their folder is printed)
  --help            this text`;

function parseHfArgs(argv: readonly string[]): HfOptions {
  const options: { -readonly [K in keyof HfOptions]: HfOptions[K] } = { ...DEFAULTS };
  forEachFlag(argv, USAGE, (flag, value) => {
    if (commonFlag(options, flag, value)) return true;
    switch (flag) {
      case '--cpu-runs':
        options.cpuRuns = count(flag, value(), 1);
        break;
      case '--cpu-warmup':
        options.cpuWarmup = count(flag, value(), 0);
        break;
      case '--backends':
        options.backends = list(flag, value(), HF_BACKENDS);
        break;
      case '--groups':
        options.groups = list(flag, value(), HF_GROUPS);
        break;
      case '--layers':
        options.layers = count(flag, value(), 1);
        break;
      case '--vocab':
        // Room for the 2 special ids the config names and for sampling's argmax to matter.
        options.vocab = count(flag, value(), 16);
        break;
      default:
        return false;
    }
    return true;
  });
  return options;
}

const log = (message: string) => console.error(`[bench] ${message}`);
const MB = 2 ** 20;

/** What the peer adds to the common report. */
interface HfTorchReport extends TorchReport {
  readonly parameters: number;
  readonly loadMs: number;
  readonly memory: {
    readonly afterLoadMb: number;
    readonly afterForwardMb?: number;
    readonly afterSampleMb?: number;
    readonly peakRssMb: number;
  };
  readonly promptChoice: {
    readonly indices: number[];
    readonly minMargin: number;
    readonly allMet: boolean;
    readonly slotMargins: number[];
  };
  readonly ops: Record<
    string,
    TorchOp & {
      readonly margins?: { readonly file: string; readonly dtype: string; readonly length: number };
      readonly minMargin?: { readonly value: number; readonly row: number; readonly step: number };
    }
  >;
}

/**
 * Peak process memory, sampled every 25 ms and whenever asked. tfjs ops run synchronously, so
 * the timer fires between ops that await (every sampling step), not inside one forward pass;
 * `process.resourceUsage().maxRSS` (the kernel's own peak, like Python's ru_maxrss) misses
 * nothing but covers the whole process so far.
 */
class PeakMemory {
  rss = 0;
  arrayBuffers = 0;
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.sample();
    this.#timer = setInterval(() => this.sample(), 25);
    this.#timer.unref();
  }

  sample(): void {
    const usage = process.memoryUsage();
    this.rss = Math.max(this.rss, usage.rss);
    this.arrayBuffers = Math.max(this.arrayBuffers, usage.arrayBuffers);
  }

  stop(): { sampledRssMb: number; arrayBuffersMb: number; processMaxRssMb: number } {
    this.sample();
    clearInterval(this.#timer);
    return {
      sampledRssMb: this.rss / MB,
      arrayBuffersMb: this.arrayBuffers / MB,
      processMaxRssMb: process.resourceUsage().maxRSS / 1024,
    };
  }
}

interface ResultRow extends Row {
  readonly oursTimesMs?: number[];
  readonly torchTimesMs?: number[];
  readonly ratio?: number;
  readonly faster?: string;
  readonly warmup?: number;
  readonly runs?: number;
  /** tfjs's peak tensor bytes during the first warm-up run (tf.profile), in MB. */
  readonly tensorPeakMb?: number;
  /** Per output: max |ours - torch|. */
  readonly diffs?: Record<string, number>;
  readonly tokens?: TokenAgreement;
}

interface TokenAgreement {
  readonly compared: number;
  readonly equal: number;
  /** The earliest step at which a row's greedy token differs, and PyTorch's margin there. */
  readonly firstDivergence?: { row: number; step: number; torchMargin: number };
  /** The smallest top-1 / top-2 logit margin over all of PyTorch's greedy steps. */
  readonly smallestTorchMargin: { value: number; row: number; step: number };
}

interface BackendResult {
  readonly backend: HfBackend;
  readonly info: Omit<BackendInfo, 'skipped'>;
  readonly rows: ResultRow[];
  readonly memory: {
    readonly tensorsAfterLoad: number;
    readonly tensorMbAfterLoad: number;
    readonly sampledRssMb: number;
    readonly arrayBuffersMb: number;
    readonly processMaxRssMb: number;
  };
}

interface Context {
  readonly options: HfOptions;
  readonly shape: Qwen3Shape;
  readonly modelDir: string;
  readonly dataDir: string;
  readonly torch: HfTorchReport;
  readonly prompts: { tokenIds: Int32Array; offsets: Int32Array };
  readonly responses: Int32Array;
}

function torchOutputs(op: TorchOp, dataDir: string): Outputs {
  const outputs: Outputs = {};
  for (const [name, output] of Object.entries(op.outputs)) {
    outputs[name] =
      'value' in output ? output.value : readArray(join(dataDir, output.file), output.dtype);
  }
  return outputs;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

/** Max |ours - torch| per output. */
function diffsOf(ours: Outputs, theirs: Outputs): Record<string, number> {
  const diffs: Record<string, number> = {};
  for (const name of Object.keys(theirs)) {
    diffs[name] = compare({ [name]: ours[name]! }, { [name]: theirs[name]! }).maxAbsDiff;
  }
  return diffs;
}

function tokenAgreement(
  ours: Int32Array,
  theirs: Int32Array,
  margins: Float32Array,
  steps: number,
): TokenAgreement & { prefix: Uint8Array } {
  const rows = theirs.length / steps;
  let equal = 0;
  let firstDivergence: TokenAgreement['firstDivergence'];
  // 1 where every token of the row up to and including this step agrees (log-probs compare there).
  const prefix = new Uint8Array(theirs.length);
  for (let r = 0; r < rows; r++) {
    let same = true;
    for (let t = 0; t < steps; t++) {
      const k = r * steps + t;
      if (ours[k] === theirs[k]) equal++;
      else if (same) {
        same = false;
        if (firstDivergence === undefined || t < firstDivergence.step) {
          firstDivergence = { row: r, step: t, torchMargin: margins[k]! };
        }
      }
      prefix[k] = same ? 1 : 0;
    }
  }
  let smallest = 0;
  for (let k = 1; k < margins.length; k++) if (margins[k]! < margins[smallest]!) smallest = k;
  return {
    compared: theirs.length,
    equal,
    ...(firstDivergence ? { firstDivergence } : {}),
    smallestTorchMargin: {
      value: margins[smallest]!,
      row: Math.floor(smallest / steps),
      step: smallest % steps,
    },
    prefix,
  };
}

async function runBackend(backend: HfBackend, ctx: Context): Promise<BackendResult> {
  const { options, torch } = ctx;
  const initialised = await initBackend(backend);
  const info = {
    name: initialised.name,
    tfjsBackend: initialised.tfjsBackend,
    simd: initialised.simd,
  };
  const baseline = tf.memory().numTensors;
  const peak = new PeakMemory();
  const counts =
    backend === 'wasm'
      ? { warmup: options.warmup, runs: options.runs }
      : { warmup: options.cpuWarmup, runs: options.cpuRuns };
  const rows: ResultRow[] = [];
  const size = {
    load: `${(parameterCountOf(ctx.shape) / 1e6).toFixed(1)}M params`,
    forward: `${WORKLOAD.prompts}×(${WORKLOAD.promptLength}+${WORKLOAD.scoreTokens})`,
    sample: `${WORKLOAD.prompts}×(${WORKLOAD.promptLength}+${WORKLOAD.newTokens}) greedy`,
  };

  log(`${backend}: loading the model folder`);
  const start = performance.now();
  const { policy } = await loadHuggingFaceModel(ctx.modelDir);
  const loadMs = performance.now() - start;
  const afterLoad = tf.memory();
  rows.push({
    op: 'load',
    backend,
    size: size.load,
    oursMs: loadMs,
    torchMs: torch.loadMs,
    oursTimesMs: [loadMs],
    torchTimesMs: [torch.loadMs],
    ...ratioOf({ op: 'load', backend, size: size.load, oursMs: loadMs, torchMs: torch.loadMs }),
  });
  const scorer: PolicyV1 = policy;
  try {
    if (options.groups.includes('forward')) {
      const request = {
        batchSize: WORKLOAD.prompts,
        seqLen: WORKLOAD.scoreTokens,
        prompts: ctx.prompts,
        tokenIds: ctx.responses,
        responseMask: new Uint8Array(ctx.responses.length).fill(1),
      };
      rows.push(
        await opRow('forward', size.forward, backend, counts, ctx, async () => {
          const { logProbs, entropies } = await scorer.score(request);
          return { logProbs, entropies };
        }),
      );
    }
    if (options.groups.includes('sample')) {
      const request = {
        prompts: ctx.prompts,
        samplesPerPrompt: 1,
        maxNewTokens: WORKLOAD.newTokens,
        temperature: 0,
        seed: 0,
      };
      rows.push(
        await opRow('sample', size.sample, backend, counts, ctx, async () => {
          const { tokenIds, logProbs } = await scorer.sample(request);
          return { tokenIds, logProbs };
        }),
      );
    }
  } finally {
    policy.dispose();
  }
  const memory = peak.stop();
  const left = tf.memory().numTensors - baseline;
  if (left !== 0) throw new Error(`${left} tensors were left alive on ${backend}`);
  log(`${backend}: done`);
  return {
    backend,
    info,
    rows,
    memory: {
      tensorsAfterLoad: afterLoad.numTensors,
      tensorMbAfterLoad: afterLoad.numBytes / MB,
      ...memory,
    },
  };
}

/** How one run's outputs compare with the peer's. */
function agreementOf(
  op: 'forward' | 'sample',
  ours: Outputs,
  theirs: Outputs,
  margins: Float32Array | undefined,
): Pick<ResultRow, 'diffs' | 'maxAbsDiff' | 'tokens' | 'agree'> {
  if (op === 'forward') {
    const diffs = diffsOf(ours, theirs);
    const maxAbsDiff = Math.max(...Object.values(diffs));
    return { diffs, maxAbsDiff, agree: maxAbsDiff <= LOG_PROB_ATOL };
  }
  const { prefix, ...tokens } = tokenAgreement(
    ours['tokenIds'] as Int32Array,
    theirs['tokenIds'] as Int32Array,
    margins!,
    WORKLOAD.newTokens,
  );
  // Log-probs compare where the tokens so far agree (after a divergence they score different text).
  const logProbs = ours['logProbs'] as Float32Array;
  const torchLogProbs = theirs['logProbs'] as Float32Array;
  let maxAbsDiff = logProbs.some(Number.isNaN) ? Number.POSITIVE_INFINITY : 0;
  for (let k = 0; k < prefix.length; k++) {
    if (prefix[k] === 1)
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(logProbs[k]! - torchLogProbs[k]!));
  }
  return {
    diffs: { logProbs: maxAbsDiff },
    maxAbsDiff,
    tokens,
    agree: maxAbsDiff <= LOG_PROB_ATOL && tokens.equal === tokens.compared,
  };
}

/**
 * One op on the current backend; never throws. The first run is compared with the peer before
 * anything is timed (it is the first warm-up run, under `tf.profile` for tfjs's peak tensor
 * bytes; with no warm-up, the first timed run); an op that disagrees is not timed. The last
 * timed run must then reproduce the checked outputs bit for bit, and leave no tensors behind.
 */
async function opRow(
  op: 'forward' | 'sample',
  size: string,
  backend: HfBackend,
  counts: { warmup: number; runs: number },
  ctx: Context,
  run: () => Promise<Outputs>,
): Promise<ResultRow> {
  const peer = ctx.torch.ops[op];
  const base = { op, backend, size, ...counts };
  if (!peer) return { ...base, error: 'no PyTorch result for this op' };
  const torchPart = { torchMs: peer.median_ms, torchTimesMs: peer.times_ms };
  const theirs = torchOutputs(peer, ctx.dataDir);
  const margins = peer.margins
    ? (readArray(join(ctx.dataDir, peer.margins.file), 'float32') as Float32Array)
    : undefined;
  log(`${backend} ${op}: ${counts.warmup} warm-up + ${counts.runs} timed runs`);
  const before = tf.memory().numTensors;
  try {
    let first: Outputs = {};
    let tensorPeakMb: number | undefined;
    const timesMs: number[] = [];
    if (counts.warmup > 0) {
      const info = await tf.profile(async () => {
        first = await run();
      });
      tensorPeakMb = info.peakBytes / MB;
    } else {
      const start = performance.now();
      first = await run();
      timesMs.push(performance.now() - start);
    }
    const peakPart = tensorPeakMb === undefined ? {} : { tensorPeakMb };
    const verdict = agreementOf(op, first, theirs, margins);
    if (!verdict.agree) {
      log(`${backend} ${op} disagrees with PyTorch; not timed`);
      return { ...base, ...torchPart, ...peakPart, ...verdict };
    }
    for (let i = 1; i < counts.warmup; i++) await run();
    let last = first;
    while (timesMs.length < counts.runs) {
      const start = performance.now();
      last = await run();
      timesMs.push(performance.now() - start);
    }
    const row: ResultRow = {
      ...base,
      oursMs: median(timesMs),
      oursTimesMs: timesMs,
      ...torchPart,
      ...peakPart,
      ...verdict,
    };
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0) return { ...row, error: `${leaked} tensors leaked over the runs` };
    const changed = compare(last, first).differing;
    if (changed !== 0) return { ...row, error: `${changed} outputs changed between runs` };
    return { ...row, ...ratioOf(row) };
  } catch (error) {
    log(`${backend} ${op} failed: ${errorText(error)}`);
    return { ...base, ...torchPart, error: errorText(error) };
  }
}

function tokenLine(row: ResultRow): string {
  const t = row.tokens!;
  const smallest = `smallest PyTorch top-1 − top-2 logit margin ${t.smallestTorchMargin.value.toExponential(1)} (row ${t.smallestTorchMargin.row}, step ${t.smallestTorchMargin.step})`;
  if (t.firstDivergence === undefined) {
    return `greedy tokens ${t.equal}/${t.compared} equal; ${smallest}`;
  }
  const d = t.firstDivergence;
  return (
    `greedy tokens ${t.equal}/${t.compared} equal: first divergence at row ${d.row}, step ${d.step}, ` +
    `where PyTorch's top-1 − top-2 margin is ${d.torchMargin.toExponential(1)}; ${smallest}`
  );
}

const mb = (value: number | undefined) => (value === undefined ? '—' : value.toFixed(0));

function printReport(ctx: Context, results: readonly BackendResult[], loadAtStart: number[]): void {
  const { torch, shape, options } = ctx;
  const m = machine();
  const source = sourceState(MEASURED);
  const parameters = parameterCountOf(shape);
  const wasm = results.find((r) => r.backend === 'wasm');
  const rows = results.flatMap((r) => r.rows);
  const agreement = rows
    .filter((r) => r.op !== 'load')
    .map((r) => {
      const where = `${r.op} (${r.backend})`;
      if (r.error) return `- ${where}: ERROR ${r.error}`;
      const diffs = Object.entries(r.diffs ?? {})
        .map(([name, d]) => `${name} max |diff| ${d.toExponential(1)}`)
        .join(', ');
      const tokens = r.tokens ? `; ${tokenLine(r)}` : '';
      return `- ${where}: ${diffs} (limit ${LOG_PROB_ATOL})${tokens}: ${r.agree ? 'agree' : 'DISAGREE'}`;
    });
  const memoryRows = [
    '| side | backend | process peak RSS (MB) | sampled RSS peak (MB) | arrayBuffers peak (MB) | tf tensors after load (MB) | tf peak, forward (MB) | tf peak, sample (MB) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => {
      const peakOf = (op: string) => r.rows.find((row) => row.op === op)?.tensorPeakMb;
      return `| ours | ${r.backend} | ${mb(r.memory.processMaxRssMb)} | ${mb(r.memory.sampledRssMb)} | ${mb(r.memory.arrayBuffersMb)} | ${mb(r.memory.tensorMbAfterLoad)} | ${mb(peakOf('forward'))} | ${mb(peakOf('sample'))} |`;
    }),
    `| torch | cpu | ${mb(torch.memory.peakRssMb)} (after load ${mb(torch.memory.afterLoadMb)}, forward ${mb(torch.memory.afterForwardMb)}, sample ${mb(torch.memory.afterSampleMb)}) | — | — | — | — | — |`,
  ];
  const lines = [
    '',
    '## A Hugging Face model (Qwen3, seeded) in @hicra/policy vs PyTorch (median ms, same run, same inputs)',
    '',
    `- model: Qwen3, hidden ${shape.hidden}, ${shape.layers} layer${shape.layers === 1 ? '' : 's'}, ${shape.heads} heads / ${shape.kvHeads} kv heads, head_dim ${shape.headDim}, ` +
      `intermediate ${shape.intermediate}, vocab ${shape.vocab}, tied embeddings; ${(parameters / 1e6).toFixed(1)}M parameters, ` +
      `${((parameters * 4) / MB).toFixed(0)} MB of F32 weights`,
    `- work: forward = score() of ${WORKLOAD.prompts} responses × ${WORKLOAD.scoreTokens} tokens after ${WORKLOAD.promptLength}-token prompts; ` +
      `sample = greedy sample() of ${WORKLOAD.prompts} × ${WORKLOAD.newTokens} new tokens with a KV cache; load = folder to policy, one run`,
    `- machine: ${m.cpu}, ${m.cores} cores; Node ${m.node}; tfjs-core ${tf.version_core}` +
      (wasm ? `; wasm SIMD ${wasm.info.simd ? 'on' : 'off'}, 1 thread` : '') +
      `; niceness ${m.niceness}; load average (1/5/15 min) ${formatLoad(loadAtStart)} at start, ${formatLoad(loadavg())} at end`,
    `- torch ${torch.torch} (Debian python3-torch ${torch.debianPackages['python3-torch'] ?? '?'}), ` +
      `Python ${torch.python}, ${torch.threads} thread; ${torch.config.blas_info ?? 'BLAS_INFO unknown'}; ` +
      `BLAS loaded: ${torch.blasLibraries.join(', ') || 'none found'}`,
    `- source: commit ${source.commit ?? 'unknown'}` +
      (source.uncommitted.length > 0
        ? ` plus ${source.uncommitted.length} uncommitted change(s) in ${MEASURED.join(', ')}`
        : ''),
    `- runs: wasm and torch ${options.warmup} warm-up + ${options.runs} timed; cpu ${options.cpuWarmup} warm-up + ${options.cpuRuns} timed; ours/torch > 1 means torch is faster`,
    `- prompts: per slot the first of its seeded candidates whose greedy run in PyTorch keeps a top-1 − top-2 margin >= ${MIN_GREEDY_MARGIN} (candidates ${torch.promptChoice.indices.join(', ')}${torch.promptChoice.allMet ? '' : '; NOT MET for every slot'})`,
    '',
    markdownTable(rows),
    '',
    'Agreement:',
    ...agreement,
    '',
    'Peak memory (process peak RSS: getrusage maxRSS, the whole process so far; tf peak: tf.profile of the first warm-up run):',
    '',
    ...memoryRows,
  ];
  console.log(lines.join('\n'));
}

async function main(options: HfOptions): Promise<number> {
  const started = new Date();
  const loadAtStart = loadavg();
  ensureTorchPeer();
  const shape: Qwen3Shape = { ...QWEN3_SHAPE, layers: options.layers, vocab: options.vocab };
  const dataDir = mkdtempSync(join(tmpdir(), 'hicra-bench-hf-'));
  try {
    const modelDir = join(dataDir, 'model');
    mkdirSync(modelDir);
    log(
      `writing the seeded model folder (${(parameterCountOf(shape) / 1e6).toFixed(1)}M parameters) to ${modelDir}`,
    );
    await writeQwen3Folder(modelDir, shape, HF_SEED);
    const inputs = tokenInputs(shape, WORKLOAD, HF_SEED + 1);
    writeTokenInputs(dataDir, modelDir, WORKLOAD, inputs, {
      weights: HF_SEED,
      tokens: HF_SEED + 1,
    });

    log(`running the PyTorch peer (${options.warmup} warm-up + ${options.runs} timed runs per op)`);
    const torch = runTorchPeer(PEER_SCRIPT, dataDir, {
      runs: options.runs,
      warmup: options.warmup,
      groups: options.groups,
    }) as HfTorchReport;
    const ctx: Context = {
      options,
      shape,
      modelDir,
      dataDir,
      torch,
      prompts: pickedPrompts(inputs, WORKLOAD, torch.promptChoice.indices),
      responses: inputs.responses,
    };

    const results: BackendResult[] = [];
    for (const backend of options.backends) results.push(await runBackend(backend, ctx));
    printReport(ctx, results, loadAtStart);

    const out = resolve(BENCH_DIR, options.out);
    mkdirSync(dirname(out), { recursive: true });
    const { ops: _ops, ...torchMeta } = torch;
    const report = {
      benchmark: 'hf-model',
      started: started.toISOString(),
      finished: new Date().toISOString(),
      machine: machine(),
      loadAverage: { start: loadAtStart, end: loadavg() },
      source: sourceState(MEASURED),
      tfjs: tf.version_core,
      model: {
        config: qwen3Config(shape),
        parameters: parameterCountOf(shape),
        weightBytes: parameterCountOf(shape) * 4,
        seed: HF_SEED,
      },
      workload: WORKLOAD,
      torch: {
        ...torchMeta,
        ops: Object.fromEntries(
          Object.entries(torch.ops).map(([k, v]) => [
            k,
            { times_ms: v.times_ms, median_ms: v.median_ms, minMargin: v.minMargin },
          ]),
        ),
      },
      options,
      agreement: { logProbAtol: LOG_PROB_ATOL, greedyTokens: 'equal' },
      backends: results,
    };
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nResults written to ${out}`);
    const failed = results
      .flatMap((r) => r.rows)
      .filter((r) => r.error !== undefined || r.agree === false);
    if (failed.length > 0) {
      console.error(
        `bench: ${failed.length} row(s) failed or disagree with PyTorch: ${failed.map((r) => `${r.op} (${r.backend})`).join(', ')}`,
      );
      return 1;
    }
    return 0;
  } finally {
    if (options.keepData) log(`kept the model folder and exchanged files in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

await runScript(parseHfArgs, USAGE, main);

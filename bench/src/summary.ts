/**
 * `pnpm bench`: issue 19's table from one command. Runs, one after the other and each in its own
 * Node process, the benchmarks behind the six workloads, every one next to its peer in the same
 * run, and then the memory check:
 *
 * | key                          | benchmark                                 | peer                         |
 * | ---------------------------- | ----------------------------------------- | ---------------------------- |
 * | trainStepV64.<backend>       | src/policy-step.ts                        | PyTorch, one thread          |
 * | trainStepV32k.<backend>      | src/policy-step.ts                        | PyTorch, one thread          |
 * | sampling.<backend>           | src/policy-step.ts                        | PyTorch, one thread          |
 * | creditPipeline               | src/advantage-pipeline.ts                 | vectorised torch             |
 * | strategyMetrics              | semantic-entropy/metrics.bench.ts         | Python (Counter + math)      |
 * | classifier                   | planning/classify.bench.ts                | one regex per phrase         |
 * | memory                       | src/step-memory.ts (200 steps, V=64, WASM) | —                           |
 *
 * Each benchmark writes its JSON into results/ (`--json`); this script reads them, prints the
 * table (workload, backend, ours, peer, ratio, goal) on stdout, writes results/summary.json,
 * and exits non-zero when any benchmark failed: a peer that disagrees numerically, a leak, an
 * error, or memory that grows. The benchmarks' own tables and progress go to stderr.
 *
 *   node --import tsx --conditions=@hicra/source src/summary.ts [--quick] [--runs N] [--backends LIST] [--only LIST] [--profile]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { count, forEachFlag, list, measureFlag, runScript } from './lib/args.js';
import { POLICY_BACKENDS, type PolicyBackend } from './lib/policy-workload.js';
import { formatLoad, machine, sourceState } from './lib/run-info.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MEASURED = [
  'packages/tensor',
  'packages/policy',
  'packages/advantage',
  'packages/semantic-entropy',
  'packages/planning',
  'packages/spec',
];

const PARTS = ['policy', 'credit', 'metrics', 'classifier', 'memory', 'profile'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  runs: number | undefined;
  quick: boolean;
  backends: PolicyBackend[];
  only: Part[];
  profile: boolean;
  memorySteps: number | undefined;
  out: string;
  /** Run nothing: rebuild the summary from the benchmarks' JSON files of an earlier run. */
  reuse: boolean;
  help: boolean;
}

const USAGE = `Usage: pnpm bench [-- flags]   (or: pnpm --filter @hicra/bench bench:summary -- [flags])

Issue 19's table from one command: the training step (V = 64 and 32k), KV-cache sampling, the
credit pipeline, the strategy metrics and the planning classifier, each next to its peer in the
same run, then memory over 200 training steps. Prints the table, writes results/summary.json,
exits non-zero if any benchmark fails (a peer disagrees, a leak, memory growth, an error).
About 10 minutes on a quiet 2-core machine with the defaults.

  --runs N            timed runs of every benchmark (after its warm-up); default: each one's own
                      (policy 3, credit 5, metrics 21 and 5 for Python, classifier 7 and 3 for regex)
  --quick             one timed run each (metrics 5, classifier 3), 20 memory steps: about 3 minutes
  --backends LIST     backends of the training step and sampling, a subset of ${POLICY_BACKENDS.join(',')}
                      [all; one that @hicra/tensor lacks or cannot start is skipped and listed]
  --only LIST         run only these parts: subset of ${PARTS.join(',')}
                      [all but profile]
  --profile           also run bench:profile (per-kernel breakdown, WASM) into results/profile.json
  --memory-steps N    training steps of the memory check [200; 20 with --quick]
  --out FILE          the summary, relative to bench/ [results/summary.json]
  --reuse             run nothing: rebuild the table and summary from the JSON files an earlier
                      run left in results/ (the parts named by --only)
  --help              this text`;

function parse(argv: readonly string[]): Options {
  const options: Options = {
    runs: undefined,
    quick: false,
    backends: [...POLICY_BACKENDS],
    only: PARTS.filter((p) => p !== 'profile'),
    profile: false,
    memorySteps: undefined,
    out: 'results/summary.json',
    reuse: false,
    help: false,
  };
  forEachFlag(argv, USAGE, (flag, value) => {
    if (measureFlag(options, flag, value)) return true;
    switch (flag) {
      case '--quick':
        options.quick = true;
        return true;
      case '--backends':
        options.backends = list(flag, value(), POLICY_BACKENDS);
        return true;
      case '--only':
        options.only = list(flag, value(), PARTS);
        return true;
      case '--profile':
        options.profile = true;
        return true;
      case '--memory-steps':
        options.memorySteps = count(flag, value(), 2);
        return true;
      case '--out':
        options.out = value();
        return true;
      case '--reuse':
        options.reuse = true;
        return true;
      default:
        return false;
    }
  });
  if (options.profile && !options.only.includes('profile')) options.only.push('profile');
  return options;
}

/** One row of the summary: what `summary.json` holds under the workload's key. */
export interface SummaryEntry {
  readonly workload: string;
  readonly backend: string;
  readonly oursMs: number;
  readonly peerMs: number;
  /** oursMs / peerMs: below 1, ours is faster. */
  readonly ratio: number;
  readonly peer: string;
  /** The goal of issue 19, as a bound on `ratio`. */
  readonly goal: { readonly maxRatio: number; readonly text: string };
  readonly goalMet: boolean;
  readonly [extra: string]: unknown;
}

interface ChildResult {
  readonly part: Part;
  readonly status: number;
  readonly seconds: number;
  readonly json: string;
}

/** Runs a benchmark script in its own Node process (tsx, workspace sources); stdout → stderr. */
function runChild(part: Part, script: string, args: string[], json: string): ChildResult {
  if (reuseResults) return { part, status: existsSync(json) ? 0 : 1, seconds: 0, json };
  if (existsSync(json)) rmSync(json);
  console.error(`\nbench: --- ${part}: ${script} ${args.join(' ')}`);
  const start = performance.now();
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=@hicra/source', script, ...args],
    { cwd: BENCH_DIR, stdio: ['ignore', 2, 2], env: process.env },
  );
  const seconds = (performance.now() - start) / 1000;
  const status = child.error ? 1 : (child.status ?? 1);
  console.error(`bench: --- ${part}: exit status ${status} after ${seconds.toFixed(0)} s`);
  return { part, status, seconds, json };
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Issue 19's workloads, in the order of its table. */
const WORKLOADS = [
  'trainStepV64',
  'trainStepV32k',
  'sampling',
  'creditPipeline',
  'strategyMetrics',
  'classifier',
];
/** Issue 19's order: by workload, the per-backend keys before the plain one. */
const byWorkload = (a: string, b: string) =>
  WORKLOADS.indexOf(a.split('.')[0]!) - WORKLOADS.indexOf(b.split('.')[0]!) ||
  Number(!a.includes('.')) - Number(!b.includes('.'));

/** The workloads measured on every backend: `<workload>.<backend>` keys, and the fastest. */
const PER_BACKEND = ['trainStepV64', 'trainStepV32k', 'sampling'];

const GOALS = {
  trainStepWasm: { maxRatio: 3, text: '<= 3.0x on WASM' },
  trainStepBest: { maxRatio: 1.2, text: '<= 1.2x on the best CPU backend' },
  sampling: { maxRatio: 1, text: '<= 1.0x' },
  creditPipeline: { maxRatio: 1, text: '<= 1.0x' },
  strategyMetrics: { maxRatio: 0.05, text: '<= 0.05x (20x faster than Python)' },
  classifier: { maxRatio: 0.05, text: '<= 0.05x (>= 20x the regex tokens/s)' },
} as const;

/**
 * The fastest run of each side and their ratio: on a loaded machine other work only ever adds
 * time, so the ratio of the minima is less sensitive to load than that of the medians.
 */
function mins(ours: readonly number[] | undefined, peer: readonly number[] | undefined) {
  if (ours === undefined || peer === undefined || ours.length === 0 || peer.length === 0) return {};
  const oursMinMs = Math.min(...ours);
  const peerMinMs = Math.min(...peer);
  return { oursMinMs, peerMinMs, ratioOfMins: oursMinMs / peerMinMs };
}

function entry(
  workload: string,
  backend: string,
  oursMs: number,
  peerMs: number,
  peer: string,
  goal: { maxRatio: number; text: string },
  extra: Record<string, unknown> = {},
): SummaryEntry {
  const ratio = oursMs / peerMs;
  return {
    workload,
    backend,
    oursMs,
    peerMs,
    ratio,
    peer,
    goal,
    goalMet: ratio <= goal.maxRatio,
    ...extra,
  };
}

interface PolicyJson {
  torch: { version: string; threads: number };
  skipped: { backend: string; reason: string }[];
  rows: {
    workload: string;
    backend: string;
    oursMs: number;
    peerMs: number;
    oursTimesMs: number[];
    peerTimesMs: number[];
    peakTensorMb?: number;
  }[];
}
interface CreditJson {
  torch: { version: string };
  tokens: number;
  oursMs: number;
  oursTimesMs: number[];
  peers: { name: string; peerMs: number; peerTimesMs: number[]; maxAbsDiff: number }[];
  tolerance: number;
}
interface MetricsJson {
  responses: number;
  oursMs: number;
  peerMs: number;
  oursTimesMs: number[];
  peerTimesMs: number[];
  disagreements: number;
}
interface ClassifierJson {
  tokens: number;
  oursMs: number;
  baselineMs: number;
  oursTokensPerSecond: number;
  baselineTokensPerSecond: number;
  disagreements: number;
}
interface MemoryJson {
  backend: string;
  vocab: number;
  steps: number;
  warmupSteps: number;
  peak: { rssMb: number; tensorMb: number; numTensors: number; wasmMemoryMb?: number };
  final: { rssMb: number; tensorMb: number; numTensors: number; wasmMemoryMb?: number };
  rssGrowthMb: number;
  rssGrowthLimitMb: number;
  flat: boolean;
  problems: string[];
}

let reuseResults = false;

async function main(options: Options): Promise<number> {
  reuseResults = options.reuse;
  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const out = isAbsolute(options.out) ? options.out : join(BENCH_DIR, options.out);
  const loadStart = loadavg();
  const date = new Date().toISOString();
  const runsFlag = (fallback?: number) => {
    const runs = options.runs ?? (options.quick ? fallback : undefined);
    return runs === undefined ? [] : ['--runs', String(runs)];
  };
  const children: ChildResult[] = [];
  const file = (name: string) => join(resultsDir, name);
  const wants = (part: Part) => options.only.includes(part);

  if (wants('policy')) {
    const json = file('policy-step.json');
    children.push(
      runChild(
        'policy',
        'src/policy-step.ts',
        [...runsFlag(1), '--backends', options.backends.join(','), '--json', json],
        json,
      ),
    );
  }
  if (wants('credit')) {
    const json = file('advantage-pipeline.json');
    children.push(
      runChild('credit', 'src/advantage-pipeline.ts', [...runsFlag(1), '--json', json], json),
    );
  }
  if (wants('metrics')) {
    const json = file('strategy-metrics.json');
    const runs = options.runs ?? (options.quick ? 5 : undefined);
    const peerRuns = options.runs ?? (options.quick ? 1 : undefined);
    children.push(
      runChild(
        'metrics',
        'semantic-entropy/metrics.bench.ts',
        [
          ...(runs === undefined ? [] : ['--runs', String(runs)]),
          ...(peerRuns === undefined ? [] : ['--peer-runs', String(peerRuns)]),
          '--json',
          json,
        ],
        json,
      ),
    );
  }
  if (wants('classifier')) {
    const json = file('classifier.json');
    const runs = options.runs ?? (options.quick ? 3 : undefined);
    const baselineRuns = options.runs ?? (options.quick ? 1 : undefined);
    children.push(
      runChild(
        'classifier',
        'planning/classify.bench.ts',
        [
          ...(runs === undefined ? [] : [`--runs=${runs}`]),
          ...(baselineRuns === undefined ? [] : [`--baseline-runs=${baselineRuns}`]),
          `--json=${json}`,
        ],
        json,
      ),
    );
  }
  if (wants('memory')) {
    const json = file('step-memory.json');
    const steps = options.memorySteps ?? (options.quick ? 20 : 200);
    children.push(
      runChild('memory', 'src/step-memory.ts', ['--steps', String(steps), '--json', json], json),
    );
  }
  if (wants('profile')) {
    const json = file('profile.json');
    children.push(
      runChild('profile', 'src/step-profile.ts', [...runsFlag(1), '--json', json], json),
    );
  }
  const loadEnd = loadavg();

  // --- the summary -------------------------------------------------------------------------
  const entries: Record<string, SummaryEntry> = {};
  const failures: string[] = [];
  const notes: string[] = [];
  for (const child of children) {
    if (child.status !== 0) failures.push(`${child.part}: exit status ${child.status}`);
  }
  const childOf = (part: Part) => children.find((c) => c.part === part);

  const policy = childOf('policy') && readJson<PolicyJson>(childOf('policy')!.json);
  if (policy !== undefined) {
    const peer = `PyTorch ${policy.torch.version}, ${policy.torch.threads} thread`;
    for (const s of policy.skipped) notes.push(`${s.backend} not measured: ${s.reason}`);
    for (const row of policy.rows) {
      const goal =
        row.workload === 'sampling'
          ? GOALS.sampling
          : row.backend === 'wasm'
            ? GOALS.trainStepWasm
            : GOALS.trainStepBest;
      entries[`${row.workload}.${row.backend}`] = entry(
        row.workload,
        row.backend,
        row.oursMs,
        row.peerMs,
        peer,
        goal,
        {
          ...mins(row.oursTimesMs, row.peerTimesMs),
          ...(row.peakTensorMb === undefined ? {} : { peakTensorMb: row.peakTensorMb }),
        },
      );
    }
    // The plain key: the fastest backend measured, against the best-backend goal.
    for (const workload of PER_BACKEND) {
      const rows = policy.rows.filter((r) => r.workload === workload);
      if (rows.length === 0) continue;
      const best = rows.reduce((a, b) => (b.oursMs < a.oursMs ? b : a));
      const goal = workload === 'sampling' ? GOALS.sampling : GOALS.trainStepBest;
      entries[workload] = entry(workload, best.backend, best.oursMs, best.peerMs, peer, goal, {
        fastestOf: rows.map((r) => r.backend),
      });
    }
  } else if (childOf('policy')) failures.push('policy: no results');

  const credit = childOf('credit') && readJson<CreditJson>(childOf('credit')!.json);
  if (credit !== undefined) {
    const vectorised = credit.peers.find((p) => p.name === 'torch-vectorised');
    const loop = credit.peers.find((p) => p.name === 'verl-loop');
    if (vectorised === undefined) failures.push('credit: no torch-vectorised peer in the results');
    else {
      entries.creditPipeline = entry(
        'creditPipeline',
        'js',
        credit.oursMs,
        vectorised.peerMs,
        `vectorised torch ${credit.torch.version}, 1 thread`,
        GOALS.creditPipeline,
        {
          tokens: credit.tokens,
          ...mins(credit.oursTimesMs, vectorised.peerTimesMs),
          maxAbsDiff: vectorised.maxAbsDiff,
          ...(loop === undefined
            ? {}
            : { verlLoopMs: loop.peerMs, verlLoopRatio: credit.oursMs / loop.peerMs }),
        },
      );
    }
  } else if (childOf('credit')) failures.push('credit: no results');

  const metrics = childOf('metrics') && readJson<MetricsJson>(childOf('metrics')!.json);
  if (metrics !== undefined) {
    entries.strategyMetrics = entry(
      'strategyMetrics',
      'js',
      metrics.oursMs,
      metrics.peerMs,
      'Python (collections.Counter + math)',
      GOALS.strategyMetrics,
      {
        responses: metrics.responses,
        ...mins(metrics.oursTimesMs, metrics.peerTimesMs),
        disagreements: metrics.disagreements,
      },
    );
  } else if (childOf('metrics')) failures.push('metrics: no results');

  const classifier = childOf('classifier') && readJson<ClassifierJson>(childOf('classifier')!.json);
  if (classifier !== undefined) {
    entries.classifier = entry(
      'classifier',
      'js',
      classifier.oursMs,
      classifier.baselineMs,
      'one case-insensitive regex per phrase',
      GOALS.classifier,
      {
        tokens: classifier.tokens,
        oursTokensPerSecond: classifier.oursTokensPerSecond,
        peerTokensPerSecond: classifier.baselineTokensPerSecond,
        speedup: classifier.baselineMs / classifier.oursMs,
        disagreements: classifier.disagreements,
      },
    );
  } else if (childOf('classifier')) failures.push('classifier: no results');

  const memory = childOf('memory') && readJson<MemoryJson>(childOf('memory')!.json);
  if (memory === undefined && childOf('memory')) failures.push('memory: no results');

  const source = sourceState(MEASURED);
  const host = machine();
  const summary = {
    ...Object.fromEntries(Object.entries(entries).sort(([a], [b]) => byWorkload(a, b))),
    ...(memory === undefined
      ? {}
      : {
          memory: {
            backend: memory.backend,
            vocab: memory.vocab,
            steps: memory.steps,
            peak: memory.peak,
            final: memory.final,
            rssGrowthMb: memory.rssGrowthMb,
            rssGrowthLimitMb: memory.rssGrowthLimitMb,
            flat: memory.flat,
            problems: memory.problems,
          },
        }),
    machine: { ...host, loadAverage: { start: loadStart, end: loadEnd } },
    date,
    commit: source.commit,
    uncommitted: source.uncommitted,
    options: {
      runs: options.runs ?? null,
      quick: options.quick,
      backends: options.backends,
      only: options.only,
    },
    reused: options.reuse,
    seconds: Object.fromEntries(children.map((c) => [c.part, Math.round(c.seconds)])),
    failures,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);

  // --- the table -------------------------------------------------------------------------------
  const fmt = (v: number) =>
    v >= 1000 ? Math.round(v).toLocaleString('en') : v >= 10 ? v.toFixed(0) : v.toFixed(1);
  const ratioText = (v: number) => (v < 0.1 ? v.toFixed(3) : v.toFixed(2));
  const names: Record<string, string> = {
    trainStepV64: 'training step, B=32, T=64, width 128, 2 layers, V=64',
    trainStepV32k: 'training step, same, V=32k',
    sampling: 'KV-cache sampling 32 x 64',
    creditPipeline: 'GRPO + HICRA credit pipeline, 4.2M tokens',
    strategyMetrics: 'strategy metrics, 10k responses',
    classifier: 'planning classifier',
  };
  const header = [
    'workload',
    'key',
    'backend',
    'ours',
    'peer',
    'ours / peer',
    'of the fastest runs',
    'goal',
    'met',
  ];
  const body: string[][] = [];
  const keys = Object.keys(entries)
    .filter((key) => key.includes('.') || !PER_BACKEND.includes(key))
    .sort(byWorkload);
  for (const key of keys) {
    const e = entries[key]!;
    let ours = `${fmt(e.oursMs)} ms`;
    let peer = `${fmt(e.peerMs)} ms`;
    if (key === 'classifier' && classifier !== undefined) {
      ours += ` (${(classifier.oursTokensPerSecond / 1e6).toFixed(1)}M tok/s)`;
      peer += ` (${(classifier.baselineTokensPerSecond / 1e6).toFixed(1)}M tok/s)`;
    }
    body.push([
      names[e.workload] ?? e.workload,
      key,
      e.backend,
      ours,
      `${peer}, ${e.peer}`,
      `${ratioText(e.ratio)}x`,
      typeof e.ratioOfMins === 'number' ? `${ratioText(e.ratioOfMins)}x` : '-',
      e.goal.text,
      e.goalMet ? 'yes' : 'no',
    ]);
  }
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`;
  const lines = [
    `hicra vs peers, ${options.reuse ? 'rebuilt from the JSON files an earlier run left in results/ (their times and load averages are in them; the date, commit and load here are of the rebuild)' : 'measured in one run'} (${date}; commit ${source.commit ?? 'unknown'}${source.uncommitted.length > 0 ? ', with uncommitted changes in the measured packages' : ''}; ${host.cpu}, ${host.cores} cores, node ${host.node}; load average ${formatLoad(loadStart)} at the start, ${formatLoad(loadEnd)} at the end)`,
    '',
    line(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...body.map(line),
    '',
    "ours / peer: medians, below 1 ours is faster; 'of the fastest runs': the same for each side's fastest run, less sensitive to load. The classifier's ratio is our time over the regex baseline's for the same tokens (its speed-up is the inverse).",
  ];
  for (const note of notes) lines.push(`note: ${note}`);
  if (memory !== undefined) {
    lines.push(
      `memory over ${memory.steps} training steps (${memory.backend}, V = ${memory.vocab}): RSS peak ${memory.peak.rssMb.toFixed(0)} MiB, final ${memory.final.rssMb.toFixed(0)} MiB (median ${memory.rssGrowthMb >= 0 ? '+' : ''}${memory.rssGrowthMb.toFixed(1)} MiB from the first to the last tenth after the warm-up of ${memory.warmupSteps} steps, limit ${memory.rssGrowthLimitMb}); tfjs peak ${memory.peak.tensorMb.toFixed(1)} MiB in ${memory.peak.numTensors} tensors, final ${memory.final.tensorMb.toFixed(1)} MiB in ${memory.final.numTensors}: ${memory.flat ? 'flat' : `GROWTH (${memory.problems.join('; ')})`}`,
    );
  }
  if (childOf('profile') !== undefined) {
    lines.push(`profile: ${childOf('profile')!.json} (the tables went to stderr)`);
  }
  lines.push(`written: ${out}`);
  lines.push(failures.length === 0 ? 'all benchmarks passed' : `FAILED: ${failures.join('; ')}`);
  console.log(lines.join('\n'));
  return failures.length === 0 ? 0 : 1;
}

await runScript(parse, USAGE, main);

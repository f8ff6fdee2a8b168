/**
 * Profile: where a training step and a KV-cache sampling step spend their time, per tfjs kernel.
 * Runs `bench:policy`'s workload (B = 32, T = 64, width 128, 2 layers, 4 heads) under
 * `tf.profile` and splits the kernels of a training step into forward (to the loss), backward
 * (the gradients) and optimizer (Adam's update), and sums each kernel's time.
 *
 * How the kernels are timed: tfjs's profiler asks the backend for a timer; the WASM and CPU
 * backends answer with a wall clock (`performance.now()`) around the kernel's synchronous
 * function, so each kernel's time is its real duration including the JS wrapper that
 * allocates its output, to the clock's sub-microsecond resolution. Kernels that a custom
 * gradient op runs inside its forward function are recorded both on their own and inside the op
 * (under the op's scope name, which is no registered kernel): only registered kernels are summed,
 * and the composite entries are listed apart. The breakdown is that of the fastest of the
 * profiled runs (the least disturbed by other work), so its parts add up: the time outside
 * kernels is its wall time less its summed kernel time: JS op wrappers, shape checks, the tape
 * and `tidy`'s bookkeeping, disposal, the host reads, and the profiler's own bookkeeping (an
 * upper bound, then). The median wall time of unprofiled runs is printed beside it.
 *
 *   node --import tsx --conditions=@hicra/source src/step-profile.ts [--backend wasm] [--cases v64,v32k,sampling] [--runs 3] [--json FILE]
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
  SAMPLING,
  STEP_SHAPE,
  type StepPhase,
  useBackend,
} from './lib/policy-workload.js';
import { formatLoad, machine, sourceState } from './lib/run-info.js';

const CASES = ['v64', 'v32k', 'sampling'] as const;
type Case = (typeof CASES)[number];
const PHASES = ['forward', 'backward', 'optimizer', 'sampling'] as const;
type Phase = (typeof PHASES)[number];

interface Options {
  backend: PolicyBackend;
  cases: Case[];
  runs: number;
  warmup: number;
  top: number;
  json: string | undefined;
  help: boolean;
}

const USAGE = `Usage: pnpm --filter @hicra/bench bench:profile -- [flags]

Per-kernel profile of the policy benchmark's training step (forward, backward, optimizer) and of
KV-cache sampling, with the time outside kernels.

  --backend NAME   one of ${POLICY_BACKENDS.join(', ')} [wasm]
  --cases LIST     subset of ${CASES.join(',')} [all]
  --runs N         unprofiled timed runs and profiled runs of each case [3]
  --warmup N       warm-up runs [1]
  --top N          kernels listed per phase [12]
  --json FILE      also write the profile as JSON
  --help           this text`;

function parse(argv: readonly string[]): Options {
  const options: Options = {
    backend: 'wasm',
    cases: [...CASES],
    runs: 3,
    warmup: 1,
    top: 12,
    json: undefined,
    help: false,
  };
  forEachFlag(argv, USAGE, (flag, value) => {
    if (measureFlag(options, flag, value)) return true;
    switch (flag) {
      case '--backend':
        options.backend = list(flag, value(), POLICY_BACKENDS)[0]!;
        return true;
      case '--cases':
        options.cases = list(flag, value(), CASES);
        return true;
      case '--top':
        options.top = count(flag, value(), 1);
        return true;
      default:
        return false;
    }
  });
  return options;
}

interface KernelRecord {
  readonly name: string;
  readonly inputShapes: (number[] | null)[];
  readonly kernelTimeMs: number | { error: string };
  readonly outputShapes: number[][];
  readonly totalBytesSnapshot: number;
}

/** The kernels recorded so far by the running `tf.profile` (tfjs's engine state). */
function recordedKernels(): number {
  const engine = tf.engine() as unknown as {
    state: { activeProfile: { kernels: unknown[] } };
  };
  return engine.state.activeProfile.kernels.length;
}

/** Per kernel name, per phase: calls and total ms (over all profiled runs). */
type Table = Map<string, { calls: number; ms: number }>;

interface CaseProfile {
  readonly case: Case;
  readonly vocab: number;
  readonly runs: number;
  /** Median wall time of unprofiled runs (a whole training step, or a whole sampling call). */
  readonly wallMs: number;
  /** Wall time of the fastest profiled run, whose breakdown this is (the shares are of this). */
  readonly profiledWallMs: number;
  readonly profiledWallsMs: number[];
  /** Summed registered-kernel time per run, by phase. */
  readonly kernelMs: Partial<Record<Phase, number>>;
  readonly kernelTotalMs: number;
  /** The fastest profiled run's wall time less its summed kernel time. */
  readonly outsideMs: number;
  readonly kernelCalls: number;
  /** Per phase, every registered kernel by total time per run, largest first. */
  readonly kernels: Partial<
    Record<Phase, { name: string; calls: number; ms: number; share: number }[]>
  >;
  /** The kernels by phase and input shapes, largest total time first. */
  readonly heaviestShapes: { key: string; calls: number; ms: number; share: number }[];
  /** Custom-gradient ops and other scopes (inclusive of their inner kernels, not summed). */
  readonly composites: { name: string; calls: number; ms: number }[];
  /** The most tfjs tensor memory alive at once during the first profiled run. */
  readonly peakTensorMb: number;
  /** The kernel calls with the largest outputs in the first profiled run (float32 assumed). */
  readonly largestOutputs: { name: string; phase: Phase; shape: number[]; mb: number }[];
  /** Sampling only: the same per decoding step (the call divided by its new tokens). */
  readonly perTokenStep?: { wallMs: number; kernelMs: number; outsideMs: number };
}

async function profileCase(which: Case, options: Options): Promise<CaseProfile> {
  const vocab = which === 'v32k' ? 32_000 : 64;
  const workload = createPolicyWorkload(vocab);
  const backendName = tf.getBackend();
  const isKernel = (name: string) => tf.getKernel(name, backendName) !== undefined;
  const run = which === 'sampling' ? () => workload.sample() : () => workload.step();
  try {
    for (let i = 0; i < options.warmup; i++) await run();
    const walls: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      const t0 = performance.now();
      await run();
      walls.push(performance.now() - t0);
    }
    // Each profiled run is analysed on its own; the breakdown reported is the fastest run's (the
    // one least disturbed by other work on the machine), so its parts add up to its wall time.
    let best: ReturnType<typeof analyse> | undefined;
    const profiledWalls: number[] = [];
    for (let r = 0; r < options.runs; r++) {
      const marks: Partial<Record<StepPhase, number>> = {};
      const t0 = performance.now();
      const info = await tf.profile(async () => {
        if (which === 'sampling') await workload.sample();
        else
          workload.step((phase) => {
            marks[phase] = recordedKernels();
          });
      });
      const wall = performance.now() - t0;
      profiledWalls.push(wall);
      const analysed = analyse(info.kernels as unknown as KernelRecord[], marks, wall);
      if (best === undefined || wall < best.wall) best = analysed;
    }
    function analyse(
      kernels: KernelRecord[],
      marks: Partial<Record<StepPhase, number>>,
      wall: number,
    ) {
      const tables = new Map<Phase, Table>();
      const composite: Table = new Map();
      const byShape: Table = new Map();
      const outputs: { name: string; phase: Phase; shape: number[]; mb: number }[] = [];
      let total = 0;
      let calls = 0;
      let peakTensorMb = 0;
      kernels.forEach((k, index) => {
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        if (!isKernel(k.name)) {
          const entry = composite.get(k.name) ?? { calls: 0, ms: 0 };
          composite.set(k.name, { calls: entry.calls + 1, ms: entry.ms + ms });
          return;
        }
        const phase: Phase =
          which === 'sampling'
            ? 'sampling'
            : index < (marks['forward-done'] ?? Number.POSITIVE_INFINITY)
              ? 'forward'
              : index < (marks['backward-done'] ?? Number.POSITIVE_INFINITY)
                ? 'backward'
                : 'optimizer';
        const table = tables.get(phase) ?? new Map();
        tables.set(phase, table);
        const entry = table.get(k.name) ?? { calls: 0, ms: 0 };
        table.set(k.name, { calls: entry.calls + 1, ms: entry.ms + ms });
        const shapeKey = `${phase} ${k.name} ${k.inputShapes.map((s) => `[${s?.join(',') ?? ''}]`).join(' ')}`;
        const shapeEntry = byShape.get(shapeKey) ?? { calls: 0, ms: 0 };
        byShape.set(shapeKey, { calls: shapeEntry.calls + 1, ms: shapeEntry.ms + ms });
        total += ms;
        calls++;
        peakTensorMb = Math.max(peakTensorMb, k.totalBytesSnapshot / 2 ** 20);
        for (const shape of k.outputShapes ?? []) {
          const mb = (4 * shape.reduce((a, b) => a * b, 1)) / 2 ** 20;
          if (mb >= 1) outputs.push({ name: k.name, phase, shape, mb });
        }
      });
      return { wall, total, calls, tables, composite, byShape, outputs, peakTensorMb };
    }
    const run0 = best!;
    const kernelMs: Partial<Record<Phase, number>> = {};
    const kernelsByPhase: CaseProfile['kernels'] = {};
    const kernelTotalMs = run0.total;
    for (const [phase, table] of run0.tables) {
      const rows = [...table]
        .map(([name, { calls, ms }]) => ({ name, calls, ms, share: ms / kernelTotalMs }))
        .sort((a, b) => b.ms - a.ms);
      kernelMs[phase] = rows.reduce((a, b) => a + b.ms, 0);
      kernelsByPhase[phase] = rows;
    }
    const wallMs = median(walls);
    const profiledWallMs = run0.wall;
    const outsideMs = run0.wall - run0.total;
    const profile: CaseProfile = {
      case: which,
      vocab,
      runs: options.runs,
      wallMs,
      profiledWallMs,
      profiledWallsMs: profiledWalls,
      kernelMs,
      kernelTotalMs,
      outsideMs,
      kernelCalls: run0.calls,
      kernels: kernelsByPhase,
      heaviestShapes: [...run0.byShape]
        .map(([key, { calls, ms }]) => ({ key, calls, ms, share: ms / kernelTotalMs }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, options.top),
      composites: [...run0.composite]
        .map(([name, { calls, ms }]) => ({ name, calls, ms }))
        .sort((a, b) => b.ms - a.ms),
      peakTensorMb: run0.peakTensorMb,
      largestOutputs: run0.outputs.sort((a, b) => b.mb - a.mb).slice(0, 8),
    };
    if (which === 'sampling') {
      const steps = SAMPLING.newTokens;
      return {
        ...profile,
        perTokenStep: {
          wallMs: profiledWallMs / steps,
          kernelMs: kernelTotalMs / steps,
          outsideMs: outsideMs / steps,
        },
      };
    }
    return profile;
  } finally {
    workload.dispose();
  }
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;

function report(p: CaseProfile, options: Options): string[] {
  const title =
    p.case === 'sampling'
      ? `KV-cache sampling ${SAMPLING.sequences} × ${SAMPLING.newTokens}, V = 64, ${options.backend}`
      : `training step V = ${p.vocab === 64 ? '64' : '32k'}, ${options.backend}`;
  const lines = [
    `### ${title}`,
    '',
    `wall ${ms(p.profiledWallMs)} ms (the fastest of ${p.runs} profiled runs; unprofiled median ${ms(p.wallMs)} ms); kernels ${ms(p.kernelTotalMs)} ms (${pct(p.kernelTotalMs, p.profiledWallMs)}, ${p.kernelCalls} kernel calls); outside kernels ${ms(p.outsideMs)} ms (${pct(p.outsideMs, p.profiledWallMs)})`,
  ];
  if (p.perTokenStep !== undefined) {
    lines.push(
      `per decoding step (÷ ${SAMPLING.newTokens}): wall ${ms(p.perTokenStep.wallMs)} ms profiled, kernels ${ms(p.perTokenStep.kernelMs)} ms, outside ${ms(p.perTokenStep.outsideMs)} ms`,
    );
  }
  lines.push('');
  lines.push('| phase | kernel ms | share of profiled wall |');
  lines.push('|---|---:|---:|');
  for (const phase of PHASES) {
    const v = p.kernelMs[phase];
    if (v !== undefined) lines.push(`| ${phase} | ${ms(v)} | ${pct(v, p.profiledWallMs)} |`);
  }
  lines.push(`| outside kernels | ${ms(p.outsideMs)} | ${pct(p.outsideMs, p.profiledWallMs)} |`);
  lines.push('');
  for (const phase of PHASES) {
    const rows = p.kernels[phase];
    if (rows === undefined) continue;
    lines.push(`${phase}, top ${Math.min(options.top, rows.length)} of ${rows.length} kernels:`);
    lines.push('');
    lines.push('| kernel | calls | ms | share of kernel time |');
    lines.push('|---|---:|---:|---:|');
    for (const row of rows.slice(0, options.top)) {
      lines.push(
        `| ${row.name} | ${row.calls.toFixed(0)} | ${ms(row.ms)} | ${(100 * row.share).toFixed(1)}% |`,
      );
    }
    lines.push('');
  }
  lines.push(`the ${p.heaviestShapes.length} heaviest kernels by input shapes:`);
  lines.push('');
  lines.push('| phase, kernel, input shapes | calls | ms | share of kernel time |');
  lines.push('|---|---:|---:|---:|');
  for (const row of p.heaviestShapes) {
    lines.push(`| ${row.key} | ${row.calls} | ${ms(row.ms)} | ${(100 * row.share).toFixed(1)}% |`);
  }
  lines.push('');
  lines.push(
    `peak tfjs tensor memory ${p.peakTensorMb.toFixed(0)} MiB; largest kernel outputs: ${p.largestOutputs
      .map((o) => `${o.name} [${o.shape.join(', ')}] ${o.mb.toFixed(0)} MiB (${o.phase})`)
      .join(', ')}`,
  );
  lines.push('');
  if (p.composites.length > 0) {
    lines.push(
      `custom-gradient ops (inclusive of the kernels above, not summed): ${p.composites
        .map((c) => `${c.name || '(unnamed)'} ${c.calls.toFixed(0)}× ${ms(c.ms)} ms`)
        .join(', ')}`,
    );
    lines.push('');
  }
  return lines;
}

async function main(options: Options): Promise<number> {
  const { run, skipped } = await availableBackends([options.backend]);
  if (run.length === 0) throw new Error(`backend ${options.backend}: ${skipped[0]!.reason}`);
  await useBackend(options.backend);
  const loadStart = loadavg();
  const profiles: CaseProfile[] = [];
  for (const which of CASES.filter((c) => options.cases.includes(c))) {
    console.error(`bench:profile: ${which} on ${options.backend} ...`);
    profiles.push(await profileCase(which, options));
  }
  const loadEnd = loadavg();
  const host = machine();
  const source = sourceState(['packages/policy', 'packages/tensor']);
  const lines = [
    `Profile of the policy benchmark's workload (B = ${STEP_SHAPE.batch}, T = ${STEP_SHAPE.seq}, width ${STEP_SHAPE.width}, ${STEP_SHAPE.layers} layers, ${STEP_SHAPE.heads} heads) on ${options.backend}; ${host.cpu}, ${host.cores} cores, node ${host.node}; commit ${source.commit ?? 'unknown'}${source.uncommitted.length > 0 ? ' + uncommitted changes' : ''}; load average ${formatLoad(loadStart)} at the start, ${formatLoad(loadEnd)} at the end`,
    '',
  ];
  for (const p of profiles) lines.push(...report(p, options));
  console.log(lines.join('\n'));
  if (options.json !== undefined) {
    writeFileSync(
      options.json,
      `${JSON.stringify(
        {
          backend: options.backend,
          machine: host,
          source,
          load: { start: loadStart, end: loadEnd },
          profiles,
        },
        null,
        2,
      )}\n`,
    );
  }
  return 0;
}

await runScript(parse, USAGE, main);

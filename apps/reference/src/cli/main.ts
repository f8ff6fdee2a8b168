import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadCheckpoint } from '@hicra/policy';
import { HicraError } from '@hicra/spec';
import { initBackend } from '@hicra/tensor';
import { abortOnSignals, type RlConfigInput, type RunProgress } from '@hicra/trainer';
import { annotateRollouts } from '../annotate.js';
import {
  type AppLevel,
  countdownReward,
  countdownSetup,
  levelOfCheckpoint,
} from '../countdown-setup.js';
import { evaluatePolicy } from '../evaluate.js';
import { smallModel, tinyModel } from '../model-presets.js';
import { pretrain } from '../pretrain.js';
import { writeReport } from '../report/index.js';
import { STRATEGIES } from '../strategies.js';
import { train } from '../train.js';

/** Exit codes of the `hicra` command. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

class UsageError extends Error {}

const HELP = `hicra: GRPO vs HICRA on a small reasoning task, on a CPU

Usage: hicra <command> [options]

Commands
  pretrain   supervised warm start of the small policy on Countdown traces -> a base checkpoint
  train      RL from a checkpoint with one strategy and seed -> a run directory (resumable)
  compare    several strategies over several seeds with the same budget
  eval       accuracy (mean@k, pass@k) of a checkpoint on the test split
  report     a self-contained HTML report of run directories (charts, statistics, rollouts)
  annotate   planning matches, phrase counts, strategy entropy and credit for rollouts from elsewhere
  demo       base checkpoint (reused or made), a GRPO vs HICRA comparison, its report

Common options
  --json     print the result as one JSON object on stdout (progress stays on stderr)
  --quiet    no progress output
  --backend  auto | cpu | wasm | tensorflow | tensorflow-gpu (default: HICRA_BACKEND or auto)
  --help     this text, or a command's help with \`hicra <command> --help\`

Strategies: ${STRATEGIES.map((s) => s.name).join(', ')}

Examples
  hicra pretrain --out runs/base --seed 0 --steps 600
  hicra train --from runs/base --out runs/hicra-0 --strategy hicra --seed 0 --steps 40
  hicra compare --from runs/base --out runs/compare --strategies grpo,hicra --seeds 0,1,2
  hicra eval --from runs/hicra-0/checkpoint --problems 128 --k 4
  hicra report runs/compare/* --out report.html
  hicra annotate rollouts.jsonl --out annotated.jsonl --tokenizer ./qwen3/tokenizer.json
  hicra demo

Exit codes: 0 done, 1 failed (the message says why), 2 bad usage, 130 interrupted (Ctrl-C;
a checkpoint was saved and the same command resumes).`;

const COMMAND_HELP: Record<string, string> = {
  pretrain: `hicra pretrain --out DIR [--seed N] [--steps N] [--level 0-4] [--examples N] [--batch-size N] [--learning-rate X] [--model small|tiny]
  Supervised warm start on Countdown traces with controlled slips and dead ends; writes a checkpoint to DIR.`,
  train: `hicra train --from CHECKPOINT --out RUN_DIR --strategy NAME [--estimator NAME] [--seed N] [--steps N] [--config FILE.json]
  RL with one strategy; --estimator swaps its advantage estimator (grpo, dr-grpo, rloo, opo, ...); the config file
  overrides the defaults of @hicra/trainer's RL schema, and a "credit" pipeline in it replaces the strategy's. Rerun to resume.`,
  compare: `hicra compare --from CHECKPOINT --out DIR [--strategies grpo,hicra] [--seeds 0,1,2] [--steps N] [--jobs 2] [--config FILE.json]
  Trains every strategy × seed into DIR/<strategy>-seed<seed> with the same budget, JOBS at a time.`,
  eval: `hicra eval --from CHECKPOINT [--problems N] [--k K] [--temperature T] [--seed N]
  mean@k and pass@k on held-out Countdown problems.`,
  annotate: `hicra annotate ROLLOUTS.jsonl [--out FILE.jsonl] [--tokenizer tokenizer.json] [--credit pipeline.json]
  Rollouts in the rollout JSON Lines schema in; planning matches and mask, credit (GRPO + HICRA by default) out, plus phrase counts and strategy semantic entropy.`,
  report: `hicra report RUN_DIR... [--out report.html] [--title TEXT]
  One offline HTML page: one line per strategy with bands across seeds, final accuracy with a Welch test against GRPO, a rollout viewer.`,
  demo: `hicra demo [--out DIR] [--seeds 0,1] [--steps N] [--pretrain-steps N]
  Reuses DIR/base or pretrains it, compares GRPO and HICRA over the seeds, and writes the report.`,
};

interface Output {
  readonly json: boolean;
  readonly quiet: boolean;
}

function progress(output: Output, message: string): void {
  if (!output.quiet) process.stderr.write(`${message}\n`);
}

function formatProgress(label: string, p: RunProgress): string {
  const eta = Number.isFinite(p.etaSeconds) ? `${Math.round(p.etaSeconds)} s` : '?';
  const accuracy = p.accuracy === undefined ? '' : ` train acc ${(p.accuracy * 100).toFixed(1)}%`;
  const evalAccuracy =
    p.evalAccuracy === undefined ? '' : ` eval acc ${(p.evalAccuracy * 100).toFixed(1)}%`;
  return `${label} step ${p.step}/${p.steps}  ${Math.round(p.tokensPerSecond)} tok/s  ETA ${eta}${accuracy}${evalAccuracy}`;
}

function integer(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

function list(value: string | undefined, fallback: string[]): string[] {
  return value === undefined
    ? fallback
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

function readConfig(path: string | undefined): RlConfigInput | undefined {
  if (path === undefined) return undefined;
  if (!existsSync(path)) throw new UsageError(`--config ${path}: no such file`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--config ${path}: not valid JSON (${(error as Error).message})`);
  }
}

const COMMON = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function commandPretrain(args: string[], output: Output): Promise<unknown> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...COMMON,
      out: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      level: { type: 'string' },
      examples: { type: 'string' },
      'batch-size': { type: 'string' },
      'learning-rate': { type: 'string' },
      model: { type: 'string' },
      'eval-problems': { type: 'string' },
    },
  });
  if (!values.out) throw new UsageError('pretrain needs --out DIR');
  const model = values.model ?? 'small';
  if (model !== 'small' && model !== 'tiny')
    throw new UsageError(`--model must be small or tiny, got ${JSON.stringify(model)}`);
  const level = integer(values.level, 'level', 0);
  if (level > 4) throw new UsageError(`--level must be 0 to 4, got ${level}`);
  const steps = integer(values.steps, 'steps', 600);
  const started = performance.now();
  const result = await pretrain({
    out: resolve(values.out),
    seed: integer(values.seed, 'seed', 0),
    steps,
    level: level as AppLevel,
    examples: integer(values.examples, 'examples', 4000),
    batchSize: integer(values['batch-size'], 'batch-size', 32),
    model: model === 'tiny' ? tinyModel : smallModel,
    evalProblems: integer(values['eval-problems'], 'eval-problems', 64),
    ...(values['learning-rate'] ? { learningRate: Number(values['learning-rate']) } : {}),
    onStep: (step, loss) => {
      if (step % 25 === 0 || step === steps) {
        const elapsed = (performance.now() - started) / 1000;
        progress(
          output,
          `pretrain step ${step}/${steps}  loss ${loss.toFixed(3)}  ETA ${Math.round((elapsed / step) * (steps - step))} s`,
        );
      }
    },
  });
  progress(
    output,
    `base checkpoint: ${result.out} (greedy accuracy on held-out problems ${(result.accuracy * 100).toFixed(1)}%)`,
  );
  return result;
}

async function commandTrain(args: string[], output: Output): Promise<unknown> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...COMMON,
      from: { type: 'string' },
      out: { type: 'string' },
      strategy: { type: 'string' },
      estimator: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      config: { type: 'string' },
      level: { type: 'string' },
    },
  });
  if (!values.from || !values.out || !values.strategy)
    throw new UsageError('train needs --from CHECKPOINT --out RUN_DIR --strategy NAME');
  const config = readConfig(values.config) ?? {};
  const steps = values.steps === undefined ? undefined : integer(values.steps, 'steps', 0);
  const interrupt = abortOnSignals(() =>
    progress(
      output,
      'interrupted: finishing the current step and saving a checkpoint (Ctrl-C again to quit at once)',
    ),
  );
  try {
    const label = `${values.strategy} seed ${values.seed ?? 0}`;
    const result = await train({
      from: resolve(values.from),
      out: resolve(values.out),
      strategy: values.strategy,
      ...(values.estimator ? { estimator: values.estimator } : {}),
      seed: integer(values.seed, 'seed', 0),
      config: { ...config, ...(steps === undefined ? {} : { steps }) },
      ...(values.level === undefined
        ? {}
        : { level: integer(values.level, 'level', 0) as AppLevel }),
      signal: interrupt.signal,
      onProgress: (p) => progress(output, formatProgress(label, p)),
    });
    if (result.status === 'interrupted') process.exitCode = EXIT.interrupted;
    return { ...result, runDir: resolve(values.out) };
  } finally {
    interrupt.dispose();
  }
}

async function commandEval(args: string[], output: Output): Promise<unknown> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...COMMON,
      from: { type: 'string' },
      problems: { type: 'string' },
      k: { type: 'string' },
      temperature: { type: 'string' },
      seed: { type: 'string' },
      level: { type: 'string' },
    },
  });
  if (!values.from) throw new UsageError('eval needs --from CHECKPOINT');
  const { policy, tokenizer, metadata } = await loadCheckpoint(resolve(values.from));
  try {
    if (!tokenizer) throw new UsageError(`${values.from} has no tokenizer`);
    const setup = countdownSetup(
      values.level === undefined
        ? levelOfCheckpoint(metadata)
        : (integer(values.level, 'level', 0) as AppLevel),
    );
    const k = integer(values.k, 'k', 4);
    const result = await evaluatePolicy({
      policy,
      tokenizer,
      reward: countdownReward(),
      problems: setup.problems(
        'test',
        integer(values.seed, 'seed', 0),
        integer(values.problems, 'problems', 128),
      ),
      k,
      temperature: values.temperature === undefined ? 1 : Number(values.temperature),
      maxNewTokens: 64,
      seed: integer(values.seed, 'seed', 0),
    });
    progress(
      output,
      `mean@${k} ${(result.meanAtK * 100).toFixed(1)}%  pass@${k} ${(result.passAtK * 100).toFixed(1)}%  over ${result.problems} problems`,
    );
    return result;
  } finally {
    policy.dispose();
  }
}

/** Runs `hicra train` in a child process (one WASM thread each, so jobs use separate cores). */
function trainInChild(args: string[], output: Output): Promise<number> {
  const cli = fileURLToPath(import.meta.url);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, cli, 'train', ...args, ...(output.quiet ? ['--quiet'] : [])],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      resolvePromise(code ?? (signal ? EXIT.interrupted : EXIT.failure)),
    );
  });
}

async function runCompare(
  options: {
    from: string;
    out: string;
    strategies: string[];
    seeds: number[];
    steps?: number;
    config?: string;
    jobs: number;
  },
  output: Output,
): Promise<{ runs: { strategy: string; seed: number; runDir: string; exitCode: number }[] }> {
  for (const name of options.strategies) {
    if (!STRATEGIES.some((s) => s.name === name))
      throw new UsageError(
        `unknown strategy ${JSON.stringify(name)}; known: ${STRATEGIES.map((s) => s.name).join(', ')}`,
      );
  }
  const queue = options.seeds.flatMap((seed) =>
    options.strategies.map((strategy) => ({
      strategy,
      seed,
      runDir: join(options.out, `${strategy}-seed${seed}`),
    })),
  );
  const runs: { strategy: string; seed: number; runDir: string; exitCode: number }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const job = queue[next++]!;
      progress(output, `compare: starting ${job.strategy} seed ${job.seed} -> ${job.runDir}`);
      const args = [
        '--from',
        options.from,
        '--out',
        job.runDir,
        '--strategy',
        job.strategy,
        '--seed',
        String(job.seed),
      ];
      if (options.steps !== undefined) args.push('--steps', String(options.steps));
      if (options.config) args.push('--config', options.config);
      const exitCode = await trainInChild(args, output);
      runs.push({ ...job, exitCode });
      progress(
        output,
        `compare: ${job.strategy} seed ${job.seed} finished with exit code ${exitCode}`,
      );
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.jobs, queue.length)) }, worker),
  );
  if (runs.some((r) => r.exitCode !== 0))
    process.exitCode = runs.some((r) => r.exitCode === EXIT.interrupted)
      ? EXIT.interrupted
      : EXIT.failure;
  return { runs };
}

async function commandCompare(args: string[], output: Output): Promise<unknown> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...COMMON,
      from: { type: 'string' },
      out: { type: 'string' },
      strategies: { type: 'string' },
      seeds: { type: 'string' },
      steps: { type: 'string' },
      jobs: { type: 'string' },
      config: { type: 'string' },
    },
  });
  if (!values.from || !values.out)
    throw new UsageError('compare needs --from CHECKPOINT --out DIR');
  const out = resolve(values.out);
  const result = await runCompare(
    {
      from: resolve(values.from),
      out,
      strategies: list(values.strategies, ['grpo', 'hicra']),
      seeds: list(values.seeds, ['0', '1', '2']).map((s) => integer(s, 'seeds', 0)),
      ...(values.steps === undefined ? {} : { steps: integer(values.steps, 'steps', 0) }),
      ...(values.config ? { config: resolve(values.config) } : {}),
      jobs: integer(values.jobs, 'jobs', 2),
    },
    output,
  );
  const report = await writeReport({
    runDirs: runDirectoriesIn(out),
    out: join(out, 'report.html'),
  });
  progress(output, `compare: report written to ${report.path}`);
  return { ...result, report: report.path, summary: report.summary };
}

async function commandDemo(args: string[], output: Output): Promise<unknown> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      ...COMMON,
      out: { type: 'string' },
      seeds: { type: 'string' },
      steps: { type: 'string' },
      'pretrain-steps': { type: 'string' },
    },
  });
  const out = resolve(values.out ?? 'runs/demo');
  const base = join(out, 'base');
  let pretrained: unknown = 'reused';
  if (existsSync(join(base, 'config.json')))
    progress(output, `demo: reusing the base checkpoint ${base}`);
  else {
    progress(
      output,
      `demo: no base checkpoint in ${base}; pretraining one (supervised warm start)`,
    );
    await initBackend();
    pretrained = await commandPretrain(
      [
        '--out',
        base,
        '--seed',
        '0',
        '--steps',
        String(integer(values['pretrain-steps'], 'pretrain-steps', 900)),
        ...(output.quiet ? ['--quiet'] : []),
      ],
      { ...output, json: false },
    );
  }
  const compare = await runCompare(
    {
      from: base,
      out: join(out, 'compare'),
      strategies: ['grpo', 'hicra'],
      seeds: list(values.seeds, ['0', '1']).map((s) => integer(s, 'seeds', 0)),
      steps: integer(values.steps, 'steps', 30),
      jobs: 2,
    },
    output,
  );
  const report = await writeReport({
    runDirs: runDirectoriesIn(join(out, 'compare')),
    out: join(out, 'report.html'),
    title: 'hicra demo: GRPO vs HICRA on Countdown',
  });
  progress(output, `demo: report written to ${report.path}`);
  return { base, pretrained, ...compare, report: report.path, summary: report.summary };
}

async function commandReport(args: string[], output: Output): Promise<unknown> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { ...COMMON, out: { type: 'string' }, title: { type: 'string' } },
  });
  if (positionals.length === 0)
    throw new UsageError(
      'report needs at least one run directory: hicra report <run-dir...> [--out report.html]',
    );
  const out = resolve(values.out ?? 'report.html');
  const result = await writeReport({
    runDirs: positionals.map((dir) => resolve(dir)),
    out,
    ...(values.title ? { title: values.title } : {}),
  });
  progress(output, `report: ${result.path}`);
  return result;
}

/** Every run directory (holding metrics.jsonl) directly below `dir`. */
function runDirectoriesIn(dir: string): string[] {
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => existsSync(join(path, 'metrics.jsonl')))
    .sort();
}

async function commandAnnotate(args: string[], output: Output): Promise<unknown> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      ...COMMON,
      out: { type: 'string' },
      tokenizer: { type: 'string' },
      credit: { type: 'string' },
    },
  });
  if (positionals.length !== 1)
    throw new UsageError(
      'annotate needs one rollouts file: hicra annotate <rollouts.jsonl> --out annotated.jsonl',
    );
  const input = resolve(positionals[0]!);
  const out = resolve(values.out ?? input.replace(/\.jsonl$/, '') + '.annotated.jsonl');
  const result = await annotateRollouts({
    input,
    out,
    ...(values.tokenizer ? { tokenizer: resolve(values.tokenizer) } : {}),
    ...(values.credit ? { credit: readConfig(values.credit) } : {}),
  });
  const entropy = result.metrics['strategy/semantic_entropy'];
  progress(
    output,
    `annotated ${result.responses} responses (${result.unscorable} unscorable passed through) -> ${out}; ` +
      `strategy semantic entropy ${entropy === undefined ? 'n/a' : entropy.toFixed(3)} nats; top phrases: ` +
      result.phraseCounts
        .slice(0, 5)
        .map((p) => `"${p.gram}" ${p.count}`)
        .join(', '),
  );
  return result;
}

const COMMANDS: Record<string, (args: string[], output: Output) => Promise<unknown>> = {
  annotate: commandAnnotate,
  report: commandReport,
  pretrain: commandPretrain,
  train: commandTrain,
  compare: commandCompare,
  eval: commandEval,
  demo: commandDemo,
};

/** Runs the command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const output: Output = { json: rest.includes('--json'), quiet: rest.includes('--quiet') };
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`${HELP}\n`);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    const run = COMMANDS[command];
    if (!run)
      throw new UsageError(
        `unknown command ${JSON.stringify(command)}; commands: ${Object.keys(COMMANDS).join(', ')}`,
      );
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${COMMAND_HELP[command]}\n`);
      return EXIT.ok;
    }
    const backendIndex = rest.indexOf('--backend');
    const backend = backendIndex >= 0 ? rest[backendIndex + 1] : undefined;
    if (
      command !== 'compare' &&
      command !== 'demo' &&
      command !== 'report' &&
      command !== 'annotate'
    ) {
      const info = await initBackend((backend as Parameters<typeof initBackend>[0]) ?? undefined);
      progress(output, `backend: ${info.name}${info.simd ? ' (SIMD)' : ''}`);
    }
    const result = await run(rest, output);
    if (output.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ||
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
    ) {
      process.stderr.write(`hicra: ${(error as Error).message}\nRun \`hicra --help\` for usage.\n`);
      return EXIT.usage;
    }
    const message = HicraError.isInstance(error)
      ? `${error.code}: ${error.message}`
      : ((error as Error).stack ?? String(error));
    process.stderr.write(`hicra: ${message}\n`);
    return EXIT.failure;
  }
}

const entry = process.argv[1] ? resolve(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

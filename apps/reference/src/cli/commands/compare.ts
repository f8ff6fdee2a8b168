import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RUN_FILES } from '@hicra/trainer';
import { writeReport } from '../../report/index.js';
import { defineCommand, requireCheckpointFolder } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { type Output, progress } from '../output.js';
import { checkTrainSettings, pluginRegistry } from './train.js';

export interface CompareRun {
  readonly strategy: string;
  readonly seed: number;
  readonly runDir: string;
  readonly exitCode: number;
}

export interface CompareOptions {
  readonly from: string;
  readonly out: string;
  readonly strategies: readonly string[];
  readonly seeds: readonly number[];
  readonly steps?: number;
  /** A config file (checked by the caller), passed to every `hicra train`. */
  readonly config?: string;
  readonly estimator?: string;
  /** Plug-in files (`--plugin`), passed to every `hicra train`. */
  readonly plugins?: readonly string[];
  readonly jobs: number;
  readonly backend?: string;
  /** The `hicra` entry file the runs start as child processes of. */
  readonly cliPath: string;
}

/** Runs `hicra train` in a child process (one WASM thread each, so jobs use separate cores). */
function trainInChild(cliPath: string, args: string[], output: Output): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, cliPath, 'train', ...args, ...(output.quiet ? ['--quiet'] : [])],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      resolvePromise(code ?? (signal ? EXIT.interrupted : EXIT.failure)),
    );
  });
}

/**
 * Trains every strategy × seed into `out/<strategy>-seed<seed>` with the same budget, `jobs`
 * runs at a time, each in its own `hicra train` process; returns every run's exit code.
 */
export async function compareStrategies(
  options: CompareOptions,
  output: Output,
): Promise<{ runs: CompareRun[] }> {
  const queue = options.seeds.flatMap((seed) =>
    options.strategies.map((strategy) => ({
      strategy,
      seed,
      runDir: join(options.out, `${strategy}-seed${seed}`),
    })),
  );
  const runs: CompareRun[] = [];
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const job = queue[next++]!;
      progress(output, `compare: starting ${job.strategy} seed ${job.seed} -> ${job.runDir}`);
      const args = ['--from', options.from, '--out', job.runDir, '--strategy', job.strategy];
      args.push('--seed', String(job.seed));
      if (options.steps !== undefined) args.push('--steps', String(options.steps));
      if (options.config) args.push('--config', options.config);
      if (options.estimator) args.push('--estimator', options.estimator);
      for (const plugin of options.plugins ?? []) args.push('--plugin', plugin);
      if (options.backend) args.push('--backend', options.backend);
      const exitCode = await trainInChild(options.cliPath, args, output);
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
  return { runs };
}

/** The exit code of a comparison: 130 when a run was interrupted, 1 when one failed. */
export function compareExitCode(runs: readonly CompareRun[]): number {
  if (runs.some((r) => r.exitCode === EXIT.interrupted)) return EXIT.interrupted;
  return runs.some((r) => r.exitCode !== EXIT.ok) ? EXIT.failure : EXIT.ok;
}

/** Every run directory (holding metrics.jsonl) directly below `dir`. */
export function runDirectoriesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => existsSync(join(path, RUN_FILES.metrics)))
    .sort();
}

export const compareCommand = defineCommand({
  spec: {
    command: 'compare',
    options: [
      'from',
      'out',
      'strategies',
      'seeds',
      'steps',
      'jobs',
      'config',
      'estimator',
      'plugin',
    ],
    required: ['from', 'out'],
  },
  summary: 'several strategies over several seeds with the same budget, and their report',
  usage:
    'hicra compare --from CHECKPOINT --out DIR [--strategies grpo,hicra] [--seeds 0,1,2] [--steps N] [--jobs 2] [--config FILE.json] [--estimator NAME] [--plugin FILE.js ...]',
  description:
    'Trains every strategy × seed into DIR/<strategy>-seed<seed> with the same budget, JOBS at\n' +
    'a time (one process each), then writes DIR/report.html. Rerun to resume unfinished runs.',
  examples: [
    'hicra compare --from runs/base --out runs/compare --strategies grpo,hicra --seeds 0,1,2',
  ],
  usesBackend: false,
  async run({ values }, { output, cliPath, setExitCode }) {
    const strategies = values.strategies ?? ['grpo', 'hicra'];
    const seeds = values.seeds ?? [0, 1, 2];
    // Check what every run will be given once, here, rather than fail in every child.
    const { registry, classifiers, rewards, plugins } = await pluginRegistry(values.plugin);
    for (const strategy of strategies) {
      const { engine } = checkTrainSettings({
        strategy,
        estimator: values.estimator,
        seed: seeds[0]!,
        configPath: values.config,
        registry,
        classifiers,
        rewards,
      });
      if (engine !== undefined && engine.kind !== 'local')
        throw new UsageError(
          `--config ${values.config}: engine.kind ${JSON.stringify(engine.kind)}: compare trains every run in process from --from; train through a server with \`hicra train --engine tinker\` one run at a time`,
        );
    }
    requireCheckpointFolder(values.from!, '--from');
    const out = resolve(values.out!);
    const result = await compareStrategies(
      {
        from: resolve(values.from!),
        out,
        strategies,
        seeds,
        jobs: values.jobs ?? 2,
        cliPath,
        ...(values.steps === undefined ? {} : { steps: values.steps }),
        ...(values.config ? { config: resolve(values.config) } : {}),
        ...(values.estimator ? { estimator: values.estimator } : {}),
        ...(plugins.length === 0 ? {} : { plugins }),
        ...(values.backend ? { backend: values.backend } : {}),
      },
      output,
    );
    setExitCode(compareExitCode(result.runs));
    const runDirs = runDirectoriesIn(out);
    if (runDirs.length === 0) return { ...result, report: null };
    const report = await writeReport({ runDirs, out: join(out, 'report.html') });
    progress(output, `compare: report written to ${report.path}`);
    return { ...result, report: report.path, summary: report.summary };
  },
});

/** What a result file records about the run: the machine and the source measured. */
import { spawnSync } from 'node:child_process';
import { cpus, getPriority } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The commit measured, and the uncommitted changes in the measured packages (`paths` relative
 * to the repository root, e.g. `packages/tensor`).
 */
export function sourceState(paths: readonly string[]): {
  commit: string | null;
  uncommitted: string[];
} {
  const git = (args: string[]) => spawnSync('git', args, { cwd: BENCH_DIR, encoding: 'utf8' });
  const head = git(['rev-parse', '--short', 'HEAD']);
  const status = git(['status', '--porcelain', '--', ...paths.map((p) => `../${p}`)]);
  return {
    commit: head.status === 0 ? head.stdout.trim() : null,
    uncommitted: status.status === 0 ? status.stdout.split('\n').filter(Boolean) : [],
  };
}

export function machine() {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    node: process.version,
    /** The niceness the benchmark ran at (children inherit it). */
    niceness: getPriority(),
  };
}

/** Load averages as `1/5/15`: other work on the machine skews every number. */
export const formatLoad = (values: readonly number[]) => values.map((v) => v.toFixed(2)).join('/');

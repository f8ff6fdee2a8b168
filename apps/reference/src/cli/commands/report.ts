import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RUN_FILES } from '@hicra/trainer';
import { REPORT_FILE_NAME, writeReport } from '../../report/index.js';
import { defineCommand } from '../command.js';
import { InputError } from '../errors.js';
import { progress } from '../output.js';
import { runDirectoriesIn } from './compare.js';

/** Whether `path` is a page `hicra report` wrote (its generator meta tag, near the top). */
export function isHicraReport(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2048);
    const length = readSync(fd, head, 0, head.length, 0);
    return head
      .subarray(0, length)
      .toString('utf8')
      .includes('<meta name="generator" content="hicra report">');
  } finally {
    closeSync(fd);
  }
}

/**
 * The run directories a `hicra report` argument stands for: a run directory (it has
 * metrics.jsonl) itself, or a folder of runs (`hicra compare --out`) every run in it.
 */
export function expandRunArgument(argument: string): string[] {
  const path = resolve(argument);
  if (!existsSync(path)) throw new InputError(`${argument}: no such run directory`);
  if (!statSync(path).isDirectory()) {
    const hint = isHicraReport(path)
      ? ` (a report); give the folder that holds the runs to report every run in it`
      : '';
    throw new InputError(`${argument}: is a file, not a run directory${hint}`);
  }
  if (existsSync(join(path, RUN_FILES.metrics))) return [path];
  const runs = runDirectoriesIn(path);
  if (runs.length === 0)
    throw new InputError(
      `${argument}: not a run directory (no ${RUN_FILES.metrics}) and holds no run directories`,
    );
  return runs;
}

/**
 * Refuses to write the report over a file that is not a report (a mistyped `--out` pointing at
 * metrics.jsonl), unless `force`.
 */
export function checkReportTarget(out: string, force: boolean): string {
  let path = resolve(out);
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, REPORT_FILE_NAME);
  if (!force && existsSync(path) && !isHicraReport(path)) {
    throw new InputError(
      `--out ${out}: the file exists and is not a hicra report; choose another --out, or give --force to replace it`,
    );
  }
  return path;
}

export const reportCommand = defineCommand({
  spec: {
    command: 'report',
    options: ['out', 'title', 'force'],
    positionals: { name: 'run directories', min: 1, max: Number.POSITIVE_INFINITY },
  },
  summary: 'a self-contained HTML report of run directories (charts, statistics, rollouts)',
  usage: 'hicra report RUN_DIR_OR_FOLDER... [--out report.html] [--title TEXT] [--force]',
  description:
    'One offline HTML page: one line per strategy with bands across seeds, final accuracy with a\n' +
    'paired comparison with GRPO by seed (t-test, sign-flip, MDE), a rollout viewer. An argument is a run directory or a folder of\n' +
    'runs (what `hicra compare --out` made). An existing --out that is not a report is refused\n' +
    'unless --force is given.',
  examples: ['hicra report runs/compare --out report.html'],
  usesBackend: false,
  async run({ values, positionals }, { output }) {
    const runDirs = [...new Set(positionals.flatMap(expandRunArgument))];
    const out = checkReportTarget(values.out ?? 'report.html', values.force ?? false);
    const result = await writeReport({
      runDirs,
      out,
      ...(values.title ? { title: values.title } : {}),
    });
    progress(output, `report: ${result.path} (${runDirs.length} runs)`);
    return result;
  },
});

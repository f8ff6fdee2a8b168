import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from '@hicra/spec';
import { type LoadRunOptions, loadRun } from './load-run.js';
import { renderReport } from './render-report.js';
import { type ReportSummary, type SummarizeOptions, summarizeRuns } from './summary.js';

const SOURCE = '@hicra/reference';

/** The file name used when `out` is an existing directory. */
export const REPORT_FILE_NAME = 'report.html';

export interface WriteReportOptions extends LoadRunOptions, SummarizeOptions {
  /** Run directories; runs with the same strategy are seeds of it. */
  readonly runDirs: readonly string[];
  /** The HTML file to write (parents are created), or an existing directory to write `report.html` in. */
  readonly out: string;
  /** Page title. Default `hicra report`. */
  readonly title?: string;
}

export interface WriteReportResult {
  /** Absolute path of the written HTML file. */
  readonly path: string;
  readonly summary: ReportSummary;
}

/**
 * Writes `data` to `path` atomically: a temporary file in the same directory, flushed to disk,
 * then renamed over the target, so a reader sees the old file or the new one, never a mix.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx');
  try {
    try {
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * `hicra report <run-dir...>`: loads every run directory, renders the self-contained report
 * and writes it atomically. Returns where it is and the summary it states.
 */
export async function writeReport(options: WriteReportOptions): Promise<WriteReportResult> {
  const { runDirs, out } = options ?? ({} as WriteReportOptions);
  if (!Array.isArray(runDirs) || runDirs.length === 0) {
    throw new InvalidArgumentError('writeReport: runDirs must list at least one run directory', {
      source: SOURCE,
      details: { argument: 'runDirs' },
    });
  }
  if (typeof out !== 'string' || out === '') {
    throw new InvalidArgumentError('writeReport: out must be a file path', {
      source: SOURCE,
      details: { argument: 'out' },
    });
  }
  const runs = [];
  for (const dir of runDirs) runs.push(await loadRun(dir, options));
  const summary = summarizeRuns(runs, options);
  const html = renderReport(runs, {
    ...options,
    summary,
    generatedAt: new Date(),
    ...(options.title === undefined ? {} : { title: options.title }),
  });
  let path = resolve(out);
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, REPORT_FILE_NAME);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, html);
  return { path, summary };
}

import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import {
  ConfigError,
  CorruptFileError,
  InvalidArgumentError,
  type MetricRecordV1,
  parseRolloutRecord,
  type RolloutRecordV1,
} from '@hicra/spec';
import { RUN_FILES } from '@hicra/trainer';

const SOURCE = '@hicra/reference';

/** Files the report reads in a run directory (their names are the trainer's `RUN_FILES`). */
export const REPORT_RUN_FILES = {
  metrics: RUN_FILES.metrics,
  rollouts: RUN_FILES.rollouts,
  run: RUN_FILES.run,
} as const;

/** One rollout chosen for the viewer, with its line in `rollouts.jsonl`. */
export interface ReportRollout {
  /** 1-based line number in the run's `rollouts.jsonl`. */
  readonly line: number;
  readonly record: RolloutRecordV1;
}

/** A run directory as the report sees it. */
export interface ReportRun {
  /** Absolute path of the run directory. */
  readonly dir: string;
  /** The strategy the run belongs to; runs with the same strategy are its seeds. */
  readonly strategy: string;
  /** The run's seed, when `run.json` or the folder name gives one. */
  readonly seed: number | undefined;
  /** Where `strategy` came from: `run.json`, or the folder name when there is no `run.json`. */
  readonly strategySource: 'run.json' | 'folder name';
  /** `run.json`'s `config`, carried through. */
  readonly config: unknown;
  /** Training records (`kind: "train"`), by increasing step. */
  readonly train: readonly MetricRecordV1[];
  /** Evaluation records (`kind: "eval"`), by increasing step. */
  readonly eval: readonly MetricRecordV1[];
  /** Rollouts chosen for the viewer: the first few of each of the latest steps. */
  readonly rollouts: readonly ReportRollout[];
  /** Number of records in `rollouts.jsonl` (0 without the file). */
  readonly rolloutRecords: number;
  /** Things a reader of the report should know about this run (shown in the runs table). */
  readonly notes: readonly string[];
}

export interface LoadRunOptions {
  /** How many of the latest rollout steps to keep for the viewer. Default 3. */
  readonly rolloutSteps?: number;
  /** How many rollouts to keep per step (the first ones in the file). Default 4. */
  readonly rolloutsPerStep?: number;
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative integer, got ${value}`, {
      source: SOURCE,
      details: { argument: name, value },
    });
  }
}

/**
 * The strategy and seed a folder name implies when a run has no `run.json`: a trailing seed
 * suffix (`-seed3`, `_s3`, `-3`) is the seed and what precedes it the strategy
 * (`hicra-seed2` -> `hicra`, 2); a folder that is only a seed (`seed-2`, `2`) takes the
 * strategy from its parent (`grpo/seed-2` -> `grpo`, 2).
 */
export function strategyFromFolderName(dir: string): {
  strategy: string;
  seed: number | undefined;
} {
  const name = basename(resolve(dir));
  const match =
    /^(?:(.+?)[-_.])?(?:seed|s)[-_]?(\d+)$/i.exec(name) ??
    /^(.+?)[-_](\d+)$/.exec(name) ??
    /^()(\d+)$/.exec(name);
  if (match === null) return { strategy: name, seed: undefined };
  const seed = Number(match[2]);
  const strategy = match[1] ? match[1] : basename(dirname(resolve(dir)));
  return {
    strategy: strategy === '' ? name : strategy,
    seed: Number.isSafeInteger(seed) ? seed : undefined,
  };
}

async function* readLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const lines = createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let line = 0;
  for await (const raw of lines) {
    line++;
    const text = line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    if (text.trim() === '') continue;
    yield { line, text };
  }
}

function parseJsonLine(path: string, line: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const preview = text.length > 80 ? `${text.slice(0, 80)}...` : text;
    throw new CorruptFileError(
      `${path} line ${line}: not valid JSON (${(error as Error).message}): ${preview}`,
      { source: SOURCE, details: { path, line } },
    );
  }
}

/** Checks one parsed metrics line against {@link MetricRecordV1}; `where` names it in errors. */
export function parseMetricRecord(value: unknown, where: string): MetricRecordV1 {
  const fail = (key: string, message: string): never => {
    throw new ConfigError(key, `${where}: ${message}`, { source: SOURCE, details: { where } });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('', 'expected a JSON object');
  }
  const record = value as Record<string, unknown>;
  if (record.kind !== 'train' && record.kind !== 'eval') {
    fail('kind', `expected "train" or "eval", got ${JSON.stringify(record.kind) ?? 'nothing'}`);
  }
  if (typeof record.step !== 'number' || !Number.isSafeInteger(record.step) || record.step < 0) {
    fail(
      'step',
      `expected a non-negative integer, got ${JSON.stringify(record.step) ?? 'nothing'}`,
    );
  }
  if (typeof record.time !== 'string') {
    fail('time', `expected an ISO-8601 string, got ${JSON.stringify(record.time) ?? 'nothing'}`);
  }
  for (const [key, v] of Object.entries(record)) {
    if (typeof v === 'string') continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      fail(key, `expected a finite number or a string, got ${JSON.stringify(v)}`);
    }
  }
  return record as MetricRecordV1;
}

async function loadMetrics(
  path: string,
): Promise<{ train: MetricRecordV1[]; eval: MetricRecordV1[] }> {
  const train: { line: number; record: MetricRecordV1 }[] = [];
  const evals: { line: number; record: MetricRecordV1 }[] = [];
  const seen = new Map<string, number>();
  for await (const { line, text } of readLines(path)) {
    const record = parseMetricRecord(parseJsonLine(path, line, text), `${path} line ${line}`);
    const key = `${record.kind}/${record.step}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new CorruptFileError(
        `${path} line ${line}: a second ${record.kind} record for step ${record.step} (the first is on line ${earlier})`,
        { source: SOURCE, details: { path, line, earlierLine: earlier } },
      );
    }
    seen.set(key, line);
    (record.kind === 'train' ? train : evals).push({ line, record });
  }
  const byStep = (a: { record: MetricRecordV1 }, b: { record: MetricRecordV1 }) =>
    a.record.step - b.record.step;
  return {
    train: train.sort(byStep).map((r) => r.record),
    eval: evals.sort(byStep).map((r) => r.record),
  };
}

/** Viewer needs beyond the schema: matches inside the text, one advantage per token span. */
function checkForViewer(record: RolloutRecordV1, where: string): void {
  const fail = (key: string, message: string): never => {
    throw new ConfigError(key, `${where}: ${message}`, { source: SOURCE, details: { where } });
  };
  const length = record.response.length;
  record.planningMatches?.forEach((match, i) => {
    const { start, end } = (match ?? {}) as { start?: unknown; end?: unknown };
    if (
      typeof start !== 'number' ||
      typeof end !== 'number' ||
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      start < 0 ||
      end < start ||
      end > length
    ) {
      fail(
        `planningMatches[${i}]`,
        `expected start and end with 0 <= start <= end <= ${length}, got ${JSON.stringify(match)}`,
      );
    }
  });
  const spans = record.tokenSpans;
  const advantages = record.advantages;
  if (spans !== undefined && advantages !== undefined && spans.length !== advantages.length) {
    fail(
      'advantages',
      `has ${advantages.length} entries for ${spans.length} token spans; expected one per token`,
    );
  }
}

async function loadRollouts(
  path: string,
  steps: number,
  perStep: number,
): Promise<{ rollouts: ReportRollout[]; records: number }> {
  // Step -> the first `perStep` rollouts of that step; only the `steps` latest steps are kept,
  // so memory stays bounded however long the file is. A record without a step sorts first.
  const kept = new Map<number, ReportRollout[]>();
  let records = 0;
  for await (const { line, text } of readLines(path)) {
    const where = `${path} line ${line}`;
    const record = parseRolloutRecord(parseJsonLine(path, line, text), where);
    checkForViewer(record, where);
    records++;
    if (steps === 0 || perStep === 0) continue;
    const step = record.step ?? Number.NEGATIVE_INFINITY;
    let list = kept.get(step);
    if (list === undefined) {
      if (kept.size >= steps) {
        const oldest = Math.min(...kept.keys());
        if (step < oldest) continue;
        kept.delete(oldest);
      }
      list = [];
      kept.set(step, list);
    }
    if (list.length < perStep) list.push({ line, record });
  }
  const rollouts = [...kept.keys()].sort((a, b) => a - b).flatMap((step) => kept.get(step)!);
  return { rollouts, records };
}

function loadRunJson(path: string): {
  strategy: string;
  seed: number | undefined;
  config: unknown;
} {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CorruptFileError(`${path}: not valid JSON (${(error as Error).message})`, {
      source: SOURCE,
      details: { path },
    });
  }
  const fail = (key: string, message: string): never => {
    throw new ConfigError(key, `${path}: ${message}`, { source: SOURCE, details: { file: path } });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('', 'expected a JSON object');
  }
  const json = value as Record<string, unknown>;
  if (typeof json.strategy !== 'string' || json.strategy.trim() === '') {
    fail(
      'strategy',
      `expected a non-empty string, got ${JSON.stringify(json.strategy) ?? 'nothing'}`,
    );
  }
  const seed = json.seed;
  if (
    seed !== undefined &&
    (typeof seed !== 'number' || !Number.isSafeInteger(seed) || (seed as number) < 0)
  ) {
    fail('seed', `expected a non-negative integer, got ${JSON.stringify(seed)}`);
  }
  return {
    strategy: json.strategy as string,
    seed: seed as number | undefined,
    config: json.config,
  };
}

/**
 * Reads a run directory: `metrics.jsonl` (required), `rollouts.jsonl` (optional; the latest
 * steps are kept for the viewer) and `run.json` (optional; without it the strategy comes from
 * the folder name, and a note says so).
 *
 * Errors: a missing directory or `metrics.jsonl`, a line that is not JSON, or two records of
 * one kind for one step are `CorruptFileError`s; a line or `run.json` that is JSON but does
 * not fit its schema is a `ConfigError` naming the key. Each names the file and the 1-based line.
 */
export async function loadRun(dir: string, options: LoadRunOptions = {}): Promise<ReportRun> {
  if (typeof dir !== 'string' || dir === '') {
    throw new InvalidArgumentError('loadRun: dir must be a non-empty path string', {
      source: SOURCE,
      details: { argument: 'dir' },
    });
  }
  const { rolloutSteps = 3, rolloutsPerStep = 4 } = options;
  checkCount('rolloutSteps', rolloutSteps);
  checkCount('rolloutsPerStep', rolloutsPerStep);
  const absolute = resolve(dir);
  if (!existsSync(absolute)) {
    throw new CorruptFileError(`run directory ${absolute} does not exist`, {
      source: SOURCE,
      details: { path: absolute },
    });
  }
  if (!statSync(absolute).isDirectory()) {
    throw new CorruptFileError(`${absolute} is not a directory (expected a run directory)`, {
      source: SOURCE,
      details: { path: absolute },
    });
  }
  const metricsPath = join(absolute, REPORT_RUN_FILES.metrics);
  if (!existsSync(metricsPath)) {
    throw new CorruptFileError(
      `run directory ${absolute} has no ${REPORT_RUN_FILES.metrics}; is it a run directory?`,
      { source: SOURCE, details: { path: metricsPath } },
    );
  }
  const notes: string[] = [];
  const runJsonPath = join(absolute, REPORT_RUN_FILES.run);
  let identity: { strategy: string; seed: number | undefined; config: unknown };
  let strategySource: ReportRun['strategySource'];
  if (existsSync(runJsonPath)) {
    identity = loadRunJson(runJsonPath);
    strategySource = 'run.json';
  } else {
    identity = { ...strategyFromFolderName(absolute), config: undefined };
    strategySource = 'folder name';
    notes.push(
      `no ${REPORT_RUN_FILES.run}: strategy "${identity.strategy}" taken from the folder name`,
    );
  }
  const metrics = await loadMetrics(metricsPath);
  if (metrics.train.length === 0 && metrics.eval.length === 0) {
    notes.push(`${REPORT_RUN_FILES.metrics} has no records yet`);
  }
  const rolloutsPath = join(absolute, REPORT_RUN_FILES.rollouts);
  let rollouts: ReportRollout[] = [];
  let rolloutRecords = 0;
  if (existsSync(rolloutsPath)) {
    ({ rollouts, records: rolloutRecords } = await loadRollouts(
      rolloutsPath,
      rolloutSteps,
      rolloutsPerStep,
    ));
  } else {
    notes.push(`no ${REPORT_RUN_FILES.rollouts}: nothing to show in the rollout viewer`);
  }
  return {
    dir: absolute,
    strategy: identity.strategy,
    seed: identity.seed,
    strategySource,
    config: identity.config,
    train: metrics.train,
    eval: metrics.eval,
    rollouts,
    rolloutRecords,
    notes,
  };
}

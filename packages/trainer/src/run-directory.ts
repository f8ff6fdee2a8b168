import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { recoverCheckpointSwap } from '@hicra/policy';
import { CorruptFileError, RunLockedError, RunMismatchError } from '@hicra/spec';
import { repairJsonl, writeFileAtomicSync } from './jsonl-sink.js';

const SOURCE = '@hicra/trainer';

/**
 * `trainer-state.json`'s schema value. v2 (this version): the loop's state beside the engine's
 * saved state (`engine-state.json`, moments by parameter name). v1 (before engines): moments
 * by variable position in `optimizer.safetensors`, optimizer step in this file; a v1 checkpoint
 * is converted exactly when a run resumes from it.
 */
export const TRAINER_STATE_SCHEMA = 'hicra.trainer-state.v2';

/** The schema of checkpoints written before the engine contracts (hicra 0.x up to issue 16). */
export const TRAINER_STATE_SCHEMA_V1 = 'hicra.trainer-state.v1';

/** Files of a run directory, defined once. */
export const RUN_FILES = {
  /** The run's settings (strategy, seed, config...), written once when the run starts. */
  run: 'run.json',
  /** Held while a process writes to the directory: `{ pid, host, command, startedAt }`. */
  lock: 'run.lock',
  checkpoint: 'checkpoint',
  metrics: 'metrics.jsonl',
  rollouts: 'rollouts.jsonl',
  config: 'run-config.json',
  /** In `checkpoint/`: step, data order, generator state, config. */
  trainerState: 'trainer-state.json',
  /** In `checkpoint/`: the AdamW moments (the local engine's saved state). */
  optimizer: 'optimizer.safetensors',
  /** In `checkpoint/`: the local engine's state (schema, optimizer step count). */
  engineState: 'engine-state.json',
  /** In `checkpoint/`, with a KL term: the frozen reference policy's weights (by parameter name). */
  reference: 'reference.safetensors',
} as const;

// ---------------------------------------------------------------------------------------------
// The lock

/** Who holds a run directory's lock: the content of `run.lock`. */
export interface RunLockHolder {
  /** Process id of the holder. */
  readonly pid: number;
  /** Host name of the machine it runs on (`os.hostname()`). */
  readonly host: string;
  /** The command line it was started with (or what the caller passed as `command`). */
  readonly command: string;
  /** When it took the lock, ISO 8601. */
  readonly startedAt: string;
}

/** An exclusive lock on a run directory, held until `release()`. */
export interface RunLock {
  /** The lock file (`<runDir>/run.lock`). */
  readonly path: string;
  /** This process, as written in the lock file. */
  readonly holder: RunLockHolder;
  /** The holder of a stale lock (a process on this host that no longer runs) taken over. */
  readonly tookOverStaleLock?: RunLockHolder;
  /**
   * Removes the lock file if it is still this lock's. Synchronous, so it can run in an exit
   * handler; calling it again does nothing.
   */
  release(): void;
}

interface LockFile extends RunLockHolder {
  /** Tells this lock from another one taken by the same process in the same millisecond. */
  readonly token: string;
}

/**
 * Takes the exclusive lock of a run directory (created if needed): `run.lock`, created
 * atomically (it fails if the file exists) with `{ pid, host, command, startedAt }` in it.
 *
 * A lock whose holder is a process on this host that no longer runs (killed, crashed) is stale
 * and taken over (`tookOverStaleLock` says whose it was). A lock from another host is never
 * taken over, since whether its holder runs cannot be checked from here; nor is one held by
 * this very process (another run in it). Those throw a `RunLockedError` naming the holder and
 * the lock file to remove if the holder is gone.
 *
 * This library installs no process handlers: whoever owns the process calls `release()` when
 * the run ends, including from its signal and exit handlers.
 */
export function acquireRunLock(runDir: string, options: { command?: string } = {}): RunLock {
  const directory = resolve(runDir);
  mkdirSync(directory, { recursive: true });
  const path = join(directory, RUN_FILES.lock);
  const content: LockFile = {
    pid: process.pid,
    host: hostname(),
    command: options.command ?? process.argv.join(' '),
    startedAt: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  const text = `${JSON.stringify(content)}\n`;
  let tookOverStaleLock: RunLockHolder | undefined;
  // A few rounds: a stale lock is moved away, then another process may win the new one.
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createExclusive(path, text)) {
      let released = false;
      const { token: _token, ...holder } = content;
      return {
        path,
        holder,
        ...(tookOverStaleLock ? { tookOverStaleLock } : {}),
        release() {
          if (released) return;
          released = true;
          try {
            // Only our own lock: never remove one another process has since taken.
            if (readFileSync(path, 'utf8') === text) unlinkSync(path);
          } catch {
            // Gone already, or not removable: never throw from an exit path. A lock left
            // behind names a process that no longer runs, and the next run takes it over.
          }
        },
      };
    }
    const existing = readLockFile(path);
    if (existing === 'missing') continue; // released meanwhile: try again
    if (existing === 'unreadable') {
      throw new RunLockedError(
        `run directory ${directory} is locked, but its lock file ${path} cannot be read (a process killed while taking the lock leaves it empty); if no process is using this run directory, remove ${path}`,
        { source: SOURCE, details: { path, holder: undefined } },
      );
    }
    const { holder, raw } = existing;
    if (!isStale(holder)) throw lockedError(directory, path, holder);
    if (takeOverStale(path, raw)) tookOverStaleLock = holder;
  }
  const last = readLockFile(path);
  throw lockedError(directory, path, typeof last === 'string' ? undefined : last.holder);
}

/** Creates `path` with `text` only if it does not exist; false if it exists. */
function createExclusive(path: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

type ReadLock = { holder: RunLockHolder; raw: string } | 'missing' | 'unreadable';

/** Reads a lock file; gives its writer a moment when it is empty (just created). */
function readLockFile(path: string): ReadLock {
  for (let wait = 0; wait < 20; wait++) {
    let raw: string;
    try {
      raw = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw error;
    }
    const holder = parseHolder(raw);
    if (holder) return { holder, raw };
    sleepSync(25);
  }
  return 'unreadable';
}

function parseHolder(raw: string): RunLockHolder | undefined {
  try {
    const json = JSON.parse(raw);
    if (!Number.isInteger(json?.pid) || typeof json.host !== 'string') return undefined;
    return {
      pid: json.pid,
      host: json.host,
      command: typeof json.command === 'string' ? json.command : '',
      startedAt: typeof json.startedAt === 'string' ? json.startedAt : '',
    };
  } catch {
    return undefined;
  }
}

function isStale(holder: RunLockHolder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0); // signal 0: only checks that the process exists
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return isZombie(holder.pid);
}

/** A killed process its parent has not reaped yet still answers signal 0 (Linux only). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * Moves a stale lock out of the way. It is renamed first and checked afterwards, so two
 * processes taking over the same stale lock cannot remove the fresh lock one of them took: the
 * one that renamed a fresh lock puts it back.
 */
function takeOverStale(path: string, staleText: string): boolean {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (readFileSync(aside, 'utf8') === staleText) {
    unlinkSync(aside);
    return true;
  }
  try {
    linkSync(aside, path);
  } catch {
    // Someone created a lock meanwhile; theirs stands.
  }
  unlinkSync(aside);
  return false;
}

function lockedError(
  directory: string,
  path: string,
  holder: RunLockHolder | undefined,
): RunLockedError {
  if (!holder) {
    return new RunLockedError(`run directory ${directory} is locked (${path})`, {
      source: SOURCE,
      details: { path, holder: undefined },
    });
  }
  const who =
    holder.host === hostname() && holder.pid === process.pid
      ? `this process (pid ${holder.pid} on ${holder.host}: another run in the same process)`
      : `pid ${holder.pid} on host ${holder.host}`;
  const remote =
    holder.host === hostname()
      ? ''
      : ` The lock was taken on another host, so whether that process still runs cannot be checked from here.`;
  return new RunLockedError(
    `run directory ${directory} is locked by ${who}, running ${JSON.stringify(holder.command)}, since ${holder.startedAt}.${remote} Wait for it to finish, or use another run directory; if that process is gone, remove ${path}`,
    { source: SOURCE, details: { path, holder } },
  );
}

function sleepSync(milliseconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, milliseconds);
}

// ---------------------------------------------------------------------------------------------
// Repair

/** What {@link repairRunDirectory} found and did. */
export interface RunRepairReport {
  /** The step of the checkpoint the run resumes from; `undefined` without a checkpoint. */
  readonly checkpointStep: number | undefined;
  /** True when `checkpoint/` was missing and the retired one of an interrupted swap came back. */
  readonly recoveredCheckpoint: boolean;
  /** Leftover checkpoint swap folders removed (absolute paths). */
  readonly removedFolders: readonly string[];
  /** Records after the checkpoint's step moved to `<file>.discarded`, per file. */
  readonly discarded: { readonly metrics: number; readonly rollouts: number };
  /** Files whose incomplete last line (a crash mid-write) moved to `<file>.discarded`. */
  readonly repairedTornLines: readonly string[];
}

/**
 * Brings a run directory back to a consistent state after a crash, before a run continues in
 * it; a no-op on a consistent directory. Call it while holding the directory's lock:
 *
 * 1. an interrupted checkpoint swap is undone (`recoverCheckpointSwap` of `@hicra/policy`): a
 *    missing `checkpoint/` comes back from the newest `.checkpoint.old-*`, leftovers go;
 * 2. an incomplete last line of `metrics.jsonl` and `rollouts.jsonl` moves to `.discarded`;
 * 3. records after the checkpoint's step move to `.discarded`, or every record when there is
 *    no checkpoint (the run restarts from step 0 and writes them again).
 *
 * A corrupt `checkpoint/trainer-state.json` is a `CorruptFileError` before any record moves.
 */
export async function repairRunDirectory(runDir: string): Promise<RunRepairReport> {
  const directory = resolve(runDir);
  const swap = await recoverCheckpointSwap(join(directory, RUN_FILES.checkpoint));
  const checkpointStep = readCheckpointStep(directory);
  // Steps start at 0 and a record's step is >= 0: keeping "through -1" keeps none.
  const keepThroughStep = checkpointStep ?? -1;
  const repairedTornLines: string[] = [];
  const discarded = { metrics: 0, rollouts: 0 };
  for (const file of ['metrics', 'rollouts'] as const) {
    const path = join(directory, RUN_FILES[file]);
    const result = repairJsonl(path, { keepThroughStep });
    discarded[file] = result.discarded;
    if (result.tornLine) repairedTornLines.push(path);
  }
  return {
    checkpointStep,
    recoveredCheckpoint: swap.recovered,
    removedFolders: swap.removed,
    discarded,
    repairedTornLines,
  };
}

/** The trainer state's JSON, checked; errors name the file. */
export function readTrainerStateJson(path: string): {
  schema: string;
  step: number;
  dataOrder: number[];
  dataPosition: number;
  generator: unknown;
  /** v1 only: Adam's step count (v2 keeps it in the engine's state). */
  optimizerStep?: number;
  /** v2 with an engine other than the local one: where it saved its state. */
  engineState?: string;
  /** ... and, with a KL term, where it saved the initial weights. */
  initialEngineState?: string;
} {
  let json: ReturnType<typeof readTrainerStateJson>;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CorruptFileError(
      `${path}: cannot read the trainer state (${(error as Error).message})`,
      { source: SOURCE, details: { path } },
    );
  }
  const schema = json?.schema;
  if (schema !== TRAINER_STATE_SCHEMA && schema !== TRAINER_STATE_SCHEMA_V1) {
    throw new CorruptFileError(
      `${path}: schema ${JSON.stringify(schema)} is not one this version reads (${TRAINER_STATE_SCHEMA}, or ${TRAINER_STATE_SCHEMA_V1} converted on resume)${typeof schema === 'string' && schema.startsWith('hicra.trainer-state.') ? '; it was written by another version of @hicra/trainer' : ''}`,
      { source: SOURCE, details: { path, schema: String(schema) } },
    );
  }
  const optionalString = (value: unknown) => value === undefined || typeof value === 'string';
  if (
    !Number.isInteger(json.step) ||
    !Array.isArray(json.dataOrder) ||
    (schema === TRAINER_STATE_SCHEMA_V1 && !Number.isInteger(json.optimizerStep)) ||
    !optionalString(json.engineState) ||
    !optionalString(json.initialEngineState)
  ) {
    throw new CorruptFileError(`${path}: not a valid ${schema} file`, {
      source: SOURCE,
      details: { path },
    });
  }
  return json;
}

/** The step of `checkpoint/`, or `undefined` when there is no trainer checkpoint. */
function readCheckpointStep(directory: string): number | undefined {
  const path = join(directory, RUN_FILES.checkpoint, RUN_FILES.trainerState);
  return existsSync(path) ? readTrainerStateJson(path).step : undefined;
}

// ---------------------------------------------------------------------------------------------
// Opening a run directory

export interface OpenRunOptions {
  /**
   * What identifies the run (strategy, seed, base checkpoint, config...), as JSON. A new run
   * writes it to `run.json`; a directory that already holds a run must have the same settings
   * in its `run.json`, or it is refused. Without settings nothing is checked or written.
   */
  readonly settings?: Readonly<Record<string, unknown>>;
  /**
   * Key paths that may differ from `run.json` when a run continues, e.g. `config.steps` to
   * extend it. A path covers the keys below it (`config` covers `config.steps`); array items
   * are `key[0]`. `run.json` keeps the saved values.
   */
  readonly ignore?: readonly string[];
  /** Written into the lock for others to see; default this process's command line. */
  readonly command?: string;
}

/** A run directory held by this process, checked and repaired. */
export interface OpenRun {
  /** Absolute path of the run directory. */
  readonly runDir: string;
  readonly lock: RunLock;
  /** True when the directory already held this run (its `run.json`, or a checkpoint). */
  readonly resumed: boolean;
  readonly repair: RunRepairReport;
  /** Releases the lock; calling it again does nothing. */
  close(): void;
}

/**
 * Opens a run directory for writing: takes its lock (`acquireRunLock`), checks the requested
 * `settings` against `run.json` (a `RunMismatchError` lists every differing key; nothing in
 * the directory changes), repairs it (`repairRunDirectory`), and writes `run.json` atomically
 * for a new run. Any error releases the lock before it is thrown. `close()` releases it.
 */
export async function openRunDirectory(
  runDir: string,
  options: OpenRunOptions = {},
): Promise<OpenRun> {
  const directory = resolve(runDir);
  const lock = acquireRunLock(directory, options.command ? { command: options.command } : {});
  try {
    const runJsonPath = join(directory, RUN_FILES.run);
    const saved = existsSync(runJsonPath) ? readRunJson(runJsonPath) : undefined;
    let requested: unknown;
    if (options.settings !== undefined) {
      requested = JSON.parse(JSON.stringify(options.settings));
      if (saved !== undefined) checkSettings(directory, saved, requested, options.ignore ?? []);
      else refuseUnlabelledRun(directory);
    }
    const repair = await repairRunDirectory(directory);
    if (requested !== undefined && saved === undefined)
      writeFileAtomicSync(runJsonPath, `${JSON.stringify(requested, null, 2)}\n`);
    return {
      runDir: directory,
      lock,
      resumed: saved !== undefined || repair.checkpointStep !== undefined,
      repair,
      close: () => lock.release(),
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

function readRunJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CorruptFileError(
      `${path}: cannot read the run's settings (${(error as Error).message})`,
      { source: SOURCE, details: { path } },
    );
  }
}

/** One key whose saved and requested values differ; `undefined` where the key is absent. */
interface SettingDifference {
  readonly key: string;
  readonly saved: unknown;
  readonly requested: unknown;
}

function checkSettings(
  directory: string,
  saved: unknown,
  requested: unknown,
  ignore: readonly string[],
): void {
  const found: SettingDifference[] = [];
  collectDifferences(saved, requested, '', found);
  const differences = found.filter(
    ({ key }) =>
      !ignore.some(
        (path) => key === path || key.startsWith(`${path}.`) || key.startsWith(`${path}[`),
      ),
  );
  if (differences.length === 0) return;
  const lines = differences.map(
    ({ key, saved, requested }) =>
      `  ${key}: saved ${formatSetting(saved)}, requested ${formatSetting(requested)}`,
  );
  throw new RunMismatchError(
    `run directory ${directory} holds another run: its ${RUN_FILES.run} differs from the requested settings in ${differences.length} ${differences.length === 1 ? 'key' : 'keys'}:\n${lines.join('\n')}\nContinue that run with its saved settings, or start this one in a new directory.`,
    { source: SOURCE, details: { runDir: directory, differences } },
  );
}

function collectDifferences(
  saved: unknown,
  requested: unknown,
  key: string,
  out: SettingDifference[],
): void {
  if (isPlainObject(saved) && isPlainObject(requested)) {
    const keys = [...Object.keys(saved)];
    for (const name of Object.keys(requested)) if (!(name in saved)) keys.push(name);
    for (const name of keys)
      collectDifferences(saved[name], requested[name], key ? `${key}.${name}` : name, out);
    return;
  }
  if (Array.isArray(saved) && Array.isArray(requested) && saved.length === requested.length) {
    saved.forEach((item, i) => {
      collectDifferences(item, requested[i], `${key}[${i}]`, out);
    });
    return;
  }
  if (JSON.stringify(saved) !== JSON.stringify(requested))
    out.push({ key: key || '(root)', saved, requested });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A saved or requested setting as the refusal prints it: its JSON, cut at 120 characters. */
function formatSetting(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** A directory with run files but no run.json cannot be checked: refuse it. */
function refuseUnlabelledRun(directory: string): void {
  const files: string[] = [];
  for (const name of [RUN_FILES.metrics, RUN_FILES.rollouts]) {
    const path = join(directory, name);
    if (existsSync(path) && statSync(path).size > 0) files.push(name);
  }
  if (existsSync(join(directory, RUN_FILES.checkpoint))) files.push(`${RUN_FILES.checkpoint}/`);
  for (const name of readdirSync(directory))
    if (name.startsWith(`.${RUN_FILES.checkpoint}.old-`)) files.push(name);
  if (files.length === 0) return;
  throw new RunMismatchError(
    `run directory ${directory} holds run files (${files.join(', ')}) but no ${RUN_FILES.run}, so whether they belong to the requested run cannot be checked; start this run in a new directory, or restore that run's ${RUN_FILES.run} to continue it`,
    { source: SOURCE, details: { runDir: directory, differences: [], files } },
  );
}

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CorruptFileError, type MetricRecordV1, type MetricSinkV1 } from '@hicra/spec';

const SOURCE = '@hicra/trainer';

/**
 * Appends JSON Lines records to a file: one `JSON.stringify` per line, written as it comes
 * (a crash loses at most the line being written, and {@link repairJsonl} removes that torn line
 * before the file is appended to again), fsynced on `flush` and `close`. Non-finite
 * numbers are dropped from a record rather than written as `null` (JSON has no NaN).
 */
export class JsonlSink implements MetricSinkV1 {
  readonly path: string;
  #fd: number | undefined;

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, 'a');
  }

  write(record: MetricRecordV1 | object): void {
    if (this.#fd === undefined)
      throw new CorruptFileError(`${this.path}: write after close`, { source: SOURCE });
    const clean = Object.fromEntries(
      Object.entries(record).filter(
        ([, value]) => typeof value !== 'number' || Number.isFinite(value),
      ),
    );
    writeSync(this.#fd, `${JSON.stringify(clean)}\n`);
  }

  flush(): void {
    if (this.#fd !== undefined) fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd === undefined) return;
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** Reads a JSON Lines file; a malformed line is an error naming its line number. */
export function readJsonl<T = unknown>(path: string): T[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as T);
    } catch (error) {
      // A torn last line (the process died mid-write) is tolerated; anything else is corruption.
      if (i === lines.length - 1 || (i === lines.length - 2 && lines[lines.length - 1] === ''))
        return;
      throw new CorruptFileError(
        `${path} line ${i + 1}: not valid JSON (${(error as Error).message})`,
        {
          source: SOURCE,
          details: { path, line: i + 1 },
        },
      );
    }
  });
  return out;
}

/** What {@link repairJsonl} changed in a file. */
export interface JsonlRepair {
  /** Records moved to `<path>.discarded` because their step is after the kept step. */
  readonly discarded: number;
  /** True when an incomplete last line (a crash mid-write) was moved to `<path>.discarded`. */
  readonly tornLine: boolean;
}

/**
 * Prepares a JSON Lines file before records are appended to it again (a resumed run):
 *
 * - an incomplete last line (no final newline and not valid JSON: the process died mid-write)
 *   is removed, so the next record starts on a line of its own; it is kept in
 *   `<path>.discarded` as `{"tornLine": "<the fragment>"}`. A last line that is complete JSON
 *   but lost its newline is kept;
 * - with `keepThroughStep`, records whose `step` is after it (a record without `step` counts as
 *   step 0) move to `<path>.discarded`, in order and byte for byte: `-1` moves every record.
 *
 * Nothing is deleted. The `.discarded` file is appended to and flushed first, then the file is
 * rewritten atomically (temporary file, fsync, rename), so a crash at any point leaves every
 * record in one of the two files (at worst in both). A malformed line elsewhere is a
 * `CorruptFileError` naming the line, and the file is left as it was.
 */
export function repairJsonl(path: string, options: { keepThroughStep?: number } = {}): JsonlRepair {
  if (!existsSync(path)) return { discarded: 0, tornLine: false };
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  // The piece after the last newline: '' for a file that ends with one.
  let tail = lines.pop() ?? '';
  let rewrite = false;
  if (tail.trim() !== '' && parsesAsRecord(tail)) {
    lines.push(tail);
    tail = '';
    rewrite = true;
  }
  const tornLine = tail.trim() !== '';
  const keep: string[] = [];
  const drop: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let record: { step?: unknown };
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new CorruptFileError(
        `${path} line ${i + 1}: not valid JSON (${(error as Error).message}); only an incomplete last line is repaired, so move this line aside by hand`,
        { source: SOURCE, details: { path, line: i + 1 } },
      );
    }
    const step = typeof record?.step === 'number' ? record.step : 0;
    if (options.keepThroughStep !== undefined && step > options.keepThroughStep) drop.push(line);
    else keep.push(line);
  });
  if (drop.length === 0 && !tornLine && !rewrite) return { discarded: 0, tornLine: false };
  const aside = [...drop, ...(tornLine ? [JSON.stringify({ tornLine: tail })] : [])];
  if (aside.length > 0) appendLinesDurably(`${path}.discarded`, aside);
  writeFileAtomicSync(path, keep.map((line) => `${line}\n`).join(''));
  return { discarded: drop.length, tornLine };
}

/**
 * Moves records after `step` to `<path>.discarded` (see {@link repairJsonl}, which also repairs
 * an incomplete last line); returns how many moved.
 */
export function truncateJsonlAfterStep(path: string, step: number): number {
  return repairJsonl(path, { keepThroughStep: step }).discarded;
}

function parsesAsRecord(line: string): boolean {
  try {
    const value = JSON.parse(line);
    return typeof value === 'object' && value !== null;
  } catch {
    return false;
  }
}

/** Appends lines and fsyncs, starting on a new line if the file ends inside one. */
function appendLinesDurably(path: string, lines: readonly string[]): void {
  const fd = openSync(path, 'a+');
  try {
    const { size } = fstatSync(fd);
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    writeSync(fd, `${prefix}${lines.map((line) => `${line}\n`).join('')}`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `path` with `content` atomically: a temporary file beside it, flushed, renamed over
 * it, and the directory flushed where the platform allows it. A reader sees the old content or
 * the new, never a mix.
 */
export function writeFileAtomicSync(path: string, content: string): void {
  const directory = dirname(path);
  const temporary = join(
    directory,
    `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  const fd = openSync(temporary, 'wx');
  try {
    writeSync(fd, content);
    fsyncSync(fd);
    closeSync(fd);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(temporary, { force: true });
    throw error;
  }
  try {
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  try {
    const handle = openSync(directory, 'r');
    try {
      fsyncSync(handle);
    } finally {
      closeSync(handle);
    }
  } catch {
    // Some platforms cannot open or flush a directory; the rename itself is still atomic.
  }
}

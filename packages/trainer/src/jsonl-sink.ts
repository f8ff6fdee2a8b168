import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { CorruptFileError, type MetricRecordV1, type MetricSinkV1 } from '@hicra/spec';

const SOURCE = '@hicra/trainer';

/**
 * Appends JSON Lines records to a file: one `JSON.stringify` per line, written as it comes
 * (a crash loses at most the line being written), fsynced on `flush` and `close`. Non-finite
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

/**
 * Prepares a metrics file for a resumed run: records after `step` (written after the
 * checkpoint the run resumes from) move to `<path>.discarded`, so the resumed run's records
 * replace them without duplicates, and nothing is deleted.
 */
export function truncateJsonlAfterStep(path: string, step: number): number {
  if (!existsSync(path)) return 0;
  const records = readJsonl<{ step?: number }>(path);
  const keep = records.filter((r) => (r.step ?? 0) <= step);
  const drop = records.filter((r) => (r.step ?? 0) > step);
  if (drop.length === 0) return 0;
  writeFileSync(`${path}.discarded`, `${drop.map((r) => JSON.stringify(r)).join('\n')}\n`, {
    flag: 'a',
  });
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, keep.map((r) => `${JSON.stringify(r)}\n`).join(''));
  renameSync(temporary, path);
  return drop.length;
}

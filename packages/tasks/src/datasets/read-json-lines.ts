import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CorruptFileError, InvalidArgumentError } from '@hicra/spec';
import { describe, readChoice, readNumber, readSettings, SOURCE } from '../settings.js';

/**
 * Where JSON Lines come from: a file path or `file:` URL (streamed from disk), or any
 * iterable or async iterable of text or byte chunks (a Node stream, a web `ReadableStream`, a
 * fetch body, an array of strings). Chunks need not align with lines.
 */
export type JsonLinesSource =
  | string
  | URL
  | AsyncIterable<string | Uint8Array>
  | Iterable<string | Uint8Array>;

export interface JsonLinesOptions {
  /** A bad line is skipped and recorded in the report (`skip`, default) or ends reading with a `CorruptFileError` (`throw`). */
  readonly onBadLine?: 'skip' | 'throw';
  /** Longest line accepted, in characters; longer lines are bad (and never held in memory whole). Default 16 MiB. */
  readonly maxLineLength?: number;
  /** How the source is named in messages (default: the path, or `input`). */
  readonly sourceName?: string;
}

/** A line that could not be used. */
export interface BadLine {
  /** 1-based line number. */
  readonly line: number;
  readonly reason: string;
  /** The start of the line (up to 200 characters). */
  readonly excerpt: string;
}

/** What reading found, filled in as the iteration proceeds. */
export interface JsonLinesReport {
  /** Lines read so far, blank and bad ones included. */
  lines: number;
  /** Records yielded. */
  records: number;
  /** Blank lines (skipped silently: a trailing newline is normal). */
  blank: number;
  /** Bad lines, in order (only with `onBadLine: 'skip'`; `throw` stops at the first). */
  readonly badLines: BadLine[];
}

/** One record with the line it came from. */
export interface JsonLinesRecord<T> {
  readonly line: number;
  readonly value: T;
}

/** An async iterable of records whose `report` fills in as it is read. Iterate it once. */
export interface JsonLinesReader<T> extends AsyncIterable<JsonLinesRecord<T>> {
  readonly report: JsonLinesReport;
}

/** Converts a parsed line into a record, or returns the reason it is bad. */
export type LineConverter<T> = (
  value: unknown,
  line: number,
) => { ok: true; value: T } | { ok: false; reason: string };

const DEFAULT_MAX_LINE = 16 * 1024 * 1024;

async function* lines(
  source: JsonLinesSource,
  maxLineLength: number,
): AsyncGenerator<{ text: string; tooLong: boolean }> {
  const chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array> =
    typeof source === 'string' || source instanceof URL
      ? createReadStream(typeof source === 'string' ? source : fileURLToPath(source))
      : source;
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let overflow = false;
  let first = true;
  for await (const chunk of chunks) {
    let text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline < 0) break;
      const piece = text.slice(start, newline);
      if (overflow || buffer.length + piece.length > maxLineLength) {
        yield { text: (buffer + piece).slice(0, 200), tooLong: true };
      } else {
        yield { text: buffer + piece, tooLong: false };
      }
      buffer = '';
      overflow = false;
      start = newline + 1;
    }
    const rest = text.slice(start);
    if (overflow) continue;
    if (buffer.length + rest.length > maxLineLength) {
      buffer = (buffer + rest).slice(0, 200);
      overflow = true;
    } else {
      buffer += rest;
    }
  }
  buffer += decoder.decode();
  if (overflow) yield { text: buffer.slice(0, 200), tooLong: true };
  else if (buffer.length > 0) yield { text: buffer, tooLong: false };
}

/**
 * Reads JSON Lines as a stream with a converter that validates each record. Lines are
 * numbered from 1; `\r\n` endings and a byte-order mark are accepted; blank lines are counted
 * and skipped. A line that is not JSON, too long, or rejected by `convert` is bad: recorded in
 * `report.badLines` with its number and reason (`skip`), or fatal (`throw`: a
 * `CorruptFileError` naming the source, the line and the reason). A missing file is a
 * `CorruptFileError` too.
 */
export function readRecords<T>(
  source: JsonLinesSource,
  convert: LineConverter<T>,
  options: JsonLinesOptions = {},
  where = 'readJsonLines',
  extraOptionKeys: readonly string[] = [],
): JsonLinesReader<T> {
  if (
    typeof source !== 'string' &&
    !(source instanceof URL) &&
    typeof (source as AsyncIterable<unknown>)?.[Symbol.asyncIterator] !== 'function' &&
    typeof (source as Iterable<unknown>)?.[Symbol.iterator] !== 'function'
  ) {
    throw new InvalidArgumentError(
      `${where}: source must be a path, a URL or an (async) iterable of text or bytes, got ${describe(source)}`,
      { source: SOURCE, details: { argument: 'source' } },
    );
  }
  const raw = readSettings(options, `${where}: options`, [
    'onBadLine',
    'maxLineLength',
    'sourceName',
    ...extraOptionKeys,
  ]);
  const onBadLine = readChoice(
    raw.onBadLine,
    `${where}: options.onBadLine`,
    ['skip', 'throw'],
    'skip',
  );
  const maxLineLength = readNumber(
    raw.maxLineLength,
    `${where}: options.maxLineLength`,
    DEFAULT_MAX_LINE,
    {
      integer: true,
      min: 1,
    },
  );
  const name =
    raw.sourceName ??
    (typeof source === 'string' ? source : source instanceof URL ? source.href : 'input');
  const report: JsonLinesReport = { lines: 0, records: 0, blank: 0, badLines: [] };

  async function* iterate(): AsyncGenerator<JsonLinesRecord<T>> {
    let lineNumber = 0;
    try {
      for await (const { text, tooLong } of lines(source, maxLineLength)) {
        lineNumber++;
        report.lines = lineNumber;
        const line = text.endsWith('\r') ? text.slice(0, -1) : text;
        let reason: string | undefined;
        let value: T | undefined;
        if (tooLong) {
          reason = `line longer than ${maxLineLength} characters`;
        } else if (line.trim() === '') {
          report.blank++;
          continue;
        } else {
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch (error) {
            reason = `not valid JSON (${(error as Error).message})`;
          }
          if (reason === undefined) {
            const converted = convert(parsed, lineNumber);
            if (converted.ok) value = converted.value;
            else reason = converted.reason;
          }
        }
        if (reason !== undefined) {
          const bad: BadLine = { line: lineNumber, reason, excerpt: line.slice(0, 200) };
          if (onBadLine === 'throw') {
            throw new CorruptFileError(`${name}: line ${lineNumber}: ${reason}`, {
              source: SOURCE,
              details: { file: name, line: lineNumber, reason },
            });
          }
          report.badLines.push(bad);
          continue;
        }
        report.records++;
        yield { line: lineNumber, value: value as T };
      }
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
        throw new CorruptFileError(`${name}: cannot read the file (${code})`, {
          source: SOURCE,
          details: { file: name, code },
          cause: error,
        });
      }
      throw error;
    }
  }

  return { report, [Symbol.asyncIterator]: iterate };
}

/** Reads JSON Lines as a stream of parsed values (any JSON value is a record). */
export function readJsonLines(
  source: JsonLinesSource,
  options?: JsonLinesOptions,
): JsonLinesReader<unknown> {
  return readRecords(source, (value) => ({ ok: true, value }), options, 'readJsonLines');
}

/** One JSON value per line, each line ending with `\n`. */
export function toJsonLines(records: Iterable<unknown>): string {
  let out = '';
  for (const record of records) out += `${JSON.stringify(record)}\n`;
  return out;
}

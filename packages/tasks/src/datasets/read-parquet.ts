import { type FileHandle, open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CorruptFileError, InvalidArgumentError } from '@hicra/spec';
import {
  type AsyncBuffer,
  type FileMetaData,
  parquetMetadataAsync,
  parquetReadObjects,
  parquetSchema,
  type SchemaTree,
} from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { describe, readSettings, SOURCE } from '../settings.js';

/** A Parquet file on disk: a path or a `file:` URL. */
export type ParquetSource = string | URL;

export interface ParquetReadOptions {
  /** Top-level columns to read (default all); a column not in the file is an error. */
  readonly columns?: readonly string[];
  /** How the file is named in messages (default: the path). */
  readonly sourceName?: string;
}

/** One row group of a Parquet file, decoded. */
export interface ParquetRowGroup {
  /** 0-based row-group index. */
  readonly index: number;
  /** 0-based index, in the file, of the group's first row. */
  readonly firstRow: number;
  /**
   * Rows as objects keyed by top-level column: strings, numbers, booleans, `bigint` for
   * INT64, `Uint8Array` for binary, objects for structs, arrays for lists, `null` for nulls.
   */
  readonly rows: readonly Record<string, unknown>[];
}

/** A top-level column of a Parquet file and its type, in words (`list<struct<role: string>>`). */
export interface ParquetColumnInfo {
  readonly name: string;
  readonly type: string;
}

/** What the footer says about a file. */
export interface ParquetFileInfo {
  readonly rows: number;
  /** Rows of each row group. */
  readonly rowGroups: readonly number[];
  readonly columns: readonly ParquetColumnInfo[];
  /** The writer named in the footer (`created_by`). */
  readonly createdBy?: string;
}

const MAGIC = 0x31524150; // "PAR1", little-endian

function nameOf(source: ParquetSource, sourceName: string | undefined): string {
  return sourceName ?? (typeof source === 'string' ? source : source.href);
}

function corrupt(message: string, details: Record<string, unknown>, cause?: unknown): never {
  throw new CorruptFileError(message, {
    source: SOURCE,
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** An open Parquet file: its metadata and positional reads through one file handle. */
export interface OpenParquetFile {
  readonly name: string;
  readonly metadata: FileMetaData;
  readonly schema: SchemaTree;
  readonly buffer: AsyncBuffer;
  close(): Promise<void>;
}

/**
 * Opens a Parquet file and reads its footer, checking the magic bytes first so that a text
 * file, a truncated file and a damaged footer each get their own message naming the file.
 */
export async function openParquetFile(
  source: ParquetSource,
  sourceName?: string,
): Promise<OpenParquetFile> {
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new InvalidArgumentError(
      `readParquet: source must be a path or a file: URL, got ${describe(source)}`,
      { source: SOURCE, details: { argument: 'source' } },
    );
  }
  const name = nameOf(source, sourceName);
  const path = typeof source === 'string' ? source : fileURLToPath(source);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return corrupt(`${name}: cannot read the file (${String(code)})`, { file: name, code }, error);
  }
  try {
    const { size } = await handle.stat();
    const buffer: AsyncBuffer = {
      byteLength: size,
      async slice(start: number, end?: number) {
        const stop = Math.min(end ?? size, size);
        const bytes = new Uint8Array(Math.max(0, stop - start));
        let done = 0;
        while (done < bytes.length) {
          const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return bytes.buffer;
      },
    };
    if (size < 12) {
      corrupt(
        `${name}: not a Parquet file (${size} bytes; a Parquet file has at least 12: "PAR1", a footer, its length and "PAR1")`,
        { file: name, size },
      );
    }
    const head = new DataView(await buffer.slice(0, 4));
    const tail = new DataView(await buffer.slice(size - 8, size));
    if (head.getUint32(0, true) !== MAGIC) {
      corrupt(`${name}: not a Parquet file (it does not start with "PAR1")`, { file: name, size });
    }
    if (tail.getUint32(4, true) !== MAGIC) {
      corrupt(
        `${name}: truncated or damaged Parquet file: the footer is missing (no "PAR1" at the end of its ${size} bytes)`,
        { file: name, size, part: 'footer' },
      );
    }
    const footerLength = tail.getUint32(0, true);
    if (footerLength > size - 12) {
      corrupt(
        `${name}: damaged Parquet footer: it claims ${footerLength} bytes but the file has ${size} (truncated?)`,
        { file: name, size, footerLength, part: 'footer' },
      );
    }
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(buffer);
    } catch (error) {
      return corrupt(
        `${name}: damaged Parquet footer (${(error as Error).message})`,
        { file: name, part: 'footer' },
        error,
      );
    }
    let schema: SchemaTree;
    try {
      schema = parquetSchema(metadata);
    } catch (error) {
      return corrupt(
        `${name}: damaged Parquet schema (${(error as Error).message})`,
        { file: name, part: 'schema' },
        error,
      );
    }
    return { name, metadata, schema, buffer, close: () => handle.close() };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The type of a schema node in words: `string`, `int64`, `list<...>`, `struct<a: ..., b: ...>`. */
export function describeParquetType(node: SchemaTree): string {
  const { element } = node;
  const logical = element.logical_type?.type;
  const converted = element.converted_type;
  if (node.children.length === 0) {
    const type = element.type ?? 'unknown';
    if (type === 'BYTE_ARRAY' && (logical === 'STRING' || converted === 'UTF8')) return 'string';
    if (type === 'BYTE_ARRAY' && (logical === 'JSON' || converted === 'JSON')) return 'json';
    if (type === 'BYTE_ARRAY') return 'binary';
    if (type === 'INT32' && (converted === 'INT_8' || converted === 'UINT_8')) {
      return converted === 'INT_8' ? 'int8' : 'uint8';
    }
    return type.toLowerCase();
  }
  if (logical === 'LIST' || converted === 'LIST') {
    // Three-level lists (`list` > `element`), and the older two-level form.
    const repeated = node.children[0]!;
    const item =
      repeated.children.length === 1 && repeated.element.repetition_type === 'REPEATED'
        ? repeated.children[0]!
        : repeated;
    return `list<${describeParquetType(item)}>`;
  }
  if (logical === 'MAP' || converted === 'MAP' || converted === 'MAP_KEY_VALUE') {
    const pair = node.children[0]!;
    return `map<${pair.children.map(describeParquetType).join(', ')}>`;
  }
  return `struct<${node.children.map((c) => `${c.element.name}: ${describeParquetType(c)}`).join(', ')}>`;
}

function info(file: OpenParquetFile): ParquetFileInfo {
  return {
    rows: Number(file.metadata.num_rows),
    rowGroups: file.metadata.row_groups.map((g) => Number(g.num_rows)),
    columns: file.schema.children.map((c) => ({
      name: c.element.name,
      type: describeParquetType(c),
    })),
    ...(file.metadata.created_by === undefined ? {} : { createdBy: file.metadata.created_by }),
  };
}

/** Reads a Parquet file's footer: row counts, row groups, and the top-level columns with their types. */
export async function readParquetInfo(
  source: ParquetSource,
  options: Pick<ParquetReadOptions, 'sourceName'> = {},
): Promise<ParquetFileInfo> {
  const file = await openParquetFile(source, options.sourceName);
  try {
    return info(file);
  } finally {
    await file.close();
  }
}

/**
 * Decodes rows `[firstRow, firstRow + count)` (one row group) and, when that fails, finds the
 * column at fault by decoding the columns one at a time, so the error names it.
 */
async function decodeGroup(
  file: OpenParquetFile,
  columns: string[],
  group: number,
  firstRow: number,
  count: number,
): Promise<Record<string, unknown>[]> {
  const read = (cols: string[]) =>
    parquetReadObjects({
      file: file.buffer,
      metadata: file.metadata,
      columns: cols,
      rowStart: firstRow,
      rowEnd: firstRow + count,
      compressors,
    });
  try {
    return (await read(columns)) as Record<string, unknown>[];
  } catch (error) {
    for (const column of columns) {
      try {
        await read([column]);
      } catch (columnError) {
        corrupt(
          `${file.name}: row group ${group}, column "${column}": cannot decode (${(columnError as Error).message})`,
          { file: file.name, rowGroup: group, column },
          columnError,
        );
      }
    }
    return corrupt(
      `${file.name}: row group ${group}: cannot decode (${(error as Error).message})`,
      { file: file.name, rowGroup: group },
      error,
    );
  }
}

/**
 * Streams a Parquet file one row group at a time: only the footer and the current row group's
 * column chunks are read from disk and held in memory, so memory is bounded by the largest row
 * group, not the file. Codecs: uncompressed, snappy, gzip, zstd, brotli, lz4. Errors are
 * `CorruptFileError`s naming the file and, where it applies, the row group and the column: a
 * file that is not Parquet, a truncated file or damaged footer, a column that does not decode.
 *
 * ```ts
 * for await (const group of readParquetRowGroups('train.parquet', { columns: ['prompt'] }))
 *   console.log(group.index, group.rows.length);
 * ```
 */
export async function* readParquetRowGroups(
  source: ParquetSource,
  options: ParquetReadOptions = {},
): AsyncGenerator<ParquetRowGroup> {
  const raw = readSettings(options, 'readParquetRowGroups: options', ['columns', 'sourceName']);
  const file = await openParquetFile(source, raw.sourceName);
  try {
    const names = file.schema.children.map((c) => c.element.name);
    let columns = names;
    if (raw.columns !== undefined) {
      if (!Array.isArray(raw.columns) || raw.columns.some((c) => typeof c !== 'string')) {
        throw new InvalidArgumentError(
          `readParquetRowGroups: options.columns must be an array of column names, got ${describe(raw.columns)}`,
          { source: SOURCE, details: { argument: 'options.columns' } },
        );
      }
      for (const column of raw.columns) {
        if (!names.includes(column)) {
          corrupt(
            `${file.name}: column "${column}" is missing; the file has ${names.map((n) => `"${n}"`).join(', ')}`,
            { file: file.name, column, columns: names },
          );
        }
      }
      columns = [...raw.columns];
    }
    let firstRow = 0;
    for (let index = 0; index < file.metadata.row_groups.length; index++) {
      const count = Number(file.metadata.row_groups[index]!.num_rows);
      const rows = count === 0 ? [] : await decodeGroup(file, columns, index, firstRow, count);
      yield { index, firstRow, rows };
      firstRow += count;
    }
  } finally {
    await file.close();
  }
}

/** One row with its position in the file. */
export interface ParquetRow {
  /** 0-based row index in the file. */
  readonly row: number;
  /** 0-based row-group index. */
  readonly rowGroup: number;
  readonly value: Record<string, unknown>;
}

/** Streams a Parquet file row by row (one row group in memory at a time); see {@link readParquetRowGroups}. */
export async function* readParquetRows(
  source: ParquetSource,
  options?: ParquetReadOptions,
): AsyncGenerator<ParquetRow> {
  for await (const group of readParquetRowGroups(source, options)) {
    for (let i = 0; i < group.rows.length; i++) {
      yield { row: group.firstRow + i, rowGroup: group.index, value: group.rows[i]! };
    }
  }
}

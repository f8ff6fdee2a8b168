/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors),
 * written from its specification:
 *
 * ```
 * [8 bytes]  N, unsigned little-endian 64-bit: the length of the header
 * [N bytes]  the header: UTF-8 JSON, starting with `{`, padded at the end with spaces
 *            { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
 *              ..., "__metadata__": { "<key>": "<string>" } }   (metadata optional)
 * [rest]     the byte buffer: every tensor's elements, row-major, little-endian;
 *            offsets are relative to the start of the byte buffer
 * ```
 *
 * The tensors tile the byte buffer exactly: no gaps, no overlaps, nothing after the last one.
 * A tensor with a zero in its shape has `begin === end`.
 *
 * Writing lays the tensors out by element size (largest first), then by name, and pads the
 * header with spaces to a multiple of 8 bytes, so every tensor starts at a multiple of its
 * element size and reading can return views instead of copies. The same content always
 * gives the same bytes.
 */
import { readFile } from 'node:fs/promises';
import { CorruptFileError, InvalidArgumentError, ShapeError } from '@hicra/spec';
import { writeAtomic } from './atomic-write.js';

const SOURCE = '@hicra/policy';
const METADATA_KEY = '__metadata__';
/** The reference implementation refuses larger headers; so does this one. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/** Element types read and written. `F16` and `BF16` are carried as raw bits in a `Uint16Array`. */
export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'U64'
  | 'I32'
  | 'U32'
  | 'I16'
  | 'U16'
  | 'I8'
  | 'U8'
  | 'BOOL';

/** The typed array that holds each dtype's elements. */
export type SafetensorsData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

interface DtypeInfo {
  readonly bytes: number;
  /** `Symbol.toStringTag` of the typed array (works across realms). */
  readonly array: string;
  readonly create: (buffer: ArrayBuffer, byteOffset: number, length: number) => SafetensorsData;
}

const DTYPES: Readonly<Record<SafetensorsDtype, DtypeInfo>> = {
  F64: { bytes: 8, array: 'Float64Array', create: (b, o, n) => new Float64Array(b, o, n) },
  F32: { bytes: 4, array: 'Float32Array', create: (b, o, n) => new Float32Array(b, o, n) },
  F16: { bytes: 2, array: 'Uint16Array', create: (b, o, n) => new Uint16Array(b, o, n) },
  BF16: { bytes: 2, array: 'Uint16Array', create: (b, o, n) => new Uint16Array(b, o, n) },
  I64: { bytes: 8, array: 'BigInt64Array', create: (b, o, n) => new BigInt64Array(b, o, n) },
  U64: { bytes: 8, array: 'BigUint64Array', create: (b, o, n) => new BigUint64Array(b, o, n) },
  I32: { bytes: 4, array: 'Int32Array', create: (b, o, n) => new Int32Array(b, o, n) },
  U32: { bytes: 4, array: 'Uint32Array', create: (b, o, n) => new Uint32Array(b, o, n) },
  I16: { bytes: 2, array: 'Int16Array', create: (b, o, n) => new Int16Array(b, o, n) },
  U16: { bytes: 2, array: 'Uint16Array', create: (b, o, n) => new Uint16Array(b, o, n) },
  I8: { bytes: 1, array: 'Int8Array', create: (b, o, n) => new Int8Array(b, o, n) },
  U8: { bytes: 1, array: 'Uint8Array', create: (b, o, n) => new Uint8Array(b, o, n) },
  BOOL: { bytes: 1, array: 'Uint8Array', create: (b, o, n) => new Uint8Array(b, o, n) },
};

/** Every dtype this module reads and writes. */
export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = Object.freeze(
  Object.keys(DTYPES) as SafetensorsDtype[],
);

/** The dtype a typed array is written as when an entry names none. */
const DEFAULT_DTYPE: Readonly<Record<string, SafetensorsDtype>> = {
  Float64Array: 'F64',
  Float32Array: 'F32',
  BigInt64Array: 'I64',
  BigUint64Array: 'U64',
  Int32Array: 'I32',
  Uint32Array: 'U32',
  Int16Array: 'I16',
  Uint16Array: 'U16',
  Int8Array: 'I8',
  Uint8Array: 'U8',
};

/** A tensor read from a file. */
export interface SafetensorsTensor {
  readonly dtype: SafetensorsDtype;
  /** Dimensions, outermost first; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** The elements, row-major. */
  readonly data: SafetensorsData;
}

/** A tensor to write. */
export interface SafetensorsTensorInput {
  /** Default: from the array (`Float32Array` -> `F32`, ...); required when `data` is a function. */
  readonly dtype?: SafetensorsDtype;
  readonly shape: readonly number[];
  /**
   * The elements, row-major, in the typed array of the dtype; or a function returning them,
   * called once while writing, so that a large checkpoint need not be held in memory at once.
   */
  readonly data: SafetensorsData | (() => SafetensorsData);
}

/** Tensors by name, as a `Map` or a plain object. */
export type SafetensorsEntries =
  | ReadonlyMap<string, SafetensorsTensorInput>
  | Readonly<Record<string, SafetensorsTensorInput>>;

/** The content of a safetensors file. */
export interface SafetensorsContent {
  /** Tensors by name, in the order of their bytes in the file. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
  /** The `__metadata__` string map (empty when the file has none). */
  readonly metadata: Readonly<Record<string, string>>;
}

interface PlannedTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly elements: number;
  readonly begin: number;
  readonly end: number;
  readonly data: SafetensorsData | (() => SafetensorsData);
}

interface Plan {
  /** The 8-byte length followed by the padded header. */
  readonly head: Uint8Array;
  readonly tensors: readonly PlannedTensor[];
  readonly dataBytes: number;
}

function checkLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
    throw new InvalidArgumentError(
      'safetensors: this platform is big-endian; safetensors data is little-endian and byte swapping is not implemented',
      { source: SOURCE },
    );
}

const tagOf = (value: unknown): string | undefined =>
  ArrayBuffer.isView(value)
    ? (value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag]
    : undefined;

const isDtype = (value: unknown): value is SafetensorsDtype =>
  typeof value === 'string' && Object.hasOwn(DTYPES, value);

function invalid(message: string, details: Record<string, unknown>): InvalidArgumentError {
  return new InvalidArgumentError(`safetensors: ${message}`, { source: SOURCE, details });
}

/** Element count of a shape, or a description of what is wrong with it. */
function elementCount(shape: unknown): number | string {
  if (!Array.isArray(shape)) return 'must be an array of non-negative integers';
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const size = shape[i] as unknown;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      return `[${i}] = ${JSON.stringify(size)} is not a non-negative integer`;
    count *= size;
    if (!Number.isSafeInteger(count)) return 'has more elements than 2^53 - 1';
  }
  return count;
}

function entriesOf(entries: SafetensorsEntries): [string, SafetensorsTensorInput][] {
  if (entries instanceof Map) return [...entries];
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries))
    throw invalid('entries must be a Map or an object of tensors by name', { argument: 'entries' });
  return Object.entries(entries);
}

function checkMetadata(metadata: unknown): Record<string, string> {
  if (metadata === undefined) return {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
    throw invalid('metadata must be an object of strings', { argument: 'metadata' });
  for (const [key, value] of Object.entries(metadata))
    if (typeof value !== 'string')
      throw invalid(`metadata.${key} must be a string, got ${typeof value}`, {
        argument: `metadata.${key}`,
        actual: typeof value,
      });
  return metadata as Record<string, string>;
}

/**
 * Validates entries and metadata as writing them would, without calling data functions, and
 * returns every entry (in the given order) with its byte length. Internal: shards a model.
 */
export function sizeSafetensorsEntries(
  entries: SafetensorsEntries,
  metadata?: Readonly<Record<string, string>>,
): { readonly name: string; readonly entry: SafetensorsTensorInput; readonly bytes: number }[] {
  const sizes = new Map(plan(entries, metadata).tensors.map((t) => [t.name, t.end - t.begin]));
  return entriesOf(entries).map(([name, entry]) => ({
    name,
    entry,
    bytes: sizes.get(name) as number,
  }));
}

/** Validates the entries and lays out the file, without reading lazy data. */
function plan(entries: SafetensorsEntries, metadata: unknown): Plan {
  checkLittleEndian();
  const meta = checkMetadata(metadata);
  const sized: Omit<PlannedTensor, 'begin' | 'end'>[] = [];
  for (const [name, entry] of entriesOf(entries)) {
    const where = `tensor ${JSON.stringify(name)}`;
    if (name.length === 0 || name === METADATA_KEY)
      throw invalid(`${where}: a tensor cannot be named ${JSON.stringify(name)}`, {
        argument: 'entries',
        tensor: name,
      });
    if (typeof entry !== 'object' || entry === null)
      throw invalid(`${where} must be an object { dtype?, shape, data }`, { tensor: name });
    const { data, shape } = entry;
    const lazy = typeof data === 'function';
    if (entry.dtype !== undefined && !isDtype(entry.dtype))
      throw invalid(
        `${where}: unknown dtype ${JSON.stringify(entry.dtype)}; known: ${SAFETENSORS_DTYPES.join(', ')}`,
        { tensor: name, dtype: String(entry.dtype) },
      );
    let dtype = entry.dtype;
    if (dtype === undefined) {
      if (lazy)
        throw invalid(`${where}: dtype is required when data is a function`, { tensor: name });
      dtype = DEFAULT_DTYPE[tagOf(data) ?? ''];
      if (dtype === undefined)
        throw invalid(`${where}: data must be a typed array, got ${tagOf(data) ?? typeof data}`, {
          tensor: name,
        });
    }
    const elements = elementCount(shape);
    if (typeof elements === 'string')
      throw new ShapeError(`safetensors: ${where}: shape ${elements}`, {
        source: SOURCE,
        details: { tensor: name, shape: Array.isArray(shape) ? [...shape] : String(shape) },
      });
    if (!lazy) checkData(name, dtype, shape, elements, data);
    sized.push({ name, dtype, shape: [...shape], elements, data });
  }
  sized.sort(
    (a, b) =>
      DTYPES[b.dtype].bytes - DTYPES[a.dtype].bytes ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  let offset = 0;
  const tensors = sized.map((tensor) => {
    const begin = offset;
    offset += tensor.elements * DTYPES[tensor.dtype].bytes;
    return { ...tensor, begin, end: offset };
  });
  const header: Record<string, unknown> = {};
  if (Object.keys(meta).length > 0) header[METADATA_KEY] = meta;
  for (const { name, dtype, shape, begin, end } of tensors)
    header[name] = { dtype, shape, data_offsets: [begin, end] };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { head, tensors, dataBytes: offset };
}

function checkData(
  name: string,
  dtype: SafetensorsDtype,
  shape: readonly number[],
  elements: number,
  data: unknown,
): asserts data is SafetensorsData {
  const where = `tensor ${JSON.stringify(name)}`;
  const expected = DTYPES[dtype].array;
  const actual = tagOf(data);
  if (actual !== expected)
    throw invalid(`${where}: dtype ${dtype} needs a ${expected}, got ${actual ?? typeof data}`, {
      tensor: name,
      dtype,
      expected,
      actual: actual ?? typeof data,
    });
  const length = (data as SafetensorsData).length;
  if (length !== elements)
    throw new ShapeError(
      `safetensors: ${where}: shape [${shape.join(', ')}] has ${elements} elements, data has ${length}`,
      {
        source: SOURCE,
        details: { tensor: name, shape: [...shape], expected: elements, actual: length },
      },
    );
  if (dtype === 'BOOL') {
    const index = (data as Uint8Array).findIndex((v) => v > 1);
    if (index >= 0)
      throw invalid(
        `${where}: BOOL data[${index}] = ${(data as Uint8Array)[index]} is not 0 or 1`,
        {
          tensor: name,
          index,
        },
      );
  }
}

/** The bytes of one tensor, calling its data function if it has one. */
function bytesOf(tensor: PlannedTensor): Uint8Array {
  const data = typeof tensor.data === 'function' ? tensor.data() : tensor.data;
  checkData(tensor.name, tensor.dtype, tensor.shape, tensor.elements, data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Serialises tensors (and optional string metadata) to the bytes of a safetensors file. */
export function encodeSafetensors(
  entries: SafetensorsEntries,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const { head, tensors, dataBytes } = plan(entries, metadata);
  const bytes = new Uint8Array(head.length + dataBytes);
  bytes.set(head, 0);
  for (const tensor of tensors) bytes.set(bytesOf(tensor), head.length + tensor.begin);
  return bytes;
}

/**
 * Writes a safetensors file atomically: to a temporary file in the same directory, flushed,
 * then renamed over `path`. Tensors are streamed one at a time (a data function is called
 * just before its bytes are written). If anything fails (an invalid entry, a data function
 * that throws, the file system), an existing file at `path` is left as it was.
 */
export async function writeSafetensorsFile(
  path: string,
  entries: SafetensorsEntries,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const { head, tensors } = plan(entries, metadata);
  await writeAtomic(path, async (file) => {
    await writeAll(file, head);
    for (const tensor of tensors) await writeAll(file, bytesOf(tensor));
  });
}

async function writeAll(
  file: {
    write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  },
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** A `CorruptFileError` naming the file (`where`) and the problem. Internal: shared with the readers. */
export function corruptSafetensors(
  where: string,
  problem: string,
  details: Record<string, unknown> = {},
): CorruptFileError {
  return new CorruptFileError(`${where}: ${problem}`, {
    source: SOURCE,
    details: { file: where, problem, ...details },
  });
}

/**
 * The first key that repeats within one object of a valid JSON text, if any (`JSON.parse`
 * silently keeps the last). Internal: also checks the sharded-model index.
 */
export function duplicateJsonKey(json: string): string | undefined {
  const stack: (Set<string> | undefined)[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const keys = stack.at(-1);
      if (keys) {
        let k = j + 1;
        while (json[k] === ' ' || json[k] === '\t' || json[k] === '\n' || json[k] === '\r') k++;
        if (json[k] === ':') {
          const key = JSON.parse(json.slice(i, j + 1)) as string;
          if (keys.has(key)) return key;
          keys.add(key);
        }
      }
      i = j;
    } else if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(undefined);
    else if (c === '}' || c === ']') stack.pop();
  }
  return undefined;
}

const unexpectedKey = (value: object, keys: readonly string[]) =>
  Object.keys(value).find((key) => !keys.includes(key));

/** One tensor's entry in a validated header. */
export interface SafetensorsHeaderEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly elements: number;
  /** Offsets in the byte buffer (which starts after the header), `[begin, end)`. */
  readonly begin: number;
  readonly end: number;
}

/** A validated header. */
export interface SafetensorsHeader {
  readonly metadata: Readonly<Record<string, string>>;
  /** In the order of their bytes. */
  readonly entries: readonly SafetensorsHeaderEntry[];
}

/** Bytes per element of a dtype. Internal: shared with the streaming reader. */
export const safetensorsElementBytes = (dtype: SafetensorsDtype): number => DTYPES[dtype].bytes;

/** A typed array of a dtype over `buffer`. Internal: shared with the streaming reader. */
export const safetensorsArray = (
  dtype: SafetensorsDtype,
  buffer: ArrayBuffer,
  byteOffset: number,
  length: number,
): SafetensorsData => DTYPES[dtype].create(buffer, byteOffset, length);

/**
 * Checks the 8-byte header length read from a file of `size` bytes and returns it as a number:
 * at most {@link MAX_SAFETENSORS_HEADER_BYTES}, and within the file. A reader calls this before
 * allocating anything for the header, so a corrupt length (2^63) costs nothing.
 * Internal: shared with the streaming reader.
 */
export function checkSafetensorsHeaderLength(
  declared: bigint,
  size: number,
  where: string,
): number {
  checkLittleEndian();
  if (declared > BigInt(MAX_SAFETENSORS_HEADER_BYTES))
    throw corruptSafetensors(
      where,
      `header length ${declared} is larger than the ${MAX_SAFETENSORS_HEADER_BYTES} bytes allowed`,
      {
        headerLength: declared.toString(),
      },
    );
  const headerLength = Number(declared);
  if (8 + headerLength > size)
    throw corruptSafetensors(
      where,
      `truncated: the header length is ${headerLength} bytes but only ${size - 8} follow it`,
      { headerLength, size },
    );
  return headerLength;
}

/** The error for a file shorter than the 8 bytes of the header length. */
export function truncatedHeaderLength(size: number, where: string): CorruptFileError {
  return corruptSafetensors(
    where,
    `truncated: ${size} bytes, fewer than the 8 of the header length`,
    {
      size,
    },
  );
}

/**
 * Parses and validates the header text (the bytes after the length) of a file whose byte buffer
 * holds `dataLength` bytes: UTF-8 JSON starting with `{`, no repeated keys, for every tensor a
 * known dtype, a shape of non-negative integers and `data_offsets` of exactly shape × dtype
 * size, and tensors tiling the byte buffer (no gap, no overlap, no trailing bytes). Every
 * problem is a `CorruptFileError` naming `where` and the tensor.
 * Internal: shared by {@link decodeSafetensors} and the streaming reader.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  where: string,
): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw corruptSafetensors(where, 'the header is not valid UTF-8');
  }
  if (!text.startsWith('{'))
    throw corruptSafetensors(
      where,
      `the header must start with "{", got ${JSON.stringify(text.slice(0, 16))}`,
    );
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw corruptSafetensors(where, `the header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw corruptSafetensors(where, 'the header must be a JSON object');
  const repeated = duplicateJsonKey(text);
  if (repeated !== undefined)
    throw corruptSafetensors(where, `the header repeats the key ${JSON.stringify(repeated)}`, {
      key: repeated,
    });

  let metadata: Record<string, string> = {};
  const found: SafetensorsHeaderEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof info !== 'object' || info === null || Array.isArray(info))
        throw corruptSafetensors(where, '__metadata__ must be an object of strings');
      for (const [key, value] of Object.entries(info))
        if (typeof value !== 'string')
          throw corruptSafetensors(
            where,
            `__metadata__.${key} must be a string, got ${JSON.stringify(value)}`,
          );
      metadata = info as Record<string, string>;
      continue;
    }
    const tensor = `tensor ${JSON.stringify(name)}`;
    if (typeof info !== 'object' || info === null || Array.isArray(info))
      throw corruptSafetensors(
        where,
        `${tensor} must be an object { dtype, shape, data_offsets }`,
        {
          tensor: name,
        },
      );
    const extra = unexpectedKey(info, ['dtype', 'shape', 'data_offsets']);
    if (extra !== undefined)
      throw corruptSafetensors(where, `${tensor} has an unexpected key ${JSON.stringify(extra)}`, {
        tensor: name,
      });
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (!isDtype(dtype))
      throw corruptSafetensors(
        where,
        `${tensor} has dtype ${JSON.stringify(dtype)}, not one of ${SAFETENSORS_DTYPES.join(', ')}`,
        { tensor: name, dtype: String(dtype) },
      );
    const elements = elementCount(shape);
    if (typeof elements === 'string')
      throw corruptSafetensors(where, `${tensor}: shape ${elements}`, { tensor: name });
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    )
      throw corruptSafetensors(
        where,
        `${tensor}: data_offsets must be [begin, end], two non-negative integers, got ${JSON.stringify(offsets)}`,
        {
          tensor: name,
        },
      );
    const [begin, end] = offsets as [number, number];
    if (begin > end)
      throw corruptSafetensors(
        where,
        `${tensor}: data_offsets [${begin}, ${end}] end before they begin`,
        {
          tensor: name,
        },
      );
    if (end > dataLength)
      throw corruptSafetensors(
        where,
        `truncated: ${tensor} ends at byte ${end} of the data but the data has ${dataLength} bytes`,
        { tensor: name, end, dataLength },
      );
    const expected = elements * DTYPES[dtype].bytes;
    if (end - begin !== expected)
      throw corruptSafetensors(
        where,
        `${tensor}: shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${expected} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`,
        { tensor: name, expected, actual: end - begin },
      );
    found.push({ name, dtype, shape: [...(shape as number[])], elements, begin, end });
  }

  found.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: string | undefined;
  for (const { name, begin, end } of found) {
    if (begin < covered)
      throw corruptSafetensors(
        where,
        `tensor ${JSON.stringify(name)} at [${begin}, ${end}] overlaps tensor ${JSON.stringify(previous)}`,
        {
          tensor: name,
        },
      );
    if (begin > covered)
      throw corruptSafetensors(
        where,
        `bytes [${covered}, ${begin}) of the data belong to no tensor (before tensor ${JSON.stringify(name)})`,
        {
          tensor: name,
        },
      );
    covered = end;
    previous = name;
  }
  if (covered !== dataLength)
    throw corruptSafetensors(
      where,
      `${dataLength - covered} bytes after the last tensor belong to no tensor`,
      {
        trailing: dataLength - covered,
      },
    );
  return { metadata, entries: found };
}

/** Throws unless every BOOL element is 0 or 1. Internal: shared with the streaming reader. */
export function checkSafetensorsBool(data: Uint8Array, name: string, where: string): void {
  const index = data.findIndex((v) => v > 1);
  if (index >= 0)
    throw corruptSafetensors(
      where,
      `tensor ${JSON.stringify(name)}: BOOL element ${index} is ${data[index]}, not 0 or 1`,
      {
        tensor: name,
        index,
      },
    );
}

/**
 * Parses the bytes of a safetensors file, validating everything the format requires: the
 * header length within the file, UTF-8 JSON starting with `{`, no repeated keys, for every
 * tensor a known dtype, a shape of non-negative integers, `data_offsets` whose length is
 * exactly shape × dtype size, and tensors tiling the byte buffer (no gap, no overlap, no
 * trailing bytes); BOOL elements are 0 or 1. Every problem is a `CorruptFileError` naming
 * `where` (a file path; default `safetensors data`) and the tensor.
 *
 * The returned arrays are views into `bytes` when their offset is aligned (files written
 * here always are), otherwise copies.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  where = 'safetensors data',
): SafetensorsContent {
  if (!(bytes instanceof Uint8Array))
    throw invalid(
      `decodeSafetensors: bytes must be a Uint8Array, got ${tagOf(bytes) ?? typeof bytes}`,
      {
        argument: 'bytes',
      },
    );
  checkLittleEndian();
  if (bytes.length < 8) throw truncatedHeaderLength(bytes.length, where);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = checkSafetensorsHeaderLength(
    view.getBigUint64(0, true),
    bytes.length,
    where,
  );
  const dataStart = 8 + headerLength;
  const { metadata, entries } = parseSafetensorsHeader(
    bytes.subarray(8, dataStart),
    bytes.length - dataStart,
    where,
  );

  const tensors = new Map<string, SafetensorsTensor>();
  for (const { name, dtype, shape, elements, begin, end } of entries) {
    const { bytes: size, create } = DTYPES[dtype];
    const at = bytes.byteOffset + dataStart + begin;
    const data =
      at % size === 0
        ? create(bytes.buffer as ArrayBuffer, at, elements)
        : create(bytes.slice(dataStart + begin, dataStart + end).buffer, 0, elements);
    if (dtype === 'BOOL') checkSafetensorsBool(data as Uint8Array, name, where);
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

/** The error for a safetensors file that cannot be opened or read. Internal: shared with the streaming reader. */
export function unreadableSafetensorsFile(path: string, error: unknown): CorruptFileError {
  const code = (error as NodeJS.ErrnoException).code;
  return new CorruptFileError(
    `${path}: ${code === 'ENOENT' ? 'safetensors file not found' : `cannot be read (${code ?? error})`}`,
    { source: SOURCE, details: { file: path, problem: code ?? 'unreadable' }, cause: error },
  );
}

/** Reads and validates a safetensors file (see {@link decodeSafetensors}); a missing file is a `CorruptFileError`. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsContent> {
  if (typeof path !== 'string' || path.length === 0)
    throw invalid('readSafetensorsFile: path must be a non-empty string', { argument: 'path' });
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw unreadableSafetensorsFile(path, error);
  }
  return decodeSafetensors(bytes, path);
}

export { type AtomicWriter, writeAtomic, writeFileAtomic } from './atomic-write.js';

/**
 * A streaming safetensors reader: opening a file reads and validates only its header (the same
 * rules as {@link decodeSafetensors}), and each tensor's bytes are read from disk when asked
 * for. A multi-gigabyte checkpoint can then be loaded one tensor at a time, converting each
 * (say, BF16 to float32) before the next is read, instead of holding the whole file at once.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { InvalidArgumentError } from '@hicra/spec';
import { bfloat16ToFloat32, float16ToFloat32 } from './float-formats.js';
import {
  checkSafetensorsBool,
  checkSafetensorsHeaderLength,
  corruptSafetensors,
  parseSafetensorsHeader,
  type SafetensorsData,
  type SafetensorsDtype,
  safetensorsArray,
  truncatedHeaderLength,
  unreadableSafetensorsFile,
} from './safetensors.js';

const SOURCE = '@hicra/policy';

/** Node reads at most 2^31 - 1 bytes per call; larger tensors are read in chunks of this. */
const READ_CHUNK_BYTES = 1 << 30;

/** What the header says about one tensor. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  /** Dimensions, outermost first; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** Bytes of its data (elements × element size). */
  readonly byteLength: number;
}

/** Tensors read on demand, from one file or from the shards of a model. */
export interface SafetensorsReader {
  /** Every tensor, by name, in the order of their bytes. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /**
   * A tensor's elements, row-major, read from disk now, in the typed array of its dtype
   * (`F16`, `BF16` as raw bits in a `Uint16Array`; a fresh array each call).
   */
  read(name: string): Promise<SafetensorsData>;
  /**
   * A floating-point tensor as float32: `F32` as stored, `F16` and `BF16` widened exactly,
   * `F64` rounded to nearest. Integer and `BOOL` tensors are refused (use {@link read}).
   */
  readFloat32(name: string): Promise<Float32Array>;
  /** Closes the file(s); later reads fail. Calling it again does nothing. */
  close(): Promise<void>;
}

/** A streaming reader of one safetensors file. */
export interface SafetensorsFileReader extends SafetensorsReader {
  readonly path: string;
  /** The `__metadata__` string map (empty when the file has none). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** The dtypes {@link SafetensorsReader.readFloat32} converts. */
const FLOAT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F32', 'F16', 'BF16', 'F64']);

/** `data` of a floating-point dtype as float32 (see {@link SafetensorsReader.readFloat32}). */
function toFloat32(dtype: SafetensorsDtype, data: SafetensorsData): Float32Array {
  if (dtype === 'F32') return data as Float32Array;
  if (dtype === 'BF16') return bfloat16ToFloat32(data as Uint16Array);
  if (dtype === 'F16') return float16ToFloat32(data as Uint16Array);
  return new Float32Array(data as Float64Array); // ToFloat32: round to nearest, ties to even
}

/** The error for a `readFloat32` of a tensor that is not floating point. */
function notFloatError(where: string, info: SafetensorsTensorInfo): InvalidArgumentError {
  return new InvalidArgumentError(
    `${where}: tensor ${JSON.stringify(info.name)} has dtype ${info.dtype}; readFloat32 reads F32, F16, BF16 and F64 only (read() returns it as stored)`,
    { source: SOURCE, details: { file: where, tensor: info.name, dtype: info.dtype } },
  );
}

/** Whether {@link toFloat32} converts the dtype. */
const isFloatDtype = (dtype: SafetensorsDtype): boolean => FLOAT_DTYPES.has(dtype);

/**
 * The error for a tensor name that is not there, listing a few names that are: those sharing
 * the longest prefix with the one asked for first (a typo in a layer index or a suffix shows
 * its neighbours). Internal: shared with the model reader.
 */
export function unknownTensorError(
  where: string,
  name: string,
  known: Iterable<string>,
): InvalidArgumentError {
  const names = [...known];
  const shared = (other: string) => {
    let i = 0;
    while (i < name.length && i < other.length && name[i] === other[i]) i++;
    return i;
  };
  const nearest = names
    .map((other) => ({ other, prefix: shared(other) }))
    .sort((a, b) => b.prefix - a.prefix || (a.other < b.other ? -1 : a.other > b.other ? 1 : 0))
    .slice(0, 5)
    .map(({ other }) => other);
  const listed =
    names.length === 0
      ? 'it has no tensors'
      : `it has ${names.length} tensor${names.length === 1 ? '' : 's'}, among them ${nearest.map((n) => JSON.stringify(n)).join(', ')}`;
  return new InvalidArgumentError(`${where}: no tensor ${JSON.stringify(name)}; ${listed}`, {
    source: SOURCE,
    details: { file: where, tensor: name, available: nearest },
  });
}

function checkName(fn: string, name: unknown): asserts name is string {
  if (typeof name !== 'string')
    throw new InvalidArgumentError(`${fn}: the tensor name must be a string, got ${typeof name}`, {
      source: SOURCE,
      details: { argument: 'name', actual: typeof name },
    });
}

/**
 * Reads exactly `bytes.length` bytes at `position`, looping over short reads; calls `short`
 * with the count read so far when the file ends first.
 */
async function readFully(
  handle: FileHandle,
  bytes: Uint8Array,
  position: number,
  short: (got: number) => Error,
): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const length = Math.min(bytes.length - done, READ_CHUNK_BYTES);
    const { bytesRead } = await handle.read(bytes, done, length, position + done);
    if (bytesRead === 0) throw short(done);
    done += bytesRead;
  }
}

interface Located extends SafetensorsTensorInfo {
  readonly elements: number;
  /** Where its bytes start in the file. */
  readonly position: number;
}

class FileReader implements SafetensorsFileReader {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readonly #located: ReadonlyMap<string, Located>;
  #handle: FileHandle | undefined;

  constructor(
    path: string,
    handle: FileHandle,
    metadata: Readonly<Record<string, string>>,
    located: ReadonlyMap<string, Located>,
  ) {
    this.path = path;
    this.metadata = metadata;
    this.#handle = handle;
    this.#located = located;
    this.tensors = new Map(
      [...located].map(([name, { dtype, shape, byteLength }]) => [
        name,
        Object.freeze({ name, dtype, shape, byteLength }),
      ]),
    );
  }

  #find(fn: string, name: unknown): Located {
    checkName(fn, name);
    const tensor = this.#located.get(name);
    if (tensor === undefined) throw unknownTensorError(this.path, name, this.#located.keys());
    return tensor;
  }

  async read(name: string): Promise<SafetensorsData> {
    return this.#read(this.#find('read', name));
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const tensor = this.#find('readFloat32', name);
    if (!isFloatDtype(tensor.dtype)) throw notFloatError(this.path, tensor);
    return toFloat32(tensor.dtype, await this.#read(tensor));
  }

  async #read(tensor: Located): Promise<SafetensorsData> {
    const handle = this.#handle;
    if (handle === undefined)
      throw new InvalidArgumentError(
        `${this.path}: cannot read tensor ${JSON.stringify(tensor.name)}, the reader is closed`,
        { source: SOURCE, details: { file: this.path, tensor: tensor.name } },
      );
    const { name, dtype, elements, byteLength, position } = tensor;
    const buffer = new ArrayBuffer(byteLength);
    await readFully(handle, new Uint8Array(buffer), position, (got) =>
      corruptSafetensors(
        this.path,
        `truncated: tensor ${JSON.stringify(name)} is bytes [${position}, ${position + byteLength}) of the file, but the file ends at byte ${position + got} (it changed after it was opened)`,
        { tensor: name, expected: byteLength, actual: got },
      ),
    );
    const data = safetensorsArray(dtype, buffer, 0, elements);
    if (dtype === 'BOOL') checkSafetensorsBool(data as Uint8Array, name, this.path);
    return data;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}

/**
 * Opens a safetensors file for reading tensor by tensor. Only the header is read now, and it
 * is validated as {@link decodeSafetensors} validates a whole file (the header length against
 * the file size and {@link MAX_SAFETENSORS_HEADER_BYTES}, checked before anything is
 * allocated for it; UTF-8 JSON; no repeated keys; dtypes; shapes; offsets tiling the data
 * exactly). Every problem is a `CorruptFileError` naming the file and the tensor, and leaves
 * no file open. Close the reader when done.
 */
export async function openSafetensorsFile(path: string): Promise<SafetensorsFileReader> {
  if (typeof path !== 'string' || path.length === 0)
    throw new InvalidArgumentError('openSafetensorsFile: path must be a non-empty string', {
      source: SOURCE,
      details: { argument: 'path' },
    });
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw unreadableSafetensorsFile(path, error);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile())
      throw corruptSafetensors(path, 'not a regular file', { problem: 'not a file' });
    const size = stats.size;
    const shrank = (what: string) => () =>
      corruptSafetensors(path, `truncated while reading ${what} (the file changed while opening)`);
    if (size < 8) throw truncatedHeaderLength(size, path);
    const prefix = new Uint8Array(8);
    await readFully(handle, prefix, 0, shrank('the header length'));
    const declared = new DataView(prefix.buffer).getBigUint64(0, true);
    const headerLength = checkSafetensorsHeaderLength(declared, size, path);
    const headerBytes = new Uint8Array(headerLength);
    await readFully(handle, headerBytes, 8, shrank('the header'));
    const dataStart = 8 + headerLength;
    const { metadata, entries } = parseSafetensorsHeader(headerBytes, size - dataStart, path);
    const located = new Map<string, Located>();
    for (const { name, dtype, shape, elements, begin, end } of entries)
      located.set(name, {
        name,
        dtype,
        shape: Object.freeze([...shape]),
        elements,
        byteLength: end - begin,
        position: dataStart + begin,
      });
    return new FileReader(path, handle, Object.freeze({ ...metadata }), located);
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

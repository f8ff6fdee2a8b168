/**
 * A model's weights as Hugging Face's `save_pretrained` lays them out in a folder: one
 * `model.safetensors`, or shards `model-00001-of-0000N.safetensors` listed by
 * `model.safetensors.index.json` (`{"metadata": {"total_size": bytes}, "weight_map":
 * {tensor: shard}}`). Reading streams tensor by tensor from every shard as one logical file;
 * writing shards by size as transformers does, each file atomically.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CorruptFileError, InvalidArgumentError } from '@hicra/spec';
import { syncDirectory, writeFileAtomic } from './atomic-write.js';
import {
  corruptSafetensors,
  duplicateJsonKey,
  type SafetensorsData,
  type SafetensorsEntries,
  type SafetensorsTensorInput,
  sizeSafetensorsEntries,
  writeSafetensorsFile,
} from './safetensors.js';
import {
  openSafetensorsFile,
  type SafetensorsFileReader,
  type SafetensorsReader,
  type SafetensorsTensorInfo,
  unknownTensorError,
} from './safetensors-reader.js';

const SOURCE = '@hicra/policy';

/** The file names of a model's weights in a Hugging Face model folder. */
export const SAFETENSORS_MODEL_FILES = Object.freeze({
  /** All the weights in one file. */
  single: 'model.safetensors',
  /** The index of a sharded model. */
  index: 'model.safetensors.index.json',
} as const);

/** transformers' `save_pretrained` default `max_shard_size="5GB"` (10^9, not 2^30). */
export const DEFAULT_SAFETENSORS_SHARD_BYTES = 5_000_000_000;

/** The shard names this module writes (and removes when they are stale). */
const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

const shardName = (index: number, count: number) =>
  `model-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`;

/** What the header says about one tensor of a model, and which file holds it. */
export interface SafetensorsModelTensorInfo extends SafetensorsTensorInfo {
  /** The file name, in the folder, of the file holding the tensor. */
  readonly file: string;
}

/** A streaming reader of a model folder's weights, across all its shards. */
export interface SafetensorsModelReader extends SafetensorsReader {
  readonly dir: string;
  /** The safetensors files read, by name in the folder: one, or every shard in order. */
  readonly files: readonly string[];
  /** Every tensor, by name: shard by shard, each in the order of its bytes. */
  readonly tensors: ReadonlyMap<string, SafetensorsModelTensorInfo>;
}

export interface WriteSafetensorsModelOptions {
  /**
   * Shard when the tensors hold more bytes than this (default {@link DEFAULT_SAFETENSORS_SHARD_BYTES});
   * a tensor larger than it gets a shard of its own.
   */
  readonly maxShardBytes?: number;
  /** String metadata for every file's header, over the default `{"format": "pt"}`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

function invalid(message: string, details: Record<string, unknown>): InvalidArgumentError {
  return new InvalidArgumentError(message, { source: SOURCE, details });
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;

/** Whether `path` exists; other errors than "not there" are rethrown as unreadable. */
async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw new CorruptFileError(`${path}: cannot be read (${code ?? error})`, {
      source: SOURCE,
      details: { file: path, problem: code ?? 'unreadable' },
      cause: error,
    });
  }
}

/** A shard name that stays in the folder: a plain file name, no separators, not `.`/`..`. */
const isPlainFileName = (name: string) =>
  name.length > 0 &&
  name !== '.' &&
  name !== '..' &&
  !/[/\\\0]/.test(name) &&
  basename(name) === name;

interface Index {
  readonly totalSize: number | undefined;
  /** Tensor name -> shard file name, as listed. */
  readonly weightMap: ReadonlyMap<string, string>;
}

/** Parses and checks the shape of `model.safetensors.index.json` (not yet against the shards). */
function parseIndex(text: string, where: string): Index {
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (error) {
    throw corruptSafetensors(where, `not valid JSON (${(error as Error).message})`);
  }
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(index))
    throw corruptSafetensors(where, 'must be a JSON object { metadata, weight_map }');
  const repeated = duplicateJsonKey(text);
  if (repeated !== undefined)
    throw corruptSafetensors(where, `repeats the key ${JSON.stringify(repeated)}`, {
      key: repeated,
    });
  const { metadata, weight_map: map } = index;
  let totalSize: number | undefined;
  if (metadata !== undefined && metadata !== null) {
    if (!isObject(metadata)) throw corruptSafetensors(where, 'metadata must be an object');
    const total = metadata['total_size'];
    if (total !== undefined) {
      if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0)
        throw corruptSafetensors(
          where,
          `metadata.total_size must be a non-negative integer, got ${JSON.stringify(total)}`,
        );
      totalSize = total;
    }
  }
  if (!isObject(map))
    throw corruptSafetensors(
      where,
      `weight_map must be an object of shard file names by tensor name, got ${JSON.stringify(map) ?? 'nothing'}`,
    );
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string')
      throw corruptSafetensors(
        where,
        `weight_map["${tensor}"] must be a shard file name, got ${JSON.stringify(shard)}`,
        { tensor },
      );
    if (!isPlainFileName(shard))
      throw corruptSafetensors(
        where,
        `weight_map puts tensor ${JSON.stringify(tensor)} in ${JSON.stringify(shard)}, which is not a plain file name in the folder`,
        { tensor, shard },
      );
    weightMap.set(tensor, shard);
  }
  if (weightMap.size === 0) throw corruptSafetensors(where, 'weight_map lists no tensors');
  return { totalSize, weightMap };
}

class ModelReader implements SafetensorsModelReader {
  readonly dir: string;
  readonly files: readonly string[];
  readonly tensors: ReadonlyMap<string, SafetensorsModelTensorInfo>;
  readonly #readers: readonly SafetensorsFileReader[];
  readonly #holder: ReadonlyMap<string, SafetensorsFileReader>;

  constructor(dir: string, files: readonly string[], readers: readonly SafetensorsFileReader[]) {
    this.dir = dir;
    this.files = Object.freeze([...files]);
    this.#readers = readers;
    const tensors = new Map<string, SafetensorsModelTensorInfo>();
    const holder = new Map<string, SafetensorsFileReader>();
    readers.forEach((reader, i) => {
      for (const [name, info] of reader.tensors) {
        tensors.set(name, Object.freeze({ ...info, file: files[i] as string }));
        holder.set(name, reader);
      }
    });
    this.tensors = tensors;
    this.#holder = holder;
  }

  #reader(name: string): SafetensorsFileReader {
    const reader = typeof name === 'string' ? this.#holder.get(name) : undefined;
    if (reader === undefined) {
      if (typeof name !== 'string')
        throw invalid(`${this.dir}: the tensor name must be a string, got ${typeof name}`, {
          argument: 'name',
        });
      throw unknownTensorError(this.dir, name, this.tensors.keys());
    }
    return reader;
  }

  async read(name: string): Promise<SafetensorsData> {
    return this.#reader(name).read(name);
  }

  async readFloat32(name: string): Promise<Float32Array> {
    return this.#reader(name).readFloat32(name);
  }

  async close(): Promise<void> {
    await closeAll(this.#readers);
  }
}

async function closeAll(readers: readonly SafetensorsFileReader[]): Promise<void> {
  const results = await Promise.allSettled(readers.map((reader) => reader.close()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Opens the weights of a Hugging Face model folder for streaming reads. With
 * `model.safetensors.index.json` the model is sharded and the index is checked against the
 * shards: every shard it names is a plain file name in the folder and exists; every tensor of
 * `weight_map` is in the header of its shard; no shard holds a tensor that `weight_map` does
 * not put there, or one that another shard holds too; and `metadata.total_size`, when given,
 * is the sum of the tensors' byte lengths. Without an index, `model.safetensors`. Every shard's
 * header is validated as {@link openSafetensorsFile} does. Problems are `CorruptFileError`s
 * naming the file (the index or the shard) and the tensor; no file stays open after one.
 */
export async function openSafetensorsModel(dir: string): Promise<SafetensorsModelReader> {
  if (typeof dir !== 'string' || dir.length === 0)
    throw invalid('openSafetensorsModel: dir must be a non-empty string', { argument: 'dir' });
  const indexPath = join(dir, SAFETENSORS_MODEL_FILES.index);
  let text: string | undefined;
  try {
    text = await readFile(indexPath, 'utf8');
  } catch (error) {
    const code = errnoOf(error);
    if (code !== 'ENOENT' && code !== 'ENOTDIR')
      throw new CorruptFileError(`${indexPath}: cannot be read (${code ?? error})`, {
        source: SOURCE,
        details: { file: indexPath, problem: code ?? 'unreadable' },
        cause: error,
      });
  }
  if (text === undefined) {
    const single = join(dir, SAFETENSORS_MODEL_FILES.single);
    if (!(await exists(single)))
      throw new CorruptFileError(
        `${dir}: no model weights: neither ${SAFETENSORS_MODEL_FILES.single} nor ${SAFETENSORS_MODEL_FILES.index} is in the folder`,
        {
          source: SOURCE,
          details: {
            file: dir,
            problem: 'no weights',
            expected: [SAFETENSORS_MODEL_FILES.single, SAFETENSORS_MODEL_FILES.index],
          },
        },
      );
    const reader = await openSafetensorsFile(single);
    return new ModelReader(dir, [SAFETENSORS_MODEL_FILES.single], [reader]);
  }

  const { totalSize, weightMap } = parseIndex(text, indexPath);
  const files = [...new Set(weightMap.values())].sort();
  const readers: SafetensorsFileReader[] = [];
  try {
    for (const file of files) {
      const path = join(dir, file);
      if (!(await exists(path))) {
        const held = [...weightMap].filter(([, shard]) => shard === file).map(([name]) => name);
        const more = held.length > 1 ? ` and ${held.length - 1} more` : '';
        throw corruptSafetensors(
          indexPath,
          `names the shard ${JSON.stringify(file)} (for tensor ${JSON.stringify(held[0])}${more}), which is not in ${dir}`,
          { shard: file, tensor: held[0] },
        );
      }
      readers.push(await openSafetensorsFile(path));
    }
    const holder = new Map<string, string>();
    let bytes = 0;
    readers.forEach((reader, i) => {
      const file = files[i] as string;
      for (const [name, { byteLength }] of reader.tensors) {
        const other = holder.get(name);
        if (other !== undefined)
          throw corruptSafetensors(
            indexPath,
            `tensor ${JSON.stringify(name)} is in two shards, ${JSON.stringify(other)} and ${JSON.stringify(file)}`,
            { tensor: name, shards: [other, file] },
          );
        holder.set(name, file);
        bytes += byteLength;
      }
    });
    for (const [name, file] of weightMap) {
      const actual = holder.get(name);
      if (actual !== file)
        throw corruptSafetensors(
          indexPath,
          actual === undefined
            ? `weight_map puts tensor ${JSON.stringify(name)} in ${JSON.stringify(file)}, which has no such tensor`
            : `weight_map puts tensor ${JSON.stringify(name)} in ${JSON.stringify(file)}, but it is in ${JSON.stringify(actual)}`,
          { tensor: name, shard: file },
        );
    }
    for (const [name, file] of holder)
      if (!weightMap.has(name))
        throw corruptSafetensors(
          indexPath,
          `tensor ${JSON.stringify(name)} of shard ${JSON.stringify(file)} is not in weight_map`,
          { tensor: name, shard: file },
        );
    if (totalSize !== undefined && totalSize !== bytes)
      throw corruptSafetensors(
        indexPath,
        `metadata.total_size is ${totalSize} bytes, but the tensors of the shards hold ${bytes}`,
        { expected: totalSize, actual: bytes },
      );
    return new ModelReader(dir, files, readers);
  } catch (error) {
    await closeAll(readers).catch(() => undefined);
    throw error;
  }
}

/** Removes the files, ignoring those already gone. */
async function removeAll(paths: readonly string[]): Promise<void> {
  for (const path of paths)
    await unlink(path).catch((error: unknown) => {
      if (errnoOf(error) !== 'ENOENT') throw error;
    });
}

/** The shard files of an earlier save, other than `keep`. */
async function staleShards(dir: string, keep: ReadonlySet<string>): Promise<string[]> {
  return (await readdir(dir))
    .filter((name) => SHARD_NAME.test(name) && !keep.has(name))
    .sort()
    .map((name) => join(dir, name));
}

/**
 * Writes a model's weights into a folder as transformers' `save_pretrained` does: one
 * `model.safetensors` when the tensors' bytes fit `maxShardBytes`, else shards
 * `model-00001-of-0000N.safetensors`, filled in the order of `entries` (a new shard starts
 * when the next tensor would not fit), and `model.safetensors.index.json` with
 * `metadata.total_size` and `weight_map` sorted by name. Every header carries
 * `{"format": "pt"}` (transformers refuses files without it) and `options.metadata`.
 *
 * Entries are validated before anything is written, and data functions are called once each,
 * just before their bytes are written, so a model is never held in memory twice. Shards are
 * first written whole under temporary names, then renamed into place, then the index is
 * written: a failure while writing (a data function that throws, a full disk) leaves the
 * folder's previous weights as they were. Only after the new files are in place are the
 * files of an earlier save in the other layout removed (a stale index or shards after a
 * single-file save; a stale `model.safetensors` or extra shards after a sharded one).
 *
 * Returns the names, in the folder, of the files written (shards first, then the index).
 */
export async function writeSafetensorsModel(
  dir: string,
  entries: SafetensorsEntries,
  options: WriteSafetensorsModelOptions = {},
): Promise<{ files: string[] }> {
  if (typeof dir !== 'string' || dir.length === 0)
    throw invalid('writeSafetensorsModel: dir must be a non-empty string', { argument: 'dir' });
  if (typeof options !== 'object' || options === null)
    throw invalid('writeSafetensorsModel: options must be an object', { argument: 'options' });
  const max = options.maxShardBytes ?? DEFAULT_SAFETENSORS_SHARD_BYTES;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1)
    throw invalid(
      `writeSafetensorsModel: maxShardBytes must be a positive integer, got ${String(max)}`,
      { argument: 'maxShardBytes', actual: String(max) },
    );
  const extra = options.metadata ?? {};
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra))
    throw invalid('writeSafetensorsModel: metadata must be an object of strings', {
      argument: 'metadata',
    });
  const metadata = { format: 'pt', ...extra };
  const sized = sizeSafetensorsEntries(entries, metadata);
  const total = sized.reduce((sum, { bytes }) => sum + bytes, 0);
  await mkdir(dir, { recursive: true });
  const single = join(dir, SAFETENSORS_MODEL_FILES.single);
  const indexPath = join(dir, SAFETENSORS_MODEL_FILES.index);

  if (total <= max) {
    await writeSafetensorsFile(single, entries, metadata);
    // the index goes first: shards without an index are ignored, an index without shards is not
    await removeAll([indexPath]);
    await removeAll(await staleShards(dir, new Set()));
    return { files: [SAFETENSORS_MODEL_FILES.single] };
  }

  const groups: Map<string, SafetensorsTensorInput>[] = [];
  let current = new Map<string, SafetensorsTensorInput>();
  let currentBytes = 0;
  for (const { name, entry, bytes } of sized) {
    if (current.size > 0 && currentBytes + bytes > max) {
      groups.push(current);
      current = new Map();
      currentBytes = 0;
    }
    current.set(name, entry);
    currentBytes += bytes;
  }
  groups.push(current);
  if (groups.length > 99_999)
    throw invalid(
      `writeSafetensorsModel: ${groups.length} shards of at most ${max} bytes; shard names have room for 99999`,
      { argument: 'maxShardBytes', shards: groups.length },
    );
  const names = groups.map((_, i) => shardName(i + 1, groups.length));

  const stamp = randomBytes(6).toString('hex');
  const staged = names.map((name) => join(dir, `.${name}.${stamp}.staged`));
  try {
    for (let i = 0; i < groups.length; i++)
      await writeSafetensorsFile(
        staged[i] as string,
        groups[i] as Map<string, SafetensorsTensorInput>,
        metadata,
      );
    for (let i = 0; i < names.length; i++)
      await rename(staged[i] as string, join(dir, names[i] as string));
  } catch (error) {
    await removeAll(staged).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);

  // written by hand, not with JSON.stringify: an object puts integer-like keys ("10") first
  const weightMap = names.flatMap((file, i) =>
    [...(groups[i] as Map<string, SafetensorsTensorInput>).keys()].map((name): [string, string] => [
      name,
      file,
    ]),
  );
  weightMap.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const lines = weightMap.map(
    ([name, file]) => `    ${JSON.stringify(name)}: ${JSON.stringify(file)}`,
  );
  await writeFileAtomic(
    indexPath,
    `{\n  "metadata": {\n    "total_size": ${total}\n  },\n  "weight_map": {\n${lines.join(',\n')}\n  }\n}\n`,
  );
  await removeAll([single, ...(await staleShards(dir, new Set(names)))]);
  return { files: [...names, SAFETENSORS_MODEL_FILES.index] };
}

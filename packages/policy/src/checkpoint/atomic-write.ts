import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from '@hicra/spec';

const SOURCE = '@hicra/policy';

/** Writes the content of a file being written atomically, through its open handle. */
export type AtomicWriter = (file: FileHandle) => Promise<void>;

/**
 * Writes `path` atomically: the content goes to a new temporary file in the same directory
 * (`.<name>.<random>.tmp`), which is flushed to disk (`fsync`) and then renamed over `path`;
 * the directory is flushed too where the platform allows it. A reader sees the old file or
 * the new one, never a mix, and a failed write (an exception from `write`, a full disk, an
 * unwritable directory) leaves an existing file untouched and removes the temporary file.
 * Errors of the file system are rethrown as Node reports them (`EACCES`, `ENOENT`, ...).
 */
export async function writeAtomic(path: string, write: AtomicWriter): Promise<void> {
  if (typeof path !== 'string' || path.length === 0)
    throw new InvalidArgumentError('writeFileAtomic: path must be a non-empty string', {
      source: SOURCE,
      details: { argument: 'path', actual: typeof path },
    });
  const target = resolve(path);
  const directory = dirname(target);
  const temporary = join(directory, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx');
  try {
    await write(handle);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temporary, target);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(directory);
}

/**
 * Makes renames in `directory` durable; some platforms (Windows) cannot open a directory,
 * which is fine. Internal: also used after renaming a sharded model's files into place.
 */
export async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Writes `data` (text as UTF-8, or bytes) to `path` atomically (see {@link writeAtomic}): an
 * existing file is replaced only once the new content is fully on disk.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  if (typeof data !== 'string' && !(data instanceof Uint8Array))
    throw new InvalidArgumentError(
      `writeFileAtomic: data must be a string or a Uint8Array, got ${data === null ? 'null' : typeof data}`,
      { source: SOURCE, details: { argument: 'data' } },
    );
  await writeAtomic(path, async (file) => {
    await file.writeFile(data);
  });
}

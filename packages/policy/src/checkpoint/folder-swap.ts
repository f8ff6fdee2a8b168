/**
 * Writing a whole folder so that a failure never damages the one already there: the new content
 * is written into a staging folder beside the target (`.<name>.saving-<stamp>`), the files of the
 * old folder that the new one does not replace and `carryOver` accepts are copied in, the old
 * folder is renamed away (`.<name>.old-<stamp>`), the staging folder renamed into place, and the
 * old one removed. A crash between the two renames leaves the retired folder beside the target;
 * `recoverCheckpointSwap` puts it back.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** The name prefix of the staging (`saving`) and retired (`old`) folders of a swap. */
export function swapPrefix(target: string, kind: 'saving' | 'old'): string {
  return `.${basename(target)}.${kind}-`;
}

/**
 * Writes `directory` through a staging folder (see the file comment). `write` fills the staging
 * folder; files of the existing folder that it did not write are kept when `carryOver(name)`
 * says so (folders are copied whole). If anything throws, the staging folder is removed and the
 * existing folder is left, or put back, as it was.
 */
export async function writeFolderBySwap(
  directory: string,
  write: (staging: string) => Promise<void>,
  carryOver: (file: string) => boolean,
): Promise<void> {
  const target = resolve(directory);
  const stamp = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const staging = join(dirname(target), `${swapPrefix(target, 'saving')}${stamp}`);
  const retired = join(dirname(target), `${swapPrefix(target, 'old')}${stamp}`);
  await mkdir(staging, { recursive: true });
  try {
    await write(staging);
    if (existsSync(target)) {
      for (const file of await readdir(target)) {
        if (!file.startsWith('.') && carryOver(file) && !existsSync(join(staging, file)))
          await cp(join(target, file), join(staging, file), { recursive: true });
      }
      await rename(target, retired);
    }
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(target) && existsSync(retired)) await rename(retired, target);
    throw error;
  }
  await rm(retired, { recursive: true, force: true });
}

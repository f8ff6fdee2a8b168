import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The command line's source entry. */
export const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/**
 * Runs `hicra` from source in a child process, as a user would run the built one: from the
 * app's folder, on the WASM backend, within 280 s.
 */
export function hicra(...args: string[]) {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=@hicra/source', CLI, ...args],
    {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, HICRA_BACKEND: 'wasm' },
      timeout: 280_000,
    },
  );
}

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { main } from '../src/cli/main.js';

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

/**
 * Runs `hicra` in this process (faster than a child, and it can reach servers this process
 * runs) with `--quiet`; returns its exit code and what it wrote.
 */
export async function hicraInProcess(
  ...argv: string[]
): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  try {
    const code = await main([...argv, '--quiet'], CLI);
    return { code, stderr, stdout };
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
}

import { HicraError } from '@hicra/spec';

/** Exit codes of the `hicra` command. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/**
 * The command line was used wrongly: an unknown command or flag, a missing or out-of-range
 * value, a config file that does not validate. Reported in one line with exit code 2, before
 * any work starts.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A file or folder the command line names is missing or is not what the command needs (a
 * checkpoint folder without config.json, a run directory given as a file). Reported in one
 * line with exit code 1.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
}

interface SystemError extends Error {
  readonly code: string;
  readonly syscall?: string;
  readonly path?: string;
}

function isSystemError(error: unknown): error is SystemError {
  if (!(error instanceof Error)) return false;
  const { code, syscall } = error as Partial<SystemError>;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) && typeof syscall === 'string';
}

const SYSTEM_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
};

/**
 * Writes one line for an error to stderr and returns the exit code: usage errors exit 2,
 * errors of the work (a missing or corrupt file, a locked run directory, a failed step) exit 1.
 * User errors never print a stack trace; an unexpected internal error prints one only with
 * `HICRA_DEBUG=1`.
 */
export function reportError(error: unknown, write: (line: string) => void): number {
  if (error instanceof UsageError) {
    write(`hicra: ${error.message}\nRun \`hicra --help\` for usage.`);
    return EXIT.usage;
  }
  if (error instanceof InputError) {
    write(`hicra: ${error.message}`);
    return EXIT.failure;
  }
  if (HicraError.isInstance(error)) {
    write(`hicra: ${error.code}: ${error.message}`);
    return EXIT.failure;
  }
  if (isSystemError(error)) {
    const reason = SYSTEM_REASONS[error.code] ?? error.message;
    write(`hicra: ${error.path ?? ''}${error.path ? ': ' : ''}${reason} (${error.syscall})`);
    return EXIT.failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (process.env.HICRA_DEBUG === '1' && error instanceof Error && error.stack)
    write(`hicra: internal error: ${error.stack}`);
  else write(`hicra: internal error: ${message} (set HICRA_DEBUG=1 to see the stack trace)`);
  return EXIT.failure;
}

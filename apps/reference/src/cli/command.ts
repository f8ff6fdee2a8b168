import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, UsageError } from './errors.js';
import type { CommandLineSpec, OptionName, ParsedCommandLine } from './options.js';
import type { Output } from './output.js';

/** What every command gets besides its arguments. */
export interface CommandContext {
  readonly output: Output;
  /** The file that runs this command line, for commands that start `hicra` child processes. */
  readonly cliPath: string;
  /** The exit code when the command returns normally but did not fully succeed (default 0). */
  setExitCode(code: number): void;
}

/** One `hicra` command: its arguments, its help and what it does. */
export interface Command<N extends OptionName = OptionName> {
  readonly spec: CommandLineSpec<N>;
  /** One line for the command list of `hicra --help`. */
  readonly summary: string;
  /** The synopsis, e.g. `hicra report RUN_DIR... [--out report.html]`. */
  readonly usage: string;
  /** What it does, a few lines. */
  readonly description: string;
  /** Command lines that run as written (a test runs each at a tiny budget). */
  readonly examples: readonly string[];
  /** Whether the command computes with tensors in this process (the backend starts first). */
  readonly usesBackend: boolean;
  run(parsed: ParsedCommandLine<N>, context: CommandContext): Promise<unknown>;
}

/** Declares a command, inferring its option names from `spec.options`. */
export function defineCommand<N extends OptionName>(command: Command<N>): Command<N> {
  return command;
}

/**
 * Reads a JSON file given by a flag (`--config`, `--credit`). A missing file, invalid JSON or
 * anything but a JSON object is a `UsageError` naming the flag and the file.
 */
export function readJsonObjectFile(path: string, flag: string): Record<string, unknown> {
  if (!existsSync(path)) throw new InputError(`${flag} ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new InputError(`${flag} ${path}: is a directory`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${flag} ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const given = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new UsageError(`${flag} ${path}: must hold a JSON object, got ${given}`);
  }
  return value as Record<string, unknown>;
}

/** Fails (exit 1) unless `path` is a checkpoint folder; `flag` names where it came from. */
export function requireCheckpointFolder(path: string, flag: string): void {
  if (!existsSync(path)) throw new InputError(`${flag} ${path}: no such checkpoint folder`);
  if (!statSync(path).isDirectory())
    throw new InputError(`${flag} ${path}: is a file; give the checkpoint folder`);
  if (!existsSync(join(path, 'config.json')))
    throw new InputError(
      `${flag} ${path}: not a checkpoint folder (no config.json); run \`hicra pretrain\` first, or give a Hugging Face model folder`,
    );
}

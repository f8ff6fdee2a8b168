import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@hicra/tensor';
import { STRATEGIES } from '../strategies.js';
import type { Command, CommandContext } from './command.js';
import { annotateCommand } from './commands/annotate.js';
import { compareCommand } from './commands/compare.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { pretrainCommand } from './commands/pretrain.js';
import { reportCommand } from './commands/report.js';
import { serveCommand } from './commands/serve.js';
import { trainCommand } from './commands/train.js';
import { EXIT, reportError, UsageError } from './errors.js';
import { nearest, type OptionName, optionHelp, parseCommandLine } from './options.js';
import { type Output, progress, toJson } from './output.js';

export { EXIT } from './errors.js';

/** Every command, in the order `hicra --help` lists them. */
export const COMMANDS: Readonly<Record<string, Command<OptionName>>> = {
  pretrain: pretrainCommand,
  train: trainCommand,
  compare: compareCommand,
  eval: evalCommand,
  report: reportCommand,
  annotate: annotateCommand,
  export: exportCommand,
  serve: serveCommand,
  demo: demoCommand,
} as Record<string, Command<OptionName>>;

const EXIT_CODES = `Exit codes
  0    done
  1    failed: a missing or unreadable file, a locked or mismatched run directory, an error
       during the work (the message says which)
  2    bad usage: an unknown command or flag, a value out of range, an invalid config file
  130  interrupted (Ctrl-C): a checkpoint was saved and the same command resumes`;

/** `hicra --help`. */
export function globalHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length)) + 3;
  return `hicra: GRPO vs HICRA on a small reasoning task, on a CPU

Usage: hicra <command> [options]

Commands
${names.map((name) => `  ${name.padEnd(width)}${COMMANDS[name]!.summary}`).join('\n')}

Common options
${optionHelp([])}

Strategies
${STRATEGIES.map((s) => `  ${s.name.padEnd(20)}${s.description}`).join('\n')}

Examples
${names.flatMap((name) => COMMANDS[name]!.examples.map((e) => `  ${e}`)).join('\n')}

${EXIT_CODES}`;
}

/** `hicra <command> --help`. */
export function commandHelp(command: Command<OptionName>): string {
  return `${command.usage}

${command.description}

Options
${optionHelp(command.spec.options)}

Examples
${command.examples.map((e) => `  ${e}`).join('\n')}`;
}

/** Runs the command line; returns the exit code. */
export async function main(
  argv: readonly string[],
  cliPath = fileURLToPath(import.meta.url),
): Promise<number> {
  const [name, ...rest] = argv;
  const output: Output = { json: rest.includes('--json'), quiet: rest.includes('--quiet') };
  const writeError = (line: string) => process.stderr.write(`${line}\n`);
  try {
    if (name === undefined) {
      process.stderr.write(`${globalHelp()}\n`);
      return EXIT.usage;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write(`${globalHelp()}\n`);
      return EXIT.ok;
    }
    const command = COMMANDS[name];
    if (!command) {
      const near = nearest(name, Object.keys(COMMANDS));
      throw new UsageError(
        `unknown command ${JSON.stringify(name)}${near ? `; did you mean ${JSON.stringify(near)}?` : ''} (commands: ${Object.keys(COMMANDS).join(', ')})`,
      );
    }
    const parsed = parseCommandLine(command.spec, rest);
    if (parsed.values.help) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return EXIT.ok;
    }
    if (command.usesBackend) {
      const info = await initBackend(parsed.values.backend);
      progress(output, `backend: ${info.name}${info.simd ? ' (SIMD)' : ''}`);
    }
    let exitCode: number = EXIT.ok;
    const context: CommandContext = {
      output,
      cliPath,
      setExitCode: (code) => {
        exitCode = code;
      },
    };
    const result = await command.run(parsed, context);
    if (output.json) process.stdout.write(`${toJson(result)}\n`);
    return exitCode;
  } catch (error) {
    return reportError(error, writeError);
  }
}

const entry = process.argv[1] ? resolve(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

import { parseArgs } from 'node:util';
import { SPAN_UNITS } from '@hicra/spec';
import { ANNOTATE_INPUT_FORMATS } from '../annotate.js';
import { STRATEGIES } from '../strategies.js';
import { UsageError } from './errors.js';

/**
 * Every option of the `hicra` command line, defined once: its value's name in help, what it
 * means, and how its text is checked and converted. The same flag gets the same check, the
 * same message and the same exit code (2) in every command that takes it.
 */
interface OptionDefinition<T> {
  /** The value's name in help (`N`, `DIR`); absent for a boolean flag. */
  readonly value?: string;
  readonly description: string;
  readonly short?: string;
  /** Converts and checks the text given for `--flag`; throws `UsageError`. */
  readonly parse: (text: string, flag: string) => T;
  /** For a repeatable flag: combines an earlier value with the next (else a repeat wins). */
  combine?(earlier: T, next: T): T;
}

function flag(description: string, short?: string): OptionDefinition<boolean> {
  return { description, ...(short ? { short } : {}), parse: () => true };
}

function text(value: string, description: string): OptionDefinition<string> {
  return {
    value,
    description,
    parse: (given, name) => {
      if (given === '') throw new UsageError(`${name} must not be empty`);
      return given;
    },
  };
}

function integerIn(
  value: string,
  description: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): OptionDefinition<number> {
  return { value, description, parse: (given, name) => parseInteger(given, name, min, max) };
}

function parseInteger(given: string, name: string, min: number, max: number): number {
  const n = given.trim() === '' ? Number.NaN : Number(given);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `${min} to ${max}`;
    throw new UsageError(`${name} must be ${range}, got ${JSON.stringify(given)}`);
  }
  return n;
}

function numberIn(
  value: string,
  description: string,
  range: { min: number; minExclusive?: boolean; max: number },
): OptionDefinition<number> {
  return {
    value,
    description,
    parse: (given, name) => {
      const n = given.trim() === '' ? Number.NaN : Number(given);
      const low = range.minExclusive ? n > range.min : n >= range.min;
      if (!Number.isFinite(n) || !low || n > range.max) {
        const open = range.minExclusive ? '(' : '[';
        throw new UsageError(
          `${name} must be a number in ${open}${range.min}, ${range.max}], got ${JSON.stringify(given)}`,
        );
      }
      return n;
    },
  };
}

function oneOf<const T extends string>(
  value: string,
  description: string,
  choices: readonly T[],
): OptionDefinition<T> {
  return {
    value,
    description,
    parse: (given, name) => {
      if ((choices as readonly string[]).includes(given)) return given as T;
      throw new UsageError(`${unknownValue(name, given, choices)}`);
    },
  };
}

function listOf<T>(
  value: string,
  description: string,
  item: (given: string, name: string) => T,
): OptionDefinition<T[]> {
  return {
    value,
    description,
    parse: (given, name) => {
      const items = given
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (items.length === 0) throw new UsageError(`${name} must list at least one value`);
      const parsed = items.map((s) => item(s, name));
      const seen = new Set<string>();
      for (const s of items) {
        if (seen.has(s)) throw new UsageError(`${name} lists ${JSON.stringify(s)} twice`);
        seen.add(s);
      }
      return parsed;
    },
  };
}

const STRATEGY_NAMES = STRATEGIES.map((s) => s.name);
const BACKENDS = ['auto', 'cpu', 'wasm', 'native', 'tensorflow', 'tensorflow-gpu'] as const;

function strategyName(given: string, name: string): string {
  if (STRATEGY_NAMES.includes(given)) return given;
  throw new UsageError(unknownValue(name, given, STRATEGY_NAMES, 'strategy'));
}

/** `unknown strategy "hicrra" for --strategy; did you mean "hicra"? known: ...` */
function unknownValue(
  name: string,
  given: string,
  choices: readonly string[],
  what = 'value',
): string {
  const near = nearest(given, choices);
  return `unknown ${what} ${JSON.stringify(given)} for ${name}${near ? `; did you mean ${JSON.stringify(near)}?` : ''} (known: ${choices.join(', ')})`;
}

export const OPTIONS = {
  json: flag('print the result as one JSON object on stdout (progress stays on stderr)'),
  quiet: flag('no progress output and no warnings (errors still print)'),
  help: flag("this text, or a command's help with `hicra <command> --help`", 'h'),
  backend: oneOf(
    'NAME',
    'auto | cpu | wasm | native (WASM with OpenBLAS kernels, @hicra/tensor-native, linux-x64) | tensorflow | tensorflow-gpu (default: HICRA_BACKEND or auto)',
    BACKENDS,
  ),
  force: flag('replace what --out names although it exists'),
  dtype: oneOf(
    'TYPE',
    'float32 | bfloat16 | float16: the element type of the weights written (default float32)',
    ['float32', 'bfloat16', 'float16'] as const,
  ),
  from: text(
    'CHECKPOINT',
    'a checkpoint folder (from `hicra pretrain`) or a Hugging Face model folder (Qwen2, Qwen3, Llama)',
  ),
  base: text(
    'CHECKPOINT',
    'the base checkpoint every run starts from (default: the committed one)',
  ),
  out: text('PATH', 'where the output goes'),
  strategy: {
    value: 'NAME',
    description: `the credit-assignment strategy: ${STRATEGY_NAMES.join(', ')}`,
    parse: strategyName,
  } satisfies OptionDefinition<string>,
  strategies: listOf('A,B', 'strategies to compare (default grpo,hicra)', strategyName),
  estimator: text(
    'NAME',
    "replace only the strategy's advantage estimator (grpo, dr-grpo, rloo, opo, reinforce-plus-plus, ...); the dr-grpo strategy is the full method, estimator and loss",
  ),
  seed: integerIn('N', 'random seed (default 0)', 0, 2 ** 31 - 1),
  seeds: listOf('0,1,2', 'seeds, one run each', (given, name) =>
    parseInteger(given, name, 0, 2 ** 31 - 1),
  ),
  steps: integerIn('N', 'optimizer steps', 1, 1_000_000),
  'pretrain-steps': integerIn('N', 'warm-start steps when the base is made (default 900)', 1),
  config: text('FILE.json', "overrides of @hicra/trainer's RL config (nested keys merge)"),
  level: integerIn('0-4', 'Countdown level (0: the warm-up level)', 0, 4),
  examples: integerIn('N', 'warm-start traces (default 4000)', 1, 10_000_000),
  'batch-size': integerIn('N', 'examples per warm-start step (default 32)', 1, 65_536),
  'learning-rate': numberIn('X', 'warm-start learning rate (default 0.003)', {
    min: 0,
    minExclusive: true,
    max: 1,
  }),
  'slip-rate': numberIn(
    'P',
    'share of warm-start trace steps with an arithmetic slip (default 0.15)',
    {
      min: 0,
      max: 1,
    },
  ),
  'dead-end-rate': numberIn(
    'P',
    'share of warm-start traces that try a dead end first (default 0.5)',
    {
      min: 0,
      max: 1,
    },
  ),
  'recovery-rate': numberIn('P', 'share of dead ends the trace recovers from (default 0.5)', {
    min: 0,
    max: 1,
  }),
  model: text(
    'NAME',
    'pretrain: the architecture preset, small or tiny (default small); train --engine tinker: the model the server trains',
  ),
  plugin: {
    value: 'FILE.js',
    description:
      'an ES module exporting plug-in registrations (@hicra/spec\'s definePlugin: estimators, assigners, classifiers, rewards); their names can then be used in --estimator, the config\'s "credit", "classifier" and "reward", and annotate\'s --classifier (repeatable)',
    parse: (given, name) => {
      if (given === '') throw new UsageError(`${name} must not be empty`);
      return [given] as readonly string[];
    },
    combine: (earlier, next) => [...earlier, ...next],
  } satisfies OptionDefinition<readonly string[]>,
  dataset: text(
    'FILE.parquet',
    "train on a math dataset instead of Countdown: a Parquet file in verl's layout (data_source, prompt as chat messages, reward_model.ground_truth), rewarded by the math verifier",
  ),
  'eval-dataset': text(
    'FILE.parquet',
    "the dataset's evaluation rows (default: the last min(256, rows/10) rows of --dataset, held out of training)",
  ),
  'span-unit': oneOf(
    'utf16|codepoint',
    'what written span offsets count: utf16 code units (JavaScript, default) or codepoint (Python str, Hugging Face offsets)',
    SPAN_UNITS,
  ),
  'from-format': oneOf(
    'auto|hicra|verl',
    'the input: hicra rollout records, verl rollout dumps (a {step}.jsonl file or the rollout_data_dir folder), or auto (default: a folder is verl, a file is told by its first record: "schema" -> hicra; "input", "output", "score" -> verl)',
    ANNOTATE_INPUT_FORMATS,
  ),
  engine: oneOf(
    'local|tinker',
    'where the policy trains: local (in this process, default) or tinker (a Tinker-protocol server at --base-url)',
    ['local', 'tinker'] as const,
  ),
  'base-url': {
    value: 'URL',
    description: 'the server of --engine tinker, e.g. http://127.0.0.1:8000',
    parse: (given, name) => {
      let url: URL;
      try {
        url = new URL(given);
      } catch {
        throw new UsageError(`${name} must be an http(s) URL, got ${JSON.stringify(given)}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new UsageError(`${name} must be an http(s) URL, got ${JSON.stringify(given)}`);
      return given.replace(/\/+$/, '');
    },
  } satisfies OptionDefinition<string>,
  port: integerIn('N', 'the port to listen on (default 8000; 0 picks a free one)', 0, 65_535),
  host: text('ADDRESS', 'the interface to bind (default 127.0.0.1, loopback only)'),
  'api-key': text(
    'KEY',
    'the API key clients must send (X-API-Key or Authorization: Bearer); Tinker keys look like tml-...; default TINKER_API_KEY for --engine tinker',
  ),
  'state-dir': text(
    'DIR',
    'where the served engine saves states (save_weights, save_state), so a restarted server loads them (default: a temporary folder)',
  ),
  'eval-problems': integerIn('N', 'held-out problems for the final accuracy (default 64)', 1),
  problems: integerIn('N', 'held-out problems (default 128)', 1, 1_000_000),
  k: integerIn('K', 'samples per problem (default 4)', 1, 1024),
  temperature: numberIn('T', 'sampling temperature; 0 is greedy (default 0.6)', {
    min: 0,
    max: 100,
  }),
  jobs: integerIn('N', 'runs at a time, one process each (default 2)', 1, 64),
  title: text('TEXT', 'the page title'),
  tokenizer: text('FILE', 'a Hugging Face tokenizer.json (or its folder)'),
  credit: text('FILE.json', 'a credit-pipeline config (default GRPO + HICRA, alpha 0.2)'),
  classifier: text(
    'NAME|FILE.json',
    'the planning classifier: a registry name (built-in or from --plugin), or a JSON file holding {"name": ..., ...settings} (default strategic-grams)',
  ),
} as const;

export type OptionName = keyof typeof OPTIONS;
type OptionValue<N extends OptionName> = ReturnType<(typeof OPTIONS)[N]['parse']>;
export type OptionValues<N extends OptionName> = { readonly [P in N]?: OptionValue<P> };

/** The options every command takes. */
export const COMMON_OPTIONS = ['json', 'quiet', 'help', 'backend'] as const satisfies OptionName[];

/** What a command accepts. */
export interface CommandLineSpec<N extends OptionName> {
  readonly command: string;
  readonly options: readonly N[];
  /** Options that must be given. */
  readonly required?: readonly N[];
  /** Positional arguments: their name in messages and how many. Default none. */
  readonly positionals?: { readonly name: string; readonly min: number; readonly max: number };
}

export interface ParsedCommandLine<N extends OptionName> {
  readonly values: OptionValues<N | (typeof COMMON_OPTIONS)[number]>;
  readonly positionals: readonly string[];
}

/**
 * Parses a command's arguments against the option table: an unknown flag names the nearest
 * valid one, a value is checked by its option's parser, a missing required option or a wrong
 * number of positionals is a `UsageError`. A later repeat of a flag wins, except for a
 * repeatable one (`--plugin`), whose values add up.
 */
export function parseCommandLine<N extends OptionName>(
  spec: CommandLineSpec<N>,
  args: readonly string[],
): ParsedCommandLine<N> {
  const names = [...new Set<OptionName>([...COMMON_OPTIONS, ...spec.options])];
  const parseOptions: Record<string, { type: 'boolean' | 'string'; short?: string }> = {};
  for (const name of names) {
    const definition: OptionDefinition<unknown> = OPTIONS[name];
    parseOptions[name] = {
      type: definition.value === undefined ? 'boolean' : 'string',
      ...(definition.short ? { short: definition.short } : {}),
    };
  }
  const { tokens } = parseArgs({
    args: [...args],
    options: parseOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const name = token.name as OptionName;
    if (!(names as string[]).includes(name)) {
      const near = nearest(token.name, names);
      throw new UsageError(
        `unknown option ${token.rawName} for \`hicra ${spec.command}\`${near ? `; did you mean --${near}?` : ''}`,
      );
    }
    const definition: OptionDefinition<unknown> = OPTIONS[name];
    const rawName = `--${name}`;
    if (definition.value === undefined) {
      if (token.value !== undefined)
        throw new UsageError(`${rawName} takes no value, got ${JSON.stringify(token.value)}`);
      values[name] = true;
      continue;
    }
    if (token.value === undefined || (token.inlineValue === false && token.value.startsWith('--')))
      throw new UsageError(`${rawName} needs a value (${definition.value})`);
    const parsed = definition.parse(token.value, rawName);
    values[name] =
      definition.combine !== undefined && values[name] !== undefined
        ? definition.combine(values[name], parsed)
        : parsed;
  }
  if (values.help) return { values: values as ParsedCommandLine<N>['values'], positionals };
  const missing = (spec.required ?? []).filter((name) => values[name] === undefined);
  if (missing.length > 0) {
    throw new UsageError(
      `hicra ${spec.command} needs ${missing.map((name) => `--${name} ${OPTIONS[name].value ?? ''}`.trim()).join(', ')}`,
    );
  }
  const allowed = spec.positionals ?? { name: 'arguments', min: 0, max: 0 };
  if (positionals.length < allowed.min) {
    throw new UsageError(
      `hicra ${spec.command} needs ${allowed.min === allowed.max ? allowed.min : `at least ${allowed.min}`} ${allowed.name}`,
    );
  }
  if (positionals.length > allowed.max) {
    throw new UsageError(
      allowed.max === 0
        ? `hicra ${spec.command} takes no positional arguments, got ${JSON.stringify(positionals[0])}`
        : `hicra ${spec.command} takes at most ${allowed.max} ${allowed.name}, got ${positionals.length}`,
    );
  }
  return { values: values as ParsedCommandLine<N>['values'], positionals };
}

/** The option lines of a command's help, from the table. */
export function optionHelp(names: readonly OptionName[]): string {
  const all = [...new Set<OptionName>([...names, ...COMMON_OPTIONS])];
  const left = all.map((name) => {
    const definition: OptionDefinition<unknown> = OPTIONS[name];
    return `--${name}${definition.value ? ` ${definition.value}` : ''}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return all.map((name, i) => `  ${left[i]!.padEnd(width)}${OPTIONS[name].description}`).join('\n');
}

/** The choice closest to `given` by edit distance, when it is close enough to be a typo. */
export function nearest(given: string, choices: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const choice of choices) {
    const d = editDistance(given.toLowerCase(), choice.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = choice;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(given.length / 3))
    ? best
    : undefined;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}

/** Command-line flags of the tensor-ops benchmark. */

export const GROUPS = ['masked', 'logits'] as const;
export type Group = (typeof GROUPS)[number];
export const BENCH_BACKENDS = ['cpu', 'wasm'] as const;
export type BenchBackend = (typeof BENCH_BACKENDS)[number];

export interface Options {
  /** Timed runs on the WASM backend, of the typed-array kernels and in PyTorch. */
  readonly runs: number;
  /** Warm-up runs before them. */
  readonly warmup: number;
  /** Timed runs of the masked and loss ops on the CPU backend. */
  readonly cpuRuns: number;
  /** Timed runs of the 2,048 × 32,000 log-prob/entropy ops on the CPU backend. */
  readonly cpuLogitsRuns: number;
  /** Warm-up runs on the CPU backend. */
  readonly cpuWarmup: number;
  readonly backends: readonly BenchBackend[];
  readonly groups: readonly Group[];
  /** Keep the exchanged input and output files. */
  readonly keepData: boolean;
  /** Where the JSON results go (relative to the bench folder unless absolute). */
  readonly out: string;
  readonly help: boolean;
}

export const DEFAULTS: Options = {
  runs: 5,
  warmup: 2,
  cpuRuns: 3,
  cpuLogitsRuns: 1,
  cpuWarmup: 1,
  backends: BENCH_BACKENDS,
  groups: GROUPS,
  keepData: false,
  out: 'results/tensor-ops.json',
  help: false,
};

export const USAGE = `Usage: pnpm --filter @hicra/bench bench -- [flags]   (or: pnpm bench -- [flags] at the root)

Times @hicra/tensor ops on the CPU and WASM backends next to the same computation in PyTorch
(CPU, one thread), measured in the same run, and prints a ratio table.

Flags (defaults in brackets):
  --runs N             timed runs on WASM, of the typed-array kernels and in PyTorch [${DEFAULTS.runs}]
  --warmup N           warm-up runs before those [${DEFAULTS.warmup}]
  --cpu-runs N         timed runs of the masked and loss ops on the CPU backend [${DEFAULTS.cpuRuns}]
  --cpu-logits-runs N  timed runs of the 2,048 x 32,000 log-prob/entropy ops on CPU [${DEFAULTS.cpuLogitsRuns}]
                       (pure JS: about 30 s forward and 70 s forward+backward each)
  --cpu-warmup N       warm-up runs on the CPU backend [${DEFAULTS.cpuWarmup}]
  --backends LIST      comma-separated subset of ${BENCH_BACKENDS.join(',')} [${DEFAULTS.backends.join(',')}]
  --groups LIST        comma-separated subset of ${GROUPS.join(',')} [${DEFAULTS.groups.join(',')}]
  --out FILE           JSON results, relative to bench/ [${DEFAULTS.out}]
  --keep-data          keep the exchanged .bin files (their folder is printed)
  --help               this text`;

/** A comma-separated subset of `allowed`. */
export function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new Error(`${flag}: unknown value "${item}"; use a subset of ${allowed.join(',')}`);
    }
  }
  if (items.length === 0) throw new Error(`${flag}: give at least one of ${allowed.join(',')}`);
  return items as T[];
}

/** An integer >= `min`. */
export function count(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`${flag} needs an integer >= ${min}, got "${value}"`);
  }
  return n;
}

/** Parses `argv` (without node and the script); throws an Error with a readable message. */
/**
 * Walks `argv` (without node and the script): `--flag value`, `--flag=value` and bare flags.
 * `handle` gets each flag and a function that takes its value; it returns false for a flag it
 * does not know, which throws with `usage`.
 */
export function forEachFlag(
  argv: readonly string[],
  usage: string,
  handle: (flag: string, value: () => string) => boolean,
): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    if (!handle(flag!, value)) throw new Error(`unknown argument "${arg}"\n\n${usage}`);
  }
}

/** The flags every benchmark with a peer takes. */
export interface CommonOptions {
  runs: number;
  warmup: number;
  out: string;
  keepData: boolean;
  help: boolean;
}

/** What `measureFlag` fills: the timing flags (for scripts that take them) and `--help`. */
export interface MeasureOptions {
  runs?: number;
  warmup?: number;
  help: boolean;
}

/**
 * Handles `--runs` (>= 1), `--warmup` (>= 0) and `--help` (`-h`), plus `--json FILE` for a
 * script whose options have a `json` key; false for any other flag (the script's own).
 * `--runs` and `--warmup` are taken only by scripts whose options have those keys.
 */
export function measureFlag(
  options: MeasureOptions & { json?: string | undefined },
  flag: string,
  value: () => string,
): boolean {
  switch (flag) {
    case '--runs':
      if (!('runs' in options)) return false;
      options.runs = count(flag, value(), 1);
      return true;
    case '--warmup':
      if (!('warmup' in options)) return false;
      options.warmup = count(flag, value(), 0);
      return true;
    case '--json':
      if (!('json' in options)) return false;
      options.json = value();
      return true;
    case '--help':
    case '-h':
      options.help = true;
      return true;
    default:
      return false;
  }
}

/**
 * Handles `--runs`, `--warmup`, `--out`, `--keep-data` and `--help` (`-h`) into `options`;
 * false for any other flag (the script's own).
 */
export function commonFlag(options: CommonOptions, flag: string, value: () => string): boolean {
  if (measureFlag(options, flag, value)) return true;
  switch (flag) {
    case '--out':
      options.out = value();
      return true;
    case '--keep-data':
      options.keepData = true;
      return true;
    default:
      return false;
  }
}

export function parseArgs(argv: readonly string[]): Options {
  const options: { -readonly [K in keyof Options]: Options[K] } = { ...DEFAULTS };
  forEachFlag(argv, USAGE, (flag, value) => {
    if (commonFlag(options, flag, value)) return true;
    switch (flag) {
      case '--cpu-runs':
        options.cpuRuns = count(flag, value(), 1);
        break;
      case '--cpu-logits-runs':
        options.cpuLogitsRuns = count(flag, value(), 1);
        break;
      case '--cpu-warmup':
        options.cpuWarmup = count(flag, value(), 0);
        break;
      case '--backends':
        options.backends = list(flag, value(), BENCH_BACKENDS);
        break;
      case '--groups':
        options.groups = list(flag, value(), GROUPS);
        break;
      default:
        return false;
    }
    return true;
  });
  return options;
}

/**
 * Runs a benchmark script: parses its flags, prints `usage` for `--help`, runs `main`, and exits
 * with its status (1 on any error, printing only the error: the WASM runtime's own handler would
 * dump its whole module source).
 */
export async function runScript<T extends { readonly help: boolean }>(
  parse: (argv: readonly string[]) => T,
  usage: string,
  main: (options: T) => Promise<number>,
): Promise<never> {
  let status = 1;
  try {
    const options = parse(process.argv.slice(2));
    if (options.help) {
      console.log(usage);
      status = 0;
    } else {
      status = await main(options);
    }
  } catch (error) {
    console.error(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    status = 1;
  }
  process.exit(status);
}

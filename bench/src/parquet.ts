/**
 * Benchmark: STREAMING A LARGE PARQUET DATASET. Writes a verl-shaped Parquet file (verl's
 * GSM8K columns: `data_source`, `prompt` as chat messages, `ability`, `reward_model`,
 * `extra_info`; seeded word text that compresses about as much as prose; snappy, row groups of
 * `--row-group-rows` rows) of `--size-mb` megabytes (default 1024) with hyparquet-writer, then
 * reads the same file twice, each in its own child process so that each gets its own peak RSS:
 *
 * - ours: `loadVerlDataset` of @hicra/tasks (hyparquet, one row group at a time), every row
 *   converted to a `VerlProblem`;
 * - the peer: DuckDB (`@duckdb/node-api`, native), `SELECT *` streamed chunk by chunk into JS
 *   row objects (`yieldRowObjectJs`), `--duckdb-threads` threads (default 1, as ours).
 *
 * - ours again, with V8's old space capped at `--heap-cap-mb` (default 128 MiB): it can only
 *   finish if memory is bounded by a row group, whatever the file's size.
 *
 * All compute the same checksum (rows, characters of the last user message and of the ground
 * truth), which must agree. Reports rows/s, MB/s of file and peak RSS (`maxRSS` of the child)
 * of each, and ours ÷ DuckDB. The file goes to a temporary folder, deleted at the end unless
 * `--keep-data`. Writes results/parquet.json. See bench/README.md.
 *
 *   node --import tsx --conditions=@hicra/source src/parquet.ts [--size-mb 1024] [--keep-data] [--help]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadVerlDataset, VERL_DATASET_PARQUET_SCHEMA } from '@hicra/tasks';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import { count, forEachFlag } from './lib/args.js';
import { formatLoad, machine, sourceState } from './lib/run-info.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = fileURLToPath(import.meta.url);

interface Options {
  sizeMb: number;
  rowGroupRows: number;
  duckdbThreads: number;
  /** V8 old-space cap of the second read of ours, MiB. */
  heapCapMb: number;
  dir: string | undefined;
  keepData: boolean;
  out: string;
  help: boolean;
  /** Internal: run one phase in this process (`write`, `ours`, `duckdb`) on `file`. */
  phase: string | undefined;
  file: string | undefined;
}

const USAGE = `Usage: pnpm --filter @hicra/bench bench:parquet -- [flags]

Writes a verl-shaped Parquet file, streams it with @hicra/tasks' loadVerlDataset and reads it
with DuckDB, each in its own process; prints rows/s and peak memory (RSS) of both.

Flags (defaults in brackets):
  --size-mb N          size of the file to write, in MB [1024]
  --row-group-rows N   rows per row group [10000]
  --duckdb-threads N   DuckDB's threads [1]
  --heap-cap-mb N      V8 old-space cap of the second read of ours, MiB [128]
  --dir DIR            where to write the file [a new temporary folder]
  --keep-data          keep the file (its path is printed)
  --out FILE           JSON results, relative to bench/ [results/parquet.json]
  --help               this text`;

function parse(argv: readonly string[]): Options {
  const options: Options = {
    sizeMb: 1024,
    rowGroupRows: 10_000,
    duckdbThreads: 1,
    heapCapMb: 128,
    dir: undefined,
    keepData: false,
    out: 'results/parquet.json',
    help: false,
    phase: undefined,
    file: undefined,
  };
  forEachFlag(argv, USAGE, (flag, value) => {
    switch (flag) {
      case '--size-mb':
        options.sizeMb = count(flag, value(), 1);
        return true;
      case '--row-group-rows':
        options.rowGroupRows = count(flag, value(), 1);
        return true;
      case '--duckdb-threads':
        options.duckdbThreads = count(flag, value(), 1);
        return true;
      case '--heap-cap-mb':
        options.heapCapMb = count(flag, value(), 16);
        return true;
      case '--dir':
        options.dir = value();
        return true;
      case '--keep-data':
        options.keepData = true;
        return true;
      case '--out':
        options.out = value();
        return true;
      case '--phase':
        options.phase = value();
        return true;
      case '--file':
        options.file = value();
        return true;
      case '--help':
      case '-h':
        options.help = true;
        return true;
      default:
        return false;
    }
  });
  return options;
}

/** What a phase reports. */
interface PhaseResult {
  rows: number;
  seconds: number;
  /** Peak resident set size of the process, MiB. */
  peakRssMiB: number;
  checksum?: number;
  bytes?: number;
  rowGroups?: number;
}

const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

/** Seeded text: words from a fixed random vocabulary, so it compresses like prose, not like repeats. */
function textSource(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const vocabulary = Array.from({ length: 8192 }, () => {
    const length = 2 + Math.floor(next() * 9);
    let word = '';
    for (let i = 0; i < length; i++) word += letters[Math.floor(next() * 26)];
    return word;
  });
  return {
    next,
    words(n: number): string {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(vocabulary[Math.floor(next() * vocabulary.length)]!);
      return out.join(' ');
    },
  };
}

const VERL_SCHEMA = VERL_DATASET_PARQUET_SCHEMA;

const INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".';

function writePhase(file: string, options: Options): PhaseResult {
  const text = textSource(20261207);
  const start = performance.now();
  const writer = new ParquetWriter({
    writer: fileWriter(file),
    schema: VERL_SCHEMA as never,
    codec: 'SNAPPY',
  });
  const target = options.sizeMb * 1024 * 1024;
  let rows = 0;
  let groups = 0;
  while (statSync(file).size < target) {
    const n = options.rowGroupRows;
    const columns: Record<string, unknown[]> = {
      data_source: [],
      prompt: [],
      ability: [],
      reward_model: [],
      extra_info: [],
    };
    for (let i = 0; i < n; i++) {
      const question = `${text.words(40 + Math.floor(text.next() * 40))}?`;
      const answer = String(Math.floor(text.next() * 100000));
      const solution = `${text.words(80 + Math.floor(text.next() * 120))}\n#### ${answer}`;
      columns.data_source!.push('openai/gsm8k');
      columns.prompt!.push([{ role: 'user', content: `${question} ${INSTRUCTION}` }]);
      columns.ability!.push('math');
      columns.reward_model!.push({ style: 'rule', ground_truth: answer });
      columns.extra_info!.push({
        split: 'train',
        index: BigInt(rows + i),
        answer: solution,
        question,
      });
    }
    writer.write({
      columnData: Object.entries(columns).map(([name, data]) => ({ name, data })) as never,
      rowGroupSize: n,
    });
    rows += n;
    groups++;
  }
  writer.finish();
  return {
    rows,
    rowGroups: groups,
    bytes: statSync(file).size,
    seconds: (performance.now() - start) / 1000,
    peakRssMiB: peakRssMiB(),
  };
}

async function oursPhase(file: string): Promise<PhaseResult> {
  const start = performance.now();
  let rows = 0;
  let checksum = 0;
  const dataset = loadVerlDataset(file, { onBadRow: 'throw' });
  for await (const { value } of dataset) {
    rows++;
    checksum += value.problem.length + value.answer.length;
  }
  return {
    rows,
    checksum,
    rowGroups: dataset.report.rowGroups,
    seconds: (performance.now() - start) / 1000,
    peakRssMiB: peakRssMiB(),
  };
}

async function duckdbPhase(file: string, threads: number): Promise<PhaseResult> {
  const start = performance.now();
  const instance = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  const connection = await instance.connect();
  let rows = 0;
  let checksum = 0;
  const result = await connection.stream(
    `SELECT data_source, prompt, ability, reward_model, extra_info FROM read_parquet('${file.replaceAll("'", "''")}')`,
  );
  for await (const chunk of result.yieldRowObjectJs()) {
    for (const row of chunk) {
      const prompt = row.prompt as { role: string; content: string }[];
      const user = prompt.findLast((m) => m.role === 'user')!;
      const truth = (row.reward_model as { ground_truth: string }).ground_truth.trim();
      rows++;
      checksum += user.content.length + truth.length;
    }
  }
  connection.closeSync();
  instance.closeSync();
  return { rows, checksum, seconds: (performance.now() - start) / 1000, peakRssMiB: peakRssMiB() };
}

/** Runs one phase in a fresh Node process and returns what it printed. */
function child(
  phase: string,
  file: string,
  options: Options,
  nodeFlags: readonly string[] = [],
): PhaseResult {
  const args = [
    ...nodeFlags,
    ...process.execArgv,
    SCRIPT,
    '--phase',
    phase,
    '--file',
    file,
    '--size-mb',
    String(options.sizeMb),
    '--row-group-rows',
    String(options.rowGroupRows),
    '--duckdb-threads',
    String(options.duckdbThreads),
  ];
  const run = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  if (run.status !== 0) throw new Error(`the ${phase} phase failed (exit ${run.status})`);
  const last = run.stdout.trim().split('\n').at(-1)!;
  return JSON.parse(last) as PhaseResult;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return;
  }
  if (options.phase !== undefined) {
    const file = options.file!;
    const result =
      options.phase === 'write'
        ? writePhase(file, options)
        : options.phase === 'ours'
          ? await oursPhase(file)
          : options.phase === 'duckdb'
            ? await duckdbPhase(file, options.duckdbThreads)
            : undefined;
    if (result === undefined) throw new Error(`unknown phase ${options.phase}`);
    console.log(JSON.stringify(result));
    return;
  }

  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'hicra-bench-parquet-'));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'verl-train.parquet');
  try {
    console.log(
      `writing ${fmt(options.sizeMb)} MB of verl-shaped rows to ${file} (load ${formatLoad(loadavg())})`,
    );
    const written = child('write', file, options);
    const mb = written.bytes! / 1e6;
    console.log(
      `  ${fmt(written.rows)} rows in ${written.rowGroups} row groups, ${fmt(mb)} MB, ${fmt(written.seconds, 1)} s (${fmt(written.rows / written.seconds)} rows/s, peak RSS ${fmt(written.peakRssMiB)} MiB)`,
    );
    const ours = child('ours', file, options);
    // The same read with V8's old space capped: it finishes only if memory is really bounded
    // by a row group (without a cap, V8 lets the heap grow before collecting).
    const capped = child('ours', file, options, [`--max-old-space-size=${options.heapCapMb}`]);
    const duck = child('duckdb', file, options);
    if (
      ours.rows !== written.rows ||
      duck.rows !== written.rows ||
      ours.checksum !== duck.checksum
    ) {
      throw new Error(
        `the readers disagree: rows written ${written.rows}, ours ${ours.rows}, DuckDB ${duck.rows}; checksums ${ours.checksum} vs ${duck.checksum}`,
      );
    }
    const line = (name: string, r: PhaseResult) =>
      `| ${name.padEnd(40)} | ${fmt(r.seconds, 1).padStart(7)} | ${fmt(r.rows / r.seconds).padStart(9)} | ${fmt(mb / r.seconds, 1).padStart(6)} | ${fmt(r.peakRssMiB).padStart(13)} |`;
    console.log(`\nsame file, same checksum (${fmt(written.rows)} rows):\n`);
    console.log(
      '| reader                                   |  time s |    rows/s |   MB/s | peak RSS MiB |',
    );
    console.log(
      '| ---------------------------------------- | ------: | --------: | -----: | ------------: |',
    );
    console.log(line('ours: loadVerlDataset (hyparquet)', ours));
    console.log(line(`ours, V8 heap capped at ${options.heapCapMb} MiB`, capped));
    console.log(
      line(
        `DuckDB (${options.duckdbThreads} thread${options.duckdbThreads > 1 ? 's' : ''}) -> JS rows`,
        duck,
      ),
    );
    console.log(
      `\nours / DuckDB: throughput ${fmt(duck.seconds / ours.seconds, 2)}x, peak RSS ${fmt(ours.peakRssMiB / duck.peakRssMiB, 2)}x`,
    );
    const outPath = resolve(BENCH_DIR, options.out);
    mkdirSync(dirname(outPath), { recursive: true });
    writeFileSync(
      outPath,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          machine: machine(),
          load: loadavg(),
          source: sourceState(['packages/tasks']),
          options: {
            sizeMb: options.sizeMb,
            rowGroupRows: options.rowGroupRows,
            duckdbThreads: options.duckdbThreads,
            heapCapMb: options.heapCapMb,
          },
          written,
          ours,
          oursHeapCapped: capped,
          duckdb: duck,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`results: ${outPath}`);
  } finally {
    if (options.keepData) console.log(`kept ${file}`);
    else if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    else rmSync(file, { force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});

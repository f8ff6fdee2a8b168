/**
 * Benchmark: HTTP SERVING OVERHEAD on loopback. Builds what `hicra serve` builds, from the
 * packages (not the app): a seeded `TransformerPolicy` (the policy benchmark's transformer), a
 * `WordTokenizer` over its vocabulary, `LocalTrainingClient` + `LocalSamplingClient` of
 * @hicra/policy, and one `createHttpServer` of @hicra/remote (127.0.0.1, a free port) with
 * `installTinkerProtocol` and `installOpenAICompletions` on it. Then, in the same run, round by
 * round, the same 64 sampling requests (one prompt of 16 tokens × 4 samples × 32 new tokens
 * each, distinct seeds) go
 *
 * - in process: `LocalSamplingClient.sample` one after the other, and all at once (promises);
 * - in process, as one batched call of all the prompts (what cross-request batching would give);
 * - over HTTP: `OpenAISamplingClient` (`/v1/completions`, `maxConcurrency` 64), all at once;
 * - over HTTP: `TinkerSamplingClient` (the Tinker protocol's `asample` + `retrieve_future`),
 *   all at once.
 *
 * The HTTP clients run in a worker thread (lib/serve-client.ts), as a client in another process
 * would; the model, the server and the in-process modes on the main thread. Reports requests/s,
 * generated tokens/s, p50/p95 latency, errors, HTTP tokens/s ÷ in-process tokens/s, and the main
 * thread's event-loop delay. Every HTTP result must equal the in-process one of the same seed,
 * token for token. The model runs on one JS thread, so concurrency adds no compute. Exits
 * non-zero on any error, retry, non-2xx answer, mismatch or tensor leak. Writes
 * results/serve.json. See bench/README.md.
 *
 *   node --import tsx --conditions=@hicra/source src/serve.ts [--runs 4] [--concurrency 64] [--help]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  LocalSamplingClient,
  LocalTrainingClient,
  TransformerPolicy,
  WordTokenizer,
} from '@hicra/policy';
import {
  createHttpServer,
  type HttpRequestLogEntry,
  type InstalledProtocol,
  installOpenAICompletions,
  installTinkerProtocol,
} from '@hicra/remote';
import type { SampleRequestV1, SampleResultV1, SamplingClientV1 } from '@hicra/spec';
import { initBackend, SeededGenerator, tf } from '@hicra/tensor';
import { commonFlag, count, forEachFlag, list, runScript } from './lib/args.js';
import { median } from './lib/measure.js';
import { POLICY_MODEL } from './lib/policy-model.js';
import { formatMs } from './lib/report.js';
import { formatLoad, machine, sourceState } from './lib/run-info.js';
import { type ClientWorker, type HttpMode, startClientWorker } from './lib/serve-client.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The packages whose uncommitted changes the results record. */
const MEASURED = ['packages/remote', 'packages/policy', 'packages/tensor', 'packages/spec'];

/** The policy benchmark's transformer; the vocabulary is a flag. */
const MODEL = POLICY_MODEL;
const MODEL_NAME = 'bench-serve';
const SEEDS = { weights: 0, prompts: 1, sampling: 10_000 } as const;
/** The word tokenizer's special tokens take ids 0..3; prompts use the words only. */
const FIRST_WORD_ID = 4;

const MODES = ['sequential', 'concurrent', 'batched', 'openai', 'tinker'] as const;
type Mode = (typeof MODES)[number];
const HTTP_MODES: readonly Mode[] = ['openai', 'tinker'];
const BACKENDS = ['wasm', 'cpu'] as const;
type Backend = (typeof BACKENDS)[number];

interface ServeOptions {
  readonly runs: number;
  readonly warmup: number;
  readonly concurrency: number;
  readonly samples: number;
  readonly promptLength: number;
  readonly newTokens: number;
  readonly vocab: number;
  readonly backend: Backend;
  readonly modes: readonly Mode[];
  readonly out: string;
  readonly keepData: boolean;
  readonly help: boolean;
}

const DEFAULTS: ServeOptions = {
  runs: 4,
  warmup: 1,
  concurrency: 64,
  samples: 4,
  promptLength: 16,
  newTokens: 32,
  vocab: 64,
  backend: 'wasm',
  modes: MODES,
  out: 'results/serve.json',
  keepData: false,
  help: false,
};

const USAGE = `Usage: pnpm --filter @hicra/bench bench:serve -- [flags]

Measures HTTP serving overhead on loopback: the server hicra serve builds (Tinker protocol and
OpenAI-compatible completions on one port, over the local engine) under N concurrent sampling
requests from one client (in a worker thread), next to the same requests in process
(LocalSamplingClient.sample), measured in the same run, round by round. The model runs on one
JS thread: concurrency adds no compute.

Flags (defaults in brackets):
  --runs N           timed rounds; each round runs every mode once [${DEFAULTS.runs}]
  --warmup N         untimed rounds before those [${DEFAULTS.warmup}]
  --concurrency N    requests per round, all in flight at once [${DEFAULTS.concurrency}]
  --samples N        samples per request (one prompt each) [${DEFAULTS.samples}]
  --prompt-length N  prompt tokens [${DEFAULTS.promptLength}]
  --new-tokens N     new tokens per sample (no stop token: every sample is this long) [${DEFAULTS.newTokens}]
  --vocab N          vocabulary size V (>= 5: 4 special tokens and the words) [${DEFAULTS.vocab}]
  --backend NAME     ${BACKENDS.join(' or ')} [${DEFAULTS.backend}]
  --modes LIST       comma-separated subset of ${MODES.join(',')} [all]
  --out FILE         JSON results, relative to bench/ [${DEFAULTS.out}]
  --keep-data        keep the server's state folder (its path is printed)
  --help             this text`;

function parseServeArgs(argv: readonly string[]): ServeOptions {
  const options: { -readonly [K in keyof ServeOptions]: ServeOptions[K] } = { ...DEFAULTS };
  forEachFlag(argv, USAGE, (flag, value) => {
    if (commonFlag(options, flag, value)) return true;
    switch (flag) {
      case '--concurrency':
        options.concurrency = count(flag, value(), 1);
        break;
      case '--samples':
        options.samples = count(flag, value(), 1);
        break;
      case '--prompt-length':
        options.promptLength = count(flag, value(), 1);
        break;
      case '--new-tokens':
        options.newTokens = count(flag, value(), 1);
        break;
      case '--vocab':
        options.vocab = count(flag, value(), FIRST_WORD_ID + 1);
        break;
      case '--backend':
        options.backend = list(flag, value(), BACKENDS)[0]!;
        break;
      case '--modes': {
        const chosen = list(flag, value(), MODES);
        options.modes = MODES.filter((m) => chosen.includes(m));
        break;
      }
      default:
        return false;
    }
    return true;
  });
  if (options.promptLength + options.newTokens > MODEL.contextLength) {
    throw new Error(
      `--prompt-length ${options.promptLength} + --new-tokens ${options.newTokens} exceed the model's context length ${MODEL.contextLength}`,
    );
  }
  return options;
}

const log = (message: string) => console.error(`[bench] ${message}`);

// --- the workload -----------------------------------------------------------------------------

/** Request i of round r: its own seeded prompt and seed `10 000 + (r·N + i)·G`. */
function roundRequests(options: ServeOptions, round: number): SampleRequestV1[] {
  const g = new SeededGenerator(SEEDS.prompts + round);
  const S = options.promptLength;
  return Array.from({ length: options.concurrency }, (_, i) => ({
    prompts: {
      tokenIds: Int32Array.from(
        { length: S },
        () => FIRST_WORD_ID + g.nextInt(options.vocab - FIRST_WORD_ID),
      ),
      offsets: Int32Array.of(0, S),
    },
    samplesPerPrompt: options.samples,
    maxNewTokens: options.newTokens,
    temperature: 1,
    seed: SEEDS.sampling + (round * options.concurrency + i) * options.samples,
  }));
}

/** All the round's prompts as one request (the batched mode; its own seed). */
function batchedRequest(requests: readonly SampleRequestV1[]): SampleRequestV1 {
  const tokenIds = new Int32Array(requests.reduce((n, r) => n + r.prompts.tokenIds.length, 0));
  const offsets = new Int32Array(requests.length + 1);
  requests.forEach((r, i) => {
    tokenIds.set(r.prompts.tokenIds, offsets[i]!);
    offsets[i + 1] = offsets[i]! + r.prompts.tokenIds.length;
  });
  return { ...requests[0]!, prompts: { tokenIds, offsets } };
}

// --- one mode, one round ----------------------------------------------------------------------

interface ModeRun {
  readonly mode: Mode;
  readonly round: number;
  readonly warmup: boolean;
  readonly wallMs: number;
  /** Per request, from its call to its result (queueing included). */
  readonly latenciesMs: number[];
  readonly requests: number;
  /** Generated tokens (response-mask ones) over all results. */
  readonly tokens: number;
  readonly errors: string[];
  /**
   * HTTP requests the server answered during the run (Tinker's session heartbeats left out), how
   * many were not 2xx, and by path (heartbeats included) how many and how long the server took
   * (fastify's `elapsedTime`, from the request's arrival to its answer).
   */
  readonly http: {
    readonly requests: number;
    readonly non2xx: number;
    readonly paths: Record<string, PathStats>;
  };
  /** The event loop's delay while the mode ran (`monitorEventLoopDelay`, 10 ms resolution). */
  readonly eventLoopDelayMs: { readonly mean: number; readonly max: number };
  readonly retries: number;
  readonly tensorsAfter: number;
  /**
   * Against the round's reference (the results of the in-process mode, sequential or concurrent,
   * that ran first in the round): results that differ. 0 when there is no in-process mode.
   */
  readonly mismatches: number;
  /** Largest |log-prob difference| against the reference. */
  readonly maxLogProbDiff: number;
}

/** What the server and the clients count, reset before each run. */
interface Counters {
  http: number;
  non2xx: number;
  paths: Map<string, PathStats>;
}

interface PathStats {
  count: number;
  meanMs: number;
  maxMs: number;
}

function addTo(paths: Map<string, PathStats>, path: string, ms: number): void {
  const stats = paths.get(path) ?? { count: 0, meanMs: 0, maxMs: 0 };
  stats.count++;
  stats.meanMs += (ms - stats.meanMs) / stats.count;
  stats.maxMs = Math.max(stats.maxMs, ms);
  paths.set(path, stats);
}

const HEARTBEAT_PATH = '/api/v1/session_heartbeat';

function checkResult(result: SampleResultV1, options: ServeOptions, rows: number): string[] {
  const T = options.newTokens;
  const problems: string[] = [];
  if (result.batchSize !== rows) problems.push(`batchSize ${result.batchSize}, expected ${rows}`);
  if (result.seqLen !== T) problems.push(`seqLen ${result.seqLen}, expected ${T}`);
  let tokens = 0;
  for (const m of result.responseMask) tokens += m;
  if (tokens !== rows * T) {
    problems.push(`${tokens} generated tokens, expected ${rows * T} (no stop token is asked for)`);
  }
  return problems;
}

const generated = (result: SampleResultV1) => result.responseMask.reduce((n, m) => n + m, 0);

/** What runs the requests: the in-process sampler, or the HTTP client worker. */
interface Runners {
  readonly sampler: SamplingClientV1;
  readonly worker: ClientWorker | undefined;
}

async function runMode(
  mode: Mode,
  runners: Runners,
  requests: readonly SampleRequestV1[],
  options: ServeOptions,
  counters: Counters,
): Promise<
  Omit<ModeRun, 'round' | 'warmup' | 'tensorsAfter' | 'mismatches' | 'maxLogProbDiff'> & {
    results: (SampleResultV1 | undefined)[];
  }
> {
  counters.http = 0;
  counters.non2xx = 0;
  counters.paths = new Map();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  // The histogram records from its timer's second tick on: let it tick before the run.
  await new Promise((resolveTimer) => setTimeout(resolveTimer, 25));
  const timed = await timedRequests(mode, runners, requests);
  // A loop blocked until now has not measured its delay yet: let its timer fire once.
  await new Promise((resolveTimer) => setTimeout(resolveTimer, 20));
  delay.disable();
  const errors = [...timed.errors];
  timed.results.forEach((result, i) => {
    if (result === undefined) return;
    const rows = mode === 'batched' ? requests.length * options.samples : options.samples;
    for (const problem of checkResult(result, options, rows)) {
      errors.push(mode === 'batched' ? problem : `request ${i}: ${problem}`);
    }
  });
  return {
    mode,
    wallMs: timed.wallMs,
    latenciesMs: timed.latenciesMs,
    requests: timed.latenciesMs.length,
    tokens: timed.results.reduce((n, r) => n + (r === undefined ? 0 : generated(r)), 0),
    errors,
    http: {
      requests: counters.http,
      non2xx: counters.non2xx,
      paths: Object.fromEntries(counters.paths),
    },
    eventLoopDelayMs: { mean: delay.mean / 1e6, max: delay.max / 1e6 },
    retries: timed.retries,
    results: mode === 'batched' ? [] : timed.results,
  };
}

/** The round's requests through one mode: wall time, each request's latency, the results. */
async function timedRequests(
  mode: Mode,
  { sampler, worker }: Runners,
  requests: readonly SampleRequestV1[],
): Promise<{
  wallMs: number;
  latenciesMs: number[];
  results: (SampleResultV1 | undefined)[];
  errors: string[];
  retries: number;
}> {
  if (mode === 'openai' || mode === 'tinker') {
    if (worker === undefined) throw new Error(`no HTTP client for ${mode}`);
    return worker.run(mode, requests);
  }
  const errors: string[] = [];
  if (mode === 'batched') {
    const start = performance.now();
    let result: SampleResultV1 | undefined;
    try {
      result = await sampler.sample(batchedRequest(requests));
    } catch (error) {
      errors.push(`the batched call failed: ${(error as Error).message}`);
    }
    const wallMs = performance.now() - start;
    return { wallMs, latenciesMs: [wallMs], results: [result], errors, retries: 0 };
  }
  const latenciesMs = new Array<number>(requests.length).fill(0);
  const results = new Array<SampleResultV1 | undefined>(requests.length);
  const one = async (i: number) => {
    const t0 = performance.now();
    try {
      results[i] = await sampler.sample(requests[i]!);
    } catch (error) {
      errors.push(`request ${i}: ${(error as Error).message}`);
    }
    latenciesMs[i] = performance.now() - t0;
  };
  const start = performance.now();
  if (mode === 'sequential') {
    for (let i = 0; i < requests.length; i++) await one(i);
  } else {
    await Promise.all(requests.map((_, i) => one(i)));
  }
  return { wallMs: performance.now() - start, latenciesMs, results, errors, retries: 0 };
}

/** Results that differ from the reference token for token, and the largest log-prob gap. */
function compareResults(
  ours: readonly (SampleResultV1 | undefined)[],
  reference: readonly (SampleResultV1 | undefined)[],
): { mismatches: number; maxLogProbDiff: number } {
  let mismatches = 0;
  let maxLogProbDiff = 0;
  ours.forEach((a, i) => {
    const b = reference[i];
    if (a === undefined || b === undefined) return;
    if (
      a.tokenIds.length !== b.tokenIds.length ||
      a.tokenIds.some((id, k) => id !== b.tokenIds[k]) ||
      a.responseMask.some((m, k) => m !== b.responseMask[k])
    ) {
      mismatches++;
      return;
    }
    for (let k = 0; k < a.logProbs.length; k++) {
      const d = Math.abs(a.logProbs[k]! - b.logProbs[k]!);
      if (!(d <= maxLogProbDiff)) maxLogProbDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    }
  });
  return { mismatches, maxLogProbDiff };
}

// --- the summary ------------------------------------------------------------------------------

/** The q-quantile (nearest rank) of `values`. */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

interface ModeSummary {
  readonly mode: Mode;
  readonly rounds: number;
  /** Medians over the timed rounds. */
  readonly wallMs: number;
  readonly requestsPerS: number;
  readonly tokensPerS: number;
  /** Over every timed request of every round. */
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly max: number };
  readonly errors: number;
  readonly retries: number;
  readonly non2xx: number;
  /** HTTP requests the server answered per sampling request. */
  readonly httpPerRequest: number;
  readonly mismatches: number;
  readonly maxLogProbDiff: number;
  /** The largest event-loop delay of any timed round. */
  readonly maxEventLoopDelayMs: number;
}

function summarise(mode: Mode, runs: readonly ModeRun[]): ModeSummary {
  const timed = runs.filter((r) => r.mode === mode && !r.warmup);
  const all = runs.filter((r) => r.mode === mode);
  const latencies = timed.flatMap((r) => r.latenciesMs);
  const sum = (f: (r: ModeRun) => number) => all.reduce((n, r) => n + f(r), 0);
  return {
    mode,
    rounds: timed.length,
    wallMs: median(timed.map((r) => r.wallMs)),
    requestsPerS: median(timed.map((r) => (r.requests * 1000) / r.wallMs)),
    tokensPerS: median(timed.map((r) => (r.tokens * 1000) / r.wallMs)),
    latencyMs: {
      p50: quantile(latencies, 0.5),
      p95: quantile(latencies, 0.95),
      max: Math.max(...latencies),
    },
    errors: sum((r) => r.errors.length),
    retries: sum((r) => r.retries),
    non2xx: sum((r) => r.http.non2xx),
    httpPerRequest: sum((r) => r.http.requests) / sum((r) => r.requests),
    mismatches: sum((r) => r.mismatches),
    maxLogProbDiff: Math.max(0, ...all.map((r) => r.maxLogProbDiff)),
    maxEventLoopDelayMs: Math.max(0, ...timed.map((r) => r.eventLoopDelayMs.max)),
  };
}

function table(header: string[], right: boolean[], body: string[][]): string {
  const cells = [header, ...body];
  const widths = header.map((_, c) => Math.max(...cells.map((line) => line[c]!.length)));
  const pad = (cell: string, c: number) =>
    right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!);
  const line = (l: string[]) => `| ${l.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (right[c] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

const signedMs = (ms: number) => (ms < 0 ? `−${formatMs(-ms)}` : `+${formatMs(ms)}`);
const rate = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function modeLabel(mode: Mode, options: ServeOptions): string {
  const N = options.concurrency;
  switch (mode) {
    case 'sequential':
      return 'in process, one at a time';
    case 'concurrent':
      return `in process, ${N} at once (promises)`;
    case 'batched':
      return `in process, one batched call (${N} prompts)`;
    case 'openai':
      return `HTTP OpenAI /v1/completions, ${N} at once`;
    case 'tinker':
      return `HTTP Tinker asample, ${N} at once`;
  }
}

// --- the run ----------------------------------------------------------------------------------

async function main(options: ServeOptions): Promise<number> {
  const started = new Date();
  const loadAtStart = loadavg();
  const info = await initBackend(options.backend);
  const tensorsAtStart = tf.memory().numTensors;
  const stateDir = mkdtempSync(join(tmpdir(), 'hicra-bench-serve-'));
  const counters: Counters = { http: 0, non2xx: 0, paths: new Map() };
  /** Every HTTP request the server answered, by path, setup included. */
  const allPaths = new Map<string, PathStats>();
  const onRequestLog = (entry: HttpRequestLogEntry) => {
    if (entry.path !== HEARTBEAT_PATH) counters.http++;
    if (entry.status < 200 || entry.status >= 300) counters.non2xx++;
    addTo(counters.paths, entry.path, entry.durationMs);
    addTo(allPaths, entry.path, entry.durationMs);
  };

  // What `hicra serve` builds (apps/reference/src/serve.ts), over a seeded model; released in
  // reverse order of acquisition.
  const acquired: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    while (acquired.length > 0) await acquired.pop()!();
  };
  const runs: ModeRun[] = [];
  const closeErrors: string[] = [];
  let tensorsBase = 0;
  let tensorsAfterClose = -1;
  let url = '';
  try {
    const policy = TransformerPolicy.create(
      { ...MODEL, vocabSize: options.vocab },
      { seed: SEEDS.weights },
    );
    acquired.push(() => policy.dispose());
    const tokenizer = new WordTokenizer({
      vocabulary: Array.from({ length: options.vocab - FIRST_WORD_ID }, (_, k) => `w${k}`),
    });
    const engine = new LocalTrainingClient(policy, { directory: stateDir, modelName: MODEL_NAME });
    acquired.push(() => engine.dispose());
    const sampler = new LocalSamplingClient(policy, { name: MODEL_NAME });
    const server = createHttpServer({
      bodyLimitBytes: 64 * 1024 * 1024,
      host: '127.0.0.1',
      port: 0,
      onRequestLog,
    });
    const protocols: InstalledProtocol[] = [
      await installTinkerProtocol(server, {
        training: engine,
        sampling: sampler,
        modelName: MODEL_NAME,
      }),
      installOpenAICompletions(server, {
        sampler,
        tokenizer,
        model: MODEL_NAME,
        contextLength: policy.contextLength,
      }),
    ];
    for (const protocol of protocols) acquired.push(() => protocol.close());
    acquired.push(() => server.close());
    ({ url } = await server.listen());
    log(`serving ${MODEL_NAME} on ${url} (backend ${info.name})`);

    // The HTTP clients run in a worker thread, as a client in another process would.
    const httpModes = HTTP_MODES.filter((m) => options.modes.includes(m)) as HttpMode[];
    let worker: ClientWorker | undefined;
    if (httpModes.length > 0) {
      const started = startClientWorker();
      worker = started;
      acquired.push(async () => {
        closeErrors.push(...(await started.close()));
      });
      await started.open({
        url,
        model: MODEL_NAME,
        concurrency: options.concurrency,
        modes: httpModes,
      });
    }
    const runners: Runners = { sampler, worker };

    tensorsBase = tf.memory().numTensors;
    const rounds = options.warmup + options.runs;
    const inProcessModes: readonly Mode[] = ['sequential', 'concurrent'];
    for (let round = 0; round < rounds; round++) {
      const warmup = round < options.warmup;
      const requests = roundRequests(options, round);
      // Rotate the order each round so that no mode always runs first (or last).
      const order = options.modes.map((_, k) => options.modes[(k + round) % options.modes.length]!);
      let reference: (SampleResultV1 | undefined)[] | undefined;
      const roundRuns: (ModeRun & { results: (SampleResultV1 | undefined)[] })[] = [];
      for (const mode of order) {
        const run = await runMode(mode, runners, requests, options, counters);
        const tensorsAfter = tf.memory().numTensors;
        if (tensorsAfter !== tensorsBase) {
          run.errors.push(
            `${tensorsAfter - tensorsBase} tensor(s) more than before the first round (${tensorsBase})`,
          );
        }
        if (run.http.non2xx > 0) run.errors.push(`${run.http.non2xx} HTTP answer(s) not 2xx`);
        if (run.retries > 0) run.errors.push(`${run.retries} retried HTTP request(s)`);
        if (reference === undefined && inProcessModes.includes(mode)) reference = run.results;
        roundRuns.push({ ...run, round, warmup, tensorsAfter, mismatches: 0, maxLogProbDiff: 0 });
        log(
          `round ${round + 1}/${rounds}${warmup ? ' (warm-up)' : ''} ${mode}: ${formatMs(run.wallMs)} ms, ${rate((run.tokens * 1000) / run.wallMs)} tokens/s, ${run.errors.length} error(s)`,
        );
      }
      for (const run of roundRuns) {
        const { results, ...kept } = run;
        if (run.mode === 'batched' || reference === undefined) {
          runs.push(kept);
          continue;
        }
        const { mismatches, maxLogProbDiff } = compareResults(results, reference);
        if (mismatches > 0) {
          kept.errors.push(
            `${mismatches} result(s) differ from the in-process ones of the same seed`,
          );
        }
        runs.push({ ...kept, mismatches, maxLogProbDiff });
      }
    }
  } finally {
    try {
      await closeAll();
    } catch (error) {
      closeErrors.push(`closing: ${(error as Error).message}`);
    }
    tensorsAfterClose = tf.memory().numTensors;
    if (options.keepData) log(`kept the server's state folder ${stateDir}`);
    else rmSync(stateDir, { recursive: true, force: true });
  }
  if (tensorsAfterClose !== tensorsAtStart) {
    closeErrors.push(
      `${tensorsAfterClose - tensorsAtStart} tensor(s) left after closing everything (${tensorsAtStart} before the model)`,
    );
  }

  const summaries = options.modes.map((mode) => summarise(mode, runs));
  const checked = options.modes.includes('sequential') || options.modes.includes('concurrent');
  const byMode = new Map(summaries.map((s) => [s.mode, s]));
  const concurrent = byMode.get('concurrent');
  const sequential = byMode.get('sequential');
  /** The peer of the overhead column: the fastest way to serve the requests one by one. */
  const peer = sequential ?? concurrent;
  const m = machine();
  const loadAtEnd = loadavg();
  const source = sourceState(MEASURED);
  const N = options.concurrency;
  const G = options.samples;
  const T = options.newTokens;
  const ratio = (s: ModeSummary, peer: ModeSummary | undefined) =>
    peer === undefined ? '—' : (s.tokensPerS / peer.tokensPerS).toFixed(2);
  const overhead = (s: ModeSummary) =>
    peer === undefined || !HTTP_MODES.includes(s.mode)
      ? '—'
      : signedMs((s.wallMs - peer.wallMs) / N);
  const body = summaries.map((s) => [
    modeLabel(s.mode, options),
    formatMs(s.wallMs),
    rate(s.requestsPerS),
    rate(s.tokensPerS),
    formatMs(s.latencyMs.p50),
    formatMs(s.latencyMs.p95),
    String(s.errors),
    ratio(s, concurrent),
    ratio(s, sequential),
    overhead(s),
  ]);
  const lines = [
    '',
    `## HTTP serving overhead on loopback vs in process (median of ${options.runs} round(s), same run)`,
    '',
    `- model: the policy benchmark's transformer, V = ${options.vocab}, width ${MODEL.width}, ${MODEL.layers} layers, ${MODEL.heads} heads, context ${MODEL.contextLength}, seeded (${info.name}${info.simd === undefined ? '' : `, SIMD ${info.simd ? 'on' : 'off'}`}, one thread); a word tokenizer w0..w${options.vocab - FIRST_WORD_ID - 1}`,
    `- server: what hicra serve builds: createHttpServer (127.0.0.1, port ${url.split(':').pop()}) with installTinkerProtocol (LocalTrainingClient, LocalSamplingClient, maxConcurrentSamples 16 by default) and installOpenAICompletions on one port; the HTTP clients (OpenAISamplingClient, maxConcurrency ${N}; TinkerSamplingClient, maxConcurrentRequests ${N}) run in a worker thread, the server and the in-process modes on the main thread`,
    `- a round: ${N} requests, each one prompt of ${options.promptLength} tokens × ${G} samples × ${T} new tokens (temperature 1, no stop token, distinct seeds), ${N * G * T} generated tokens; every mode gets the same requests; ${options.warmup} warm-up + ${options.runs} timed round(s), the order of the modes rotating`,
    `- machine: ${m.cpu}, ${m.cores} cores; Node ${m.node}; tfjs-core ${tf.version_core}; niceness ${m.niceness}; load average (1/5/15 min) ${formatLoad(loadAtStart)} at start, ${formatLoad(loadAtEnd)} at end`,
    `- source: commit ${source.commit ?? 'unknown'}` +
      (source.uncommitted.length > 0
        ? ` plus ${source.uncommitted.length} uncommitted change(s) in ${MEASURED.join(', ')}`
        : ''),
    `- latency: from the call to its result, queueing included, over every timed request (nearest rank); HTTP ÷ in-process is of tokens/s; overhead is (HTTP round − in-process ${peer === sequential ? 'sequential' : 'concurrent'} round) ÷ requests`,
    '',
    table(
      [
        'mode',
        'round ms',
        'requests/s',
        'tokens/s',
        'p50 ms',
        'p95 ms',
        'errors',
        '÷ in-process concurrent',
        '÷ in-process sequential',
        'overhead ms/request',
      ],
      [false, true, true, true, true, true, true, true, true, true],
      body,
    ),
    '',
    ...(allPaths.size === 0
      ? []
      : [
          `HTTP requests answered per sampling request: ${summaries
            .filter((s) => HTTP_MODES.includes(s.mode))
            .map((s) => `${s.mode} ${s.httpPerRequest.toFixed(2)}`)
            .join(
              ', ',
            )}. Every request the server answered (warm-up and setup included), with the time from its arrival to its answer (fastify's elapsedTime):`,
          '',
          table(
            ['path', 'requests', 'mean ms', 'max ms'],
            [false, true, true, true],
            [...allPaths.entries()].map(([path, stats]) => [
              path,
              String(stats.count),
              formatMs(stats.meanMs),
              formatMs(stats.maxMs),
            ]),
          ),
          '',
        ]),
    checked
      ? `Same tokens as in process (same seeds): ${summaries
          .filter((s) => s.mode !== 'batched')
          .map(
            (s) =>
              `${s.mode} ${s.mismatches === 0 ? 'equal' : `${s.mismatches} differ`} (max |log-prob diff| ${s.maxLogProbDiff === 0 ? '0' : s.maxLogProbDiff.toExponential(1)})`,
          )
          .join(', ')}`
      : 'Same tokens as in process: not checked (neither sequential nor concurrent ran)',
    `Largest event-loop delay in a timed round (ms): ${summaries.map((s) => `${s.mode} ${formatMs(s.maxEventLoopDelayMs)}`).join(', ')}`,
    `Tensors: ${tensorsBase} before the first round and after every mode of every round (${runs.every((r) => r.tensorsAfter === tensorsBase) ? 'stable' : 'NOT stable'}); ${tensorsAfterClose} after closing everything (${tensorsAtStart} before the model)`,
    'The model runs on one JS thread (the main one): requests in flight at once take turns on it and add no compute. Event-loop delay is of the main thread, from monitorEventLoopDelay (10 ms resolution).',
  ];
  console.log(lines.join('\n'));

  const out = resolve(BENCH_DIR, options.out);
  mkdirSync(dirname(out), { recursive: true });
  const report = {
    benchmark: 'serve',
    started: started.toISOString(),
    finished: new Date().toISOString(),
    machine: m,
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    source,
    tfjs: tf.version_core,
    backend: info,
    model: { ...MODEL, vocabSize: options.vocab },
    workload: {
      requestsPerRound: N,
      promptLength: options.promptLength,
      samplesPerRequest: G,
      newTokens: T,
      temperature: 1,
    },
    seeds: SEEDS,
    options,
    tensors: { atStart: tensorsAtStart, base: tensorsBase, afterClose: tensorsAfterClose },
    httpPaths: Object.fromEntries(allPaths),
    summaries,
    runs,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nResults written to ${out}`);

  const errors = [
    ...runs.flatMap((r) => r.errors.map((e) => `round ${r.round + 1} ${r.mode}: ${e}`)),
    ...closeErrors,
  ];
  if (errors.length > 0) {
    const shown = errors.slice(0, 20);
    console.error(
      `bench: ${errors.length} error(s):\n${shown.map((e) => `  ${e}`).join('\n')}${errors.length > shown.length ? `\n  ... and ${errors.length - shown.length} more` : ''}`,
    );
    return 1;
  }
  return 0;
}

await runScript(parseServeArgs, USAGE, main);

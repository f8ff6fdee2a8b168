/**
 * Benchmark: every per-step strategy and token-class metric of @hicra/semantic-entropy
 * (`stepMetrics`) on 10,000 responses with 100,000 planning-phrase occurrences, against a
 * straightforward Python implementation (collections.Counter + math) run in the same
 * invocation on the same data. Prints both medians, the ratio, and checks agreement.
 *
 *   node --import tsx --conditions=@hicra/source bench/semantic-entropy/metrics.bench.ts [--runs 21] [--peer-runs 5] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type StepMetricsInput, stepMetrics } from '../../packages/semantic-entropy/src/index.js';
import type { PlanningMatchV1 } from '../../packages/spec/src/index.js';
import { SeededGenerator } from '../../packages/tensor/src/kernels/index.js';

const RESPONSES = 10_000;
const OCCURRENCES = 100_000;
const LEXICON_SIZE = 249; // as many phrases as the paper's published list
const CLASSES = 40;
const SEED = 20250903;
const SETTINGS = { continuationLength: 3, topQ: 0.3 } as const;
/** `--name value` or `--name=value` from the command line, or `fallback`. */
function flag(name: string, fallback: string): string {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1] ?? fallback;
    if (argv[i]!.startsWith(`--${name}=`)) return argv[i]!.slice(name.length + 3);
  }
  return fallback;
}
function positive(name: string, fallback: number): number {
  const value = Number(flag(name, String(fallback)));
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${name} needs an integer >= 1, got "${flag(name, '')}"`);
  }
  return value;
}
const TS_WARMUP = 5;
const TS_RUNS = positive('runs', 21);
const PY_WARMUP = 1;
const PY_RUNS = positive('peer-runs', 5);
/** Where to write the results as JSON (what bench:summary reads), if anywhere. */
const JSON_OUT = flag('json', '');
const PYTHON = '/usr/bin/python3';
const GOAL_MS = 50;

const here = dirname(fileURLToPath(import.meta.url));

interface Synthetic {
  readonly input: StepMetricsInput;
  readonly grams: string[];
  readonly classOf: Map<string, number>;
}

/**
 * A seeded synthetic batch: one token per word, phrases drawn with Zipf-like frequencies.
 * `peerFile`, when given, receives the same batch as JSON for the Python peer (ragged
 * per-response lists of the valid tokens), written here so that none of it stays in memory
 * while TypeScript is timed.
 */
function synthesise(peerFile?: string): Synthetic {
  const rng = new SeededGenerator(SEED);
  const fillers = ['we', 'get', 'so', 'then', 'try', 'let', 'me', 'check', 'the', 'other', 'case'];
  const grams = Array.from({ length: LEXICON_SIZE }, (_, g) => {
    const words = [`s${g}`];
    for (let w = 0; w < g % 5; w++) words.push(fillers[(g * 7 + w * 3) % fillers.length]!);
    return words.join(' ');
  });
  const gramWords = grams.map((gram) => gram.split(' ').length);
  const classOf = new Map(grams.map((gram, g) => [gram, g % CLASSES]));
  const cumulative = new Float64Array(LEXICON_SIZE);
  let total = 0;
  for (let g = 0; g < LEXICON_SIZE; g++) cumulative[g] = total += 1 / (g + 1);
  const drawGram = () => {
    const target = rng.nextFloat() * total;
    let lo = 0;
    let hi = LEXICON_SIZE - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const vocabulary = [
    ...Array.from({ length: 100 }, (_, i) => String(i)),
    '=',
    '+',
    '-',
    '*',
    '/',
    '(',
    ')',
    ',',
    '.',
    'x',
    'y',
    'so',
    'then',
    'we',
    'get',
    'Hence',
    'Thus',
  ];
  const perResponse = new Int32Array(RESPONSES);
  for (let o = 0; o < OCCURRENCES; o++) perResponse[rng.nextInt(RESPONSES)]! += 1;

  // Words per response, with a planning flag and the phrase of each match.
  const responses: {
    words: string[];
    planning: boolean[];
    phrases: { at: number; gram: number }[];
  }[] = [];
  let seqLen = 0;
  for (let i = 0; i < RESPONSES; i++) {
    const words: string[] = [];
    const planning: boolean[] = [];
    const phrases: { at: number; gram: number }[] = [];
    const execution = () => {
      const length = rng.nextInt(9);
      for (let w = 0; w < length; w++) {
        words.push(vocabulary[rng.nextInt(vocabulary.length)]!);
        planning.push(false);
      }
    };
    for (let k = 0; k < perResponse[i]!; k++) {
      execution();
      const gram = drawGram();
      phrases.push({ at: words.length, gram });
      for (const word of grams[gram]!.split(' ')) {
        words.push(rng.nextFloat() < 0.2 ? word.toUpperCase() : word);
        planning.push(true);
      }
    }
    execution();
    if (words.length === 0) {
      words.push('0');
      planning.push(false);
    }
    seqLen = Math.max(seqLen, words.length);
    responses.push({ words, planning, phrases });
  }

  const size = RESPONSES * seqLen;
  const responseMask = new Uint8Array(size);
  const planningMask = new Uint8Array(size);
  const entropies = new Float32Array(size);
  const logProbs = new Float32Array(size);
  const texts: string[] = [];
  const matches: PlanningMatchV1[][] = [];
  const peerMatches: [number, number, number][][] = [];
  const peerEntropies: number[][] = [];
  const peerLogProbs: number[][] = [];
  const peerPlanning: number[][] = [];
  responses.forEach(({ words, planning, phrases }, i) => {
    const starts: number[] = [];
    let text = '';
    for (const word of words) {
      if (text !== '') text += ' ';
      starts.push(text.length);
      text += word;
    }
    texts.push(text);
    const list = phrases.map(({ at, gram }) => {
      const last = at + gramWords[gram]! - 1;
      return {
        start: starts[at]!,
        end: starts[last]! + words[last]!.length,
        gram: grams[gram]!,
        gramId: gram,
      };
    });
    matches.push(list);
    peerMatches.push(list.map((m) => [m.start, m.end, m.gramId]));
    const rowEntropies: number[] = [];
    const rowLogProbs: number[] = [];
    for (let t = 0; t < words.length; t++) {
      const k = i * seqLen + t;
      const u = rng.nextFloat();
      responseMask[k] = 1;
      planningMask[k] = planning[t] ? 1 : 0;
      entropies[k] = planning[t] ? 0.5 + 2.5 * u : 2 * u * u * u;
      logProbs[k] = planning[t] ? -(0.2 + 2 * rng.nextFloat()) : -0.5 * rng.nextFloat() ** 2;
      rowEntropies.push(entropies[k]!);
      rowLogProbs.push(logProbs[k]!);
    }
    // Padding holds garbage, as other systems leave it; it must be ignored.
    for (let t = words.length; t < seqLen; t++) entropies[i * seqLen + t] = Number.NaN;
    peerEntropies.push(rowEntropies);
    peerLogProbs.push(rowLogProbs);
    peerPlanning.push(planning.map((p) => (p ? 1 : 0)));
  });

  if (peerFile !== undefined) {
    writeFileSync(
      peerFile,
      JSON.stringify({
        texts,
        matches: peerMatches,
        grams,
        classOf: grams.map((gram) => classOf.get(gram)),
        entropies: peerEntropies,
        logProbs: peerLogProbs,
        planning: peerPlanning,
        continuationLength: SETTINGS.continuationLength,
        topQ: SETTINGS.topQ,
      }),
    );
  }
  return {
    input: {
      batchSize: RESPONSES,
      seqLen,
      responseMask,
      planningMask,
      entropies,
      logProbs,
      planningMatches: matches,
      responseTexts: texts,
    },
    grams,
    classOf,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function main(): void {
  const cpus = availableParallelism();
  const dir = mkdtempSync(join(tmpdir(), 'hicra-bench-semantic-entropy-'));
  const file = join(dir, 'batch.json');
  const data = synthesise(file);
  const { input } = data;
  const tokens = input.responseMask.reduce((a, b) => a + b, 0);
  const occurrences = input.planningMatches!.reduce((n, list) => n + list.length, 0);
  console.log(
    `@hicra/semantic-entropy stepMetrics: ${RESPONSES.toLocaleString('en')} responses, ${occurrences.toLocaleString('en')} phrase occurrences of ${LEXICON_SIZE} phrases in ${CLASSES} classes, T = ${input.seqLen}, ${tokens.toLocaleString('en')} response tokens (seed ${SEED})`,
  );
  console.log(
    `node ${process.version}; peer: ${PYTHON}; load average at start ${loadavg()[0]!.toFixed(2)} (${cpus} cores)`,
  );

  const settings = { ...SETTINGS, classOf: data.classOf };
  let record: Record<string, number> = {};
  for (let r = 0; r < TS_WARMUP; r++) record = stepMetrics(input, settings);
  const tsTimes: number[] = [];
  for (let r = 0; r < TS_RUNS; r++) {
    const t0 = performance.now();
    record = stepMetrics(input, settings);
    tsTimes.push(performance.now() - t0);
  }

  let peer: { times: number[]; metrics: Record<string, number> };
  try {
    const run = spawnSync(
      PYTHON,
      [join(here, 'metrics_peer.py'), file, String(PY_WARMUP), String(PY_RUNS)],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    if (run.error || run.status !== 0) {
      console.error(`the Python peer failed: ${run.error?.message ?? run.stderr}`);
      process.exit(1);
    }
    peer = JSON.parse(run.stdout);
    const version = spawnSync(PYTHON, ['--version'], { encoding: 'utf8' });
    console.log(`peer version: ${(version.stdout || version.stderr).trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Agreement: the same keys, values equal to 1e-9 relative.
  const keys = Object.keys(peer.metrics).sort();
  let disagreements = 0;
  console.log(
    '\nmetric                                      TypeScript            Python                |diff|',
  );
  for (const key of keys) {
    const a = record[key];
    const b = peer.metrics[key]!;
    const diff = a === undefined ? Number.NaN : Math.abs(a - b);
    const ok = a !== undefined && diff <= 1e-9 * Math.max(1, Math.abs(b));
    if (!ok) disagreements++;
    console.log(
      `${key.padEnd(43)} ${String(a).padEnd(21)} ${String(b).padEnd(21)} ${diff.toExponential(1)}${ok ? '' : '  DISAGREE'}`,
    );
  }
  const extra = Object.keys(record).filter((key) => !(key in peer.metrics));
  if (extra.length > 0) {
    disagreements += extra.length;
    console.log(`keys only TypeScript wrote: ${extra.join(', ')}`);
  }

  const ts = median(tsTimes);
  const py = median(peer.times);
  console.log(
    `\nTypeScript stepMetrics: median ${ts.toFixed(1)} ms over ${TS_RUNS} runs (after ${TS_WARMUP} warm-up; min ${Math.min(...tsTimes).toFixed(1)} ms)`,
  );
  console.log(
    `Python (Counter + math): median ${py.toFixed(1)} ms over ${PY_RUNS} runs (after ${PY_WARMUP} warm-up; min ${Math.min(...peer.times).toFixed(1)} ms)`,
  );
  console.log(`ratio Python / TypeScript: ${(py / ts).toFixed(1)}x`);
  console.log(
    `load average at end ${loadavg()[0]!.toFixed(2)} (timings on a busy machine are inflated)`,
  );
  console.log(
    `goal: faster than Python ${ts < py ? 'met' : 'NOT met'}; under ${GOAL_MS} ms ${ts < GOAL_MS ? 'met' : 'NOT met'}`,
  );
  console.log(
    disagreements === 0
      ? 'agreement: all metrics agree to 1e-9'
      : `agreement: ${disagreements} DISAGREE`,
  );
  if (JSON_OUT !== '') {
    writeFileSync(
      JSON_OUT,
      `${JSON.stringify(
        {
          responses: RESPONSES,
          tokens,
          runs: TS_RUNS,
          warmup: TS_WARMUP,
          peerRuns: PY_RUNS,
          peerWarmup: PY_WARMUP,
          oursMs: ts,
          oursTimesMs: tsTimes,
          peerMs: py,
          peerTimesMs: peer.times,
          disagreements,
        },
        null,
        2,
      )}\n`,
    );
  }
  if (disagreements > 0) process.exit(1);
}

main();

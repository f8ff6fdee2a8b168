/**
 * Benchmark: classify 512 responses of 4,096 tokens with the Strategic-Gram classifier (one
 * Aho–Corasick automaton over the normalised text) next to a naive baseline (one regular
 * expression per phrase) in the same process, on the same synthetic batch. One thread.
 *
 *   pnpm --filter @hicra/planning bench [-- --responses=512 --tokens=4096 --runs=7 --baseline-runs=3 --json=FILE]
 *
 * See README.md beside this file.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { paperLexicon, strategicGrams } from '../../packages/planning/src/index.js';
import type { PlanningInputV1 } from '../../packages/spec/src/index.js';

const flags = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => {
      const [key, value] = a.slice(2).split(/=(.*)/s);
      return [key, value ?? ''];
    }),
) as Record<string, string>;
function positive(name: string, fallback: number): number {
  if (flags[name] === undefined) return fallback;
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`--${name} needs an integer >= 1, got "${flags[name]}"`);
  }
  return value;
}
const RESPONSES = positive('responses', 512);
const TOKENS = positive('tokens', 4096);
const RUNS = positive('runs', 7);
const BASELINE_RUNS = positive('baseline-runs', 3);
/** `--json=FILE`: also write the results as JSON (what bench:summary reads). */
const JSON_OUT = flags.json;
const WARMUP = 2;

/** mulberry32: a small deterministic generator for the synthetic data. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FILLER = (
  'the sum of x and y is equal to 12 so we get 3 * 4 = 12 then divide both sides by two ' +
  'which gives a value for each term in the sequence where n is an integer greater than zero ' +
  'and the area of the triangle equals half the base times the height butter buttress nowhere'
).split(' ');
const TOKEN = / ?[A-Za-z0-9']+| ?[^\sA-Za-z0-9']|\s/g;

/**
 * One synthetic response of exactly `tokens` word-level tokens in the style of byte-level BPE
 * pre-tokenisation (" word", ",", ".", "\n"), mixing filler with lexicon phrases in random case.
 * The text is joined once, so it is a flat string as a decoder or JSON.parse would give.
 */
function makeResponse(random: () => number, tokens: number): { text: string; spans: number[] } {
  const parts: string[] = [];
  const spans: number[] = [];
  let position = 0;
  const push = (token: string) => {
    if (parts.length === tokens) return;
    parts.push(token);
    spans.push(position, position + token.length);
    position += token.length;
  };
  while (parts.length < tokens) {
    const r = random();
    let piece: string;
    if (r < 0.03) {
      const phrase = paperLexicon.grams[Math.floor(random() * paperLexicon.grams.length)]!.phrase;
      const c = random();
      piece =
        c < 0.5
          ? phrase
          : c < 0.9
            ? phrase[0]!.toUpperCase() + phrase.slice(1)
            : phrase.toUpperCase();
    } else piece = FILLER[Math.floor(random() * FILLER.length)]!;
    const p = random();
    const text = `${parts.length === 0 ? '' : ' '}${piece}${p < 0.04 ? '.\n' : p < 0.1 ? ',' : ''}`;
    for (const m of text.matchAll(TOKEN)) push(m[0]);
  }
  return { text: parts.join(''), spans };
}

function makeBatch(): PlanningInputV1 {
  const random = generator(2025);
  const texts: string[] = [];
  const spans = new Int32Array(RESPONSES * TOKENS * 2);
  for (let i = 0; i < RESPONSES; i++) {
    const r = makeResponse(random, TOKENS);
    texts.push(r.text);
    spans.set(r.spans, i * TOKENS * 2);
  }
  return {
    batchSize: RESPONSES,
    seqLen: TOKENS,
    texts,
    tokenSpans: spans,
    responseMask: new Uint8Array(RESPONSES * TOKENS).fill(1),
  };
}

/**
 * The naive baseline: one case-insensitive regular expression per phrase (whitespace as \s+,
 * \b at alphanumeric edges), every occurrence (overlaps included, as the mask needs), then the
 * same interval merge and token sweep as the classifier. ASCII only: it does no NFKC or quote
 * folding, so it does less work than the classifier.
 */
function naiveClassify(input: PlanningInputV1, patterns: RegExp[]): Uint8Array {
  const { batchSize, seqLen, texts, tokenSpans } = input;
  const mask = new Uint8Array(batchSize * seqLen);
  for (let i = 0; i < batchSize; i++) {
    const text = texts[i]!;
    const intervals: [number, number][] = [];
    for (const pattern of patterns) {
      pattern.lastIndex = 0;
      for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
        intervals.push([m.index, m.index + m[0].length]);
        pattern.lastIndex = m.index + 1;
      }
    }
    intervals.sort((a, b) => a[0] - b[0]);
    let j = 0;
    const merged: [number, number][] = [];
    for (const iv of intervals) {
      const last = merged[merged.length - 1];
      if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
      else merged.push([iv[0], iv[1]]);
    }
    for (let t = 0; t < seqLen; t++) {
      const k = i * seqLen + t;
      const s = tokenSpans[2 * k]!;
      const e = tokenSpans[2 * k + 1]!;
      while (j < merged.length && merged[j]![1] <= s) j++;
      if (j < merged.length && s < e && merged[j]![0] < e) mask[k] = 1;
    }
  }
  return mask;
}

function naivePatterns(): RegExp[] {
  return paperLexicon.grams.map(({ phrase }) => {
    const escaped = phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ +/g, '\\s+');
    const start = /^[a-z0-9]/i.test(phrase) ? '\\b' : '';
    const end = /[a-z0-9]$/i.test(phrase) ? '\\b' : '';
    return new RegExp(`${start}${escaped}${end}`, 'gi');
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function time(runs: number, fn: () => unknown): number {
  for (let w = 0; w < WARMUP; w++) fn();
  const seconds: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    fn();
    seconds.push((performance.now() - start) / 1000);
  }
  return median(seconds);
}

const input = makeBatch();
const tokens = RESPONSES * TOKENS;
const characters = input.texts.reduce((n, t) => n + t.length, 0);
const patterns = naivePatterns();

const automatonMask = strategicGrams.classify(input).mask;
const baselineMask = naiveClassify(input, patterns);
let disagreements = 0;
let planning = 0;
for (let k = 0; k < tokens; k++) {
  if (automatonMask[k] !== baselineMask[k]) disagreements++;
  planning += automatonMask[k]!;
}

const automatonSeconds = time(RUNS, () => strategicGrams.classify(input));
const baselineSeconds = time(BASELINE_RUNS, () => naiveClassify(input, patterns));
const rate = (s: number) => (tokens / s / 1e6).toFixed(1);

console.log(
  `planning classify: ${RESPONSES} responses x ${TOKENS} tokens = ${tokens.toLocaleString('en')} tokens, ` +
    `${(characters / 1e6).toFixed(1)}M characters, ${paperLexicon.grams.length} phrases, ` +
    `${((100 * planning) / tokens).toFixed(1)}% planning tokens`,
);
console.log(
  `node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'}, one thread; median of ${RUNS} (baseline ${BASELINE_RUNS}) runs after ${WARMUP} warm-up runs`,
);
console.log(
  `  automaton (strategic-grams): ${automatonSeconds.toFixed(3)} s  ${rate(automatonSeconds)}M tokens/s`,
);
console.log(
  `  naive regex per phrase:      ${baselineSeconds.toFixed(3)} s  ${rate(baselineSeconds)}M tokens/s`,
);
console.log(
  `  speed-up: ${(baselineSeconds / automatonSeconds).toFixed(1)}x; masks disagree on ${disagreements} tokens`,
);
if (JSON_OUT !== undefined && JSON_OUT !== '') {
  writeFileSync(
    JSON_OUT,
    `${JSON.stringify(
      {
        responses: RESPONSES,
        tokensPerResponse: TOKENS,
        tokens,
        runs: RUNS,
        baselineRuns: BASELINE_RUNS,
        warmup: WARMUP,
        oursMs: automatonSeconds * 1000,
        baselineMs: baselineSeconds * 1000,
        oursTokensPerSecond: tokens / automatonSeconds,
        baselineTokensPerSecond: tokens / baselineSeconds,
        disagreements,
        loadAverage: loadavg(),
      },
      null,
      2,
    )}\n`,
  );
}
if (disagreements > 0) process.exitCode = 1;

// Synthetic run directories shaped like the trainer's: metrics.jsonl with realistic keys (some
// absent everywhere, some absent at some steps), rollouts.jsonl in the RolloutRecordV1 schema
// with token spans, planning matches and advantages, and run.json as the CLI writes it.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EVAL_METRIC_KEYS,
  type PlanningMatchV1,
  ROLLOUT_SCHEMA_V1,
  type RolloutRecordV1,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { SeededGenerator } from '@hicra/tensor/kernels';

export function temporaryDirectory(prefix = 'hicra-report-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface SyntheticRunOptions {
  readonly strategy: string;
  readonly seed: number;
  /** Training steps 1..steps. Default 30. */
  readonly steps?: number;
  /** Evaluation at step 0 and every `evalEvery` steps. Default 5. */
  readonly evalEvery?: number;
  /** Write run.json. Default true. */
  readonly runJson?: boolean;
  /** Rollouts logged per step. Default 2. */
  readonly rolloutsPerStep?: number;
  /** Extra accuracy (the "effect"), default 0.08 for hicra. */
  readonly lift?: number;
  /** Extra rollout records appended as they are. */
  readonly extraRollouts?: readonly RolloutRecordV1[];
}

/** Keys never written by the synthetic runs, so their charts must show "no data". */
export const ABSENT_KEYS = [TRAIN_METRIC_KEYS.clipFractionLower] as const;

const PLANNING = ['let me check', 'wait', 'alternatively', 'first, i need to'];

/** A response with planning phrases, and its token spans (words and punctuation). */
export function syntheticResponse(
  generator: SeededGenerator,
  correct: boolean,
): { response: string; spans: [number, number][]; matches: PlanningMatchV1[] } {
  const pieces = [
    'First, I need to use 3, 8, 2 to make 24.',
    `${generator.nextInt(10)} + ${generator.nextInt(10)} is too small.`,
    'Wait, 3 * 8 = 24 and 2 is left.',
    'Let me check: 3 * 8 * (2 / 2) uses 2 twice.',
    'Alternatively, (8 / 2) * 3 * 2 = 24.',
    correct ? 'The answer is (8 / 2) * 3 * 2.' : 'The answer is 3 * 8 + 2.',
  ];
  const response = pieces.slice(0, 3 + generator.nextInt(4)).join(' ');
  const spans: [number, number][] = [];
  for (const match of response.matchAll(/\w+|[^\s\w]/g)) {
    spans.push([match.index, match.index + match[0].length]);
  }
  const lower = response.toLowerCase();
  const matches: PlanningMatchV1[] = [];
  PLANNING.forEach((gram, gramId) => {
    let from = 0;
    for (;;) {
      const start = lower.indexOf(gram, from);
      if (start === -1) break;
      matches.push({ start, end: start + gram.length, gram, gramId });
      from = start + gram.length;
    }
  });
  matches.sort((a, b) => a.start - b.start);
  return { response, spans, matches };
}

function metricsLines(options: SyntheticRunOptions): string[] {
  const { strategy, seed, steps = 30, evalEvery = 5 } = options;
  const lift = options.lift ?? (strategy === 'hicra' ? 0.08 : 0);
  const generator = new SeededGenerator(1000 + seed * 17 + strategy.length);
  const noise = (scale: number) => (generator.nextFloat() - 0.5) * 2 * scale;
  const time = (step: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, step)).toISOString();
  const curve = (step: number) => 1 - Math.exp(-step / 12);
  const lines: string[] = [];
  const evaluate = (step: number) => {
    const meanAtK = 0.15 + (0.45 + lift) * curve(step) + noise(0.03);
    lines.push(
      JSON.stringify({
        kind: 'eval',
        step,
        time: time(step),
        [EVAL_METRIC_KEYS.meanAtK]: meanAtK,
        [EVAL_METRIC_KEYS.passAtK]: Math.min(1, meanAtK + 0.2 + noise(0.02)),
        [EVAL_METRIC_KEYS.k]: 4,
        [EVAL_METRIC_KEYS.problems]: 64,
        [EVAL_METRIC_KEYS.responseLengthMean]: 40 + noise(3),
      }),
    );
  };
  evaluate(0);
  for (let step = 1; step <= steps; step++) {
    const record: Record<string, number | string> = {
      kind: 'train',
      step,
      time: time(step),
      [TRAIN_METRIC_KEYS.rewardMean]: 0.2 + 0.5 * curve(step),
      [TRAIN_METRIC_KEYS.accuracy]: 0.2 + (0.5 + lift) * curve(step) + noise(0.05),
      [TRAIN_METRIC_KEYS.responseLengthMean]: 42 - 8 * curve(step) + noise(2),
      [TRAIN_METRIC_KEYS.clipFraction]: 0.02 + 0.01 * curve(step) + noise(0.005),
      [TRAIN_METRIC_KEYS.approxKl]: 0.002 + 0.001 * curve(step) + noise(0.0005),
      [TRAIN_METRIC_KEYS.entropyAll]: 1.4 - 0.4 * curve(step) + noise(0.03),
      [TRAIN_METRIC_KEYS.entropyExecution]: 1.2 - (0.5 + lift) * curve(step) + noise(0.03),
      [TRAIN_METRIC_KEYS.perplexityExecution]: 3.1 - (1.2 + lift) * curve(step) + noise(0.05),
      [TRAIN_METRIC_KEYS.tokensPerSecond]: 900 + noise(50),
    };
    // Steps without planning matches have no semantic entropy (omitted, never NaN).
    if (step % 7 !== 3) {
      record[TRAIN_METRIC_KEYS.strategySemanticEntropy] =
        0.9 + (strategy === 'hicra' ? 0.3 : -0.1) * curve(step) + noise(0.05);
    }
    lines.push(JSON.stringify(record));
    if (step % evalEvery === 0 || step === steps) evaluate(step);
  }
  return lines;
}

function rolloutLines(options: SyntheticRunOptions): string[] {
  const { strategy, seed, steps = 30, rolloutsPerStep = 2 } = options;
  const generator = new SeededGenerator(5000 + seed * 31 + strategy.length);
  const lines: string[] = [];
  for (let step = 1; step <= steps; step++) {
    for (let i = 0; i < rolloutsPerStep; i++) {
      const correct = generator.nextFloat() < 0.5;
      const { response, spans, matches } = syntheticResponse(generator, correct);
      const planningMask = spans.map(([s, e]) =>
        matches.some((m) => s < m.end && e > m.start) ? 1 : 0,
      );
      const base = correct ? 0.7 : -0.7;
      const record: RolloutRecordV1 = {
        schema: ROLLOUT_SCHEMA_V1,
        groupId: `s${step}-q${Math.floor(i / 2)}`,
        prompt: 'Use 3, 8, 2 to make 24.',
        response,
        reward: correct ? 1 : 0,
        step,
        tokenIds: spans.map((_, t) => 10 + t),
        tokenSpans: spans,
        planningMask,
        planningMatches: matches,
        advantages: planningMask.map((p) =>
          strategy === 'hicra' && p === 1 ? base + 0.2 * Math.abs(base) : base,
        ),
      };
      lines.push(JSON.stringify(record));
    }
  }
  for (const extra of options.extraRollouts ?? []) lines.push(JSON.stringify(extra));
  return lines;
}

/** Writes one synthetic run directory `root/name` and returns its path. */
export function writeSyntheticRun(
  root: string,
  name: string,
  options: SyntheticRunOptions,
): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'metrics.jsonl'), `${metricsLines(options).join('\n')}\n`);
  writeFileSync(join(dir, 'rollouts.jsonl'), `${rolloutLines(options).join('\n')}\n`);
  if (options.runJson ?? true) {
    writeFileSync(
      join(dir, 'run.json'),
      `${JSON.stringify({ strategy: options.strategy, seed: options.seed, config: { steps: options.steps ?? 30 } })}\n`,
    );
  }
  return dir;
}

/** GRPO and HICRA, three seeds each, in `root`: the directories, GRPO's first. */
export function writeComparison(root: string, steps = 30): string[] {
  const dirs: string[] = [];
  for (const strategy of ['grpo', 'hicra']) {
    for (const seed of [0, 1, 2]) {
      dirs.push(writeSyntheticRun(root, `${strategy}-seed${seed}`, { strategy, seed, steps }));
    }
  }
  return dirs;
}

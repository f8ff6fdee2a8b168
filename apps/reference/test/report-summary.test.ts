// The comparison section of the summary: pairing by seed, the power analysis, the evaluation
// noise and the description of the accuracy, each against numbers recomputed here.
import { ErrorCode, EVAL_METRIC_KEYS, type MetricRecordV1 } from '@hicra/spec';
import { describe, expect, it } from 'vitest';
import {
  EVAL_GREEDY_ACCURACY_KEY,
  EVAL_TEMPERATURE_KEY,
  minimumDetectableEffect,
  pairedTTest,
  type ReportRun,
  renderReport,
  summarizeRuns,
} from '../src/index.js';
import { sampleStd } from '../src/report/statistics.js';

interface Evaluation {
  readonly value: number;
  readonly k?: number;
  readonly problems?: number;
  readonly temperature?: number;
  readonly greedy?: number;
}

function run(
  strategy: string,
  seed: number | undefined,
  evaluation: Evaluation,
  options: { dir?: string; config?: unknown } = {},
): ReportRun {
  const record: Record<string, number | string> = {
    kind: 'eval',
    step: 20,
    time: '2025-01-01T00:00:00.000Z',
    [EVAL_METRIC_KEYS.meanAtK]: evaluation.value,
  };
  if (evaluation.k !== undefined) record[EVAL_METRIC_KEYS.k] = evaluation.k;
  if (evaluation.problems !== undefined) record[EVAL_METRIC_KEYS.problems] = evaluation.problems;
  if (evaluation.temperature !== undefined) record[EVAL_TEMPERATURE_KEY] = evaluation.temperature;
  if (evaluation.greedy !== undefined) record[EVAL_GREEDY_ACCURACY_KEY] = evaluation.greedy;
  return {
    dir: options.dir ?? `/runs/${strategy}-seed${seed ?? 'x'}`,
    strategy,
    seed,
    strategySource: 'run.json',
    config: options.config,
    train: [],
    eval: [record as unknown as MetricRecordV1],
    rollouts: [],
    rolloutRecords: 0,
    notes: [],
  };
}

/** GRPO and HICRA on the given seeds with per-seed accuracies, N = 64, k = 4 unless set. */
function comparison(
  grpo: readonly number[],
  hicra: readonly number[],
  budget: { k?: number; problems?: number } = { k: 4, problems: 64 },
): ReportRun[] {
  return [
    ...grpo.map((value, seed) => run('grpo', seed, { value, ...budget })),
    ...hicra.map((value, seed) => run('hicra', seed, { value, ...budget })),
  ];
}

const hicraOf = (runs: ReportRun[], options = {}) =>
  summarizeRuns(runs, options).strategies.find((s) => s.strategy === 'hicra')!.comparison!;

describe('pairing by seed', () => {
  it('pairs runs with the same seed, whatever their order, and names what is left out', () => {
    const runs = [
      run('hicra', 2, { value: 0.7 }),
      run('grpo', 0, { value: 0.5 }),
      run('hicra', 0, { value: 0.56 }),
      run('grpo', 2, { value: 0.61 }),
      run('grpo', 1, { value: 0.4 }),
      run('hicra', 3, { value: 0.9 }),
      run('hicra', 5, { value: 0.9 }),
      run('hicra', undefined, { value: 0.2 }, { dir: '/runs/loose' }),
      run('grpo', 4, { value: 0.55 }, { dir: '/runs/a' }),
      run('hicra', 4, { value: 0.58 }),
      run('grpo', 4, { value: 0.57 }, { dir: '/runs/b' }),
    ];
    const result = hicraOf(runs);
    expect(result.pairs.map((p) => [p.seed, p.value, p.reference])).toEqual([
      [0, 0.56, 0.5],
      [2, 0.7, 0.61],
    ]);
    expect(result.pairs[0]!.difference).toBeCloseTo(0.06, 15);
    expect(result.leftOut).toEqual([
      '/runs/loose (hicra) has no seed, so it cannot be paired',
      'seed 4 of grpo has 2 runs (/runs/a, /runs/b), so it cannot be paired',
      'seeds 3, 5: hicra only (no grpo run)',
      'seed 1: grpo only (no hicra run)',
    ]);
    expect(result.verdicts).toContain(
      'Left out of the pairing: seeds 3, 5: hicra only (no grpo run).',
    );
    // Two pairs: the differences, and neither a p-value nor an interval.
    expect(result).toMatchObject({
      meaningful: undefined,
      signFlip: undefined,
      pairedBootstrap: undefined,
      paired: { kind: 'not-tested', pairs: 2 },
    });
    expect(result.power).toMatchObject({ pairs: 2, mde: undefined, seedStd: undefined });
    expect(result.statement).toContain('over 2 seed pairs: not tested, too few seed pairs');
    expect(result.verdicts.join(' ')).toContain(
      'With 2 seed pairs the seed noise cannot be estimated',
    );
    // Welch, the secondary line, still uses every seed with a value.
    expect(result.welch.kind).toBe('tested');
  });

  it('says so when no seed is shared', () => {
    const result = hicraOf([run('grpo', 0, { value: 0.5 }), run('hicra', 1, { value: 0.6 })]);
    expect(result.pairs).toEqual([]);
    expect(result.statement).toBe('No paired comparison: no seed was run by both hicra and grpo.');
    expect(result.difference).toBeNaN();
  });

  it('the paired test sees a consistent gain that seed-to-seed spread hides from Welch', () => {
    // Seeds differ a lot from each other, but HICRA is 2 to 4 points above GRPO on each.
    const grpo = [0.3, 0.5, 0.42, 0.61, 0.37];
    const gains = [0.03, 0.02, 0.04, 0.03, 0.025];
    const result = hicraOf(
      comparison(
        grpo,
        grpo.map((g, i) => g + gains[i]!),
      ),
    );
    expect(result.paired.kind === 'tested' && result.paired.pValue).toBeLessThan(0.01);
    expect(result.welch.kind === 'tested' && result.welch.pValue).toBeGreaterThan(0.5);
    expect(result.meaningful).toBe(true);
    // 5 pairs, all positive: the exact sign-flip p is 2/32.
    expect(result.signFlip).toMatchObject({ method: 'exact', pValue: 2 / 32, assignments: 32 });
  });
});

describe('power analysis', () => {
  it('recomputes s_d, the MDE, the evaluation noise and the pairs needed', () => {
    const grpo = [0.5, 0.52, 0.47, 0.55];
    const hicra = [0.53, 0.5, 0.55, 0.56];
    const result = hicraOf(comparison(grpo, hicra));
    const d = hicra.map((h, i) => h - grpo[i]!);
    const { power } = result;
    expect(power.pairs).toBe(4);
    expect(power.seedStd).toBeCloseTo(sampleStd(d), 15);
    expect(power.mde).toBeCloseTo(minimumDetectableEffect(sampleStd(d), 4), 12);
    // Binomial evaluation noise of each run, p(1−p)/(N·k), summed over the pair, averaged.
    const binomial = (p: number) => (p * (1 - p)) / (64 * 4);
    const perPair = d.map((_, i) => binomial(grpo[i]!) + binomial(hicra[i]!));
    result.pairs.forEach((p, i) => {
      expect(p.evalNoiseVariance).toBeCloseTo(perPair[i]!, 15);
    });
    const evalStd = Math.sqrt(perPair.reduce((a, b) => a + b) / 4);
    expect(power.evalNoiseStd).toBeCloseTo(evalStd, 15);
    expect(power.evalNoiseMde).toBeCloseTo(minimumDetectableEffect(evalStd, 4), 12);
    // p(1−p)/N per run: the spread if the problems themselves were redrawn.
    const problems = d.map(
      (_, i) => (grpo[i]! * (1 - grpo[i]!) + hicra[i]! * (1 - hicra[i]!)) / 64,
    );
    expect(power.problemSamplingStd).toBeCloseTo(
      Math.sqrt(problems.reduce((a, b) => a + b) / 4),
      15,
    );
    expect(power.mde!).toBeGreaterThan(0.05);
    expect(power.detectsReference).toBe(false);
    const needed = power.pairsNeeded!;
    expect(minimumDetectableEffect(power.seedStd!, needed)).toBeLessThanOrEqual(0.05);
    expect(minimumDetectableEffect(power.seedStd!, needed - 1)).toBeGreaterThan(0.05);
    const verdicts = result.verdicts.join(' ');
    expect(verdicts).toContain(
      'This comparison cannot reliably detect a difference of the size the paper reports (5.0 points)',
    );
    expect(verdicts).toContain(`about ${needed} seed pairs would be needed`);
  });

  it('says when the paper-sized difference would be seen, and takes the reference as an option', () => {
    const grpo = [0.5, 0.45, 0.52, 0.48, 0.51, 0.47];
    const hicra = grpo.map((g, i) => g + 0.06 + (i % 2 === 0 ? 0.004 : -0.004));
    const result = hicraOf(comparison(grpo, hicra));
    expect(result.power.detectsReference).toBe(true);
    expect(result.verdicts.join(' ')).toContain(
      'so a difference of the size the paper reports (5.0 points) would be seen',
    );
    const strict = hicraOf(comparison(grpo, hicra), { referenceEffect: 0.001 });
    expect(strict.power).toMatchObject({ referenceEffect: 0.001, detectsReference: false });
    expect(strict.verdicts.join(' ')).toContain('the size the paper reports (0.1 points)');
    expect(() => summarizeRuns(comparison(grpo, hicra), { referenceEffect: 5 })).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidArgument,
        message: expect.stringContaining(
          'referenceEffect must be an accuracy difference in (0, 1), got 5',
        ),
      }),
    );
  });

  it('says when evaluation noise is not below the seed noise, and when it is', () => {
    const grpo = [0.5, 0.45, 0.52, 0.48];
    const tight = grpo.map((g, i) => g + 0.05 + [0.002, -0.002, 0.001, -0.001][i]!);
    // N·k = 16: binomial std of a difference ≈ √(2·0.25/16) ≈ 0.18, far above s_d ≈ 0.002.
    const small = hicraOf(comparison(grpo, tight, { k: 1, problems: 16 }));
    expect(small.power.evalNoiseBelowSeedNoise).toBe(false);
    expect(small.verdicts.join(' ')).toContain('Evaluation noise is not below the seed noise');
    const spread = grpo.map((g, i) => g + [0.1, -0.05, 0.08, -0.02][i]!);
    // N·k = 2048: std ≈ 0.016 against s_d ≈ 0.07.
    const large = hicraOf(comparison(grpo, spread, { k: 8, problems: 256 }));
    expect(large.power.evalNoiseBelowSeedNoise).toBe(true);
    expect(large.verdicts.join(' ')).toContain('Evaluation noise is below the seed noise');
    const unknown = hicraOf(comparison(grpo, spread, {}));
    expect(unknown.power.evalNoiseStd).toBeUndefined();
    expect(unknown.verdicts.join(' ')).toContain('do not record eval/problems and eval/k');
  });

  it('treats a greedy evaluation as free of sampling noise', () => {
    const runs = [0.5, 0.45, 0.52, 0.6, 0.5, 0.58].map((value, i) =>
      run(i < 3 ? 'grpo' : 'hicra', i % 3, { value, k: 1, problems: 64, temperature: 0 }),
    );
    const result = hicraOf(runs);
    expect(result.power.evalNoiseStd).toBe(0);
    expect(result.verdicts.join(' ')).toContain('The evaluation is greedy (temperature 0)');
  });
});

describe('which accuracy', () => {
  it('names pass@1 as mean over k at the logged temperature, the budget, and greedy accuracy', () => {
    const runs = [0.5, 0.45, 0.52, 0.6, 0.5, 0.58].map((value, i) =>
      run(i < 3 ? 'grpo' : 'hicra', i % 3, {
        value,
        k: 8,
        problems: 64,
        temperature: 0.6,
        greedy: value + 0.01 * (i < 3 ? 1 : 2),
      }),
    );
    const summary = summarizeRuns(runs);
    expect(summary.accuracy).toMatchObject({
      metric: 'eval/mean_at_k',
      k: [8],
      problems: [64],
      temperatures: [0.6],
      greedy: true,
    });
    expect(summary.accuracy.text).toContain(
      'pass@1, estimated as the mean accuracy over k = 8 samples per problem (eval/mean_at_k) at temperature 0.6',
    );
    expect(summary.accuracy.text).toContain(
      'N = 64 problems × k = 8 samples = 512 responses per evaluation',
    );
    expect(summary.accuracy.text).toContain(
      'Greedy accuracy (eval/greedy_accuracy) is shown beside it',
    );
    const [grpo, hicra] = summary.strategies;
    expect(grpo!.finals[0]).toMatchObject({ temperature: 0.6, temperatureSource: 'metrics' });
    expect(grpo!.greedyMean).toBeCloseTo((0.5 + 0.45 + 0.52) / 3 + 0.01, 14);
    expect(hicra!.comparison!.greedyDifference).toBeCloseTo(
      (0.6 - 0.5 + (0.5 - 0.45) + (0.58 - 0.52)) / 3 + 0.01,
      14,
    );
    const html = renderReport(runs);
    expect(html).toContain('<th>greedy mean</th>');
    expect(html).toContain('<span class="muted">greedy +0.080</span>');
    expect(html).toContain('at temperature 0.6');
  });

  it('falls back to run.json for the temperature and says when it is unknown or varies', () => {
    const config = { evaluation: { temperature: 1, k: 4, problems: 32 } };
    const fromConfig = summarizeRuns([
      run('grpo', 0, { value: 0.5, k: 4, problems: 32 }, { config }),
    ]);
    expect(fromConfig.strategies[0]!.finals[0]).toMatchObject({
      temperature: 1,
      temperatureSource: 'run.json',
    });
    expect(fromConfig.accuracy.text).toContain('at temperature 1,');
    expect(fromConfig.accuracy.text).toContain('Greedy accuracy was not logged.');
    const mixed = summarizeRuns([
      run('grpo', 0, { value: 0.5, k: 4, problems: 32 }),
      run('grpo', 1, { value: 0.5, k: 8, problems: 32 }),
    ]);
    expect(mixed.accuracy.text).toContain('a temperature the runs did not record');
    expect(mixed.accuracy.text).toContain('k = 4 or 8 (differs between runs)');
  });
});

describe('the rendered statistics', () => {
  it('shows per-seed differences, the paired test, Welch as secondary, the MDE and the verdicts', () => {
    const grpo = [0.5, 0.52, 0.47, 0.55];
    const hicra = [0.53, 0.5, 0.55, 0.56];
    const runs = comparison(grpo, hicra);
    const html = renderReport(runs);
    const row = html.slice(html.indexOf('<tr data-comparison="hicra">'));
    const paired = pairedTTest(hicra.map((h, i) => h - grpo[i]!));
    if (paired.kind !== 'tested') throw new Error('expected a test');
    expect(row).toContain('seed 0: +0.030');
    expect(row).toContain('seed 1: −0.020');
    expect(row).toContain(`95% [${paired.low < 0 ? '−' : '+'}${Math.abs(paired.low).toFixed(3)}, `);
    expect(row).toContain(`p = ${paired.pValue.toFixed(3)}`);
    expect(row).toContain('exact, 16 sign patterns');
    expect(row).toContain('evaluation noise alone (bound)');
    expect(row).toContain('cannot reliably detect a difference of the size the paper reports');
    const few = renderReport(comparison([0.5, 0.6], [0.55, 0.62]));
    expect(few).toContain(
      'too few seed pairs for a test or an interval (n = 2; at least 3 are needed)',
    );
    expect(few).toContain('seed 1: +0.020');
  });
});

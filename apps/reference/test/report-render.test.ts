import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ErrorCode,
  EVAL_METRIC_KEYS,
  type MetricRecordV1,
  ROLLOUT_SCHEMA_V1,
  type RolloutRecordV1,
  TRAIN_METRIC_KEYS,
} from '@hicra/spec';
import { afterAll, describe, expect, it } from 'vitest';
import {
  chartData,
  groupStrategies,
  loadRun,
  REPORT_CHARTS,
  type ReportRun,
  renderReport,
  renderResponseHtml,
  runLabels,
  summarizeRuns,
  welchTTest,
  writeReport,
} from '../src/index.js';
import { writeFileAtomic } from '../src/report/write-report.js';
import {
  ABSENT_KEYS,
  temporaryDirectory,
  writeComparison,
  writeSyntheticRun,
} from './report-fixtures.js';

const root = temporaryDirectory();
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Points = readonly (readonly [number, number])[];

function makeRun(
  strategy: string,
  seed: number,
  metrics: { train?: Record<string, Points>; eval?: Record<string, Points> } = {},
  rollouts: RolloutRecordV1[] = [],
): ReportRun {
  const records = (kind: 'train' | 'eval', byKey: Record<string, Points> = {}) => {
    const steps = new Map<number, Record<string, number | string>>();
    for (const [key, points] of Object.entries(byKey)) {
      for (const [step, value] of points) {
        const record = steps.get(step) ?? { kind, step, time: '2025-01-01T00:00:00.000Z' };
        record[key] = value;
        steps.set(step, record);
      }
    }
    return [...steps.values()].sort(
      (a, b) => (a.step as number) - (b.step as number),
    ) as unknown as MetricRecordV1[];
  };
  return {
    dir: `/runs/${strategy}-seed${seed}`,
    strategy,
    seed,
    strategySource: 'run.json',
    config: undefined,
    train: records('train', metrics.train),
    eval: records('eval', metrics.eval),
    rollouts: rollouts.map((record, i) => ({ line: i + 1, record })),
    rolloutRecords: rollouts.length,
    notes: [],
  };
}

const chart = (id: string) => REPORT_CHARTS.find((c) => c.id === id)!;

describe('chartData', () => {
  it('averages seeds per step with a mean ± sample-std band, and counts n', () => {
    const a = makeRun('grpo', 0, {
      train: {
        [TRAIN_METRIC_KEYS.accuracy]: [
          [1, 0.2],
          [2, 0.4],
        ],
      },
    });
    const b = makeRun('grpo', 1, {
      train: {
        [TRAIN_METRIC_KEYS.accuracy]: [
          [1, 0.4],
          [2, 0.6],
          [3, 0.8],
        ],
      },
    });
    const c = makeRun('hicra', 0, { train: { [TRAIN_METRIC_KEYS.accuracy]: [[2, 0.5]] } });
    const data = chartData(chart('train-accuracy'), groupStrategies([c, a, b]));
    expect(data.steps).toEqual([1, 2, 3]);
    const [grpo, hicra] = data.series;
    expect(grpo).toMatchObject({ strategy: 'grpo', n: [2, 2, 1], runs: 2, color: '#0072B2' });
    // Two values 0.2 and 0.4: mean 0.3, sample std √0.02.
    const spread = Math.sqrt(0.02);
    expect(grpo!.mean[0]).toBeCloseTo(0.3, 14);
    expect(grpo!.low[0]).toBeCloseTo(0.3 - spread, 14);
    expect(grpo!.high[1]).toBeCloseTo(0.5 + spread, 14);
    // One seed at step 3: no band.
    expect(grpo!.low[2]).toBeCloseTo(0.8, 14);
    expect(grpo!.high[2]).toBeCloseTo(0.8, 14);
    expect(hicra).toMatchObject({ strategy: 'hicra', mean: [null, 0.5, null], n: [0, 1, 0] });
  });

  it('divides each run by its own first value for relative charts', () => {
    const key = TRAIN_METRIC_KEYS.perplexityExecution;
    const a = makeRun('grpo', 0, {
      train: {
        [key]: [
          [1, 4],
          [2, 2],
          [3, 1],
        ],
      },
    });
    const b = makeRun('grpo', 1, {
      train: {
        [key]: [
          [2, 5],
          [3, 10],
        ],
      },
    });
    const zero = makeRun('hicra', 0, {
      train: {
        [TRAIN_METRIC_KEYS.entropyExecution]: [
          [1, 0],
          [2, 1],
        ],
      },
    });
    const runs = [a, b, zero];
    const data = chartData(chart('execution-perplexity'), groupStrategies(runs));
    expect(data.series).toHaveLength(1);
    const [grpo] = data.series;
    expect(grpo!.mean).toEqual([1, 0.75, 1.125]);
    expect(grpo!.n).toEqual([1, 2, 2]);
    const entropy = chartData(chart('execution-entropy'), groupStrategies(runs), runLabels(runs));
    expect(entropy.series).toEqual([]);
    expect(entropy.notes.join()).toContain(
      'hicra-seed0: token_entropy/execution is 0 at step 1, so it cannot be shown relative',
    );
  });

  it('covers every metric the issue asks for', () => {
    expect(REPORT_CHARTS.map((c) => c.key)).toEqual([
      'eval/mean_at_k',
      'eval/pass_at_k',
      'reward/accuracy',
      'response_length/mean',
      'perplexity/execution',
      'token_entropy/execution',
      'strategy/semantic_entropy',
      'token_entropy/all',
      'actor/clip_fraction',
      'actor/clip_fraction_lower',
      'actor/approx_kl',
    ]);
  });
});

describe('summarizeRuns', () => {
  const evalRun = (strategy: string, seed: number, values: number[]) =>
    makeRun(strategy, seed, {
      eval: {
        [EVAL_METRIC_KEYS.meanAtK]: values.map((v, i) => [i * 10, v] as const),
        [EVAL_METRIC_KEYS.passAtK]: [[values.length * 10, 0.9]],
      },
    });

  it('takes the last evaluation per seed and tests the difference from GRPO', () => {
    const runs = [
      evalRun('grpo', 0, [0.1, 0.5]),
      evalRun('grpo', 1, [0.2, 0.6]),
      evalRun('grpo', 2, [0.3, 0.55]),
      evalRun('hicra', 0, [0.1, 0.6]),
      evalRun('hicra', 1, [0.2, 0.7]),
      evalRun('hicra', 2, [0.3, 0.65]),
    ];
    const summary = summarizeRuns(runs);
    expect(summary.reference).toBe('grpo');
    const [grpo, hicra] = summary.strategies;
    expect(grpo).toMatchObject({ strategy: 'grpo', n: 3, runs: 3, comparison: undefined });
    // The record at step 20 has only pass@k: the final accuracy is the one at step 10.
    expect(grpo!.finals.map((f) => [f.seed, f.step, f.value])).toEqual([
      [0, 10, 0.5],
      [1, 10, 0.6],
      [2, 10, 0.55],
    ]);
    expect(grpo!.mean).toBeCloseTo(0.55, 14);
    expect(grpo!.std).toBeCloseTo(0.05, 14);
    const comparison = hicra!.comparison!;
    expect(comparison.difference).toBeCloseTo(0.1, 14);
    expect(comparison.pairs.map((p) => p.seed)).toEqual([0, 1, 2]);
    // Every seed gains exactly 0.1: the paired t statistic is undefined, and the page says so.
    expect(comparison.paired.kind).toBe('not-tested');
    expect(comparison.meaningful).toBeUndefined();
    expect(comparison.statement).toContain('hicra − grpo = +0.100 over 3 seed pairs');
    expect(comparison.statement).toContain('every pair has the same difference');
    // Welch stays as the secondary, unpaired line. Equal variances 0.0025, n = 3 each:
    // t = 0.1/√(2·0.0025/3) = √6, df = 4.
    const welch = welchTTest([0.6, 0.7, 0.65], [0.5, 0.6, 0.55]);
    expect(comparison.welch).toEqual(welch);
    if (welch.kind !== 'tested') throw new Error('expected a test');
    expect(welch.t).toBeCloseTo(Math.sqrt(6), 12);
    expect(welch.df).toBeCloseTo(4, 12);
    const x = Math.sqrt(6) / Math.sqrt(10);
    expect(welch.pValue).toBeCloseTo(2 * (1 - (0.5 + 0.75 * x - x ** 3 / 4)), 12);
    expect(comparison.pairedBootstrap).toMatchObject({ level: 0.95, resamples: 10_000, seed: 0 });
    expect(comparison.signFlip).toMatchObject({ method: 'exact', pValue: 0.25 });
  });

  it('calls a clear difference meaningful', () => {
    const runs = [0.3, 0.32, 0.31, 0.6, 0.63, 0.6].map((v, i) =>
      evalRun(i < 3 ? 'grpo' : 'hicra', i % 3, [v]),
    );
    const hicra = summarizeRuns(runs).strategies[1]!;
    expect(hicra.comparison!.meaningful).toBe(true);
    expect(hicra.comparison!.statement).toContain('p < 0.001');
    expect(hicra.comparison!.statement).toContain(': statistically meaningful at the 5% level');
    expect(hicra.comparison!.statement).toContain('over 3 seed pairs (paired t = ');
    expect(hicra.comparison!.pairedBootstrap!.low).toBeGreaterThan(0);
  });

  it('states plainly when there are too few seeds or no GRPO', () => {
    const runs = [
      evalRun('grpo', 0, [0.5]),
      evalRun('grpo', 1, [0.6]),
      evalRun('placebo', 0, [0.55]),
      makeRun('hicra', 0),
    ];
    const [, hicra, placebo] = summarizeRuns(runs).strategies;
    expect(placebo!.comparison).toMatchObject({
      meaningful: undefined,
      pairedBootstrap: undefined,
      signFlip: undefined,
      leftOut: ['seed 1: grpo only (no placebo run)'],
    });
    expect(placebo!.comparison!.statement).toContain(
      'placebo − grpo = +0.050 over 1 seed pair: not tested, too few seed pairs',
    );
    expect(placebo!.comparison!.statement).toContain('n = 1; at least 3 are needed');
    expect(placebo!.std).toBeUndefined();
    expect(hicra).toMatchObject({ n: 0, mean: undefined, withoutEval: ['/runs/hicra-seed0'] });
    expect(hicra!.comparison!.statement).toContain('hicra has no final evaluation accuracy');
    const alone = summarizeRuns([evalRun('hicra', 0, [0.5]), evalRun('hicra', 1, [0.6])]);
    expect(alone.reference).toBeUndefined();
    expect(alone.strategies[0]!.comparison).toBeUndefined();
  });
});

describe('renderResponseHtml', () => {
  it('marks planning matches inside token spans and carries advantages', () => {
    const record: RolloutRecordV1 = {
      schema: ROLLOUT_SCHEMA_V1,
      groupId: 'q',
      prompt: 'p',
      response: 'Wait, 3<8.',
      reward: 1,
      tokenSpans: [
        [0, 4],
        [4, 5],
        [6, 7],
        [7, 8],
        [8, 9],
        [9, 10],
      ],
      advantages: [2, 1, 0, -1, 1, 1],
      planningMatches: [{ start: 0, end: 5, gram: 'wait,', gramId: 0 }],
    };
    expect(renderResponseHtml(record)).toBe(
      '<span class="tok pos" data-t="0" data-adv="2" style="--w:1.000" title="token 0: advantage 2.0000">' +
        '<mark class="planning" data-match="0" title="planning: wait,">Wait</mark></span>' +
        '<span class="tok pos" data-t="1" data-adv="1" style="--w:0.500" title="token 1: advantage 1.0000">' +
        '<mark class="planning" data-match="0" title="planning: wait,">,</mark></span> ' +
        '<span class="tok zero" data-t="2" data-adv="0" style="--w:0.000" title="token 2: advantage 0.0000">3</span>' +
        '<span class="tok neg" data-t="3" data-adv="-1" style="--w:0.500" title="token 3: advantage -1.0000">&lt;</span>' +
        '<span class="tok pos" data-t="4" data-adv="1" style="--w:0.500" title="token 4: advantage 1.0000">8</span>' +
        '<span class="tok pos" data-t="5" data-adv="1" style="--w:0.500" title="token 5: advantage 1.0000">.</span>',
    );
  });

  it('marks matches without token spans', () => {
    const record: RolloutRecordV1 = {
      schema: ROLLOUT_SCHEMA_V1,
      groupId: 1,
      prompt: 'p',
      response: 'a "wait" b',
      reward: 0,
      planningMatches: [{ start: 3, end: 7, gram: 'wait', gramId: 0 }],
    };
    expect(renderResponseHtml(record)).toBe(
      'a &quot;<mark class="planning" data-match="0" title="planning: wait">wait</mark>&quot; b',
    );
  });
});

describe('renderReport', () => {
  const comparisonRoot = join(root, 'comparison');
  const dirs = writeComparison(comparisonRoot, 24);

  it('renders every chart, the summary, the runs and the rollout viewer', async () => {
    const runs = await Promise.all(dirs.map((d) => loadRun(d)));
    const html = renderReport(runs, { title: 'GRPO vs HICRA' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<title>GRPO vs HICRA</title>');
    for (const definition of REPORT_CHARTS) {
      const absent = (ABSENT_KEYS as readonly string[]).includes(definition.key);
      expect(html).toContain(
        `id="chart-${definition.id}" data-key="${definition.key}" data-state="${absent ? 'no-data' : 'pending'}"`,
      );
    }
    expect(html).toContain('No data: no run has <code>actor/clip_fraction_lower</code>.');
    expect(html).toContain('<tr data-strategy="hicra">');
    expect(html).toContain('hicra − grpo = ');
    expect(html).toContain('<h3 id="statistics">Difference from GRPO, paired by seed</h3>');
    expect(html).toContain('<th>Welch (unpaired, secondary)</th>');
    expect(html).toMatch(/<tr data-comparison="hicra">.*seed 0: \+0\.\d{3}.*seed 2: /);
    expect(html).toContain('N = 64 problems × k = 4 samples = 256 responses per evaluation');
    expect(html.match(/<article class="rollout"/g)).toHaveLength(6 * 6);
    // Only the first run's latest step is shown before the script runs.
    expect(html.match(/<article class="rollout" data-run="0" data-step="24">/g)).toHaveLength(2);
    expect(html).toContain(
      '<mark class="planning" data-match="0" title="planning: first, i need to">',
    );
    expect(renderReport(runs, { title: 'GRPO vs HICRA' })).toBe(html);
  });

  it('loads nothing from the network', async () => {
    const html = renderReport([await loadRun(dirs[0]!)]);
    expect(html).not.toMatch(/<(script|link|img|iframe|source|embed)\b[^>]*\b(src|href)\s*=/i);
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*["']?https?:/i);
    expect(html.match(/<script/gi)).toHaveLength(3);
    expect(html).toContain('var uPlot=function()');
  });

  it('escapes every string from the data', () => {
    const evil = '<script>alert("x")</script>';
    const rollout: RolloutRecordV1 = {
      schema: ROLLOUT_SCHEMA_V1,
      groupId: '<img src=x onerror=alert(1)>',
      prompt: evil,
      response: `${evil} Wait, </pre><b>bold</b>`,
      reward: 1,
      step: 3,
      planningMatches: [{ start: 30, end: 34, gram: '"><script>alert(2)</script>', gramId: 0 }],
    };
    const run = {
      ...makeRun('<svg onload=alert(3)>', 0, {
        train: { [TRAIN_METRIC_KEYS.accuracy]: [[1, 0.5]] },
      }),
      dir: '/runs/<i>dir</i>',
      notes: [evil],
    };
    const html = renderReport([{ ...run, rollouts: [{ line: 1, record: rollout }] }], {
      title: evil,
    });
    expect(html.match(/<script/gi)).toHaveLength(3);
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<svg onload');
    expect(html).not.toContain('<b>bold</b>');
    expect(html).not.toContain('<i>dir</i>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;');
    expect(html).toContain('title="planning: &quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"');
    expect(html).toContain('\\u003csvg onload=alert(3)>');
  });

  it('rejects no runs and a run given twice', () => {
    const run = makeRun('grpo', 0);
    expect(() => renderReport([])).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
    expect(() => renderReport([run, run])).toThrow(
      /run directory \/runs\/grpo-seed0 is given twice/,
    );
  });
});

describe('writeReport', () => {
  const dirs = writeComparison(join(root, 'write'), 10);

  it('writes the page atomically and returns its path and summary', async () => {
    const out = join(root, 'out', 'nested', 'report.html');
    const result = await writeReport({ runDirs: dirs, out, title: 'small' });
    expect(result.path).toBe(out);
    expect(readFileSync(out, 'utf8')).toContain('<title>small</title>');
    expect(readdirSync(join(root, 'out', 'nested'))).toEqual(['report.html']);
    expect(result.summary.strategies.map((s) => [s.strategy, s.n])).toEqual([
      ['grpo', 3],
      ['hicra', 3],
    ]);
    expect(readFileSync(out, 'utf8')).toContain('· generated ');
    const inDirectory = await writeReport({ runDirs: dirs.slice(0, 1), out: join(root, 'out') });
    expect(inDirectory.path).toBe(join(root, 'out', 'report.html'));
  });

  it('leaves an existing report untouched when a run directory is bad', async () => {
    const out = join(root, 'kept.html');
    writeFileSync(out, 'previous');
    await expect(
      writeReport({ runDirs: [dirs[0]!, join(root, 'missing-run')], out }),
    ).rejects.toMatchObject({ code: ErrorCode.CorruptFile });
    expect(readFileSync(out, 'utf8')).toBe('previous');
    await expect(writeReport({ runDirs: [], out })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringContaining('at least one run directory'),
    });
    await expect(writeReport({ runDirs: dirs, out: '' })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
  });

  it('replaces a file in one rename and cleans up after a failure', async () => {
    const folder = join(root, 'atomic');
    mkdirSync(folder);
    const path = join(folder, 'page.html');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(readdirSync(folder)).toEqual(['page.html']);
    await expect(writeFileAtomic(join(folder, 'no-such-dir', 'x.html'), 'x')).rejects.toMatchObject(
      { code: 'ENOENT' },
    );
    mkdirSync(join(folder, 'a-directory'));
    await expect(writeFileAtomic(join(folder, 'a-directory'), 'x')).rejects.toBeDefined();
    expect(readdirSync(folder).sort()).toEqual(['a-directory', 'page.html']);
    expect(existsSync(join(folder, 'a-directory'))).toBe(true);
  });

  it('reads a run whose strategy comes from its folder', async () => {
    const dir = writeSyntheticRun(join(root, 'named'), 'placebo-seed1', {
      strategy: 'x',
      seed: 1,
      steps: 4,
      runJson: false,
    });
    const result = await writeReport({ runDirs: [dir], out: join(root, 'named.html') });
    expect(result.summary.strategies[0]!.strategy).toBe('placebo');
    expect(readFileSync(result.path, 'utf8')).toContain(
      'placebo <span class="muted">(folder name)</span>',
    );
  });
});

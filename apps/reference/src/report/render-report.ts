import { basename, dirname } from 'node:path';
import { InvalidArgumentError } from '@hicra/spec';
import { chartLibraryAssets } from './assets.js';
import {
  chartData,
  groupStrategies,
  REPORT_CHARTS,
  type ReportChartData,
  type ReportStrategy,
} from './charts.js';
import { CLIENT_SCRIPT } from './client-script.js';
import {
  escapeHtml,
  formatNumber,
  formatPValue,
  formatSigned,
  jsonForScript,
  scriptForInline,
} from './html.js';
import type { ReportRollout, ReportRun } from './load-run.js';
import { renderResponseHtml } from './rollout-view.js';
import {
  type ReportSummary,
  type StrategyComparison,
  type StrategySummary,
  type SummarizeOptions,
  summarizeRuns,
} from './summary.js';

const SOURCE = '@hicra/reference';

export interface RenderReportOptions extends SummarizeOptions {
  /** Page title. Default `hicra report`. */
  readonly title?: string;
  /** Shown in the header when given (the page is otherwise a pure function of the runs). */
  readonly generatedAt?: Date;
  /** A summary already computed with {@link summarizeRuns} for these runs. */
  readonly summary?: ReportSummary;
}

/**
 * Short unique names for runs: the folder name, or more of the path where two runs share it.
 */
export function runLabels(runs: readonly ReportRun[]): Map<ReportRun, string> {
  const labels = new Map<ReportRun, string>();
  const count = (values: string[], v: string) => values.filter((x) => x === v).length;
  const short = runs.map((r) => basename(r.dir));
  const longer = runs.map((r) => `${basename(dirname(r.dir))}/${basename(r.dir)}`);
  runs.forEach((run, i) => {
    const label =
      count(short, short[i]!) === 1
        ? short[i]!
        : count(longer, longer[i]!) === 1
          ? longer[i]!
          : run.dir;
    labels.set(run, label);
  });
  return labels;
}

function checkRuns(runs: readonly ReportRun[]): void {
  if (!Array.isArray(runs) || runs.length === 0) {
    throw new InvalidArgumentError('the report needs at least one run', {
      source: SOURCE,
      details: { argument: 'runs' },
    });
  }
  const seen = new Set<string>();
  for (const run of runs) {
    if (seen.has(run.dir)) {
      throw new InvalidArgumentError(`run directory ${run.dir} is given twice`, {
        source: SOURCE,
        details: { argument: 'runs', dir: run.dir },
      });
    }
    seen.add(run.dir);
  }
}

const seedText = (seed: number | undefined) => (seed === undefined ? '–' : String(seed));

function interval(low: number, high: number): string {
  return `[${formatSigned(low)}, ${formatSigned(high)}]`;
}

function pText(p: number): string {
  const text = formatPValue(p);
  return escapeHtml(text.startsWith('<') ? `p ${text}` : `p = ${text}`);
}

function renderComparisonRow(
  s: StrategySummary,
  comparison: StrategyComparison,
  summary: ReportSummary,
  color: string | undefined,
): string {
  const level = `${Math.round((1 - summary.alpha) * 100)}%`;
  const dash = '<span class="muted">–</span>';
  const differences =
    comparison.pairs.length === 0
      ? '<span class="muted">no pairs</span>'
      : comparison.pairs
          .map(
            (p) =>
              `<span class="seed" title="${formatNumber(p.value)} − ${formatNumber(p.reference)}">seed ${p.seed}: ${formatSigned(p.difference)}</span>`,
          )
          .join(' ');
  const { paired, signFlip, pairedBootstrap, welch, power } = comparison;
  const pairedCell =
    paired.kind === 'tested'
      ? `${formatSigned(paired.difference)}<br>${level} ${interval(paired.low, paired.high)}<br>${pText(paired.pValue)} <span class="muted">(t = ${paired.t.toFixed(2)}, df = ${paired.df})</span>`
      : `${formatSigned(comparison.difference)}<br><span class="muted">${escapeHtml(paired.reason)}</span>`;
  const signFlipCell =
    signFlip === undefined
      ? dash
      : `${pText(signFlip.pValue)}<br><span class="muted">${signFlip.method === 'exact' ? `exact, ${signFlip.assignments} sign patterns` : `${signFlip.assignments} seeded draws`}</span>`;
  const bootstrapCell =
    pairedBootstrap === undefined ? dash : interval(pairedBootstrap.low, pairedBootstrap.high);
  const welchCell =
    welch.kind === 'tested'
      ? `${formatSigned(welch.difference)}, ${pText(welch.pValue)}<br><span class="muted">t = ${welch.t.toFixed(2)}, df = ${welch.df.toFixed(1)}</span>`
      : `<span class="muted">${escapeHtml(welch.reason)}</span>`;
  const mdeCell =
    power.mde === undefined
      ? dash
      : `<span class="${power.detectsReference ? '' : 'warning'}">${formatNumber(power.mde)}</span>` +
        (power.evalNoiseMde === undefined
          ? ''
          : `<br><span class="muted">evaluation noise alone (bound): ${formatNumber(power.evalNoiseMde)}</span>`);
  return (
    `<tr data-comparison="${escapeHtml(s.strategy)}"><th scope="row"><span class="swatch" style="background:${color}"></span>${escapeHtml(s.strategy)} − ${escapeHtml(comparison.reference)}</th>` +
    `<td class="num">${comparison.pairs.length}</td><td>${differences}</td>` +
    `<td class="num">${pairedCell}</td><td class="num">${signFlipCell}</td><td class="num">${bootstrapCell}</td>` +
    `<td class="num secondary">${welchCell}</td><td class="num">${mdeCell}</td></tr>`
  );
}

function renderVerdict(s: StrategySummary, comparison: StrategyComparison): string {
  const verdictClass =
    comparison.meaningful === true ? 'yes' : comparison.meaningful === false ? 'no' : 'untested';
  const verdicts =
    comparison.verdicts.length === 0
      ? ''
      : `<ul>${comparison.verdicts.map((v) => `<li>${escapeHtml(v)}</li>`).join('')}</ul>`;
  return `<div class="verdict ${verdictClass}" data-verdict="${escapeHtml(s.strategy)}"><p>${escapeHtml(comparison.statement)}</p>${verdicts}</div>`;
}

function renderSummary(summary: ReportSummary, strategies: readonly ReportStrategy[]): string {
  const color = new Map(strategies.map((s) => [s.name, s.color]));
  const greedy = summary.accuracy.greedy;
  const rows = summary.strategies
    .map((s) => {
      const finals = s.finals
        .map(
          (f) =>
            `<span class="seed" title="${escapeHtml(f.dir)}, step ${f.step}">${formatNumber(f.value)} <span class="muted">(seed ${seedText(f.seed)})</span></span>`,
        )
        .join(' ');
      const missing =
        s.withoutEval.length > 0
          ? `<br><span class="muted">${s.withoutEval.length} run(s) without evaluation</span>`
          : '';
      const role =
        s.comparison !== undefined
          ? formatSigned(s.comparison.difference) +
            (s.comparison.greedyDifference === undefined
              ? ''
              : `<br><span class="muted">greedy ${formatSigned(s.comparison.greedyDifference)}</span>`)
          : `<span class="muted">${s.strategy === summary.reference ? 'reference' : 'no GRPO run to compare with'}</span>`;
      return (
        `<tr data-strategy="${escapeHtml(s.strategy)}"><th scope="row"><span class="swatch" style="background:${color.get(s.strategy)}"></span>${escapeHtml(s.strategy)}</th>` +
        `<td class="num">${s.n}${s.n === s.runs ? '' : ` of ${s.runs}`}</td>` +
        `<td class="num">${formatNumber(s.mean)}</td><td class="num">${formatNumber(s.std)}</td>` +
        (greedy ? `<td class="num">${formatNumber(s.greedyMean)}</td>` : '') +
        `<td>${finals || '<span class="muted">no evaluation</span>'}${missing}</td><td class="num">${role}</td></tr>`
      );
    })
    .join('\n');
  const comparisons = summary.strategies
    .filter((s) => s.comparison !== undefined)
    .map((s) => renderComparisonRow(s, s.comparison!, summary, color.get(s.strategy)))
    .join('\n');
  const verdicts = summary.strategies
    .filter((s) => s.comparison !== undefined)
    .map((s) => renderVerdict(s, s.comparison!))
    .join('\n');
  const steps = new Set(summary.strategies.flatMap((s) => s.finals.map((f) => f.step)));
  const stepNote =
    steps.size > 1
      ? `<p class="warning">The final evaluations are at different steps (${[...steps].sort((a, b) => a - b).join(', ')}); the runs did not all train for the same budget.</p>`
      : '';
  const referenceNote =
    summary.reference === undefined
      ? '<p class="muted">No run has the strategy <code>grpo</code>, so there is no comparison.</p>'
      : '';
  const level = `${Math.round((1 - summary.alpha) * 100)}%`;
  const statistics =
    comparisons === ''
      ? ''
      : `<h3 id="statistics">Difference from GRPO, paired by seed</h3>
<p class="method">Runs of <code>hicra compare</code> with the same seed share the base checkpoint, the problems, the data
order and the sampling seeds, so each strategy is compared with GRPO <strong>seed by seed</strong>: d = strategy − GRPO
for every seed both ran (a seed run by one side only is left out and named). The main test is the paired t-test on the
d’s (two-sided, “statistically meaningful” means p &lt; ${summary.alpha}) with its Student-t ${level} interval; beside it
an exact sign-flip permutation test (every ± pattern of the d’s; seeded Monte Carlo above 16 pairs) and a seeded
bootstrap interval over seed pairs (too narrow with few pairs). The unpaired Welch test on all seeds is shown only as a
secondary column. With fewer than 3 pairs no p-value or interval is given, only the differences.
The minimum detectable effect (MDE) is the smallest true difference the paired t-test finds with
${Math.round(summary.power * 100)}% power at ${summary.alpha} (exact noncentral t), from the spread s_d of the d’s; “evaluation noise
alone” uses instead the binomial variance p(1−p)/(N·k) of each run’s accuracy, summed over the pair: a bound, since
problems differ in difficulty and paired runs share sampling seeds. Verdicts compare the MDE with
${(summary.referenceEffect * 100).toFixed(1)} points, the size of the gains the paper reports.</p>
<table class="summary statistics">
<thead><tr><th>comparison</th><th>pairs</th><th>per seed d</th><th>mean d, paired t</th><th>sign-flip</th><th>bootstrap ${level}</th><th>Welch (unpaired, secondary)</th><th>MDE (${Math.round(summary.power * 100)}% power)</th></tr></thead>
<tbody>
${comparisons}
</tbody>
</table>
${verdicts}`;
  return `<section id="summary">
<h2>Final accuracy</h2>
<p>${escapeHtml(summary.accuracy.text)}</p>
<table class="summary">
<thead><tr><th>strategy</th><th>n</th><th>mean</th><th>std</th>${greedy ? '<th>greedy mean</th>' : ''}<th>per seed (last evaluation)</th><th>paired difference from GRPO</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${stepNote}${referenceNote}${statistics}
</section>`;
}

function renderRuns(runs: readonly ReportRun[], labels: ReadonlyMap<ReportRun, string>): string {
  const rows = runs
    .map((run) => {
      const last = run.train.at(-1)?.step;
      const source =
        run.strategySource === 'run.json' ? '' : ' <span class="muted">(folder name)</span>';
      const notes = run.notes.map((n) => escapeHtml(n)).join('<br>');
      return (
        `<tr><td title="${escapeHtml(run.dir)}">${escapeHtml(labels.get(run)!)}</td><td>${escapeHtml(run.strategy)}${source}</td>` +
        `<td class="num">${seedText(run.seed)}</td><td class="num">${run.train.length}</td>` +
        `<td class="num">${last ?? '–'}</td><td class="num">${run.eval.length}</td>` +
        `<td class="num">${run.rolloutRecords}</td><td>${notes}</td></tr>`
      );
    })
    .join('\n');
  return `<section id="runs">
<h2>Runs</h2>
<table class="runs">
<thead><tr><th>run</th><th>strategy</th><th>seed</th><th>train records</th><th>last step</th><th>eval records</th><th>rollouts</th><th>notes</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

function renderChart(chart: ReportChartData): string {
  const { definition } = chart;
  const legend = chart.series
    .map(
      (s) =>
        `<span class="legend-item"><span class="swatch" style="background:${s.color}"></span>${escapeHtml(s.strategy)} <span class="muted">(${s.runs} seed${s.runs === 1 ? '' : 's'})</span></span>`,
    )
    .join(' ');
  const hasData = chart.series.length > 0;
  const notes = chart.notes.map((n) => `<p class="muted">${escapeHtml(n)}</p>`).join('');
  const body = hasData
    ? `<div class="legend">${legend}</div><div class="plot"></div><p class="readout"></p>`
    : `<p class="no-data">No data: no run has <code>${escapeHtml(definition.key)}</code>.</p>`;
  return `<section class="chart" id="chart-${definition.id}" data-key="${escapeHtml(definition.key)}" data-state="${hasData ? 'pending' : 'no-data'}">
<h3>${escapeHtml(definition.title)}</h3>
<p class="description">${escapeHtml(definition.description)} <code>${escapeHtml(definition.key)}</code></p>
${body}${notes}
</section>`;
}

function stepKey(rollout: ReportRollout): string {
  return rollout.record.step === undefined ? 'none' : String(rollout.record.step);
}

function renderRollout(
  rollout: ReportRollout,
  runIndex: number,
  label: string,
  hidden: boolean,
): string {
  const { record } = rollout;
  const reward =
    record.reward === null
      ? `<span class="reward unscorable">unscorable: ${escapeHtml(record.unscorableReason ?? '')}</span>`
      : `<span class="reward ${record.reward > 0 ? 'positive' : 'zero'}">reward ${formatNumber(record.reward)}</span>`;
  const matches = record.planningMatches ?? [];
  const grams = [...new Set(matches.map((m) => m.gram))]
    .map((g) => `<q>${escapeHtml(String(g))}</q>`)
    .join(', ');
  const planning =
    matches.length === 0
      ? 'no planning matches'
      : `${matches.length} planning match${matches.length === 1 ? '' : 'es'}: ${grams}`;
  const step = record.step === undefined ? 'no step' : `step ${record.step}`;
  const advantagesNote =
    record.advantages !== undefined && record.tokenSpans === undefined
      ? '<p class="muted">This record has advantages but no token spans, so they cannot be placed on the text.</p>'
      : '';
  const readout =
    record.tokenSpans === undefined
      ? ''
      : `<p class="token-readout">Hover a token to see its ${record.advantages === undefined ? 'index' : 'advantage'}.</p>`;
  return `<article class="rollout" data-run="${runIndex}" data-step="${stepKey(rollout)}"${hidden ? ' hidden' : ''}>
<header><strong>${escapeHtml(label)}</strong> · ${step} · group ${escapeHtml(String(record.groupId))} · ${reward} · ${planning} <span class="muted">(line ${rollout.line})</span></header>
<details><summary>Prompt</summary><pre class="prompt">${escapeHtml(record.prompt)}</pre></details>
<pre class="response">${renderResponseHtml(record)}</pre>
${readout}${advantagesNote}
</article>`;
}

function renderRollouts(
  runs: readonly ReportRun[],
  labels: ReadonlyMap<ReportRun, string>,
): { html: string; index: { runs: { label: string; steps: string[] }[] } } {
  const index = runs.map((run) => ({
    label: labels.get(run)!,
    steps: [...new Set(run.rollouts.map(stepKey))],
  }));
  const first = index.findIndex((r) => r.steps.length > 0);
  if (first === -1) {
    return {
      html: `<section id="rollout-viewer"><h2>Rollouts</h2><p class="no-data">No run has rollouts to show.</p></section>`,
      index: { runs: index },
    };
  }
  const defaultStep = index[first]!.steps.at(-1);
  const options = runs
    .map(
      (run, i) =>
        `<option value="${i}"${i === first ? ' selected' : ''}${index[i]!.steps.length === 0 ? ' disabled' : ''}>${escapeHtml(
          `${labels.get(run)} (${run.strategy}${run.seed === undefined ? '' : `, seed ${run.seed}`})`,
        )}</option>`,
    )
    .join('');
  const articles = runs
    .flatMap((run, i) =>
      run.rollouts.map((rollout) =>
        renderRollout(
          rollout,
          i,
          labels.get(run)!,
          !(i === first && stepKey(rollout) === defaultStep),
        ),
      ),
    )
    .join('\n');
  const html = `<section id="rollout-viewer">
<h2>Rollouts</h2>
<p>The first rollouts of each run’s latest logged steps. <mark class="planning">Highlighted</mark> text is a planning-phrase
match (<code>planningMatches</code>); hover a token for its index and advantage.</p>
<div class="controls">
<label>Run <select id="rollout-run">${options}</select></label>
<label>Step <select id="rollout-step"><option value="${escapeHtml(defaultStep!)}">${defaultStep === 'none' ? 'no step' : `step ${escapeHtml(defaultStep!)}`}</option></select></label>
<label><input type="checkbox" id="rollout-shade"> shade tokens by advantage</label>
</div>
<div id="rollouts">
${articles}
</div>
</section>`;
  return { html, index: { runs: index } };
}

const PAGE_CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 0; color: #1b1f24; background: #fafafa; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 2px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #eef0f3; padding: 0 3px; border-radius: 3px; }
.muted { color: #666; }
.warning { color: #8a4b00; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.summary { width: 100%; }
table.summary th:first-child, table.summary td.num { white-space: nowrap; }
.seed { white-space: nowrap; margin-right: 10px; }
table.statistics td.num { white-space: normal; }
#statistics { margin-top: 16px; }
.verdict { border: 1px solid #ddd; border-radius: 4px; padding: 6px 12px; margin: 8px 0; }
.verdict p { margin: 0; font-weight: 600; }
.verdict ul { margin: 4px 0 0; padding-left: 18px; }
.verdict.yes { background: #e6f4ea; }
.verdict.no { background: #f6f6f6; }
.verdict.untested { background: #fff8e1; }
td.secondary { color: #555; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; }
.chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px; min-width: 0; }
.chart .description { margin: 0 0 4px; color: #555; font-size: 12px; }
.chart .legend { font-size: 12px; margin-bottom: 2px; }
.legend-item { margin-right: 12px; white-space: nowrap; }
.chart .plot { width: 100%; min-height: 240px; }
.chart .readout { font-size: 12px; color: #444; margin: 2px 0 0; min-height: 1.4em; }
.no-data { color: #8a4b00; background: #fff8e1; border: 1px dashed #e0c080; padding: 24px; text-align: center; border-radius: 4px; }
.method { font-size: 12px; color: #555; }
.controls { display: flex; gap: 16px; align-items: center; margin: 8px 0 12px; flex-wrap: wrap; }
.rollout { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px; margin-bottom: 12px; }
.rollout header { font-size: 13px; margin-bottom: 6px; }
.rollout pre { white-space: pre-wrap; word-break: break-word; font: 13px/1.6 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: 6px 0; }
.rollout pre.prompt { color: #444; }
.reward.positive { color: #0a6b2f; font-weight: 600; }
.reward.zero { color: #8a1c1c; font-weight: 600; }
.reward.unscorable { color: #8a4b00; }
mark.planning { background: #ffe08a; color: inherit; border-bottom: 2px solid #d9a400; }
.tok:hover { outline: 1px solid #888; }
body.shade-advantages .tok.pos { background: rgba(0, 158, 115, calc(var(--w) * 0.45)); }
body.shade-advantages .tok.neg { background: rgba(213, 94, 0, calc(var(--w) * 0.45)); }
.token-readout { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: #444; min-height: 1.4em; margin: 0; }
`;

/**
 * The report as one self-contained HTML page (uPlot, the page's script and CSS inlined; no
 * network access): summary table, runs table, the charts of {@link REPORT_CHARTS} with one line
 * per strategy and a mean ± std band across its seeds, and the rollout viewer. Deterministic
 * for given runs and options; every string from the data is escaped.
 */
export function renderReport(
  runs: readonly ReportRun[],
  options: RenderReportOptions = {},
): string {
  checkRuns(runs);
  const title = options.title ?? 'hicra report';
  const labels = runLabels(runs);
  const strategies = groupStrategies(runs);
  const summary = options.summary ?? summarizeRuns(runs, options);
  const charts = REPORT_CHARTS.map((definition) => chartData(definition, strategies, labels));
  const rollouts = renderRollouts(runs, labels);
  const assets = chartLibraryAssets();
  const data = {
    charts: charts.map((c) => ({
      id: c.definition.id,
      key: c.definition.key,
      yLabel: c.definition.yLabel,
      steps: c.steps,
      series: c.series.map((s) => ({
        strategy: s.strategy,
        color: s.color,
        mean: s.mean,
        low: s.low,
        high: s.high,
        n: s.n,
      })),
    })),
    rollouts: rollouts.index,
  };
  const strategyList = strategies
    .map((s) => `${escapeHtml(s.name)} (${s.runs.length} run${s.runs.length === 1 ? '' : 's'})`)
    .join(', ');
  const generated =
    options.generatedAt === undefined
      ? ''
      : ` · generated ${escapeHtml(options.generatedAt.toISOString())}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hicra report">
<title>${escapeHtml(title)}</title>
<style>${assets.css.replace(/<\//g, '<\\/')}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<p class="muted">${runs.length} run${runs.length === 1 ? '' : 's'}: ${strategyList}${generated}</p>
${renderSummary(summary, strategies)}
<section id="charts">
<h2>Training dynamics</h2>
<p class="method">One line per strategy: the mean over its seeds that have a value at that step. The band is the
mean ± one sample standard deviation (n − 1) across those seeds; a step with one seed has no band. Relative
charts divide each run by its own value at its first step before averaging. Hover a chart for values and n.</p>
<div class="charts">
${charts.map(renderChart).join('\n')}
</div>
</section>
${rollouts.html}
${renderRuns(runs, labels)}
<p class="method">Charts drawn with ${assets.name} ${escapeHtml(assets.version)} (MIT), inlined; this page loads nothing from the network.</p>
</main>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script>${scriptForInline(assets.script)}</script>
<script>${scriptForInline(CLIENT_SCRIPT)}</script>
</body>
</html>
`;
}

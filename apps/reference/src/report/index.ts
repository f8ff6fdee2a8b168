/** `hicra report`: a self-contained HTML report of one or more run directories. */

export type { ChartLibraryAssets } from './assets.js';
export {
  chartData,
  groupStrategies,
  REPORT_CHARTS,
  type ReportChartData,
  type ReportChartDefinition,
  type ReportChartSeries,
  type ReportStrategy,
} from './charts.js';
export {
  type LoadRunOptions,
  loadRun,
  parseMetricRecord,
  REPORT_RUN_FILES,
  type ReportRollout,
  type ReportRun,
  strategyFromFolderName,
} from './load-run.js';
export { type RenderReportOptions, renderReport, runLabels } from './render-report.js';
export { renderResponseHtml } from './rollout-view.js';
export {
  approximateMinimumDetectableEffect,
  type BootstrapInterval,
  type BootstrapOptions,
  bootstrapMeanDifference,
  EXACT_SIGN_FLIP_MAX_PAIRS,
  hasSpread,
  logGamma,
  MIN_PAIRS,
  minimumDetectableEffect,
  type PairedTTestResult,
  pairedBootstrapInterval,
  pairedTTest,
  pairedTTestPower,
  regularizedIncompleteBeta,
  type SignFlipResult,
  signFlipTest,
  studentTCdf,
  studentTDensity,
  studentTQuantile,
  studentTTwoSidedP,
  type WelchTestResult,
  welchTTest,
} from './statistics.js';
export {
  type AccuracyDescription,
  DEFAULT_REFERENCE_EFFECT,
  EVAL_GREEDY_ACCURACY_KEY,
  EVAL_TEMPERATURE_KEY,
  type FinalAccuracy,
  type PowerAnalysis,
  REFERENCE_STRATEGY,
  type ReportSummary,
  type SeedPair,
  SIGNIFICANCE_LEVEL,
  type StrategyComparison,
  type StrategySummary,
  type SummarizeOptions,
  summarizeRuns,
  TARGET_POWER,
} from './summary.js';
export {
  REPORT_FILE_NAME,
  type WriteReportOptions,
  type WriteReportResult,
  writeReport,
} from './write-report.js';

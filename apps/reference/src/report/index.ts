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
  type BootstrapInterval,
  type BootstrapOptions,
  bootstrapMeanDifference,
  logGamma,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTTwoSidedP,
  type WelchTestResult,
  welchTTest,
} from './statistics.js';
export {
  type FinalAccuracy,
  REFERENCE_STRATEGY,
  type ReportSummary,
  SIGNIFICANCE_LEVEL,
  type StrategyComparison,
  type StrategySummary,
  type SummarizeOptions,
  summarizeRuns,
} from './summary.js';
export {
  REPORT_FILE_NAME,
  type WriteReportOptions,
  type WriteReportResult,
  writeReport,
} from './write-report.js';

export {
  classificationMetrics,
  confusionMatrix,
  metricsFromConfusion,
  metricsDifference,
  argmax,
  argmaxRows,
  MetricsInputError,
} from "./classification";
export type { Metrics, ClassScores, MetricsOptions } from "./classification";
export { METRIC_ROWS, metricValue, summarize, type MetricRow, type Summary } from "./records";
export {
  compareVariants,
  compareSamples,
  tCritical,
  detectableDifference,
  seedsToDetect,
  verdictAgainst,
  PLANNED_POWER,
  MAX_PLANNED_SEEDS,
  type ComparisonLine,
  type ComparisonTest,
  type SampleComparison,
  type Verdict,
  type VerdictKind,
} from "./compare";

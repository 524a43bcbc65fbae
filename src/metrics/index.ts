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
export { METRIC_ROWS, metricValue, summarize, type RunScore, type MetricRow, type Summary } from "./records";
export { compareVariants, tCritical, type ComparisonLine, type ComparisonTest } from "./compare";

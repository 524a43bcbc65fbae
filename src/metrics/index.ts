export {
  classificationMetrics,
  confusionMatrix,
  argmax,
  argmaxRows,
  MetricsInputError,
} from "./classification";
export type { Metrics, ClassScores, MetricsOptions } from "./classification";

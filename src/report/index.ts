/** src/report: the study's tables as danfo DataFrames, plotly charts, notebook/HTML display. */
export { loadDanfo, type Danfo } from "./danfo";
export {
  loadStudyTables,
  studyValue,
  StudyTablesSchema,
  StudyTablesError,
  STUDY_TABLES_PATH,
  type StudyTable,
  type StudyTables,
  type StudyTableName,
} from "./study";
export {
  studyTableFrame,
  modelTable,
  encodingTable,
  weightedLossTable,
  augmentationTable,
  perClassTable,
  runsTable,
  formatMeanStd,
  formatVariation,
  ReportInputError,
  MISSING,
  type TableOptions,
  type PerClassOptions,
} from "./tables";
export {
  perClassF1Chart,
  confusionMatrixChart,
  trainingCurvesChart,
  labelDistributionChart,
  sentenceLengthHistogram,
  bilingualLabel,
  CJK_FONT_FAMILY,
  type PlotlyFigure,
  type PlotlyTrace,
  type ChartOptions,
  type PerClassChartOptions,
  type ConfusionChartOptions,
  type EpochPoint,
  type LengthHistogramOptions,
} from "./charts";
export {
  showTable,
  showChart,
  figureHtml,
  tableHtml,
  tableText,
  reportHtml,
  writeReportHtml,
  plotlyJsSource,
  resetPlotlyInlined,
  escapeHtml,
  type FigureHtmlOptions,
  type TableHtmlOptions,
  type ReportSection,
} from "./display";
export * from "./summary";
export * from "./notebooks";
export { labelDistribution, encodingExamples, loadReportTable, splitStats, entitiesPerSentenceTable, overlapTable, tryLoad } from "./views";
export { formatComparison, rankVariants } from "./reading";
export { renderPage, chromiumPath, type RenderedPage } from "./browser";
export { notebookProgress } from "./progress";

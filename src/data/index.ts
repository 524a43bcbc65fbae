/** Public API of the data area: labels, row types, loaders, CMeIE converter, splits, demo data, statistics. */
export * from "./labels";
export * from "./types";
export * from "./errors";
export { detectFormat, rowsToJsonl, type RowFormat } from "./formats";
export {
  emptyReport,
  formatLoadReport,
  type LoadMode,
  type LoadIssue,
  type FileSummary,
  type LoadReport,
} from "./checks";
export {
  parseRows,
  loadRows,
  loadInputRows,
  loadDataset,
  writeDataset,
  datasetFiles,
  type InputRow,
  type LoadOptions,
  type ParseOptions,
  type LoadResult,
  type LoadedDataset,
} from "./load";
export * from "./cmeie";
export * from "./split";
export * from "./selection";
export * from "./mentions";
export * from "./describe";
export {
  DEMO_DIR,
  DEMO_SEED,
  DEMO_ROWS,
  DEMO_HARD_TRAIN_SHARE,
  DEMO_RATIOS,
  DEMO_KNOBS,
  generateDemo,
  demoClassCounts,
  demoReadme,
  writeDemo,
  loadDemo,
  type DemoOptions,
} from "./demo";

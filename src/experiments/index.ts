/**
 * src/experiments, the engine: presets, the study's table specs, a grid's jobs, running them into the run store
 * (src/runs), the shipped results files and the tables assembled from runs. What notebooks display is src/views.
 * This face names only what the CLIs, the views, the notebooks and the scripts use; tests may read a file inside.
 */
export { presetConfig, isPresetName, notebookPreset, PRESET_NAMES, MODELS_DIR, STUDY_DATA_DIR, PRETRAINED_TINY_DIR, type PresetName } from "./presets";
export {
  TABLE_NAMES,
  TABLE_SPECS,
  STUDY_SEEDS,
  NGRAM_VARIANT,
  PRETRAINED_VARIANT,
  FROM_SCRATCH_VARIANT,
  ENSEMBLE_VARIANT,
  describeTableSeeds,
  type TableName,
  type VariantSpec,
} from "./study-tables";
export { gridJobs, makeJob, parseShard, shardJobs, seedRange, type Job, type RunJob, type VariantSeeds } from "./grids";
export { runExperiment, runConfig, runJobs, existingRuns, type GridRunOptions } from "./run";
export { loadExperimentData, formatDataReport } from "./rows";
export type { TeacherRecord } from "./teacher";
export {
  loadResults,
  demoTable,
  tableJobs,
  tableComparisonLines,
  studyDifference,
  headlineVariant,
  headlineChangeChart,
  type TableRequest,
  type TableResult,
} from "./tables";
export {
  exportResults,
  exportDrops,
  ExportConflictError,
  EXPORT_CONFLICT_HINT,
  shippedRun,
  shippedRuns,
  resultsProgress,
  missingResultsMessage,
  studyResultsCommand,
  studyResultsDir,
  STUDY_RESULTS_DIR,
  type GridRecipe,
} from "./results";
export { describeEncoder } from "./encoders";
export {
  loadStrengths,
  strengthDirs,
  strengthEffects,
  strengthEffectsChart,
  effectCell,
  missingStrengthLine,
  comparisonName,
  strengthRows,
  NEXT_STRENGTH_COMMAND,
  type StrengthRow,
  type Strength,
  type StrengthEffect,
} from "./strengths";
export { ensembleRow, ensembleLines, writeHeldoutNgrams, ENSEMBLE_WEIGHTS, type EnsembleResult, type EnsembleSeed } from "./ensemble";
export { studyPlan, readStudyPlan, readPlanGrid, STUDY_PLAN_FILE, type PlanGrid, type StudyPlan } from "./plan";
export { comparedWithShipped, variantRuns, numericsWords, SEED_NOISE_RULE } from "./remake";
// a notebook writes its own config and reads how two differ
export { configDiff, type ExperimentConfig } from "../runs/config";

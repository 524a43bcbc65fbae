/** src/model: BERT for relation classification on TensorFlow.js, with Hugging Face checkpoints in and out. */
export * from "./config";
export * from "./errors";
export { BertForRelationClassification, gatherRows, gelu, layerActivationBytes, layerNorm, layersToRecompute, type ModelInputs, type ModelOptions, type RecomputePolicy, type StepMemory } from "./bert";
export { hfParamShapes, isLinearWeight, storedShape, toHfLayout, toStoredLayout, transpose2d, usesParam } from "./layout";
export {
  loadPretrained,
  saveCheckpoint,
  loadCheckpoint,
  openWeights,
  normalizeHfKey,
  resizeRows,
  WEIGHT_FILES,
  TOKENIZER_FILES,
  type LoadPretrainedOptions,
  type LoadPretrainedResult,
  type SaveCheckpointOptions,
  type LoadedCheckpoint,
  type NewRowsInit,
} from "./checkpoint";
export * from "./weights";
export * from "./ngram";

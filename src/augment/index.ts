/** Batch samplers, hard-class choice and train-split augmentation (public API of src/augment). */
export {
  type BatchSampler,
  type EpochRule,
  EPOCH_RULES,
  type QuotaSamplerOptions,
  type BalancedSamplerOptions,
  type PrioritySamplerOptions,
  type QuotaPlan,
  type SamplerStage,
  type StudySamplerOptions,
  planQuota,
  quotaSampler,
  balancedSampler,
  prioritySampler,
  stagedSampler,
  studyBatchSampler,
  lengthAlignedSampler,
} from "./samplers";
export {
  type HardClassRule,
  type ChooseHardClassesOptions,
  HARD_CLASS_RULES,
  DEFAULT_HARD_CLASS_RULE,
  chooseHardClasses,
  hardClassLabels,
} from "./hard";
export {
  type RejectReason,
  type StrategyResult,
  type StrategyName,
  type StrategySpec,
  type Augmenter,
  type EntityIndex,
  type EntitySubstitutionOptions,
  type CharNoiseOptions,
  type NoiseOp,
  type Role,
  REJECT_REASONS,
  STRATEGY_NAMES,
  NOISE_OPS,
  oversample,
  buildEntityIndex,
  substituteEntities,
  charNoise,
  isHanChar,
  makeAugmenter,
} from "./strategies";
export { findMentions, mentionSpanIds, replaceMentions } from "./spans";
export {
  type AugmentOptions,
  type AugmentForbidden,
  type AugmentReport,
  type AugmentResult,
  augmentTrain,
} from "./augment";
export { SamplerError, AugmentConfigError, AugmentDataError } from "./errors";

/**
 * The pre-training's state as it is saved and resumed (state/ and the committed snapshot): its config, curve and
 * progress. Its own file, so the snapshot format (snapshot.ts) and the trainer (pretrain.ts) both read it.
 */
import type { GeneratorShape } from "../model/electra";
import type { CorpusStats } from "./corpus";

export interface ModelShape {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  maxPosition: number;
}

export interface PretrainConfig {
  shape: ModelShape;
  /** tokens per example, [CLS]/[SEP] included */
  maxLength: number;
  batchSize: number;
  lr: number;
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  /** planned optimizer steps (the linear schedule decays to 0 here) */
  totalSteps: number;
  seed: number;
  /** probability of wrapping two random words in entity markers */
  markerProb: number;
  /** characters seen fewer times become [UNK] */
  minFreq: number;
  wordRate: number;
  /** write state/ every this many steps */
  saveEvery: number;
  /** log a curve point every this many steps */
  logEvery: number;
  /** "mlm" (default; whole-word MLM) or "electra" (replaced-token detection, src/model/electra.ts) */
  objective?: "mlm" | "electra";
  /** ELECTRA's generator (default: google-research/electra's, ¼ of the hidden size, same depth) */
  generator?: GeneratorShape;
  /** ELECTRA: weight of the discriminator's loss (default 50) */
  discWeight?: number;
  /** of the chosen tokens, [MASK] with this probability (MLM default 0.8; ELECTRA 0.85 as google-research/electra) */
  maskProb?: number;
  /** of the chosen tokens, a random token with this probability (MLM default 0.1; ELECTRA 0) */
  randomProb?: number;
  /** dense products' precision (src/backend/precision.ts; absent: f32), set by the CLI before training */
  precision?: "f32" | "bf16";
}

export interface CurvePoint {
  step: number;
  /** mean MLM loss over the steps since the previous point */
  loss: number;
  /** masked-token accuracy over those steps */
  accuracy: number;
  lr: number;
  /** training seconds so far (across resumes) */
  seconds: number;
  /** ELECTRA: mean discriminator BCE, its token accuracy, and the share of tokens replaced (loss/accuracy: the generator's MLM) */
  discLoss?: number;
  discAccuracy?: number;
  replaced?: number;
}

/**
 * One invocation's schedule: training resumed at `fromStep` with the linear schedule planned to end at
 * `plannedSteps`. Extending a finished run (`--steps` larger than before) starts a new stage, so the exact
 * re-create command is the chain of `--steps plannedSteps`, one per stage.
 */
export interface PretrainStage {
  fromStep: number;
  plannedSteps: number;
  /** the stage began with fresh AdamW moments (continued from an exported checkpoint): its lr ramps up again */
  freshOptimizer?: boolean;
}

/** A run continued from an exported checkpoint (`--init-from`): where it came from and how that was made. */
export interface PretrainInit {
  dir: string;
  step: number;
  /** the command chain that re-creates the starting checkpoint */
  recreate: string;
}

export interface PretrainState {
  /** schedule stages in order (absent in states written before stages were recorded: one stage) */
  stages?: PretrainStage[];
  /** set when the run was continued from an exported checkpoint rather than started fresh */
  initFrom?: PretrainInit;
  step: number;
  seconds: number;
  curve: CurvePoint[];
  config: PretrainConfig;
  corpus: CorpusStats | null;
  /** the last committed-format snapshot written (snapshot.ts) */
  snapshot?: { step: number; seconds: number };
  /** every step at which a snapshot was written: its round trip is part of the run (re-create with --snapshot-at) */
  snapshotSteps?: number[];
  /** sums of the steps since the last curve point, so a run resumed mid-window logs the same point */
  curveAcc?: CurveAccumulator;
}

export interface CurveAccumulator {
  loss: number;
  accuracy: number;
  discLoss: number;
  discAccuracy: number;
  replaced: number;
  n: number;
}

/**
 * In-domain pre-training of the small encoder that the `quick` preset fine-tunes: whole-word-masking MLM (the
 * default) or ELECTRA replaced-token detection (`objective: "electra"`, src/model/electra.ts). One-off and offline:
 * resumable from its own periodic checkpoints (state/) and from the compact committed snapshot (snapshot.ts),
 * exact on resume (batch order, masks, dropout and ELECTRA's samples are functions of (seed, step)), and exported
 * as a Hugging Face BERT folder (F16 safetensors; for ELECTRA the discriminator).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { RelationTokenizer, buildCharTokenizer, ENCODING_FIXED_TEXT } from "../encoding";
import { BertForRelationClassification, SafetensorsSource, shapeConfig, toHfLayout, toStoredLayout, transpose2d, writeSafetensors, type BertConfig, type HostTensor } from "../model";
import { MlmHead, mlmCrossEntropy } from "../model/mlm";
import { categoricalSampler, defaultGeneratorShape, Electra, isElectraLinear } from "../model/electra";
import { gatherRows } from "../model/bert";
import { AdamW, clipByGlobalNorm, writeFolder } from "../train";
import { Rng, deriveSeed } from "../random";
import { buildExample, maskWholeWords, protectedIds, tokenizeWords, jiebaSegmenter, type Segmenter } from "./masking";
import type { CorpusStats } from "./corpus";
import type { ModelShape, PretrainConfig, CurvePoint, PretrainState, CurveAccumulator } from "./state";
export type { ModelShape, PretrainConfig, CurvePoint, PretrainStage, PretrainInit, PretrainState, CurveAccumulator } from "./state";
import { gitLedger, loadSnapshot, snapshotStep, writeSnapshot, commitSnapshot, DEFAULT_BUDGET_BYTES, curveCsv, type SnapshotFormat } from "./snapshot";

export const DEFAULT_PRETRAIN_CONFIG: PretrainConfig = {
  shape: { layers: 4, hidden: 192, heads: 3, intermediate: 768, maxPosition: 256 },
  maxLength: 128,
  batchSize: 32,
  lr: 7e-4,
  warmupRatio: 0.06,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
  totalSteps: 2000,
  seed: 20261125,
  markerProb: 0.5,
  minFreq: 2,
  wordRate: 0.15,
  saveEvery: 100,
  logEvery: 10,
};

/** Steps over which the lr ramps up again after the optimizer moments were reset (a continued export). */
export const REWARM_STEPS = 100;

/** The encoder config for a shape and vocabulary. */
export function encoderConfig(shape: ModelShape, vocabSize: number): BertConfig {
  return {
    ...shapeConfig("small", vocabSize),
    num_hidden_layers: shape.layers,
    hidden_size: shape.hidden,
    num_attention_heads: shape.heads,
    intermediate_size: shape.intermediate,
    max_position_embeddings: shape.maxPosition,
    architectures: ["BertForMaskedLM"],
  };
}

/** Linear warmup to `lr`, then linear decay to 0 at totalSteps. step is 0-based (the update about to happen). */
export function pretrainLr(cfg: Pick<PretrainConfig, "lr" | "warmupRatio" | "totalSteps">, step: number): number {
  const warm = Math.max(1, Math.round(cfg.totalSteps * cfg.warmupRatio));
  if (step < warm) return (cfg.lr * (step + 1)) / warm;
  return cfg.lr * Math.max(0, (cfg.totalSteps - step) / Math.max(1, cfg.totalSteps - warm));
}

/** What an exported checkpoint folder records of its pre-training (config.json, `medrel.pretrain`). */
export interface ExportInfo {
  config: BertConfig;
  step: number;
  seconds: number;
  /** the command chain that re-creates it (absent in exports made before it was recorded) */
  recreate?: string;
  /** the objective that made it (absent: mlm) */
  objective?: "mlm" | "electra";
}

/** Read and check an export's config.json (written by MlmTrainer.export). */
export function readExportInfo(dir: string): ExportInfo {
  const file = path.join(dir, "config.json");
  const config = JSON.parse(fs.readFileSync(file, "utf8")) as BertConfig & { medrel?: { pretrain?: { steps?: number; seconds?: number; recreate?: string; objective?: "mlm" | "electra" } } };
  const p = config.medrel?.pretrain;
  const step = p?.steps;
  if (!Number.isInteger(step) || (step as number) <= 0) throw new Error(`--init-from ${file}: medrel.pretrain.steps missing (not an export of npm run pretrain)`);
  return { config, step: step as number, seconds: p?.seconds ?? 0, recreate: p?.recreate, objective: p?.objective };
}

/** What a trainer reads besides config, tokenizer and texts. */
export interface TrainerOptions {
  segmenter?: Segmenter;
  corpus?: CorpusStats | null;
}

/** One optimizer update's figures. */
export interface StepResult {
  loss: number;
  accuracy: number;
  lr: number;
  discLoss?: number;
  discAccuracy?: number;
  replaced?: number;
}

/** Everything a training process holds, whatever the objective. */
export abstract class Pretrainer {
  /** the encoder that is exported (ELECTRA: the discriminator) */
  abstract readonly model: BertForRelationClassification;
  readonly optimizer: AdamW;
  /** every trainable parameter (HF keys; the generator's prefixed `generator.`) */
  readonly params: Map<string, tf.Variable>;
  state: PretrainState;
  protected readonly words: number[][][];
  protected readonly prot: Set<number>;

  constructor(
    readonly cfg: PretrainConfig,
    readonly tokenizer: RelationTokenizer,
    texts: readonly string[],
    params: Map<string, tf.Variable>,
    opts: TrainerOptions = {},
  ) {
    const cut = opts.segmenter ?? jiebaSegmenter();
    this.words = texts.map((t) => tokenizeWords(tokenizer, cut(t))).filter((w) => w.length > 0);
    if (this.words.length < cfg.batchSize) throw new Error(`pretrain: ${this.words.length} texts for batch size ${cfg.batchSize}`);
    this.prot = protectedIds(tokenizer);
    this.params = params;
    this.optimizer = new AdamW(this.params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    this.state = { stages: [{ fromStep: 0, plannedSteps: cfg.totalSteps }], step: 0, seconds: 0, curve: [], config: cfg, corpus: opts.corpus ?? null };
  }

  /** One optimizer update at state.step (then state.step + 1). */
  abstract step(): Promise<StepResult>;
  abstract dispose(): void;
  /** keys written to the exported checkpoint */
  protected abstract exportKeys(): string[];
  /** keys an --init-from export must hold (the rest keep their fresh values when absent) */
  protected abstract requiredInitKeys(): string[];
  /** config.json architectures of the export */
  protected abstract readonly architectures: string[];

  get numTexts(): number {
    return this.words.length;
  }

  /** Rows of step `s`: epoch e = s / stepsPerEpoch uses its own seeded permutation. */
  batchIndices(step: number): number[] {
    const B = this.cfg.batchSize;
    const perEpoch = Math.floor(this.words.length / B);
    const epoch = Math.floor(step / perEpoch);
    const j = step % perEpoch;
    const perm = new Rng(deriveSeed(this.cfg.seed, 11, epoch)).shuffle(this.words.map((_, i) => i));
    return perm.slice(j * B, (j + 1) * B);
  }

  /** Build the padded masked batch of step s (host arrays); `original`: the ids before masking. */
  batch(step: number): { ids: Int32Array; original: Int32Array; mask: Int32Array; B: number; T: number; positions: Int32Array; labels: Int32Array } {
    const rng = new Rng(deriveSeed(this.cfg.seed, 12, step));
    const vocab = { maskId: this.tokenizer.maskId, vocabSize: this.tokenizer.vocabSize, protected: this.prot };
    const masking = { wordRate: this.cfg.wordRate, maskProb: this.cfg.maskProb, randomProb: this.cfg.randomProb };
    const exs = this.batchIndices(step).map((i) => {
      const ex = buildExample(this.tokenizer, this.words[i], this.cfg.maxLength, rng, { markerProb: this.cfg.markerProb });
      return { ex, m: maskWholeWords(ex, rng, vocab, masking) };
    });
    const B = exs.length;
    const T = Math.max(...exs.map((e) => e.m.inputIds.length));
    const ids = new Int32Array(B * T);
    const original = new Int32Array(B * T);
    const mask = new Int32Array(B * T);
    const pos: number[] = [];
    const lab: number[] = [];
    exs.forEach(({ ex, m }, b) => {
      m.inputIds.forEach((id, t) => {
        ids[b * T + t] = id;
        original[b * T + t] = ex.ids[t];
        mask[b * T + t] = 1;
      });
      for (const p of m.positions) {
        pos.push(b * T + p);
        lab.push(m.labels[p]);
      }
    });
    return { ids, original, mask, B, T, positions: Int32Array.from(pos), labels: Int32Array.from(lab) };
  }

  /** Clip (global norm over all parameters) and apply AdamW at lr. */
  protected update(grads: tf.NamedTensorMap, lr: number): void {
    const byKey = new Map<string, tf.Tensor>();
    for (const [k, v] of this.params) {
      const g = grads[v.name];
      if (g) byKey.set(k, g);
    }
    tf.tidy(() => {
      const { grads: clipped } = clipByGlobalNorm(byKey, this.cfg.maxGradNorm);
      this.optimizer.step(clipped, lr);
    });
  }

  /** The schedule's lr at step s, ramped up again over REWARM_STEPS after an optimizer reset (fresh moments). */
  lrAt(s: number): number {
    const stage = this.state.stages?.[this.state.stages.length - 1];
    const base = pretrainLr(this.cfg, s);
    if (!stage?.freshOptimizer) return base;
    return base * Math.min(1, (s - stage.fromStep + 1) / REWARM_STEPS);
  }

  /**
   * Start from an exported checkpoint folder (its encoder and whatever heads of this objective it holds; float16
   * there, so exactly what `export` wrote). The optimizer moments are not exported: they start at zero and the lr
   * ramps up again. An ELECTRA run may start from an MLM export: its discriminator is the export's encoder, the
   * generator and the discriminator's head start fresh.
   */
  initFromExport(dir: string, recreate: string, info: ExportInfo = readExportInfo(dir)): void {
    const { config, step, seconds } = info;
    const s = this.cfg.shape;
    const want: [string, number, number][] = [
      ["num_hidden_layers", config.num_hidden_layers, s.layers],
      ["hidden_size", config.hidden_size, s.hidden],
      ["num_attention_heads", config.num_attention_heads, s.heads],
      ["intermediate_size", config.intermediate_size, s.intermediate],
      ["max_position_embeddings", config.max_position_embeddings, s.maxPosition],
    ];
    for (const [k, got, exp] of want) {
      if (got !== exp) throw new Error(`--init-from ${dir}/config.json: ${k} is ${got}, the pre-training shape has ${exp}`);
    }
    if (this.cfg.totalSteps <= step) throw new Error(`--init-from ${dir}: it is at step ${step}; --steps must be larger (got ${this.cfg.totalSteps})`);
    this.loadWeights(path.join(dir, "model.safetensors"), new Set(this.requiredInitKeys()));
    // a curve of another objective is not continued (its columns differ)
    const sameObjective = ((info.objective ?? "mlm") === (this.cfg.objective ?? "mlm"));
    const curveFile = path.join(dir, "curve.json");
    const curve = sameObjective && fs.existsSync(curveFile) ? (JSON.parse(fs.readFileSync(curveFile, "utf8")) as CurvePoint[]) : [];
    this.state = {
      ...this.state,
      stages: [{ fromStep: step, plannedSteps: this.cfg.totalSteps, freshOptimizer: true }],
      initFrom: { dir: path.relative(process.cwd(), dir) || ".", step, recreate },
      step,
      seconds,
      curve,
    };
  }

  /** Parameters in HF layout (Linear weights [out, in]). */
  async hfTensors(keys: Iterable<string> = this.params.keys()): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const k of keys) {
      const v = this.params.get(k)!;
      const data = (await v.data()) as Float32Array;
      const [r, c] = v.shape as [number, number];
      out.set(k, isElectraLinear(k) ? { shape: [c, r], data: transpose2d(data, r, c) } : toHfLayout(k, v.shape, data));
    }
    return out;
  }

  /** Write state/ atomically: weights (F32), optimizer moments, progress. */
  async saveState(dir: string): Promise<void> {
    const tensors = await this.hfTensors();
    await writeFolder(dir, async (tmp) => {
      writeSafetensors(path.join(tmp, "model.safetensors"), tensors, { dtype: "F32" });
      await this.optimizer.save(path.join(tmp, "optimizer.safetensors"));
      this.tokenizer.save(tmp);
      fs.writeFileSync(path.join(tmp, "state.json"), JSON.stringify(this.state, null, 1) + "\n");
    });
  }

  /** Assign parameters from a safetensors file in HF layout (F32 or F16); every key in `required` must be there. */
  private loadWeights(file: string, required?: ReadonlySet<string>): void {
    const src = new SafetensorsSource(file);
    try {
      const have = new Set(src.keys());
      for (const [k, v] of this.params) {
        if (!have.has(k) && required && !required.has(k)) continue;
        const info = src.info(k);
        const raw = src.readFloat32(k);
        const data = isElectraLinear(k) ? transpose2d(raw, info.shape[0], info.shape[1]) : toStoredLayout(k, info.shape, raw);
        tf.tidy(() => v.assign(tf.tensor(data, v.shape, "float32")));
      }
    } finally {
      src.close();
    }
  }

  /** Restore weights, optimizer and progress from state/ (written by saveState with the same config). */
  loadState(dir: string): void {
    const st = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")) as PretrainState;
    const want = this.state.corpus?.digest;
    const had = st.corpus?.digest;
    if (want !== undefined && had !== want) {
      throw new Error(`${path.join(dir, "state.json")}: this state was trained on another corpus (digest ${had ?? "none"}, now ${want}); use another --work folder`);
    }
    if ((st.config.objective ?? "mlm") !== (this.cfg.objective ?? "mlm")) {
      throw new Error(`${path.join(dir, "state.json")}: a ${st.config.objective ?? "mlm"} state, this run is ${this.cfg.objective ?? "mlm"}; use another --work folder`);
    }
    this.loadWeights(path.join(dir, "model.safetensors"));
    this.optimizer.load(path.join(dir, "optimizer.safetensors"));
    const stages = st.stages ?? [{ fromStep: 0, plannedSteps: st.config.totalSteps }];
    // a larger (or smaller) planned step count than the state's continues under a new linear schedule
    if (stages[stages.length - 1].plannedSteps !== this.cfg.totalSteps) stages.push({ fromStep: st.step, plannedSteps: this.cfg.totalSteps });
    this.state = { ...st, stages, config: this.cfg };
  }

  /** Number of scalars exported (the encoder and this objective's exported head). */
  numParameters(): number {
    return this.model.numParameters();
  }

  /** The deliverable: a Hugging Face BERT folder (config.json, model.safetensors, tokenizer files, curve). */
  async export(dir: string, opts: { dtype?: "F32" | "F16"; extra?: object } = {}): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    writeSafetensors(path.join(dir, "model.safetensors"), await this.hfTensors(this.exportKeys()), { dtype: opts.dtype ?? "F16", metadata: { format: "pt" } });
    const config = {
      ...this.model.config,
      architectures: this.architectures,
      model_type: "bert",
      torch_dtype: (opts.dtype ?? "F16") === "F16" ? "float16" : "float32",
      tie_word_embeddings: true,
      medrel: { pretrain: { objective: this.cfg.objective ?? "mlm", steps: this.state.step, seconds: Math.round(this.state.seconds), ...(opts.extra ?? {}) } },
    };
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
    this.tokenizer.save(dir);
    const curve = this.state.curve;
    fs.writeFileSync(path.join(dir, "curve.json"), JSON.stringify(curve) + "\n");
    fs.writeFileSync(path.join(dir, "curve.csv"), curveCsv(curve));
  }
}

/** Whole-word-masking MLM: the encoder + HF's BertForMaskedLM head. */
export class MlmTrainer extends Pretrainer {
  readonly model: BertForRelationClassification;
  readonly head: MlmHead;
  protected readonly architectures = ["BertForMaskedLM"];

  constructor(cfg: PretrainConfig, tokenizer: RelationTokenizer, texts: readonly string[], opts: TrainerOptions = {}) {
    const config = encoderConfig(cfg.shape, tokenizer.vocabSize);
    const model = new BertForRelationClassification(config, { numLabels: 1, pooling: "entity_start", seed: cfg.seed });
    const head = new MlmHead(config, cfg.seed);
    const params = new Map<string, tf.Variable>();
    for (const [k, v] of model.params) if (k.startsWith("bert.") && !k.startsWith("bert.pooler.")) params.set(k, v);
    for (const [k, v] of head.params) params.set(k, v);
    super(cfg, tokenizer, texts, params, opts);
    this.model = model;
    this.head = head;
  }

  protected exportKeys(): string[] {
    return [...this.params.keys()];
  }

  protected requiredInitKeys(): string[] {
    return [...this.params.keys()];
  }

  /** One optimizer update; returns loss and masked accuracy. */
  async step(): Promise<StepResult> {
    const s = this.state.step;
    const b = this.batch(s);
    const lr = this.lrAt(s);
    const wordKey = "bert.embeddings.word_embeddings.weight";
    const vars = [...this.params.values()];
    const inputs = {
      inputIds: tf.tensor2d(b.ids, [b.B, b.T], "int32"),
      tokenTypeIds: tf.zeros([b.B, b.T], "int32") as tf.Tensor2D,
      attentionMask: tf.tensor2d(b.mask, [b.B, b.T], "int32"),
      headPos: tf.zeros([b.B], "int32") as tf.Tensor1D,
      tailPos: tf.zeros([b.B], "int32") as tf.Tensor1D,
    };
    const positions = tf.tensor1d(b.positions, "int32");
    const labels = tf.tensor1d(b.labels, "int32");
    let correct: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const { lastHiddenState } = this.model.forward(inputs, { training: true, dropoutSeed: deriveSeed(this.cfg.seed, 13, s) });
      const emb = this.params.get(wordKey)!;
      const [B, T, H] = lastHiddenState.shape;
      const logits = this.head.logits(gatherRows(tf.reshape(lastHiddenState, [B * T, H]), positions), emb);
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32")));
      return mlmCrossEntropy(logits, labels);
    }, vars);
    this.update(grads, lr);
    const loss = (await value.data())[0];
    const acc = (await (correct as unknown as tf.Tensor).data())[0] / Math.max(1, b.labels.length);
    tf.dispose([value, correct as unknown as tf.Tensor, positions, labels, ...Object.values(grads), ...Object.values(inputs)]);
    this.state.step++;
    return { loss, accuracy: acc, lr };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.head.dispose();
    this.model.dispose();
  }
}

/** ELECTRA replaced-token detection (src/model/electra.ts); the discriminator is the exported encoder. */
export class ElectraTrainer extends Pretrainer {
  readonly model: BertForRelationClassification;
  readonly electra: Electra;
  protected readonly architectures = ["BertModel"];

  constructor(cfg: PretrainConfig, tokenizer: RelationTokenizer, texts: readonly string[], opts: TrainerOptions = {}) {
    const config = encoderConfig(cfg.shape, tokenizer.vocabSize);
    const electra = new Electra(config, cfg.generator ?? defaultGeneratorShape(config), { seed: cfg.seed, discWeight: cfg.discWeight });
    super(cfg, tokenizer, texts, electra.params, opts);
    this.electra = electra;
    this.model = electra.disc;
  }

  /** the discriminator: encoder + its per-token head (HF ElectraForPreTraining names under a BERT encoder) */
  protected exportKeys(): string[] {
    return [...this.params.keys()].filter((k) => !k.startsWith("generator."));
  }

  protected requiredInitKeys(): string[] {
    return [...this.params.keys()].filter((k) => k.startsWith("bert."));
  }

  async step(): Promise<StepResult> {
    const s = this.state.step;
    const b = this.batch(s);
    const lr = this.lrAt(s);
    const sample = categoricalSampler(new Rng(deriveSeed(this.cfg.seed, 14, s)), this.prot);
    let kept: tf.Tensor[] = [];
    let counts = { replaced: 0, active: 0, masked: b.positions.length };
    const { value, grads } = tf.variableGrads(() => {
      const r = this.electra.losses(
        { B: b.B, T: b.T, maskedIds: b.ids, originalIds: b.original, attentionMask: b.mask, positions: b.positions },
        { training: true, seed: deriveSeed(this.cfg.seed, 13, s), sample },
      );
      kept = [r.genLoss, r.discLoss, r.genCorrect, r.discCorrect].map((t) => tf.keep(t));
      counts = { replaced: r.replaced, active: r.active, masked: b.positions.length };
      return r.total;
    }, [...this.params.values()]);
    this.update(grads, lr);
    const [genLoss, discLoss, genCorrect, discCorrect] = await Promise.all(kept.map(async (t) => (await t.data())[0]));
    tf.dispose([value, ...kept, ...Object.values(grads)]);
    this.state.step++;
    return {
      loss: genLoss,
      accuracy: genCorrect / Math.max(1, counts.masked),
      lr,
      discLoss,
      discAccuracy: discCorrect / Math.max(1, counts.active),
      replaced: counts.replaced / Math.max(1, counts.active),
    };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.electra.dispose();
  }
}

/** The trainer of cfg.objective. */
export function createTrainer(cfg: PretrainConfig, tokenizer: RelationTokenizer, texts: readonly string[], opts: TrainerOptions = {}): Pretrainer {
  return (cfg.objective ?? "mlm") === "electra" ? new ElectraTrainer(cfg, tokenizer, texts, opts) : new MlmTrainer(cfg, tokenizer, texts, opts);
}

/** The character vocabulary of the corpus (specials + markers at fixed ids, rare characters dropped). */
export function corpusTokenizer(texts: readonly string[], minFreq: number): RelationTokenizer {
  return buildCharTokenizer(texts, { minFreq, alwaysInclude: ENCODING_FIXED_TEXT });
}

/** Where and how often the committed snapshot is written (snapshot.ts). */
export interface SnapshotOptions {
  dir: string;
  /** write one after this many training seconds since the last (default 55 min) */
  seconds?: number;
  /** or every this many steps instead (deterministic snapshot points; tests, benchmarks) */
  everySteps?: number;
  /** or exactly at these steps (re-creating a run whose snapshots were timed) */
  atSteps?: readonly number[];
  /** git budget: the folder whose committed history counts (the export folder), its byte limit, and room kept for the export (default: 2 bytes per exported parameter + 512 KiB) */
  budget?: { root: string; bytes: number; reserve?: number };
  /** commit each snapshot written (git add/commit of the snapshot folder only) */
  commit?: { name: string };
  /** what the snapshot stores of AdamW's first moment (snapshot.ts SnapshotFormat; default 8-bit codes) */
  format?: SnapshotFormat;
}

/**
 * Run (or continue) pre-training in `workDir` until totalSteps, `deadline` (ms epoch), `stopAtStep` (a planned
 * interruption: the schedule still spans totalSteps) or `shouldStop()` (a signal). Saves state/ every saveEvery
 * steps and on exit; with `snapshot`, writes the compact snapshot on its schedule and on exit. Resumes from
 * state/ or the snapshot, whichever is further on (state/ when equal). Returns the trainer (caller exports and
 * disposes).
 */
export async function runPretrain(
  cfg: PretrainConfig,
  texts: readonly string[],
  workDir: string,
  opts: {
    deadline?: number;
    stopAtStep?: number;
    shouldStop?: () => boolean;
    corpus?: CorpusStats | null;
    log?: (line: string) => void;
    segmenter?: Segmenter;
    /** continue from this exported checkpoint when neither workDir nor the snapshot holds a state yet (its re-create chain given) */
    /** `info`: the export's config.json when the caller has already read it */
    initFrom?: { dir: string; recreate: string; info?: ExportInfo };
    snapshot?: SnapshotOptions;
  } = {},
): Promise<Pretrainer> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const stateDir = path.join(workDir, "state");
  const snap = opts.snapshot;
  const localStep = fs.existsSync(path.join(stateDir, "state.json")) ? (JSON.parse(fs.readFileSync(path.join(stateDir, "state.json"), "utf8")) as PretrainState).step : undefined;
  const snapStep = snap ? snapshotStep(snap.dir) : undefined;
  const from: "state" | "snapshot" | undefined =
    localStep !== undefined && (snapStep === undefined || localStep >= snapStep) ? "state" : snapStep !== undefined ? "snapshot" : undefined;
  const init = !from && opts.initFrom ? opts.initFrom : undefined;
  const tokDir = from === "state" ? stateDir : from === "snapshot" ? snap!.dir : init?.dir;
  const tokenizer = tokDir ? RelationTokenizer.fromDir(tokDir) : corpusTokenizer(texts, cfg.minFreq);
  const trainer = createTrainer(cfg, tokenizer, texts, { segmenter: opts.segmenter, corpus: opts.corpus });
  if (from === "state") {
    trainer.loadState(stateDir);
    log(`[pretrain] resumed at step ${trainer.state.step} from ${stateDir} (${Math.round(trainer.state.seconds)} s so far)`);
  } else if (from === "snapshot") {
    loadSnapshot(trainer, snap!.dir);
    log(`[pretrain] resumed at step ${trainer.state.step} from the snapshot ${snap!.dir} (${Math.round(trainer.state.seconds)} s so far)`);
  } else if (init) {
    trainer.initFromExport(init.dir, init.recreate, init.info);
    log(`[pretrain] continuing ${init.dir} from step ${trainer.state.step} (fresh optimizer moments, lr ramp ${REWARM_STEPS} steps)`);
  } else {
    log(`[pretrain] fresh ${cfg.objective ?? "mlm"}: ${trainer.numTexts} texts, vocab ${tokenizer.vocabSize}, ${trainer.numParameters()} exported encoder params (${[...trainer.params.values()].reduce((a, v) => a + v.size, 0)} trained)`);
  }
  if (snap?.budget) {
    const l = gitLedger(snap.budget.root);
    log(`[pretrain] git budget: ${(l.bytes / 1048576).toFixed(2)} MB of ${(snap.budget.bytes / 1048576).toFixed(0)} MB committed under ${snap.budget.root} (${l.versions} commits)`);
  }
  const budget = snap?.budget ? { ...snap.budget, reserve: snap.budget.reserve ?? 2 * trainer.numParameters() + 512 * 1024 } : undefined;
  const snapshotNow = async (): Promise<void> => {
    const before = { snapshot: trainer.state.snapshot, steps: trainer.state.snapshotSteps };
    trainer.state.snapshot = { step: trainer.state.step, seconds: trainer.state.seconds };
    trainer.state.snapshotSteps = [...(trainer.state.snapshotSteps ?? []), trainer.state.step];
    const r = await writeSnapshot(trainer, snap!.dir, budget, snap!.format);
    log(`[pretrain] ${r.message}`);
    if (!r.written) {
      trainer.state.snapshot = before.snapshot;
      trainer.state.snapshotSteps = before.steps;
      return;
    }
    if (snap!.commit) {
      // a failed commit (another git command holding the index, say) must not end hours of training: the snapshot
      // stays on disk, and the next snapshot's commit (or `npm run pretrain:commit`) takes it
      try {
        const msg = commitSnapshot(snap!.dir, { root: budget?.root ?? path.dirname(snap!.dir), budgetBytes: budget?.bytes ?? DEFAULT_BUDGET_BYTES, reserve: budget?.reserve, name: snap!.commit.name });
        log(`[pretrain] ${msg ? `committed: ${msg}` : "snapshot unchanged: nothing to commit"}`);
      } catch (e) {
        log(`[pretrain] warning: the snapshot at step ${trainer.state.step} is written but not committed (${(e instanceof Error ? e.message : String(e)).split("\n")[0]}); the next snapshot or \`npm run pretrain:commit\` commits it`);
      }
    }
  };
  const snapSeconds = snap?.seconds ?? 55 * 60;
  let lastSnap = trainer.state.snapshot?.seconds ?? trainer.state.seconds;
  const empty: CurveAccumulator = { loss: 0, accuracy: 0, discLoss: 0, discAccuracy: 0, replaced: 0, n: 0 };
  let acc = trainer.state.curveAcc ?? empty;
  let last = Date.now();
  while (trainer.state.step < cfg.totalSteps) {
    if (opts.deadline !== undefined && Date.now() > opts.deadline) {
      log(`[pretrain] deadline reached at step ${trainer.state.step}`);
      break;
    }
    if (opts.shouldStop?.()) {
      log(`[pretrain] stopping at step ${trainer.state.step} (signal)`);
      break;
    }
    if (opts.stopAtStep !== undefined && trainer.state.step >= opts.stopAtStep) break;
    // a step resolves through microtasks only, so without this turn of the event loop a SIGTERM's handler never runs
    await new Promise<void>((resolve) => setImmediate(resolve));
    const r = await trainer.step();
    const now = Date.now();
    trainer.state.seconds += (now - last) / 1000;
    last = now;
    acc = {
      loss: acc.loss + r.loss,
      accuracy: acc.accuracy + r.accuracy,
      discLoss: acc.discLoss + (r.discLoss ?? 0),
      discAccuracy: acc.discAccuracy + (r.discAccuracy ?? 0),
      replaced: acc.replaced + (r.replaced ?? 0),
      n: acc.n + 1,
    };
    const step = trainer.state.step;
    trainer.state.curveAcc = acc;
    if (step % cfg.logEvery === 0) {
      const n = acc.n;
      const p: CurvePoint = { step, loss: acc.loss / n, accuracy: acc.accuracy / n, lr: r.lr, seconds: trainer.state.seconds };
      if (r.discLoss !== undefined) Object.assign(p, { discLoss: acc.discLoss / n, discAccuracy: acc.discAccuracy / n, replaced: acc.replaced / n });
      trainer.state.curve.push(p);
      acc = empty;
      trainer.state.curveAcc = undefined;
      const disc = p.discLoss !== undefined ? ` | disc loss ${p.discLoss.toFixed(4)} acc ${(100 * p.discAccuracy!).toFixed(1)}% replaced ${(100 * p.replaced!).toFixed(1)}%` : "";
      log(`[pretrain] step ${p.step}/${cfg.totalSteps} ${disc ? "gen " : ""}loss ${p.loss.toFixed(3)} acc ${(100 * p.accuracy).toFixed(1)}%${disc} lr ${p.lr.toExponential(2)} ${p.seconds.toFixed(0)} s`);
    }
    const due =
      snap && (snap.atSteps ? snap.atSteps.includes(step) : snap.everySteps ? step % snap.everySteps === 0 : trainer.state.seconds - lastSnap >= snapSeconds);
    if (due) {
      await snapshotNow();
      lastSnap = trainer.state.seconds;
      await trainer.saveState(stateDir); // after the round trip: state/ and the snapshot hold the same values
    } else if (step % cfg.saveEvery === 0) await trainer.saveState(stateDir);
  }
  if (snap && trainer.state.step > (trainer.state.snapshot?.step ?? -1)) await snapshotNow();
  await trainer.saveState(stateDir);
  return trainer;
}

/**
 * In-domain MLM pre-training of the small encoder that the `quick` preset fine-tunes. One-off and offline:
 * resumable from its own periodic checkpoints (state/), exact on resume (batch order, masks and dropout are
 * functions of (seed, step)), and exported as a Hugging Face BertForMaskedLM folder (F16 safetensors).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { RelationTokenizer, buildCharTokenizer, ENCODING_FIXED_TEXT } from "../encoding";
import { BertForRelationClassification, SafetensorsSource, shapeConfig, toHfLayout, toStoredLayout, writeSafetensors, type BertConfig, type HostTensor } from "../model";
import { MlmHead, mlmCrossEntropy } from "../model/mlm";
import { gatherRows } from "../model/bert";
import { AdamW, clipByGlobalNorm, writeFolder } from "../train";
import { Rng, deriveSeed } from "../random";
import { buildExample, maskWholeWords, protectedIds, tokenizeWords, jiebaSegmenter, type Segmenter } from "./masking";
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
}

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

export interface CurvePoint {
  step: number;
  /** mean MLM loss over the steps since the previous point */
  loss: number;
  /** masked-token accuracy over those steps */
  accuracy: number;
  lr: number;
  /** training seconds so far (across resumes) */
  seconds: number;
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

/** Steps over which the lr ramps up again after the optimizer moments were reset (a continued export). */
export const REWARM_STEPS = 100;

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
}

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
}

/** Read and check an export's config.json (written by MlmTrainer.export). */
export function readExportInfo(dir: string): ExportInfo {
  const file = path.join(dir, "config.json");
  const config = JSON.parse(fs.readFileSync(file, "utf8")) as BertConfig & { medrel?: { pretrain?: { steps?: number; seconds?: number; recreate?: string } } };
  const p = config.medrel?.pretrain;
  const step = p?.steps;
  if (!Number.isInteger(step) || (step as number) <= 0) throw new Error(`--init-from ${file}: medrel.pretrain.steps missing (not an export of npm run pretrain)`);
  return { config, step: step as number, seconds: p?.seconds ?? 0, recreate: p?.recreate };
}

/** Everything a training process holds. */
export class MlmTrainer {
  readonly model: BertForRelationClassification;
  readonly head: MlmHead;
  readonly optimizer: AdamW;
  /** encoder (no pooler/classifier) + head parameters, HF keys */
  readonly params: Map<string, tf.Variable>;
  state: PretrainState;
  private readonly words: number[][][];
  private readonly prot: Set<number>;

  constructor(
    readonly cfg: PretrainConfig,
    readonly tokenizer: RelationTokenizer,
    texts: readonly string[],
    opts: { segmenter?: Segmenter; corpus?: CorpusStats | null } = {},
  ) {
    const cut = opts.segmenter ?? jiebaSegmenter();
    this.words = texts.map((t) => tokenizeWords(tokenizer, cut(t))).filter((w) => w.length > 0);
    if (this.words.length < cfg.batchSize) throw new Error(`pretrain: ${this.words.length} texts for batch size ${cfg.batchSize}`);
    this.prot = protectedIds(tokenizer);
    const config = encoderConfig(cfg.shape, tokenizer.vocabSize);
    this.model = new BertForRelationClassification(config, { numLabels: 1, pooling: "entity_start", seed: cfg.seed });
    this.head = new MlmHead(config, cfg.seed);
    this.params = new Map();
    for (const [k, v] of this.model.params) if (k.startsWith("bert.") && !k.startsWith("bert.pooler.")) this.params.set(k, v);
    for (const [k, v] of this.head.params) this.params.set(k, v);
    this.optimizer = new AdamW(this.params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    this.state = { stages: [{ fromStep: 0, plannedSteps: cfg.totalSteps }], step: 0, seconds: 0, curve: [], config: cfg, corpus: opts.corpus ?? null };
  }

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

  /** Build the padded masked batch of step s (host arrays). */
  batch(step: number): { ids: Int32Array; mask: Int32Array; B: number; T: number; positions: Int32Array; labels: Int32Array } {
    const rng = new Rng(deriveSeed(this.cfg.seed, 12, step));
    const vocab = { maskId: this.tokenizer.maskId, vocabSize: this.tokenizer.vocabSize, protected: this.prot };
    const exs = this.batchIndices(step).map((i) => {
      const ex = buildExample(this.tokenizer, this.words[i], this.cfg.maxLength, rng, { markerProb: this.cfg.markerProb });
      return maskWholeWords(ex, rng, vocab, { wordRate: this.cfg.wordRate });
    });
    const B = exs.length;
    const T = Math.max(...exs.map((e) => e.inputIds.length));
    const ids = new Int32Array(B * T);
    const mask = new Int32Array(B * T);
    const pos: number[] = [];
    const lab: number[] = [];
    exs.forEach((e, b) => {
      e.inputIds.forEach((id, t) => {
        ids[b * T + t] = id;
        mask[b * T + t] = 1;
      });
      for (const p of e.positions) {
        pos.push(b * T + p);
        lab.push(e.labels[p]);
      }
    });
    return { ids, mask, B, T, positions: Int32Array.from(pos), labels: Int32Array.from(lab) };
  }

  /** One optimizer update; returns loss and masked accuracy. */
  async step(): Promise<{ loss: number; accuracy: number; lr: number }> {
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
    const byKey = new Map<string, tf.Tensor>();
    for (const [k, v] of this.params) {
      const g = grads[v.name];
      if (g) byKey.set(k, g);
    }
    tf.tidy(() => {
      const { grads: clipped } = clipByGlobalNorm(byKey, this.cfg.maxGradNorm);
      this.optimizer.step(clipped, lr);
    });
    const loss = (await value.data())[0];
    const acc = (await (correct as unknown as tf.Tensor).data())[0] / Math.max(1, b.labels.length);
    tf.dispose([value, correct as unknown as tf.Tensor, positions, labels, ...Object.values(grads), ...Object.values(inputs)]);
    this.state.step++;
    return { loss, accuracy: acc, lr };
  }

  /** The schedule's lr at step s, ramped up again over REWARM_STEPS after an optimizer reset (fresh moments). */
  lrAt(s: number): number {
    const stage = this.state.stages?.[this.state.stages.length - 1];
    const base = pretrainLr(this.cfg, s);
    if (!stage?.freshOptimizer) return base;
    return base * Math.min(1, (s - stage.fromStep + 1) / REWARM_STEPS);
  }

  /**
   * Start from an exported checkpoint folder (weights, MLM head and progress; float16 there, so exactly what
   * `export` wrote). The optimizer moments are not exported: they start at zero and the lr ramps up again.
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
    this.loadWeights(path.join(dir, "model.safetensors"));
    const curveFile = path.join(dir, "curve.json");
    const curve = fs.existsSync(curveFile) ? (JSON.parse(fs.readFileSync(curveFile, "utf8")) as CurvePoint[]) : [];
    this.state = {
      ...this.state,
      stages: [{ fromStep: step, plannedSteps: this.cfg.totalSteps, freshOptimizer: true }],
      initFrom: { dir: path.relative(process.cwd(), dir) || ".", step, recreate },
      step,
      seconds,
      curve,
    };
  }

  /** Encoder + MLM head in HF layout (the pooler is left out, as in BertForMaskedLM). */
  async hfTensors(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [k, v] of this.params) out.set(k, toHfLayout(k, v.shape, (await v.data()) as Float32Array));
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

  /** Assign every parameter (encoder + MLM head) from a safetensors file in HF layout (F32 or F16). */
  private loadWeights(file: string): void {
    const src = new SafetensorsSource(file);
    try {
      for (const [k, v] of this.params) {
        const info = src.info(k);
        const data = toStoredLayout(k, info.shape, src.readFloat32(k));
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
    this.loadWeights(path.join(dir, "model.safetensors"));
    this.optimizer.load(path.join(dir, "optimizer.safetensors"));
    const stages = st.stages ?? [{ fromStep: 0, plannedSteps: st.config.totalSteps }];
    // a larger (or smaller) planned step count than the state's continues under a new linear schedule
    if (stages[stages.length - 1].plannedSteps !== this.cfg.totalSteps) stages.push({ fromStep: st.step, plannedSteps: this.cfg.totalSteps });
    this.state = { ...st, stages, config: this.cfg };
  }

  /** The deliverable: a Hugging Face BertForMaskedLM folder (config.json, model.safetensors, tokenizer files). */
  async export(dir: string, opts: { dtype?: "F32" | "F16"; extra?: object } = {}): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    writeSafetensors(path.join(dir, "model.safetensors"), await this.hfTensors(), { dtype: opts.dtype ?? "F16", metadata: { format: "pt" } });
    const config = {
      ...this.model.config,
      architectures: ["BertForMaskedLM"],
      model_type: "bert",
      torch_dtype: (opts.dtype ?? "F16") === "F16" ? "float16" : "float32",
      tie_word_embeddings: true,
      medrel: { pretrain: { steps: this.state.step, seconds: Math.round(this.state.seconds), ...(opts.extra ?? {}) } },
    };
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
    this.tokenizer.save(dir);
    const curve = this.state.curve;
    fs.writeFileSync(path.join(dir, "curve.json"), JSON.stringify(curve) + "\n");
    fs.writeFileSync(
      path.join(dir, "curve.csv"),
      "step,loss,accuracy,lr,seconds\n" + curve.map((p) => `${p.step},${p.loss.toFixed(4)},${p.accuracy.toFixed(4)},${p.lr.toExponential(3)},${p.seconds.toFixed(1)}`).join("\n") + "\n",
    );
  }

  dispose(): void {
    this.optimizer.dispose();
    this.head.dispose();
    this.model.dispose();
  }
}

/** The character vocabulary of the corpus (specials + markers at fixed ids, rare characters dropped). */
export function corpusTokenizer(texts: readonly string[], minFreq: number): RelationTokenizer {
  return buildCharTokenizer(texts, { minFreq, alwaysInclude: ENCODING_FIXED_TEXT });
}

/**
 * Run (or continue) pre-training in `workDir` until totalSteps, `deadline` (ms epoch) or `stopAtStep` (a planned
 * interruption: the schedule still spans totalSteps). Saves state/ every
 * saveEvery steps and on exit. Returns the trainer (caller exports and disposes).
 */
export async function runPretrain(
  cfg: PretrainConfig,
  texts: readonly string[],
  workDir: string,
  opts: {
    deadline?: number;
    stopAtStep?: number;
    corpus?: CorpusStats | null;
    log?: (line: string) => void;
    segmenter?: Segmenter;
    /** continue from this exported checkpoint when workDir holds no state yet (its re-create chain given) */
    /** `info`: the export's config.json when the caller has already read it */
    initFrom?: { dir: string; recreate: string; info?: ExportInfo };
  } = {},
): Promise<MlmTrainer> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const stateDir = path.join(workDir, "state");
  const resume = fs.existsSync(path.join(stateDir, "state.json"));
  const init = !resume && opts.initFrom ? opts.initFrom : undefined;
  const tokenizer = resume ? RelationTokenizer.fromDir(stateDir) : init ? RelationTokenizer.fromDir(init.dir) : corpusTokenizer(texts, cfg.minFreq);
  const trainer = new MlmTrainer(cfg, tokenizer, texts, { segmenter: opts.segmenter, corpus: opts.corpus });
  if (resume) {
    trainer.loadState(stateDir);
    log(`[pretrain] resumed at step ${trainer.state.step} (${Math.round(trainer.state.seconds)} s so far)`);
  } else if (init) {
    trainer.initFromExport(init.dir, init.recreate, init.info);
    log(`[pretrain] continuing ${init.dir} from step ${trainer.state.step} (fresh optimizer moments, lr ramp ${REWARM_STEPS} steps)`);
  } else {
    log(`[pretrain] fresh: ${trainer.numTexts} texts, vocab ${tokenizer.vocabSize}, ${trainer.model.numParameters()} encoder params`);
  }
  let acc = { loss: 0, accuracy: 0, n: 0 };
  let last = Date.now();
  while (trainer.state.step < cfg.totalSteps) {
    if (opts.deadline !== undefined && Date.now() > opts.deadline) {
      log(`[pretrain] deadline reached at step ${trainer.state.step}`);
      break;
    }
    if (opts.stopAtStep !== undefined && trainer.state.step >= opts.stopAtStep) break;
    const r = await trainer.step();
    const now = Date.now();
    trainer.state.seconds += (now - last) / 1000;
    last = now;
    acc = { loss: acc.loss + r.loss, accuracy: acc.accuracy + r.accuracy, n: acc.n + 1 };
    if (trainer.state.step % cfg.logEvery === 0) {
      const p: CurvePoint = { step: trainer.state.step, loss: acc.loss / acc.n, accuracy: acc.accuracy / acc.n, lr: r.lr, seconds: trainer.state.seconds };
      trainer.state.curve.push(p);
      acc = { loss: 0, accuracy: 0, n: 0 };
      log(`[pretrain] step ${p.step}/${cfg.totalSteps} loss ${p.loss.toFixed(3)} acc ${(100 * p.accuracy).toFixed(1)}% lr ${p.lr.toExponential(2)} ${p.seconds.toFixed(0)} s`);
    }
    if (trainer.state.step % cfg.saveEvery === 0) await trainer.saveState(stateDir);
  }
  await trainer.saveState(stateDir);
  return trainer;
}

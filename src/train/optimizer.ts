/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter 2019), written over tf.Variables so that
 * it matches torch.optim.AdamW step for step: decay first (p ← p·(1 − lr·wd)), then the
 * bias-corrected Adam update. tf.train.adam has no decoupled decay, hence this class.
 * Parameters are addressed by their Hugging Face key, which decides decay (none on biases and
 * LayerNorm) and the layer-wise learning-rate multiplier.
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import { hostMomentsAvailable } from "../backend/kernels";
import { adamwUpdate, adamwUpdateHostMoments } from "../backend/ops";
import { SafetensorsSource, writeSafetensors, type HostTensor } from "../model";
import { CheckpointError, TrainConfigError } from "./errors";

/** HF's rule (`no_decay = ["bias", "LayerNorm.weight"]`): biases and LayerNorm parameters get no weight decay. */
export function isNoDecayParam(key: string): boolean {
  return /(^|\.)bias$/.test(key) || /layer_?norm/i.test(key);
}

/**
 * Encoder depth of a parameter from its HF key: embeddings 0, `encoder.layer.{i}` i + 1,
 * anything above the encoder (pooler, classifier) numLayers + 1.
 */
export function paramDepth(key: string, numLayers: number): number {
  const m = /(^|\.)encoder\.layer\.(\d+)\./.exec(key);
  if (m) return Number(m[2]) + 1;
  if (/(^|\.)embeddings\./.test(key)) return 0;
  return numLayers + 1;
}

/** Number of encoder layers named in a set of HF keys (max layer index + 1). */
export function countLayers(keys: Iterable<string>): number {
  let n = 0;
  for (const k of keys) {
    const m = /(^|\.)encoder\.layer\.(\d+)\./.exec(k);
    if (m) n = Math.max(n, Number(m[2]) + 1);
  }
  return n;
}

/**
 * Layer-wise learning-rate decay as in ELECTRA (Clark et al. 2020): multiplier
 * decay^(numLayers + 1 − depth), so the head keeps the full rate, the top layer gets decay,
 * layer 0 decay^numLayers and the embeddings decay^(numLayers + 1). decay = 1 turns it off.
 */
export function layerwiseLrMultipliers(keys: Iterable<string>, decay: number): Map<string, number> {
  if (!(decay > 0 && decay <= 1)) throw new TrainConfigError("layerwiseLrDecay", `must be in (0, 1], got ${decay}`);
  const list = [...keys];
  const L = countLayers(list);
  return new Map(list.map((k) => [k, decay ** (L + 1 - paramDepth(k, L))]));
}

export interface AdamWOptions {
  /** base learning rate, used when step() is called without one */
  lr: number;
  /** decoupled weight decay coefficient (torch default 0.01) */
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** which keys get no decay; default isNoDecayParam */
  noDecay?: (key: string) => boolean;
  /** per-key learning-rate multiplier (layer-wise decay); default 1 everywhere */
  lrMultipliers?: Map<string, number>;
}

/** torch's state names of the two moments */
const MOMENTS = [["exp_avg", "m"], ["exp_avg_sq", "v"]] as const;

export class AdamW {
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  lr: number;
  /** number of updates applied so far (torch's `state["step"]`) */
  stepCount = 0;
  private readonly params: Map<string, tf.Variable>;
  private readonly decays: Map<string, boolean>;
  private readonly lrMult: Map<string, number>;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /**
   * On WASM the moments live in host Float32Arrays instead (m, v empty): the 4 GiB heap then holds weights, gradients
   * and activations only (a base model's moments are 0.8 GB). Same update, same numbers.
   */
  private readonly hostM = new Map<string, Float32Array>();
  private readonly hostV = new Map<string, Float32Array>();
  readonly hostMoments: boolean;

  constructor(params: Map<string, tf.Variable>, opts: AdamWOptions) {
    this.lr = opts.lr;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    if (!(this.lr >= 0)) throw new TrainConfigError("lr", `must be ≥ 0, got ${this.lr}`);
    if (!(this.weightDecay >= 0)) throw new TrainConfigError("weightDecay", `must be ≥ 0, got ${this.weightDecay}`);
    const noDecay = opts.noDecay ?? isNoDecayParam;
    this.params = new Map([...params].filter(([, p]) => p.trainable));
    this.decays = new Map([...this.params.keys()].map((k) => [k, !noDecay(k)]));
    this.lrMult = new Map([...this.params.keys()].map((k) => [k, opts.lrMultipliers?.get(k) ?? 1]));
    // state allocated up front so the tensor count stays flat from the first step on
    this.hostMoments = hostMomentsAvailable();
    for (const [k, p] of this.params) {
      if (this.hostMoments) {
        this.hostM.set(k, new Float32Array(p.size));
        this.hostV.set(k, new Float32Array(p.size));
        continue;
      }
      for (const state of [this.m, this.v]) {
        const zeros = tf.zerosLike(p);
        state.set(k, tf.variable(zeros, false));
        zeros.dispose(); // the variable holds its own reference
      }
    }
  }

  /** keys this optimizer updates (trainable parameters), in model order */
  keys(): string[] {
    return [...this.params.keys()];
  }

  /** whether weight decay applies to this key */
  appliesDecay(key: string): boolean {
    return this.decays.get(key) ?? false;
  }

  lrMultiplier(key: string): number {
    return this.lrMult.get(key) ?? 1;
  }

  /**
   * One AdamW update with learning rate `lr` (the scheduled rate; default this.lr).
   * `grads` is keyed by HF key; parameters without a gradient are left alone.
   */
  step(grads: Map<string, tf.Tensor>, lr: number = this.lr): void {
    this.stepCount += 1;
    const t = this.stepCount;
    for (const [k, p] of this.params) {
      const g = grads.get(k);
      if (!g) continue;
      // one fused kernel per parameter on WASM (plain tf ops elsewhere), the same maths as torch.optim.AdamW
      const hyper = {
        lr: lr * this.lrMultiplier(k),
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: this.decays.get(k) ? this.weightDecay : 0,
        step: t,
      };
      if (this.hostMoments) {
        const p1 = adamwUpdateHostMoments(p, g, this.hostM.get(k)!, this.hostV.get(k)!, hyper);
        p.assign(p1);
        p1.dispose();
        continue;
      }
      const m = this.m.get(k)!;
      const v = this.v.get(k)!;
      const r = adamwUpdate(p, g, m, v, hyper);
      p.assign(r.p);
      m.assign(r.m);
      v.assign(r.v);
      tf.dispose([r.p, r.m, r.v]);
    }
  }

  /** Copies of the moment estimates, keyed "exp_avg.{key}" / "exp_avg_sq.{key}" like torch's state. */
  async stateTensors(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [k, p] of this.params) {
      for (const [prefix, which] of MOMENTS) {
        out.set(`${prefix}.${k}`, { shape: p.shape.slice(), data: await this.readMoment(which, k) });
      }
    }
    return out;
  }

  /** A copy of one moment's values. */
  private async readMoment(which: "m" | "v", key: string): Promise<Float32Array> {
    if (this.hostMoments) return (which === "m" ? this.hostM : this.hostV).get(key)!.slice();
    return (await (which === "m" ? this.m : this.v).get(key)!.data()) as Float32Array;
  }

  private writeMoment(which: "m" | "v", key: string, data: Float32Array, shape: number[]): void {
    if (this.hostMoments) (which === "m" ? this.hostM : this.hostV).get(key)!.set(data);
    else tf.tidy(() => (which === "m" ? this.m : this.v).get(key)!.assign(tf.tensor(data, shape, "float32")));
  }

  /** Save moments + step count (safetensors; hyper-parameters in its metadata). */
  async save(file: string): Promise<void> {
    writeSafetensors(file, await this.stateTensors(), {
      metadata: {
        format: "medrel-adamw",
        step: String(this.stepCount),
        lr: String(this.lr),
        weight_decay: String(this.weightDecay),
        betas: JSON.stringify([this.beta1, this.beta2]),
        eps: String(this.eps),
      },
    });
  }

  /** Restore moments + step count saved by save(); every parameter must be present with its shape. */
  load(file: string): void {
    if (!fs.existsSync(file)) throw new CheckpointError(file, "optimizer state file not found");
    const src = new SafetensorsSource(file);
    try {
      const metadata = src.metadata;
      if (metadata.format !== "medrel-adamw") throw new CheckpointError(file, `not an AdamW state file (format=${metadata.format})`);
      const names = new Set(src.keys());
      for (const [k, p] of this.params) {
        for (const [prefix, which] of MOMENTS) {
          const name = `${prefix}.${k}`;
          if (!names.has(name)) throw new CheckpointError(file, `missing optimizer state "${name}"`);
          const shape = src.info(name).shape;
          if (shape.join(",") !== p.shape.join(",")) {
            throw new CheckpointError(file, `"${name}" has shape [${shape}] but the parameter is [${p.shape}]`);
          }
          this.writeMoment(which, k, src.readFloat32(name), shape);
        }
      }
      const step = Number(metadata.step);
      if (!Number.isInteger(step) || step < 0) throw new CheckpointError(file, `metadata.step is not a count: ${metadata.step}`);
      this.stepCount = step;
    } finally {
      src.close();
    }
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
    this.hostM.clear();
    this.hostV.clear();
  }
}

/**
 * torch.nn.utils.clip_grad_norm_: scale all gradients by min(1, maxNorm / (‖g‖₂ + 1e-6)), where ‖g‖₂ is
 * the norm over all gradients together. Returns new tensors (call inside tf.tidy) and the pre-clip norm.
 * maxNorm ≤ 0 or Infinity leaves the gradients unchanged (the norm is still computed).
 */
export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  // one scalar kept per gradient (a caller's tidy would otherwise hold every squared gradient: another copy of them all)
  const squares = [...grads.values()].map((g) => tf.tidy(() => g.square().sum()));
  const norm = (squares.length ? tf.addN(squares) : tf.scalar(0)).sqrt() as tf.Scalar;
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) return { grads, norm };
  const coef = tf.minimum(tf.scalar(maxNorm).div(norm.add(tf.scalar(1e-6))), tf.scalar(1));
  const out = new Map<string, tf.Tensor>();
  for (const [k, g] of grads) out.set(k, g.mul(coef));
  return { grads: out, norm };
}

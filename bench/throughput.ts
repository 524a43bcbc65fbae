/**
 * Training and inference throughput of our BERT on TensorFlow.js against PyTorch, same architecture and
 * batch, in one invocation (`npm run bench:throughput`, under 5 minutes on 2 cores).
 *
 * For `tiny` (L=2, H=128, 2 heads, I=512) then `small` (L=4, H=256, 4 heads, I=1024), T=96, batch 32,
 * vocab 4,000, it prints samples/s and `ratio <tfjs step time / torch step time>` for:
 *   - the product model (src/model BertForRelationClassification + src/train loss and AdamW) on the selected backend,
 *     with native kernels (OpenBLAS addon) and on pure WASM (native off),
 *   - "fused": the same network written with src/backend/ops (fused GELU/LayerNorm/softmax/dropout kernels),
 *     a stand-alone reference for what the product model (which now calls those ops) should reach,
 * plus inference (eval) throughput the same way and peak RSS. Each tfjs variant runs in its own process
 * (clean kernel registry and RSS). PyTorch (bench/torch_step.py, /usr/bin/python3) runs as a server too and
 * the two are interleaved step by step (torch at 1 thread, torch at all threads, tfjs, repeat), so both see
 * the same load on a shared machine; a ratio is taken per round against the faster torch setting, and the
 * median over rounds is reported.
 *
 * Options: --sizes tiny,small  --rounds N  --variants product,fused  --no-wasm  --blas2 (also 2 OpenBLAS
 * threads)  --baseline (also stock tfjs-wasm kernels, slow)  --profile (per-kernel times of one step)  --json
 * The default run stays under MEDREL_BENCH_BUDGET_S (270 s): rounds shrink and pure-WASM runs are skipped
 * when a loaded machine makes everything slow (it says so).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "child_process";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";
import * as tf from "@tensorflow/tfjs";
import { adamwUpdate, dropout, gelu, initBackend, layerNorm, linear, selfAttention } from "../src/backend";
import { profileKernels, type KernelTime } from "../src/backend/profile";
import { NUM_LABELS } from "../src/data/labels";
import { BertForRelationClassification, SHAPES, type BertConfig, type ModelInputs } from "../src/model";
import { Rng } from "../src/random";
import { crossEntropy as productCrossEntropy } from "../src/train/loss";
import { AdamW, isNoDecayParam } from "../src/train/optimizer";

export interface BenchSize {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  inter: number;
  seq: number;
  batch: number;
  vocab: number;
}

export const SIZES: Record<string, BenchSize> = {
  tiny: { name: "tiny", layers: 2, hidden: 128, heads: 2, inter: 512, seq: 96, batch: 32, vocab: 4000 },
  small: { name: "small", layers: 4, hidden: 256, heads: 4, inter: 1024, seq: 96, batch: 32, vocab: 4000 },
};

type Variant = "product" | "fused";
/**
 * native: OpenBLAS addon (1 BLAS thread, the default); native-2t: the same with MEDREL_BLAS_THREADS=2;
 * pure-wasm: MEDREL_NATIVE=0; stock: tfjs-wasm's own kernels only (MEDREL_WASM_KERNELS=0)
 */
type Path = "native" | "native-2t" | "pure-wasm" | "stock";

interface ServeSpec {
  size: BenchSize;
  variant: Variant;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ------------------------------------------------------------------------------------------------
// the batch (same distribution and shapes as torch_step.py)

function makeBatch(s: BenchSize, rng: Rng): { inputs: ModelInputs; labels: tf.Tensor1D } {
  const { batch: B, seq: T } = s;
  const ids = new Int32Array(B * T);
  const mask = new Int32Array(B * T);
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const len = T / 2 + rng.int(T / 2 + 1);
    for (let t = 0; t < T; t++) {
      const real = t < len;
      mask[b * T + t] = real ? 1 : 0;
      ids[b * T + t] = real ? 1 + rng.int(s.vocab - 1) : 0;
    }
    labels[b] = rng.int(NUM_LABELS);
  }
  const inputs: ModelInputs = {
    inputIds: tf.tensor2d(ids, [B, T], "int32"),
    tokenTypeIds: tf.zeros([B, T], "int32") as tf.Tensor2D,
    attentionMask: tf.tensor2d(mask, [B, T], "int32"),
    headPos: tf.fill([B], 1, "int32") as tf.Tensor1D,
    tailPos: tf.fill([B], 2, "int32") as tf.Tensor1D,
  };
  return { inputs, labels: tf.tensor1d(labels, "int32") };
}

/** the fused reference's loss (mean NLL); the product variant uses src/train/loss crossEntropy (same value without class weights) */
function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(labels, logits.shape[1])), 1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

function benchConfig(s: BenchSize): BertConfig {
  return {
    ...SHAPES.tiny,
    vocab_size: s.vocab,
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    intermediate_size: s.inter,
    max_position_embeddings: 512,
  };
}

// ------------------------------------------------------------------------------------------------
// "fused": the same BERT written with src/backend/ops, parameters under the same HF keys

interface Net {
  params: Map<string, tf.Variable>;
  forward(inputs: ModelInputs, training: boolean, seed: number): tf.Tensor2D;
}

function fusedNet(c: BertConfig, numLabels: number, rng: Rng): Net {
  const params = new Map<string, tf.Variable>();
  const H = c.hidden_size;
  const add = (key: string, shape: number[], init: "normal" | "zeros" | "ones"): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (init === "ones") v.fill(1);
    if (init === "normal") for (let i = 0; i < n; i++) v[i] = rng.normal() * c.initializer_range;
    params.set(key, tf.variable(tf.tensor(v, shape), true, `fused${rng.int(1e9)}/${key}`));
  };
  const e = "bert.embeddings.";
  add(e + "word_embeddings.weight", [c.vocab_size, H], "normal");
  add(e + "position_embeddings.weight", [c.max_position_embeddings, H], "normal");
  add(e + "token_type_embeddings.weight", [c.type_vocab_size, H], "normal");
  add(e + "LayerNorm.weight", [H], "ones");
  add(e + "LayerNorm.bias", [H], "zeros");
  const dense = (key: string, i: number, o: number): void => {
    add(key + ".weight", [i, o], "normal");
    add(key + ".bias", [o], "zeros");
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}.`;
    for (const n of ["query", "key", "value"]) dense(`${p}attention.self.${n}`, H, H);
    dense(`${p}attention.output.dense`, H, H);
    add(`${p}attention.output.LayerNorm.weight`, [H], "ones");
    add(`${p}attention.output.LayerNorm.bias`, [H], "zeros");
    dense(`${p}intermediate.dense`, H, c.intermediate_size);
    dense(`${p}output.dense`, c.intermediate_size, H);
    add(`${p}output.LayerNorm.weight`, [H], "ones");
    add(`${p}output.LayerNorm.bias`, [H], "zeros");
  }
  dense("bert.pooler.dense", H, H);
  dense("classifier", H, numLabels);
  const w = (k: string): tf.Variable => {
    const v = params.get(k);
    if (!v) throw new Error(`no parameter ${k}`);
    return v;
  };

  const forward = (inputs: ModelInputs, training: boolean, seed: number): tf.Tensor2D =>
    tf.tidy(() => {
      const [B, T] = inputs.inputIds.shape;
      const nh = c.num_attention_heads;
      let site = 0;
      const drop = <T extends tf.Tensor>(x: T, rate: number): T => (training ? dropout(x, rate, (seed + 7919 * site++) >>> 0) : x);
      const words = tf.gather(w(e + "word_embeddings.weight"), tf.reshape(inputs.inputIds, [B * T]));
      const types = tf.gather(w(e + "token_type_embeddings.weight"), tf.reshape(inputs.tokenTypeIds, [B * T]));
      const pos = tf.slice(w(e + "position_embeddings.weight"), [0, 0], [T, H]);
      const sum = tf.add(tf.reshape(tf.add(words, types), [B, T, H]), pos);
      let x = drop(layerNorm(tf.reshape(sum, [B * T, H]), w(e + "LayerNorm.weight"), w(e + "LayerNorm.bias"), c.layer_norm_eps), c.hidden_dropout_prob);
      const mask = tf.mul(tf.sub(1, tf.cast(inputs.attentionMask, "float32")), -10000);
      for (let l = 0; l < c.num_hidden_layers; l++) {
        const p = `bert.encoder.layer.${l}.`;
        const lin = (name: string, inp: tf.Tensor): tf.Tensor => linear(inp, w(`${p}${name}.weight`), w(`${p}${name}.bias`));
        const q = lin("attention.self.query", x);
        const k = lin("attention.self.key", x);
        const v = lin("attention.self.value", x);
        const rate = training ? c.attention_probs_dropout_prob : 0;
        const merged = selfAttention(q, k, v, mask, { heads: nh, batch: B, dropoutRate: rate, seed: (seed + 7919 * site++) >>> 0 });
        const attnOut = drop(lin("attention.output.dense", merged), c.hidden_dropout_prob);
        const a = layerNorm(tf.add(attnOut, x), w(`${p}attention.output.LayerNorm.weight`), w(`${p}attention.output.LayerNorm.bias`), c.layer_norm_eps);
        const inter = gelu(lin("intermediate.dense", a));
        const out = drop(lin("output.dense", inter), c.hidden_dropout_prob);
        x = layerNorm(tf.add(out, a), w(`${p}output.LayerNorm.weight`), w(`${p}output.LayerNorm.bias`), c.layer_norm_eps);
      }
      const cls = tf.gather(x, tf.range(0, B * T, T, "int32"));
      const pooled = drop(tf.tanh(linear(cls, w("bert.pooler.dense.weight"), w("bert.pooler.dense.bias"))), c.hidden_dropout_prob);
      return linear(pooled, w("classifier.weight"), w("classifier.bias")) as tf.Tensor2D;
    });
  return { params, forward };
}

function productNet(c: BertConfig, numLabels: number): Net {
  const model = new BertForRelationClassification(c, { numLabels, pooling: "cls", seed: 1 });
  return {
    params: model.params,
    forward: (inputs, training, seed) => model.forward(inputs, { training, dropoutSeed: seed }).logits,
  };
}

/** AdamW with the same semantics as src/train AdamW (torch-parity, no decay on bias/LayerNorm), one fused kernel per parameter. */
class FusedAdamW {
  private t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly lr: number,
    private readonly weightDecay: number,
  ) {
    for (const [k, p] of params) {
      this.m.set(k, tf.variable(tf.zerosLike(p), false));
      this.v.set(k, tf.variable(tf.zerosLike(p), false));
    }
  }
  step(grads: Map<string, tf.Tensor>): void {
    this.t++;
    for (const [k, p] of this.params) {
      const g = grads.get(k);
      if (!g) continue;
      const m = this.m.get(k) as tf.Variable;
      const v = this.v.get(k) as tf.Variable;
      const wd = isNoDecayParam(k) ? 0 : this.weightDecay;
      const r = adamwUpdate(p, g, m, v, { lr: this.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: wd, step: this.t });
      p.assign(r.p);
      m.assign(r.m);
      v.assign(r.v);
      tf.dispose([r.p, r.m, r.v]);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// a variant as a step server (this file with --serve)

async function serveVariant(spec: ServeSpec): Promise<void> {
  const info = await initBackend({ verbose: false });
  const rng = new Rng(1234);
  const c = benchConfig(spec.size);
  const net = spec.variant === "product" ? productNet(c, NUM_LABELS) : fusedNet(c, NUM_LABELS, rng);
  // the product variant is the product's training step: its model, its loss (src/train/loss) and its AdamW (src/train/optimizer)
  const opt = spec.variant === "product" ? new AdamW(net.params, { lr: 2e-5, weightDecay: 0.01 }) : new FusedAdamW(net.params, 2e-5, 0.01);
  const lossFn = spec.variant === "product" ? productCrossEntropy : crossEntropy;
  const nameToKey = new Map([...net.params].map(([k, v]) => [v.name, k]));
  const trainable = [...net.params.values()].filter((v) => v.trainable);
  const { inputs, labels } = makeBatch(spec.size, rng);
  let calls = 0;
  let loss = NaN;

  const trainStep = async (): Promise<void> => {
    const { value, grads } = tf.variableGrads(() => lossFn(net.forward(inputs, true, 1000 + calls++), labels), trainable);
    const byKey = new Map<string, tf.Tensor>();
    for (const [name, g] of Object.entries(grads)) byKey.set(nameToKey.get(name) ?? name, g);
    opt.step(byKey);
    loss = (await value.data())[0];
    tf.dispose([value, ...Object.values(grads)]);
  };
  const inferBatch = async (): Promise<void> => {
    const pred = tf.tidy(() => tf.argMax(net.forward(inputs, false, 0), 1));
    await pred.data();
    pred.dispose();
  };

  const reply = (o: unknown): void => {
    process.stdout.write(JSON.stringify(o) + "\n");
  };
  reply({ ready: true, backend: info.name, kernels: info.kernels, notices: info.notices, blas: info.blas });
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const cmd = JSON.parse(line) as { cmd: string; n?: number; infer?: boolean };
    if (cmd.cmd === "quit") {
      reply({ rssMb: process.resourceUsage().maxRSS / 1024, loss, tensors: tf.memory().numTensors });
      rl.close();
      return;
    }
    if (cmd.cmd === "profile") {
      const stop = profileKernels();
      await (cmd.infer ? inferBatch() : trainStep());
      reply({ profile: stop() });
      continue;
    }
    const times: number[] = [];
    for (let i = 0; i < (cmd.n ?? 1); i++) {
      const t0 = performance.now();
      if (cmd.cmd === "train") await trainStep();
      else await inferBatch();
      times.push((performance.now() - t0) / 1000);
    }
    reply({ times, loss });
  }
}

// ------------------------------------------------------------------------------------------------
// orchestration: newline-JSON servers, interleaved

class Server {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = "";
  constructor(
    readonly label: string,
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.proc = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.lines = readline.createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  /** next JSON line (skipping anything else the process prints) */
  async read<T>(): Promise<T> {
    for (;;) {
      const r = await this.lines.next();
      if (r.done) throw new Error(`${this.label} exited: ${this.stderr.split("\n").slice(-6).join(" | ")}`);
      if (r.value.startsWith("{")) return JSON.parse(r.value) as T;
    }
  }
  async ask<T>(cmd: object): Promise<T> {
    this.proc.stdin.write(JSON.stringify(cmd) + "\n");
    return this.read<T>();
  }
  async quit<T>(): Promise<T> {
    const r = await this.ask<T>({ cmd: "quit" });
    this.proc.stdin.end();
    return r;
  }
}

interface Ready {
  backend: string;
  kernels: string[];
  notices: string[];
  blas?: string;
}
interface Times {
  times: number[];
  loss: number;
}

function startVariant(s: BenchSize, variant: Variant, p: Path): Server {
  const env: NodeJS.ProcessEnv = { ...process.env, MEDREL_BACKEND: process.env.MEDREL_BACKEND };
  if (p === "native-2t") env.MEDREL_BLAS_THREADS = "2";
  else if (p !== "native") env.MEDREL_NATIVE = "0";
  if (p === "stock") env.MEDREL_WASM_KERNELS = "0";
  const spec: ServeSpec = { size: s, variant };
  return new Server(`${variant}/${p}`, process.execPath, [...process.execArgv, __filename, "--serve", JSON.stringify(spec)], env);
}

const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

interface VariantReport {
  label: string;
  backend: string;
  kernels: string[];
  trainS: number;
  inferS: number;
  ratioTrain: number;
  ratioInfer: number;
  torchTrainS: number;
  torchInferS: number;
  rssMb: number;
  loss: number;
  profile?: KernelTime[];
}

/** wall-clock budget for the whole bench; slow (pure-WASM) variants are skipped once it is spent */
const BUDGET_S = Number(process.env.MEDREL_BENCH_BUDGET_S ?? 270);
const started = performance.now();
const elapsedS = (): number => (performance.now() - started) / 1000;

async function benchSize(s: BenchSize, variants: Variant[], paths: Path[], rounds: number, profile: boolean): Promise<unknown> {
  const threads = [...new Set([1, os.cpus().length])];
  const torch = new Server("torch", "/usr/bin/python3", [path.join(__dirname, "torch_step.py"), "--serve", JSON.stringify({ ...s, labels: NUM_LABELS })], {
    ...process.env,
    OMP_NUM_THREADS: undefined,
  });
  const tReady = await torch.read<{ torch: string }>();
  for (const t of threads) await torch.ask<Times>({ cmd: "train", n: 2, threads: t });
  console.log(`\n== ${s.name}: L=${s.layers} H=${s.hidden} heads=${s.heads} I=${s.inter} T=${s.seq} batch=${s.batch} vocab=${s.vocab}`);

  const torchTrain: number[] = [];
  const torchInfer: number[] = [];
  const reports: VariantReport[] = [];
  for (const variant of variants) {
    for (const p of paths) {
      if (p === "stock" && variant !== "product") continue; // tf.gather's gradient needs our UnsortedSegmentSum
      if ((p === "pure-wasm" || p === "stock") && elapsedS() > BUDGET_S * (s.name === "tiny" ? 0.3 : 0.6)) {
        console.log(`tfjs ${variant}/${p}: skipped (time budget; run with --sizes ${s.name} --variants ${variant} for it)`);
        continue;
      }
      const slow = p === "pure-wasm" || p === "stock";
      // pure WASM / stock are slow on `small`: fewer rounds keep the whole bench under 5 minutes
      // shrink rounds when the machine is slow today (budget shares: tiny 35%, small the rest)
      const late = elapsedS() > BUDGET_S * (s.name === "tiny" ? 0.25 : 0.7);
      const R = slow ? 2 : late ? Math.min(rounds, 3) : rounds;
      const srv = startVariant(s, variant, p);
      const ready = await srv.read<Ready>();
      await srv.ask<Times>({ cmd: "train", n: slow ? 1 : 2 });
      await srv.ask<Times>({ cmd: "infer", n: 2 });
      const tr: number[] = [];
      const ti: number[] = [];
      const rt: number[] = [];
      const ri: number[] = [];
      const pairedTrain: number[] = [];
      const pairedInfer: number[] = [];
      for (let r = 0; r < R; r++) {
        let tt = Infinity;
        for (const t of threads) tt = Math.min(tt, (await torch.ask<Times>({ cmd: "train", n: 1, threads: t })).times[0]);
        const ours = (await srv.ask<Times>({ cmd: "train", n: 1 })).times[0];
        tr.push(ours);
        torchTrain.push(tt);
        pairedTrain.push(tt);
        rt.push(ours / tt);
      }
      for (let r = 0; r < R; r++) {
        // two batches per side and round: one eval batch is short enough for scheduler noise to matter
        const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
        let best = Infinity;
        for (const t of threads) best = Math.min(best, sum((await torch.ask<Times>({ cmd: "infer", n: 2, threads: t })).times));
        const ours = sum((await srv.ask<Times>({ cmd: "infer", n: 2 })).times);
        ti.push(ours);
        torchInfer.push(best);
        pairedInfer.push(best);
        ri.push(ours / best);
      }
      const prof = profile ? (await srv.ask<{ profile: KernelTime[] }>({ cmd: "profile" })).profile : undefined;
      const profInfer = profile ? (await srv.ask<{ profile: KernelTime[] }>({ cmd: "profile", infer: true })).profile : undefined;
      const end = await srv.quit<{ rssMb: number; loss: number }>();
      const rep: VariantReport = {
        label: `${variant}/${p}`,
        backend: ready.backend,
        kernels: ready.kernels,
        trainS: median(tr),
        inferS: median(ti),
        ratioTrain: median(rt),
        ratioInfer: median(ri),
        torchTrainS: median(pairedTrain),
        torchInferS: median(pairedInfer),
        rssMb: end.rssMb,
        loss: end.loss,
        profile: prof,
      };
      reports.push(rep);
      const kern = rep.kernels.length ? ` + ${rep.kernels.join(", ")}` : "";
      console.log(
        `tfjs ${rep.label.padEnd(17)} train ${fmt(s.batch / rep.trainS).padStart(6)} samples/s (${fmt(rep.trainS * 1000)} ms/step; ` +
          `torch ${fmt(rep.torchTrainS * 1000)} in the same rounds), eval ${fmt(s.batch / rep.inferS)} samples/s (torch ${fmt(s.batch / rep.torchInferS)}), ` +
          `peak RSS ${fmt(rep.rssMb, 0)} MB, ${R} rounds  [${rep.backend}${kern}]`,
      );
      for (const [what, pr] of [["train step", prof], ["eval batch", profInfer]] as const) {
        if (!pr) continue;
        const total = pr.reduce((a, k) => a + k.ms, 0);
        console.log(`  kernels of one ${what} (${fmt(total)} ms in ${pr.reduce((a, k) => a + k.calls, 0)} calls): ` +
          pr.slice(0, 10).map((k) => `${k.kernel} ${fmt(k.ms)}`).join(", "));
      }
    }
  }
  const tEnd = await torch.quit<{ rss_mb: number }>();
  console.log(
    `torch ${tReady.torch}: train ${fmt(s.batch / median(torchTrain))} samples/s (${fmt(median(torchTrain) * 1000)} ms/step), ` +
      `eval ${fmt(s.batch / median(torchInfer))} samples/s, best of ${threads.join("/")} threads, peak RSS ${fmt(tEnd.rss_mb, 0)} MB`,
  );
  const head = reports[0];
  if (head) console.log(`ratio ${head.ratioTrain.toFixed(2)}`);
  for (const r of reports) {
    console.log(`  ratio[${r.label}] train ${r.ratioTrain.toFixed(2)}  eval ${r.ratioInfer.toFixed(2)}`);
  }
  return { size: s, torch: { train_s: median(torchTrain), infer_s: median(torchInfer), rss_mb: tEnd.rss_mb }, runs: reports };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const serve = argv.indexOf("--serve");
  if (serve >= 0) {
    await serveVariant(JSON.parse(argv[serve + 1]) as ServeSpec);
    return;
  }
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizes = (opt("sizes") ?? "tiny,small").split(",").map((n) => {
    const s = SIZES[n];
    if (!s) throw new Error(`--sizes: unknown size "${n}" (${Object.keys(SIZES).join(", ")})`);
    return s;
  });
  const rounds = Number(opt("rounds") ?? 5);
  const variants = (opt("variants") ?? "product,fused").split(",") as Variant[];
  const paths: Path[] = ["native"];
  if (argv.includes("--blas2")) paths.push("native-2t");
  if (!argv.includes("--no-wasm")) paths.push("pure-wasm");
  if (argv.includes("--baseline")) paths.push("stock");
  const out: unknown[] = [];
  for (const s of sizes) out.push(await benchSize(s, variants, paths, rounds, argv.includes("--profile")));
  console.log(`\norchestrator peak RSS ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MB; total ${fmt(elapsedS())} s`);
  if (argv.includes("--json")) console.log(JSON.stringify(out));
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

/**
 * npm run pretrain -- [--objective mlm|electra] [--data-dir ../shared/data] [--work .cache/pretrain/<name>] [--out data/pretrained/<name>]
 *                     [--steps N] [--minutes M] [--stop-at S] [--seed N] [--layers 4 --hidden 192 --heads 3 --intermediate 768]
 *                     [--init-from data/pretrained/quick] [--snapshot-minutes 55] [--budget-mb 60] [--commit]
 * In-domain pre-training of the quick preset's encoder: whole-word-masking MLM (default) or ELECTRA. Re-running
 * the same command resumes from <work>/state/ (saved every --save-every steps) or from the committed snapshot
 * <out>/snapshot/ (snapshot.ts; written every --snapshot-minutes of training and on exit), whichever is further;
 * on finishing (or at --minutes, or on SIGINT/SIGTERM) the checkpoint is exported to --out as a Hugging Face folder
 * with its training curve and README. --commit commits each snapshot (that folder only) as it is written.
 * --init-from continues an exported checkpoint (its weights as exported, fresh optimizer moments) in its own work
 * folder (<work>-from<step>), so the re-create chain is: the chain that made the export, then this command.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { initBackend } from "../backend/select";
import { usePrecision } from "../backend";
import { buildCorpus, defaultCorpusSources, evaluationExclusions, formatCorpusReport } from "./corpus";
import { DEFAULT_PRETRAIN_CONFIG, readExportInfo, runPretrain, type ExportInfo, type PretrainConfig } from "./pretrain";
import { DEFAULT_BUDGET_BYTES } from "./snapshot";
import { writeReadme } from "./readme";

async function main(): Promise<void> {
  const d = DEFAULT_PRETRAIN_CONFIG;
  const int = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got "${v}"`);
    return n;
  };
  const num = (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`expected a number, got "${v}"`);
    return n;
  };
  const prog = new Command("pretrain")
    .option("--objective <o>", "mlm (whole-word masking) or electra (replaced-token detection)", "mlm")
    .option("--data-dir <dir>", "folder with study_*.jsonl and CMeIE-V2_*.jsonl", path.resolve(process.cwd(), "..", "shared", "data"))
    .option("--work <dir>", "resumable state folder (default .cache/pretrain/<name of --out>; with --init-from, .cache/pretrain/<name>-from<step>)")
    .option("--init-from <dir>", "continue this exported checkpoint (when neither the work folder nor the snapshot holds a state yet); ELECTRA: its encoder becomes the discriminator, the generator starts fresh")
    .option("--out <dir>", "exported checkpoint folder (default data/pretrained/quick; electra: data/pretrained/electra)")
    .option("--steps <n>", "planned optimizer steps", int, d.totalSteps)
    .option("--minutes <m>", "stop (and export) after this many minutes of this invocation; 0 = no limit", num, 0)
    .option("--batch-size <n>", "texts per step", int, d.batchSize)
    .option("--max-length <n>", "tokens per text", int, d.maxLength)
    .option("--lr <x>", "peak learning rate", num, d.lr)
    .option("--seed <n>", "seed", int, d.seed)
    .option("--layers <n>", "encoder layers", int, d.shape.layers)
    .option("--hidden <n>", "hidden size", int, d.shape.hidden)
    .option("--heads <n>", "attention heads", int, d.shape.heads)
    .option("--intermediate <n>", "feed-forward size", int, d.shape.intermediate)
    .option("--stop-at <n>", "stop (and export) at this step; the schedule still spans --steps", int)
    .option("--save-every <n>", "state save interval (steps)", int, d.saveEvery)
    .option("--f32", "export float32 instead of float16")
    .option("--gen-hidden <n>", "ELECTRA generator hidden size (default ¼ of --hidden)", int)
    .option("--gen-layers <n>", "ELECTRA generator layers (default --layers)", int)
    .option("--disc-weight <x>", "ELECTRA discriminator loss weight", num, 50)
    .option("--snapshot-minutes <m>", "write the compact snapshot <out>/snapshot/ after this many minutes of training (and on exit)", num, 55)
    .option("--snapshot-steps <n>", "write it every n steps instead", int)
    .option("--snapshot-at <steps>", "write it exactly at these steps (comma-separated; the re-create command of a run with timed snapshots)")
    .option("--snapshot", "write the snapshot folder (default for electra, and whenever --snapshot-steps/--snapshot-at is given; MLM's default stays off so the quick checkpoint's re-create command repeats exactly)")
    .option("--no-snapshot", "no snapshot folder")
    .option("--budget-mb <n>", "git bytes the export folder's whole history may take; a snapshot past it is not written", num, DEFAULT_BUDGET_BYTES / 1048576)
    .option("--commit", "git-commit each snapshot as it is written (the snapshot folder only)")
    .option("--precision <p>", "dense products: f32, or bf16 (operands rounded to bfloat16; oneDNN on AVX512_BF16/AMX CPUs, emulated elsewhere)", "f32")
    .option("--snapshot-m <how>", "AdamW first moment in the snapshot: u8 (8-bit codes) or none (restarted from 0 at each snapshot: 3 instead of 4 bytes per parameter)", "u8")
    .parse();
  const o = prog.opts<{
    dataDir: string; work?: string; initFrom?: string; out?: string; steps: number; minutes: number; batchSize: number; maxLength: number; lr: number; seed: number;
    layers: number; hidden: number; heads: number; intermediate: number; saveEvery: number; stopAt?: number; f32?: boolean;
    objective: string; genHidden?: number; genLayers?: number; discWeight: number; snapshotMinutes: number; snapshotSteps?: number; snapshotAt?: string;
    snapshot?: boolean; budgetMb: number; commit?: boolean; snapshotM: string; precision: string;
  }>();
  if (o.objective !== "mlm" && o.objective !== "electra") throw new Error(`--objective: mlm or electra, got "${o.objective}"`);
  if (o.precision !== "f32" && o.precision !== "bf16") throw new Error(`--precision: f32 or bf16, got "${o.precision}"`);
  if (o.snapshotM !== "u8" && o.snapshotM !== "none") throw new Error(`--snapshot-m: u8 or none, got "${o.snapshotM}"`);
  const electra = o.objective === "electra";
  const out = o.out ?? (electra ? "data/pretrained/electra" : "data/pretrained/quick");
  const name = path.basename(path.resolve(out));
  const genHidden = o.genHidden ?? Math.round(o.hidden / 4);
  const cfg: PretrainConfig = {
    ...d,
    shape: { ...d.shape, layers: o.layers, hidden: o.hidden, heads: o.heads, intermediate: o.intermediate },
    totalSteps: o.steps,
    batchSize: o.batchSize,
    maxLength: o.maxLength,
    lr: o.lr,
    seed: o.seed,
    saveEvery: o.saveEvery,
    ...(o.precision === "bf16" ? { precision: "bf16" as const } : {}),
    ...(electra
      ? {
          objective: "electra" as const,
          generator: { hidden: genHidden, layers: o.genLayers ?? o.layers, heads: Math.max(1, Math.floor(genHidden / 64)), intermediate: 4 * genHidden },
          discWeight: o.discWeight,
          maskProb: 0.85,
          randomProb: 0,
        }
      : {}),
  };
  const backend = await initBackend({ verbose: true });
  if (cfg.precision) {
    const used = usePrecision(cfg.precision);
    console.log(`[pretrain] products: ${used.engine} (${used.detail})`);
  }
  const dataDir = path.resolve(o.dataDir);
  const corpus = buildCorpus(defaultCorpusSources(dataDir), { exclude: evaluationExclusions(dataDir) });
  console.log(formatCorpusReport(corpus.stats).replace(/^/gm, "[pretrain] "));
  const deadline = o.minutes > 0 ? Date.now() + o.minutes * 60_000 : undefined;
  const initDir = o.initFrom ? path.resolve(o.initFrom) : undefined;
  const initInfo = initDir ? readExportInfo(initDir) : undefined;
  const initFrom = initDir && initInfo ? { dir: initDir, recreate: recreateChain(initDir, initInfo), info: initInfo } : undefined;
  const work = o.work ?? (initInfo ? `.cache/pretrain/${name}-from${initInfo.step}` : `.cache/pretrain/${name}`);
  let stop = false;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      if (stop) process.exit(130);
      stop = true;
      console.log(`[pretrain] ${sig}: finishing this step, then snapshot, state and export (again to quit at once)`);
    });
  }
  const outAbs = path.resolve(out);
  const snapshotOn = o.snapshot ?? (electra || o.snapshotSteps !== undefined || o.snapshotAt !== undefined);
  const snapshot = snapshotOn
    ? {
        dir: path.join(outAbs, "snapshot"),
        seconds: o.snapshotMinutes * 60,
        everySteps: o.snapshotSteps,
        atSteps: o.snapshotAt ? o.snapshotAt.split(",").map(int) : undefined,
        budget: { root: outAbs, bytes: o.budgetMb * 1048576 },
        commit: o.commit ? { name } : undefined,
        format: { firstMoment: o.snapshotM === "none" ? ("none" as const) : ("u8" as const) },
      }
    : undefined;
  const trainer = await runPretrain(cfg, corpus.texts, path.resolve(work), { deadline, stopAtStep: o.stopAt, corpus: corpus.stats, initFrom, snapshot, shouldStop: () => stop });
  // the command that re-creates this export exactly: the same flags, --minutes replaced by the step reached
  const args: string[] = [];
  const raw = process.argv.slice(2);
  for (let i = 0; i < raw.length; i++) {
    if (["--minutes", "--stop-at", "--work", "--out", "--snapshot-minutes", "--snapshot-steps", "--snapshot-at", "--budget-mb"].includes(raw[i])) i++;
    else if (raw[i] !== "--commit") args.push(raw[i]);
  }
  // the snapshots' round trips are part of the run: a re-creation makes them at the same steps
  const snapSteps = trainer.state.snapshotSteps ?? [];
  if (snapSteps.length) args.push("--snapshot-at", snapSteps.join(","));
  if (trainer.state.step < cfg.totalSteps) args.push("--stop-at", String(trainer.state.step));
  // earlier schedule stages (a run extended with a larger --steps) come first, each resumed by the next
  const stages = trainer.state.stages ?? [];
  const perStage = (a: string | undefined): boolean => a === "--steps" || a === "--stop-at";
  const base = args.filter((a, i) => !perStage(a) && !perStage(args[i - 1]));
  const earlier = stages.slice(0, -1).map((s, k) => {
    // a stage left before its planned end (extended mid-way) stops where the next one took over
    const next = stages[k + 1].fromStep;
    const stop = next < s.plannedSteps ? ["--stop-at", String(next)] : [];
    return `npm run pretrain -- ${[...base, "--steps", String(s.plannedSteps), ...stop].join(" ")}`;
  });
  const argv = args.join(" ");
  // a continued export's chain starts with the chain that made its starting checkpoint
  const prior = trainer.state.initFrom ? [trainer.state.initFrom.recreate] : [];
  const recreate = [...prior, ...earlier, `npm run pretrain${argv ? " -- " + argv : ""}`].join(" && \\\n  ");
  await trainer.export(outAbs, { dtype: o.f32 ? "F32" : "F16", extra: { corpus: corpus.stats, config: cfg, backend: backend.name, recreate } });
  writeReadme(outAbs, { state: trainer.state, corpus: corpus.stats, command: recreate, vocabSize: trainer.tokenizer.vocabSize, parameters: trainer.model.numParameters(), name, budgetBytes: o.budgetMb * 1048576 });
  console.log(`[pretrain] exported step ${trainer.state.step} to ${out} (${fs.statSync(path.join(outAbs, "model.safetensors")).size} bytes)`);
  trainer.dispose();
}

/**
 * The command chain that re-creates an exported checkpoint: config.json medrel.pretrain.recreate, or (exports made
 * before that field existed) the code block under "## Re-create" in its README.md.
 */
function recreateChain(dir: string, info: ExportInfo): string {
  if (info.recreate) return info.recreate;
  const readme = path.join(dir, "README.md");
  const m = fs.existsSync(readme) ? /## Re-create\s+```\n([\s\S]*?)\n```/.exec(fs.readFileSync(readme, "utf8")) : null;
  if (!m) throw new Error(`--init-from ${dir}: no re-create command (config.json medrel.pretrain.recreate or README.md "## Re-create")`);
  return m[1].trim();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

/**
 * tsx bench/project-study.ts — the wall time of the study's recipe (Chinese-RoBERTa-wwm-ext shape, the 7,000 study
 * training rows, 4 epochs, batch 16 or 20, up to 300 tokens) on this machine, from measured base steps:
 *   - padded: every batch padded to 300 tokens (HF padding="max_length"): steps × the measured s/step at 300;
 *   - dynamic: our trainer's batches (bucketedSampler, each padded to its longest row), each step's time taken from
 *     t(T) = c0 + c1 · F(T), F the step's FLOPs at T tokens, c0 and c1 fitted to two measured lengths (64 and 300).
 * Reads bench/results/base-step*.json (see the inputs below) and writes bench/results/study-projection.json.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadRows } from "../src/data/load";
import { RelationTokenizer, encodeDataset } from "../src/encoding";
import { SHAPES } from "../src/model";
import { Rng } from "../src/random";
import { bucketedSampler } from "../src/train";

const RESULTS = path.join(__dirname, "results");
const EPOCHS = 4;
const ROWS = 7000;

interface StepVariant {
  threads: number;
  recompute: number | "auto";
  recomputedLayers: number;
  secondsPerStep: number;
  cpuSecondsPerStep: number;
}
interface StepResult {
  flags: { batch: number; seq: number };
  threads: number;
  secondsPerStep: number;
  variants: StepVariant[];
  date: string;
  machine: { loadAverageAtStart: number[] };
}

function read(name: string): StepResult {
  const file = path.join(RESULTS, name);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run the bench:base command named in bench/project-study.ts`);
  return JSON.parse(fs.readFileSync(file, "utf8")) as StepResult;
}

/** Multiply-adds ×2 of one training step (forward + backward ≈ 3 forwards; attention scores once more in backward). */
function stepFlops(B: number, T: number): number {
  const c = SHAPES.base;
  const H = c.hidden_size;
  const dense = 2 * B * T * c.num_hidden_layers * (4 * H * H + 2 * H * c.intermediate_size);
  const attention = 4 * B * T * T * H * c.num_hidden_layers;
  return 3 * dense + 3.5 * attention;
}

/** Padded lengths of every training batch over the epochs, as the trainer's default sampler forms them. */
function dynamicLengths(batch: number): number[] {
  const shared = path.resolve(__dirname, "..", "..", "shared", "data");
  const tok = RelationTokenizer.fromVocabFile(path.join(shared, "bert-base-chinese-vocab.txt"));
  const rows = loadRows(path.join(shared, "study_train.jsonl"), { mode: "lenient" }).rows;
  const { encoded } = encodeDataset(tok, rows, { encoding: "Entity_marked2", maxLength: 300 });
  const sampler = bucketedSampler(encoded, { batchSize: batch });
  const out: number[] = [];
  for (let e = 0; e < EPOCHS; e++) {
    for (const b of sampler(e, new Rng(e))) out.push(Math.max(...b.map((i) => encoded[i].inputIds.length)));
  }
  return out;
}

function main(): void {
  // the deliverable run (16 x 300, default threads), and a 1-thread pair at 64 / 300 tokens for the length model
  const main16 = read("base-step.json");
  const short1 = read("base-step-threads1-16x64.json");
  const long1 = read("base-step-threads-16x300.json").variants.find((v) => v.threads === 1);
  if (!long1) throw new Error("base-step-threads-16x300.json has no 1-thread variant");
  const cpu64 = short1.variants[0].cpuSecondsPerStep;
  const cpu300 = long1.cpuSecondsPerStep;
  const c1 = (cpu300 - cpu64) / (stepFlops(16, 300) - stepFlops(16, 64));
  const c0 = cpu300 - c1 * stepFlops(16, 300);
  const shape = (B: number, T: number): number => (c0 + c1 * stepFlops(B, T)) / (c0 + c1 * stepFlops(16, 300));
  // what recomputing a layer costs (1 thread, CPU s/step, all 12 layers against none at 16 x 300)
  const rec = read("base-step-recompute-16x300.json").variants;
  const perLayer = (rec.find((v) => v.recompute === 12)!.cpuSecondsPerStep / rec.find((v) => v.recompute === 0)!.cpuSecondsPerStep - 1) / 12;
  // batch 20 at 300 tokens does not fit the heap without recomputing a few layers: its own measured run
  const measured = new Map<number, StepResult>([[16, main16]]);
  if (fs.existsSync(path.join(RESULTS, "base-step-20x300.json"))) measured.set(20, read("base-step-20x300.json"));

  const scenarios = [16, 20].map((B) => {
    const lengths = dynamicLengths(B);
    const steps = lengths.length;
    const dynamicFactor = lengths.reduce((a, T) => a + shape(B, T), 0) / (steps * shape(B, 300));
    const recomputed = (b: number): number => measured.get(b)?.variants[0].recomputedLayers ?? 0;
    const hours = (at300: number): { sPerStepAt300: number; paddedHours: number; dynamicHours: number } => ({
      sPerStepAt300: +at300.toFixed(2),
      paddedHours: +((steps * at300) / 3600).toFixed(1),
      // (dynamic batches are short enough that nothing is recomputed: the factor comes from the plain-step model)
      dynamicHours: +((steps * (at300 / (1 + recomputed(B) * perLayer)) * dynamicFactor) / 3600).toFixed(1),
    });
    const run = measured.get(B);
    return {
      batch: B,
      stepsPerEpoch: steps / EPOCHS,
      steps,
      meanPaddedLength: +(lengths.reduce((a, b) => a + b, 0) / steps).toFixed(1),
      dynamicTimeFactor: +dynamicFactor.toFixed(3),
      recomputedLayersAt300: recomputed(B),
      measuredWall: run ? { file: B === 16 ? "base-step.json" : `base-step-${B}x300.json`, threads: run.threads, ...hours(run.secondsPerStep) } : null,
      oneCoreCpuTime: { basis: "1-thread CPU s/step (the work one core does per step, less sensitive to other jobs than wall time), scaled by the length model and the recompute cost", ...hours(cpu300 * shape(B, 300) * (1 + recomputed(B) * perLayer)) },
    };
  });
  const out = {
    command: "tsx bench/project-study.ts",
    date: new Date().toISOString(),
    recipe: `${ROWS} rows, ${EPOCHS} epochs, base shape, up to 300 tokens`,
    inputs: {
      "base-step.json": { date: main16.date, threads: main16.threads, secondsPerStep: main16.secondsPerStep, loadAverageAtStart: main16.machine.loadAverageAtStart },
      "base-step-threads1-16x64.json": { cpuSecondsPerStep: cpu64 },
      "base-step-threads-16x300.json (1 thread)": { cpuSecondsPerStep: cpu300 },
    },
    recomputeCostPerLayer: +perLayer.toFixed(4),
    lengthModel: { c0Seconds: +c0.toFixed(2), secondsPerTflop: +(c1 * 1e12).toFixed(3), note: "t(T) = c0 + c1 F(T), fitted to the 1-thread CPU s/step at 16 x 64 and 16 x 300; batch 20 from the same model" },
    scenarios,
  };
  const file = path.join(RESULTS, "study-projection.json");
  fs.writeFileSync(file, JSON.stringify(out, null, 1) + "\n");
  for (const s of scenarios) {
    const w = s.measuredWall;
    const cpu = s.oneCoreCpuTime;
    console.log(`batch ${s.batch}: ${s.stepsPerEpoch} steps/epoch x ${EPOCHS} = ${s.steps} steps (${s.recomputedLayersAt300} layers recomputed at 300 tokens)`);
    if (w) console.log(`  measured here (${w.threads} threads, loaded machine): ${w.sPerStepAt300} s/step -> ${w.paddedHours} h padded to 300, ${w.dynamicHours} h with dynamic padding`);
    console.log(`  1-thread CPU time: ${cpu.sPerStepAt300} s/step -> ${cpu.paddedHours} h padded to 300, ${cpu.dynamicHours} h with dynamic padding (mean ${s.meanPaddedLength} tokens)`);
  }
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

main();

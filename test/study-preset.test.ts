/**
 * The `study` preset — the authors' recipe (max length 300, [CLS] head, weights 2.0 on the hard classes, balanced
 * then priority sampler with the authors' epochs, lr 1e-5 halved each epoch) — end to end on a checkpoint of
 * Chinese-RoBERTa-wwm-ext's shape (L=12, H=768, 12 heads, the 21,128-token Chinese vocabulary; random weights saved
 * in Hugging Face layout), on a small subset, through the CLI a user runs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../src/backend/select";
import { BertForRelationClassification, saveCheckpoint, shapeConfig } from "../src/model";
import { presetConfig } from "../src/experiments";
import { loadRun } from "../src/runs";
import { STUDY_CHECKPOINTS } from "../src/experiments/study-tables";
import { STUDY_MANUAL_WEIGHTS } from "../src/train";
import { LABEL_NAMES } from "../src/data";

const ROOT = path.resolve(__dirname, "..");
const VOCAB = path.resolve(ROOT, "..", "shared", "data", "bert-base-chinese-vocab.txt");
const run = promisify(execFile);

test("the study preset trains a base-shaped checkpoint end to end (40 rows): 4 epochs of the study's samplers, [CLS] head, weighted loss", { skip: !fs.existsSync(VOCAB) && "no ../shared/data vocabulary", timeout: 1_200_000 }, async () => {
  await initBackend({ verbose: false });
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-study-"));
  const ckpt = path.join(base, STUDY_CHECKPOINTS["Chinese-RoBERTa-wwm-ext"][0]);
  const vocabSize = fs.readFileSync(VOCAB, "utf8").split("\n").filter((l) => l.length > 0).length;
  const model = new BertForRelationClassification(shapeConfig("base", vocabSize), { numLabels: 10, pooling: "cls", seed: 0 });
  const parameters = model.numParameters();
  await saveCheckpoint(model, ckpt, { dtype: "F16" });
  model.dispose();
  fs.copyFileSync(VOCAB, path.join(ckpt, "vocab.txt"));
  try {
    const study = presetConfig("study");
    const cfg = { ...study, model: { kind: "checkpoint", dir: ckpt, name: "Chinese-RoBERTa-wwm-ext" }, maxTrainRows: 40, maxEvalRows: 20 };
    const cfgFile = path.join(base, "study.json");
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const out = path.join(base, "run");
    const { stdout } = await run(process.execPath, ["--import", "tsx", "src/cli/experiment.ts", "--config", cfgFile, "--out", out], {
      cwd: ROOT,
      env: { ...process.env, MEDREL_PROGRESS: "lines" },
      maxBuffer: 1 << 24,
    });
    assert.match(stdout, /training run [0-9a-f]{12}/, "the progress lines name the run");
    assert.match(stdout, /epoch 4\/4 step \d+/, "an epoch line per epoch");
    const r = loadRun(out)!;
    assert.ok(r, "a complete run folder");
    assert.ok(parameters > 100e6 && parameters < 105e6, `BERT-base shape: ${parameters} parameters`);
    assert.equal(r.info.parameters, parameters);
    assert.equal(r.history.length, 4);
    assert.equal(r.config.maxLength, 300);
    assert.equal(r.config.pooling, "cls");
    assert.equal(r.config.samplerEpoch, "first_exhausted");
    // 40 rows = 4 of each class: balanced epochs 4/2 = 2 batches of 20, priority epochs 4/4 = 1 batch of 16
    assert.deepEqual(r.history.map((h) => h.step), [2, 4, 5, 6]);
    // StepLR halves the lr every epoch
    assert.deepEqual(r.history.map((h) => h.lr), [1e-5, 5e-6, 2.5e-6, 1.25e-6]);
    assert.deepEqual(r.info.classWeights, LABEL_NAMES.map((l) => (STUDY_MANUAL_WEIGHTS as Record<string, number>)[l] ?? 1));
    assert.ok(Number.isFinite(r.metrics.dev.micro_f1) && r.metrics.test !== null);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

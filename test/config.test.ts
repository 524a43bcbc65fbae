/** The hyperparameters are listed once (src/train/config.ts): the config schema, the trainer, the CLI and the presets read that list. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { presetConfig } from "../src/experiments";
import { ExperimentConfigSchema, configFrom, configHash, parseExperimentConfig } from "../src/runs";
import { DEFAULT_HYPERPARAMS, HYPERPARAM_KEYS, toTrainConfig, trainConfig } from "../src/train";
import { addSchemaOptions } from "../src/cli/common";

test("every hyperparameter is a field of the experiment config, a flag of npm run experiment and a TrainConfig field of the same name", () => {
  assert.deepEqual(HYPERPARAM_KEYS, ["seed", "epochs", "batchSize", "lr", "schedule", "warmupRatio", "weightDecay", "maxGradNorm", "earlyStoppingPatience", "layerwiseLrDecay"]);
  for (const k of HYPERPARAM_KEYS) assert.ok(k in ExperimentConfigSchema.shape, k);
  const cmd = new Command().exitOverride();
  const flags = addSchemaOptions(cmd, ExperimentConfigSchema.shape);
  for (const k of HYPERPARAM_KEYS) assert.ok(flags.includes(k), `--${k} is a flag`);
  assert.deepEqual(flags.filter((k) => !(HYPERPARAM_KEYS as string[]).includes(k)), ["encoding", "faithful", "pooling", "maxLength", "sampler", "samplerEpoch", "lengthAligned", "precision", "maxTrainRows", "maxEvalRows"]);
  cmd.parse(["--max-grad-norm", "0.5", "--schedule", "step", "--faithful", "--max-length", "64", "--early-stopping-patience", "2"], { from: "user" });
  assert.deepEqual(cmd.opts(), { maxGradNorm: 0.5, schedule: "step", faithful: true, maxLength: 64, earlyStoppingPatience: 2 });
  // an optional field (absent from the hash when unset) is a flag too, and checked the same way
  const p = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  addSchemaOptions(p, ExperimentConfigSchema.shape);
  assert.deepEqual(p.parse(["--precision", "bf16"], { from: "user" }).opts(), { precision: "bf16" });
  assert.throws(() => p.parse(["--precision", "f16"], { from: "user" }), /--precision/);
  const bad = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  addSchemaOptions(bad, ExperimentConfigSchema.shape);
  assert.throws(() => bad.parse(["--warmup-ratio", "2"], { from: "user" }), /--warmup-ratio 2: Too big: expected number to be <=1/);

  const cfg = parseExperimentConfig({ ...presetConfig("study"), seed: 7, layerwiseLrDecay: 0.9, loss: { ...presetConfig("study").loss, reduction: "mean", labelSmoothing: 0.1 } });
  const tc = toTrainConfig(cfg, { classWeights: null });
  for (const k of HYPERPARAM_KEYS) assert.equal(tc[k], cfg[k], k);
  assert.deepEqual([tc.lossReduction, tc.labelSmoothing, tc.focalGamma], ["mean", 0.1, 0]);
});

test("one set of defaults: the quick preset's hyperparameters are the trainer's defaults", () => {
  const quick = presetConfig("quick");
  for (const k of HYPERPARAM_KEYS) {
    assert.equal(quick[k], DEFAULT_HYPERPARAMS[k], k);
    assert.equal(trainConfig()[k], DEFAULT_HYPERPARAMS[k], k);
  }
  assert.deepEqual([DEFAULT_HYPERPARAMS.lr, DEFAULT_HYPERPARAMS.batchSize, DEFAULT_HYPERPARAMS.seed, DEFAULT_HYPERPARAMS.epochs], [1e-3, 32, 0, 3]);
});

test("configFrom: a whole config file is the run itself, a partial one applies over the preset, flags apply last; validated once", () => {
  const quick = presetConfig("quick");
  const smoke = presetConfig("smoke");
  // a whole config (a run's config.json) ignores the preset: the same hash as the file's own
  const whole = parseExperimentConfig(smoke);
  assert.equal(configHash(configFrom(quick, smoke, {}, "t")), configHash(whole));
  // a partial file over the preset, then flags over both
  const partial = configFrom(quick, { epochs: 2, seed: 5 }, { fields: { seed: 7 } }, "t");
  assert.deepEqual([partial.epochs, partial.seed, partial.encoding], [2, 7, quick.encoding]);
  // --weights manual takes the study's weights unless the config has its own; --from-scratch keeps the shape
  const manual = configFrom(quick, undefined, { weights: "manual", fromScratch: true }, "t");
  assert.equal(manual.loss.scheme, "manual");
  assert.ok(manual.loss.manual && Object.keys(manual.loss.manual).length > 0);
  assert.equal(manual.model.kind === "preset" && manual.model.pretrained, null);
  assert.throws(() => configFrom(quick, { epochs: -1 }, {}, "bad.json and flags"), /bad\.json and flags/);
});

/**
 * src/model/electra + the ELECTRA pre-training objective: loss and every gradient against a PyTorch fixture
 * (test/fixtures/pretrain/make_electra_fixture.py), the generator's sampler, and a short run whose exported
 * discriminator the fine-tuning loader reads as a plain BERT checkpoint; --init-from an MLM export.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { RelationTokenizer } from "../src/encoding";
import { isLinearWeight, loadPretrained, shapeConfig, transpose2d } from "../src/model";
import { categoricalSampler, discriminatorHeadShapes, Electra, isElectraLinear } from "../src/model/electra";
import { Rng } from "../src/random";
import { runPretrain, type PretrainConfig } from "../src/pretrain/pretrain";
import { maxAbs, maxAbsDiff, PRETRAIN_SENTENCES, tinyPretrainConfig } from "./helpers";

const ready = initBackend({ verbose: false });

interface Fixture {
  config: { V: number; H: number; L: number; heads: number; I: number; P: number; genHidden: number; genLayers: number; genHeads: number; genIntermediate: number; discWeight: number };
  B: number;
  T: number;
  originalIds: number[];
  maskedIds: number[];
  attentionMask: number[];
  positions: number[];
  sampled: number[];
  replaced: number;
  params: Record<string, { shape: number[]; data: number[] }>;
  genLogits: number[];
  discLogits: number[];
  genLoss: number;
  discLoss: number;
  total: number;
  grads: Record<string, number[]>;
}

const linear = (k: string): boolean => isLinearWeight(k) || isElectraLinear(k);

test("ELECTRA loss and gradients match PyTorch (generator MLM + 50 × discriminator BCE, shared embeddings, embeddings_project)", async () => {
  await ready;
  const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/pretrain/electra.json"), "utf8")) as Fixture;
  const c = fx.config;
  const config = { ...shapeConfig("tiny", c.V), hidden_size: c.H, num_hidden_layers: c.L, num_attention_heads: c.heads, intermediate_size: c.I, max_position_embeddings: c.P, layer_norm_eps: 1e-12 };
  const e = new Electra(config, { hidden: c.genHidden, layers: c.genLayers, heads: c.genHeads, intermediate: c.genIntermediate }, { seed: 1, discWeight: c.discWeight });
  assert.deepEqual([...e.params.keys()].sort(), Object.keys(fx.params).sort(), "the same parameters under the same keys");
  for (const [k, v] of e.params) {
    const { shape, data } = fx.params[k];
    const stored = linear(k) ? transpose2d(Float32Array.from(data), shape[0], shape[1]) : Float32Array.from(data);
    v.assign(tf.tensor(stored, v.shape));
  }
  const batch = {
    B: fx.B,
    T: fx.T,
    maskedIds: Int32Array.from(fx.maskedIds),
    originalIds: Int32Array.from(fx.originalIds),
    attentionMask: Int32Array.from(fx.attentionMask),
    positions: Int32Array.from(fx.positions),
  };
  let seen: Float32Array | null = null;
  const sample = (logits: Float32Array): Int32Array => {
    seen = logits.slice();
    return Int32Array.from(fx.sampled);
  };
  let replaced = -1;
  const { value, grads } = tf.variableGrads(() => {
    const r = e.losses(batch, { training: false, seed: 0, sample });
    replaced = r.replaced;
    return r.total;
  }, [...e.params.values()]);
  const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);
  const total = value.dataSync()[0];
  assert.ok(rel(total, fx.total) < 1e-5, `total ${total} vs ${fx.total}`);
  assert.equal(replaced, fx.replaced, "a sample equal to the original is not a replacement");
  assert.ok(maxAbsDiff(seen!, fx.genLogits) < 1e-4 * maxAbs(fx.genLogits), "the sampler sees the generator's logits");
  // gradients: relative to each tensor's largest entry
  let worst = 0;
  let worstKey = "";
  for (const [k, v] of e.params) {
    const g = grads[v.name];
    assert.ok(g, `no gradient for ${k}`);
    const { shape } = fx.params[k];
    const data = g.dataSync() as Float32Array;
    const hf = linear(k) ? transpose2d(data, shape[1], shape[0]) : data;
    const ref = fx.grads[k];
    // key biases get an exact zero gradient (softmax ignores a per-query constant): compared absolutely
    const d = maxAbsDiff(hf, ref);
    if (maxAbs(ref) < 1e-8) assert.ok(d < 1e-6, `${k}: gradient ${d} where PyTorch has 0`);
    else {
      const r = d / maxAbs(ref);
      if (r > worst) [worst, worstKey] = [r, k];
    }
  }
  assert.ok(worst < 1e-5, `largest gradient error ${worst} (${worstKey})`);
  // the parts, through the same path
  const parts = tf.tidy(() => {
    const r = e.losses(batch, { training: false, seed: 0, sample });
    return [r.genLoss.dataSync()[0], r.discLoss.dataSync()[0]];
  });
  assert.ok(rel(parts[0], fx.genLoss) < 1e-5 && rel(parts[1], fx.discLoss) < 1e-5, `gen ${parts[0]} vs ${fx.genLoss}, disc ${parts[1]} vs ${fx.discLoss}`);
  console.log(`# ELECTRA parity: total ${total} vs ${fx.total} (rel ${rel(total, fx.total).toExponential(1)}), largest gradient error ${worst.toExponential(1)} of the tensor's max (${worstKey})`);
  tf.dispose([value, ...Object.values(grads)]);
  e.dispose();
});

test("ELECTRA sampler: the softmax's frequencies, banned ids never drawn, repeatable by seed", () => {
  const V = 6;
  const logits = Float32Array.from([0, Math.log(2), Math.log(3), 5, -1, Math.log(4)]);
  const N = 20000;
  const rows = new Float32Array(N * V);
  for (let r = 0; r < N; r++) rows.set(logits, r * V);
  const banned = new Set([3, 4]);
  const s = categoricalSampler(new Rng(1), banned)(rows, N, V);
  const counts = new Array(V).fill(0);
  for (const x of s) counts[x]++;
  assert.equal(counts[3] + counts[4], 0);
  // p ∝ 1, 2, 3, 4 over ids 0, 1, 2, 5
  [[0, 0.1], [1, 0.2], [2, 0.3], [5, 0.4]].forEach(([id, p]) => assert.ok(Math.abs(counts[id] / N - p) < 0.015, `id ${id}: ${counts[id] / N} vs ${p}`));
  assert.deepEqual(categoricalSampler(new Rng(7), banned)(rows, 50, V), categoricalSampler(new Rng(7), banned)(rows, 50, V));
});

test("ELECTRA pre-training: the discriminator learns, the export is a BERT checkpoint fine-tuning loads; --init-from an MLM export", async () => {
  await ready;
  const rng = new Rng(9);
  const texts = Array.from({ length: 64 }, (_, i) => PRETRAIN_SENTENCES[i % PRETRAIN_SENTENCES.length].slice(rng.int(6)));
  const cfg: PretrainConfig = tinyPretrainConfig({ totalSteps: 30 }, true);
  const quiet = { log: () => undefined };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-electra-"));
  const t = await runPretrain(cfg, texts, path.join(dir, "work"), quiet);
  const curve = t.state.curve;
  const first = curve[0];
  const last = curve[curve.length - 1];
  assert.ok(first.discLoss !== undefined && last.discLoss !== undefined && last.replaced! > 0.05, JSON.stringify(last));
  // the discriminator beats "always original" (accuracy 1 − replaced) by the end, and its loss fell
  assert.ok(last.discLoss! < first.discLoss!, `disc loss ${first.discLoss} -> ${last.discLoss}`);
  assert.ok(last.loss < first.loss, `gen loss ${first.loss} -> ${last.loss}`);
  const out = path.join(dir, "export");
  await t.export(out);
  const conf = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8")) as { model_type: string; medrel: { pretrain: { objective: string } } };
  assert.equal(conf.model_type, "bert");
  assert.equal(conf.medrel.pretrain.objective, "electra");
  const tok = RelationTokenizer.fromDir(out);
  const loaded = await loadPretrained(out, { numLabels: 10, pooling: "entity_start", seed: 0, vocabSize: tok.vocabSize });
  assert.deepEqual(loaded.missingKeys.sort(), ["bert.pooler.dense.bias", "bert.pooler.dense.weight", "classifier.bias", "classifier.weight"]);
  assert.deepEqual(loaded.unexpectedKeys.sort(), [...discriminatorHeadShapes(32).keys()].sort(), "the generator is not exported");
  const w = loaded.model.params.get("bert.encoder.layer.0.output.dense.weight")!.dataSync();
  const w0 = t.model.params.get("bert.encoder.layer.0.output.dense.weight")!.dataSync();
  for (let i = 0; i < w.length; i += 31) assert.ok(Math.abs(w[i] - w0[i]) <= Math.abs(w0[i]) * 1e-3 + 1e-4, "the discriminator's weights, F16");
  loaded.model.dispose();
  t.dispose();

  // an MLM export continued as ELECTRA: the discriminator starts from its encoder, the generator fresh
  const mlmCfg: PretrainConfig = { ...cfg, objective: undefined, generator: undefined, maskProb: undefined, randomProb: undefined, totalSteps: 10 };
  const mlm = await runPretrain(mlmCfg, texts, path.join(dir, "mlm"), quiet);
  const mlmOut = path.join(dir, "mlm-export");
  await mlm.export(mlmOut);
  const q0 = mlm.model.params.get("bert.encoder.layer.0.attention.self.query.weight")!.dataSync().slice();
  mlm.dispose();
  const cont = await runPretrain({ ...cfg, totalSteps: 11 }, texts, path.join(dir, "cont"), { ...quiet, stopAtStep: 10, initFrom: { dir: mlmOut, recreate: "npm run pretrain -- --steps 10" } });
  assert.equal(cont.state.step, 10);
  assert.deepEqual(cont.state.curve, [], "an MLM curve is not continued as ELECTRA's");
  const q1 = cont.model.params.get("bert.encoder.layer.0.attention.self.query.weight")!.dataSync();
  for (let i = 0; i < q1.length; i += 17) assert.ok(Math.abs(q1[i] - q0[i]) <= Math.abs(q0[i]) * 1e-3 + 1e-4, "the MLM encoder is the discriminator");
  cont.dispose();
});

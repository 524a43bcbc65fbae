/**
 * npm run bench:base — a `base`-shaped BERT (chinese-roberta-wwm-ext: L=12, H=768, 12 heads, V=21128,
 * 102M parameters) runs training steps on this machine: forward + backward + AdamW on a batch of real
 * study sentences, with the step time and the process's peak RSS.
 *   --batch 4 --max-length 64 --steps 2
 * The WASM backend keeps every tensor in one WebAssembly heap that tops out near 2 GB: weights, gradients and
 * the two AdamW moments of 102M parameters take 1.6 GB of it, so batch × length must stay small here
 * (measured: 4 × 64 fits, 8 × 64 and 4 × 128 do not). tfjs-node or a GPU have no such ceiling.
 */
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend, describeBackend } from "../src/backend/select";
import { loadRows } from "../src/data/load";
import { RelationTokenizer, encodeDataset } from "../src/encoding";
import { BertForRelationClassification, shapeConfig } from "../src/model";
import { AdamW, collate, batchInputs, crossEntropy } from "../src/train";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function main(): Promise<void> {
  const B = arg("batch", 4);
  const T = arg("max-length", 64);
  const steps = arg("steps", 2);
  const info = await initBackend({ verbose: false });
  console.log(describeBackend(info));
  const shared = path.resolve(__dirname, "..", "..", "shared", "data");
  const tok = RelationTokenizer.fromVocabFile(path.join(shared, "bert-base-chinese-vocab.txt"));
  const rows = loadRows(path.join(shared, "study_train.jsonl"), { mode: "lenient" }).rows.slice(0, B);
  const { encoded } = encodeDataset(tok, rows, { encoding: "Entity_marked2", maxLength: T });
  const config = shapeConfig("base", tok.vocabSize);
  const t0 = Date.now();
  const model = new BertForRelationClassification(config, { numLabels: 10, pooling: "cls", seed: 0 });
  console.log(`base model: ${model.numParameters().toLocaleString("en")} parameters, built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const params = new Map([...model.params].filter(([, v]) => v.trainable));
  const opt = new AdamW(params, { lr: 1e-5 });
  const batch = collate(encoded, encoded.map((_, i) => i), config.pad_token_id);
  const labels = tf.tensor1d(encoded.map((e) => e.label as number), "int32");
  for (let s = 0; s < steps; s++) {
    const t = Date.now();
    const inputs = batchInputs(batch);
    const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(inputs, { training: true, dropoutSeed: s }).logits, labels), [...params.values()]);
    const loss = (await value.data())[0];
    opt.step(new Map(Object.entries(grads)));
    tf.dispose([value, ...Object.values(grads), ...Object.values(inputs)]);
    console.log(`step ${s + 1}: batch ${B} x ${batch.seqLen} tokens, loss ${loss.toFixed(4)}, ${((Date.now() - t) / 1000).toFixed(2)} s`);
  }
  const rss = process.resourceUsage().maxRSS / 1024 / 1024;
  console.log(`peak RSS ${rss.toFixed(2)} GiB (machine: 24 GiB)`);
}

main().catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

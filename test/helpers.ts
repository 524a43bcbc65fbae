/** Numeric comparisons shared by the test files (against PyTorch / scikit-learn / scipy fixtures), and the fixtures' batch as model inputs. */
import assert from "node:assert/strict";
import type * as TF from "@tensorflow/tfjs";
import type { Metrics } from "../src/metrics";
import type { ModelInputs } from "../src/model";
import type { PretrainConfig } from "../src/pretrain/state";

/** A run's score as tables and readings read it, written by hand (src/runs/record.ts scoresOf makes them from runs). */
export interface RunScore {
  variant: string;
  seed: number;
  metrics: Metrics;
  split?: string;
}

/** The largest |a[i] − b[i]| (lengths must match). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "length mismatch");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The largest |a[i]|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Assert actual ≈ expected elementwise: |Δ| ≤ tol · max(1, |expected|) ("rel": absolute near 0, relative for large
 * values) or |Δ| ≤ tol ("abs"); scalars are compared as one-element arrays.
 */
export function assertClose(actual: number | ArrayLike<number>, expected: number | ArrayLike<number>, tol: number, what: string, mode: "rel" | "abs" = "rel"): void {
  const a = typeof actual === "number" ? [actual] : actual;
  const e = typeof expected === "number" ? [expected] : expected;
  assert.equal(a.length, e.length, `${what}: length`);
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    assert.ok(d <= (mode === "abs" ? tol : tol * Math.max(1, Math.abs(e[i]))), `${what}${e.length > 1 ? `[${i}]` : ""}: ${a[i]} vs ${e[i]} (|Δ| ${d}, tol ${tol})`);
  }
}

/** SIGKILL `child` as soon as `ready()` holds (polled every 20 ms); rejects if the child exits first. */
export function killWhen(child: import("node:child_process").ChildProcess, ready: () => boolean, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (!ready()) return;
      clearInterval(t);
      child.kill("SIGKILL");
      resolve();
    }, 20);
    child.on("exit", () => {
      clearInterval(t);
      reject(new Error(`the run finished before it could be killed (${what})`));
    });
  });
}

/** A batch as test/fixtures/parity/make_fixture.py and make_legacy.py write it (their expected.json's "batch"). */
export interface FixtureBatch {
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
  head_pos: number[];
  tail_pos: number[];
  /** entity_span pooling: one past each span's last token (absent from the legacy fixture) */
  head_end?: number[];
  tail_end?: number[];
}

/** The fixture's batch as model inputs, with the span ends where it has them. */
export function fixtureInputs(b: FixtureBatch): ModelInputs {
  // loaded here, not at the top: the numeric helpers above serve tests that never load TensorFlow.js
  const tf = require("@tensorflow/tfjs") as typeof TF;
  return {
    inputIds: tf.tensor2d(b.input_ids, undefined, "int32"),
    tokenTypeIds: tf.tensor2d(b.token_type_ids, undefined, "int32"),
    attentionMask: tf.tensor2d(b.attention_mask, undefined, "int32"),
    headPos: tf.tensor1d(b.head_pos, "int32"),
    tailPos: tf.tensor1d(b.tail_pos, "int32"),
    ...(b.head_end && b.tail_end ? { headEnd: tf.tensor1d(b.head_end, "int32"), tailEnd: tf.tensor1d(b.tail_end, "int32") } : {}),
  };
}

/** Short medical sentences for the pre-training tests (corpus, masking, tiny runs). */
export const PRETRAIN_SENTENCES = [
  "食物中毒@发热可能由细菌感染引起，患者常伴有腹痛、腹泻和呕吐。",
  "慢性肾病@进行眼底检查十分必要，因为其有助于诊断高血压视网膜病变。",
  "糖尿病患者应定期监测血糖，并接受胰岛素治疗以控制病情。",
  "小儿肺炎的主要临床表现为发热、咳嗽和呼吸困难，胸部X线检查可见片状阴影。",
  "高血压的并发症包括脑卒中、心力衰竭和肾功能不全。",
  "新生儿黄疸多数为生理性，可通过光疗治疗，严重者需换血。",
];

/**
 * The pre-training tests' tiny config (1 layer × 32, 48 tokens, batch 16), `over` on top; with `electra`, the
 * ELECTRA fields of those tests (a generator 1 × 8, 85% [MASK], no random replacement).
 */
export function tinyPretrainConfig(over: Partial<PretrainConfig> = {}, electra = false): PretrainConfig {
  // loaded here, not at the top: the numeric helpers above serve tests that never load TensorFlow.js
  const { DEFAULT_PRETRAIN_CONFIG } = require("../src/pretrain/pretrain") as typeof import("../src/pretrain/pretrain");
  return {
    ...DEFAULT_PRETRAIN_CONFIG,
    shape: { layers: 1, hidden: 32, heads: 2, intermediate: 64, maxPosition: 64 },
    maxLength: 48,
    batchSize: 16,
    lr: 5e-3,
    warmupRatio: 0.1,
    minFreq: 1,
    saveEvery: 10,
    logEvery: 5,
    seed: 3,
    ...(electra ? { objective: "electra" as const, generator: { hidden: 8, layers: 1, heads: 1, intermediate: 32 }, maskProb: 0.85, randomProb: 0 } : {}),
    ...over,
  };
}

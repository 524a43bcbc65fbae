/**
 * The instant preview of a decision rule: re-score a run's saved class probabilities as argmax_c(w_c · p_c) with one
 * weight per class and watch per-class F1, Macro-F1 and Micro-F1 move. No model is retrained: it shows what moving
 * the decision thresholds alone does. The HTML carries its own data and script (no kernel round-trip), so it works in
 * a live notebook, in the exported HTML and in any browser. The TypeScript rule here and the page's script are
 * written separately on purpose; the tests check one against the other.
 */
import { LABELS, LABEL_NAMES, labelIndex, normalizeLabel } from "../data/labels";
import { classificationMetrics, type Metrics } from "../metrics";
import type { Prediction } from "../runs/record";
import { escapeHtml } from "./display";
import { ReportInputError } from "./tables";

/** Gold label indices and class probabilities (label order) of one split. */
export interface ProbSplit {
  gold: number[];
  probs: number[][];
}

/** Saved predictions (predictions-<split>.jsonl rows) as gold indices and probabilities. */
export function predictionsToSplit(rows: readonly Prediction[]): ProbSplit {
  return {
    gold: rows.map((r, i) => {
      const l = normalizeLabel(r.label);
      if (!l) throw new ReportInputError(`prediction row ${i} (id ${r.id}): unknown label "${r.label}"`);
      return labelIndex(l);
    }),
    probs: rows.map((r, i) => {
      if (r.probs.length !== LABELS.length) throw new ReportInputError(`prediction row ${i} (id ${r.id}): ${r.probs.length} probabilities, expected ${LABELS.length}`);
      return r.probs;
    }),
  };
}

/** Probabilities rounded to 1e-4: what the preview page embeds (and so what it re-scores). */
export function quantizeProbs(split: ProbSplit): ProbSplit {
  return { gold: split.gold, probs: split.probs.map((row) => row.map((p) => Math.round(p * 1e4) / 1e4)) };
}

/** argmax_c(w_c · p_c) per row; the first class wins a tie (numpy's argmax). */
export function rescoreDecision(probs: readonly (readonly number[])[], weights: readonly number[]): number[] {
  return probs.map((row, i) => {
    if (row.length !== weights.length) throw new ReportInputError(`rescoreDecision: row ${i} has ${row.length} probabilities for ${weights.length} weights`);
    let best = 0;
    for (let c = 1; c < row.length; c++) if (weights[c] * row[c] > weights[best] * row[best]) best = c;
    return best;
  });
}

/** The metrics of a split under the decision weights (scikit-learn semantics, as every run's metrics). */
export function decisionRuleMetrics(split: ProbSplit, weights: readonly number[]): Metrics {
  return classificationMetrics(split.gold, rescoreDecision(split.probs, weights));
}

/** Decision weights by label (any accepted spelling; missing labels 1) as a vector in label order. */
export function weightVector(weights: Readonly<Record<string, number>>): number[] {
  const out = LABEL_NAMES.map(() => 1);
  for (const [k, w] of Object.entries(weights)) {
    const l = normalizeLabel(k);
    if (!l) throw new ReportInputError(`decision weights: unknown label "${k}"`);
    out[labelIndex(l)] = w;
  }
  return out;
}

export interface DecisionPreviewOptions {
  /** the splits to re-score, by name; the first is shown first: the selection split, e.g. { selection, test } */
  splits: Readonly<Record<string, ProbSplit>>;
  /** the split the tables report: offered only as an explicit choice, marked as not for tuning */
  reported?: string;
  /** what the probabilities are, e.g. "the unweighted run 44e13eb3d3be (seed 0)" */
  source: string;
  /** the retraining call, with `__WEIGHTS__` where the weights map goes */
  retrainCode: string;
  /** element id (default a fresh one) */
  id?: string;
}

let previewCounter = 0;
const token = `${process.pid.toString(36)}${Date.now().toString(36)}`;

/** JSON safe inside a <script> element. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

const TD = "border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap";

/** The page's rule, metrics and drawing: plain ES2015, no library. */
const PREVIEW_SCRIPT = String.raw`
function medrelDecisionPreview(root, D) {
  var K = D.labels.length;
  var splits = {};
  D.order.forEach(function (name) {
    var s = D.splits[name], n = s.gold.length, p = new Float64Array(n * K);
    for (var i = 0; i < n * K; i++) p[i] = s.q[i] / 10000;
    splits[name] = { gold: s.gold, p: p, n: n };
  });
  function metrics(s, w) {
    var tp = new Array(K).fill(0), fp = new Array(K).fill(0), fn = new Array(K).fill(0);
    for (var i = 0; i < s.n; i++) {
      var best = 0, o = i * K;
      for (var c = 1; c < K; c++) if (w[c] * s.p[o + c] > w[best] * s.p[o + best]) best = c;
      var g = s.gold[i];
      if (best === g) tp[g]++; else { fp[best]++; fn[g]++; }
    }
    var f1 = [], sum = 0, TP = 0, FP = 0, FN = 0;
    for (var k = 0; k < K; k++) {
      var d = 2 * tp[k] + fp[k] + fn[k];
      f1.push(d === 0 ? 0 : (2 * tp[k]) / d);
      sum += f1[k]; TP += tp[k]; FP += fp[k]; FN += fn[k];
    }
    var dm = 2 * TP + FP + FN;
    return { f1: f1, macro: sum / K, micro: dm === 0 ? 0 : (2 * TP) / dm };
  }
  var sliders = root.querySelectorAll("input.medrel-w");
  var ones = new Array(K).fill(1);
  var current = D.order[0];
  function weights() {
    var w = [];
    for (var c = 0; c < K; c++) w.push(Math.round(Math.pow(2, Number(sliders[c].value)) * 100) / 100);
    return w;
  }
  function pct(x) { return (100 * x).toFixed(2); }
  function signed(x) { var s = (100 * x).toFixed(2); return x >= 0 && s.charAt(0) !== "-" ? "+" + s : s; }
  function draw() {
    var s = splits[current], w = weights(), base = metrics(s, ones), now = metrics(s, w);
    for (var c = 0; c < K; c++) {
      var row = root.querySelector('tr[data-class="' + c + '"]');
      row.querySelector(".medrel-wv").textContent = w[c].toFixed(2);
      row.querySelector(".medrel-f1-base").textContent = pct(base.f1[c]);
      row.querySelector(".medrel-f1").textContent = pct(now.f1[c]);
      row.querySelector(".medrel-f1").setAttribute("data-value", String(now.f1[c]));
      var d = now.f1[c] - base.f1[c];
      var cell = row.querySelector(".medrel-f1-diff");
      cell.textContent = signed(d);
      cell.style.color = d > 1e-12 ? "#1a7f37" : d < -1e-12 ? "#cf222e" : "#555";
      row.querySelector(".medrel-bar").style.width = (160 * now.f1[c]).toFixed(1) + "px";
      row.querySelector(".medrel-bar-base").style.left = (160 * base.f1[c]).toFixed(1) + "px";
    }
    var m = root.querySelector(".medrel-macro"), u = root.querySelector(".medrel-micro");
    m.textContent = pct(base.macro) + " \u2192 " + pct(now.macro) + " (" + signed(now.macro - base.macro) + ")";
    m.setAttribute("data-value", String(now.macro));
    u.textContent = pct(base.micro) + " \u2192 " + pct(now.micro) + " (" + signed(now.micro - base.micro) + ")";
    u.setAttribute("data-value", String(now.micro));
    var map = {};
    for (var k = 0; k < K; k++) if (w[k] !== 1) map[D.labels[k]] = w[k];
    root.querySelector(".medrel-code").textContent = D.code.replace("__WEIGHTS__", JSON.stringify(map));
  }
  for (var c = 0; c < K; c++) sliders[c].addEventListener("input", draw);
  root.querySelectorAll("input.medrel-split").forEach(function (r) {
    r.addEventListener("change", function () { current = r.value; draw(); });
  });
  root.querySelector(".medrel-reset").addEventListener("click", function () {
    for (var c = 0; c < K; c++) sliders[c].value = "0";
    draw();
  });
  draw();
}`;

/**
 * The preview as one HTML block: a slider per class (w_c from 0.25 to 4, log scale, 1 in the middle), per-class F1
 * at w = 1 and now, Macro/Micro-F1, and the retraining call with the chosen weights, redrawn as a slider moves.
 */
export function decisionPreviewHtml(opts: DecisionPreviewOptions): string {
  const order = Object.keys(opts.splits);
  if (order.length === 0) throw new ReportInputError("decisionPreviewHtml: no split to re-score");
  const id = opts.id ?? `medrel-preview-${token}-${++previewCounter}`;
  const data = {
    labels: LABEL_NAMES,
    order,
    code: opts.retrainCode,
    splits: Object.fromEntries(
      order.map((name) => {
        const s = opts.splits[name];
        if (s.gold.length !== s.probs.length) throw new ReportInputError(`decisionPreviewHtml: split ${name} has ${s.gold.length} labels and ${s.probs.length} probability rows`);
        return [name, { gold: s.gold, q: s.probs.flatMap((row) => row.map((p) => Math.round(p * 1e4))) }];
      }),
    ),
  };
  if (opts.reported !== undefined && order[0] === opts.reported && order.length > 1) {
    throw new ReportInputError(`decisionPreviewHtml: the reported split "${opts.reported}" must not be the one shown first (tune on the selection split)`);
  }
  const note = (name: string): string => (name === opts.reported ? ", the reported split: look, do not tune" : name === "selection" ? ", where tuning belongs" : "");
  const radios = order
    .map((name, i) => `<label style="margin-right:1em;white-space:nowrap"><input type="radio" class="medrel-split" name="${id}-split" value="${escapeHtml(name)}"${i === 0 ? " checked" : ""}> ${escapeHtml(name)} (${opts.splits[name].gold.length} rows${note(name)})</label>`)
    .join("");
  const rows = LABELS.map(
    (l, c) =>
      `<tr data-class="${c}"><td style="${TD};text-align:left">${escapeHtml(`${l.zh} ${l.en}`)}</td>` +
      `<td style="${TD}"><input type="range" class="medrel-w" min="-2" max="2" step="0.05" value="0" aria-label="decision weight of ${escapeHtml(l.en)}" style="width:150px"></td>` +
      `<td style="${TD}" class="medrel-wv">1.00</td><td style="${TD}" class="medrel-f1-base"></td><td style="${TD}" class="medrel-f1"></td><td style="${TD}" class="medrel-f1-diff"></td>` +
      `<td style="${TD};text-align:left;width:170px"><div style="position:relative;height:12px;width:160px;background:#f2f2f2">` +
      `<div class="medrel-bar" style="position:absolute;left:0;top:0;height:12px;background:#4c78a8"></div>` +
      `<div class="medrel-bar-base" style="position:absolute;top:-2px;width:2px;height:16px;background:#222"></div></div></td></tr>`,
  ).join("");
  const head = ["class", "decision weight w_c (0.25–4)", "w_c", "F1 at w = 1", "F1 now", "Δ F1", "F1 now (bar), w = 1 (tick)"]
    .map((h) => `<th style="${TD};text-align:center;background:#f3f3f3">${escapeHtml(h)}</th>`)
    .join("");
  return [
    `<div id="${id}" class="medrel-preview" style="border:2px solid #e0a800;border-radius:6px;padding:10px 14px;margin:8px 0;font-size:13px;max-width:100%;overflow-x:auto">`,
    `<div style="font-weight:bold;font-size:15px">Preview of the decision rule, not retraining</div>`,
    `<p style="margin:4px 0">The saved probabilities p of ${escapeHtml(opts.source)} are re-scored as argmax<sub>c</sub>(w<sub>c</sub>·p<sub>c</sub>) as you drag (probabilities rounded to 1e-4). ` +
      `Nothing is retrained: this is what moving the decision thresholds alone does. Class weights in the loss change the model itself; the call below retrains with these weights for the real effect. ` +
      `Weights chosen by eye are tuned on the split you look at: tune on the selection split, and open the reported one only to read it.</p>`,
    `<div style="margin:4px 0">split: ${radios} <button type="button" class="medrel-reset">reset to 1</button></div>`,
    `<table style="border-collapse:collapse"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`,
    `<div style="margin:6px 0">Macro-F1 (w = 1 → now): <b class="medrel-macro"></b> &nbsp; Micro-F1: <b class="medrel-micro"></b></div>`,
    `<div>retrain with these weights (weights of 1 left out):</div><pre class="medrel-code" style="background:#f6f8fa;padding:6px;white-space:pre-wrap;margin:2px 0"></pre>`,
    `</div>`,
    `<script type="text/javascript">(function () {${PREVIEW_SCRIPT}\nvar root = document.getElementById(${scriptJson(id)}); if (root) medrelDecisionPreview(root, ${scriptJson(data)});})();</script>`,
  ].join("\n");
}

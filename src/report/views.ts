/**
 * DataFrames the notebooks show about data and encodings (the study tables live in tables.ts).
 * Each returns a danfo DataFrame; notebooks pass it to showTable().
 */
import type { DataFrame } from "danfojs-node";
import { loadDanfo } from "./danfo";
import { LABELS } from "../data/labels";
import type { Dataset, Row } from "../data/types";
import type { LoadReport } from "../data/checks";
import { describeRows } from "../data/describe";
import type { SplitOverlap } from "../data/split";
import { renderEncoding, encodeRowWithInfo, type RelationTokenizer } from "../encoding";
import { STUDY_ENCODINGS, type EncodingName } from "../encoding/types";
import type { Metrics } from "../metrics";
import type { AugmentReport } from "../augment/augment";
import { escapeHtml } from "./display";

/** Rows per label in each split (counts), labels in the study's order with English names. */
export function labelDistribution(ds: Dataset): DataFrame {
  const { DataFrame } = loadDanfo();
  const count = (rows: Row[], zh: string): number => rows.filter((r) => r.r === zh).length;
  return new DataFrame({
    label: LABELS.map((l) => l.zh),
    english: LABELS.map((l) => l.en),
    train: LABELS.map((l) => count(ds.train, l.zh)),
    dev: LABELS.map((l) => count(ds.dev, l.zh)),
    test: LABELS.map((l) => count(ds.test, l.zh)),
  });
}

/** One row rendered under each encoding: the text the model sees, its tokens and the entity positions. */
export function encodingExamples(
  row: Row,
  tokenizer: RelationTokenizer,
  opts: { encodings?: readonly EncodingName[]; faithful?: boolean; maxLength?: number; maxTokens?: number } = {},
): DataFrame {
  const { DataFrame } = loadDanfo();
  const encs = opts.encodings ?? STUDY_ENCODINGS;
  const maxTokens = opts.maxTokens ?? 40;
  const out = encs.map((e) => {
    const text = renderEncoding(row, e, { faithful: opts.faithful });
    const { encoded, info } = encodeRowWithInfo(tokenizer, row, { encoding: e, maxLength: opts.maxLength, faithful: opts.faithful });
    const toks = encoded.inputIds.map((id) => tokenizer.idToToken(id) ?? "?");
    return {
      encoding: e,
      text,
      tokens: toks.slice(0, maxTokens).join(" ") + (toks.length > maxTokens ? " …" : ""),
      length: encoded.inputIds.length,
      head_pos: `${encoded.headPos} (${toks[encoded.headPos]})`,
      tail_pos: `${encoded.tailPos} (${toks[encoded.tailPos]})`,
      truncated: info.truncated,
    };
  });
  return new DataFrame(out);
}

/** What a (lenient) load kept, skipped and warned about, one line per reason. */
export function loadReportTable(report: LoadReport): DataFrame {
  const { DataFrame } = loadDanfo();
  const kinds = Object.keys(report.counts).filter((k) => report.counts[k as keyof typeof report.counts] > 0);
  const rows = kinds.map((k) => {
    const key = k as keyof typeof report.counts;
    const issues = report.issues.filter((i) => i.kind === key);
    return {
      reason: k,
      severity: (issues[0]?.severity ?? "") as string,
      rows: report.counts[key],
      dropped: report.droppedByKind[key],
      example: issues[0]?.message ?? "",
    };
  });
  if (rows.length === 0) rows.push({ reason: "(none)", severity: "", rows: 0, dropped: 0, example: `all ${report.kept} rows kept` });
  return new DataFrame(rows);
}

/** Length and entity statistics per split. */
export function splitStats(ds: Dataset): DataFrame {
  const { DataFrame } = loadDanfo();
  const splits = (["train", "dev", "test"] as const).filter((s) => ds[s].length > 0);
  return new DataFrame(
    splits.map((s) => {
      const d = describeRows(ds[s]);
      return {
        split: s,
        rows: d.rows,
        sentences: d.sentences,
        mean_chars: Math.round(d.length.mean * 10) / 10,
        p90_chars: d.length.p90,
        max_chars: d.length.max,
        entities_per_sentence: Math.round(d.entitiesPerSentence.mean * 100) / 100,
        at_prefix: `${(100 * d.atPrefixShare).toFixed(2)}%`,
        repeated_head: `${(100 * d.repeatedHeadShare).toFixed(2)}%`,
      };
    }),
  );
}

/** How many sentences mention k distinct entities (over all rows sharing the sentence), and rows per sentence. */
export function entitiesPerSentenceTable(rows: Row[]): DataFrame {
  const { DataFrame } = loadDanfo();
  const d = describeRows(rows);
  const ks = Object.keys(d.entitiesPerSentence.histogram).map(Number).sort((a, b) => a - b);
  const total = ks.reduce((a, k) => a + d.entitiesPerSentence.histogram[k], 0);
  return new DataFrame({
    entities: ks.map((k) => String(k)),
    sentences: ks.map((k) => d.entitiesPerSentence.histogram[k]),
    share: ks.map((k) => `${((100 * d.entitiesPerSentence.histogram[k]) / total).toFixed(2)}%`),
  });
}

/** Sentences shared between splits, one line per pair of splits. */
export function overlapTable(o: SplitOverlap): DataFrame {
  const { DataFrame } = loadDanfo();
  const pairs = [o.trainDev, o.trainTest, o.devTest];
  return new DataFrame({
    splits: pairs.map((p) => `${p.a} ∩ ${p.b}`),
    shared_sentences: pairs.map((p) => p.sentences),
    rows_in_first: pairs.map((p) => p.rowsA),
    rows_in_second: pairs.map((p) => p.rowsB),
    example: pairs.map((p) => p.examples[0] ?? ""),
  });
}

/** Run a load and say what happened: the row count, or the error's own message (file, line, field). */
export function tryLoad(load: () => { rows: unknown[] }): string {
  try {
    return `loaded ${load().rows.length} rows`;
  } catch (e) {
    return `${e instanceof Error ? e.name : "Error"}: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** One run's per-class precision, recall and F1 in % (two decimals) and support, then the macro and micro rows. */
export function runMetricsTable(m: Metrics): DataFrame {
  const { DataFrame } = loadDanfo();
  const pct = (x: number): string => (100 * x).toFixed(2);
  const labels = LABELS.filter((l) => m.per_class[l.zh]);
  const c = labels.map((l) => m.per_class[l.zh]);
  return new DataFrame(
    {
      label: [...labels.map((l) => l.en), "", ""],
      precision: [...c.map((x) => pct(x.precision)), pct(m.macro_precision), ""],
      recall: [...c.map((x) => pct(x.recall)), pct(m.macro_recall), ""],
      F1: [...c.map((x) => pct(x.f1)), pct(m.macro_f1), pct(m.micro_f1)],
      support: [...c.map((x) => x.support), m.n, m.n],
    },
    { index: [...labels.map((l) => l.zh as string), "macro average", "micro (= accuracy)"] },
  );
}

const HEAD_CHIP = "#ffd166";
const TAIL_CHIP = "#9bd0ff";

/**
 * One row under each encoding as token chips (token over its id): the head's span shaded in one colour and the
 * tail's in another, the start positions outlined. `entity_span` pooling reads the hidden states at the two
 * outlined positions and the mean over each shaded span; `cls` pooling reads position 0 only.
 */
export function encodingPositionsHtml(
  row: Row,
  tokenizer: RelationTokenizer,
  opts: { encodings?: readonly EncodingName[]; maxLength?: number; maxTokens?: number } = {},
): string {
  const maxTokens = opts.maxTokens ?? 64;
  const blocks = (opts.encodings ?? STUDY_ENCODINGS).map((e) => {
    const { encoded } = encodeRowWithInfo(tokenizer, row, { encoding: e, maxLength: opts.maxLength });
    const headEnd = encoded.headEnd ?? encoded.headPos + 1;
    const tailEnd = encoded.tailEnd ?? encoded.tailPos + 1;
    const chips = encoded.inputIds.slice(0, maxTokens).map((id, i) => {
      const inHead = i >= encoded.headPos && i < headEnd;
      const inTail = i >= encoded.tailPos && i < tailEnd;
      const bg = inHead ? HEAD_CHIP : inTail ? TAIL_CHIP : "#f4f4f4";
      const outline = i === encoded.headPos || i === encoded.tailPos ? "border:2px solid #222" : "border:1px solid #ddd";
      return (
        `<span style="display:inline-block;text-align:center;margin:1px;padding:1px 3px;background:${bg};${outline};border-radius:3px;font-size:12px">` +
        `${escapeHtml(tokenizer.idToToken(id) ?? "?")}<br><span style="color:#666;font-size:10px">${id}</span></span>`
      );
    });
    const more = encoded.inputIds.length > maxTokens ? ` … (${encoded.inputIds.length} tokens)` : "";
    return (
      `<div style="margin:6px 0"><div><b>${escapeHtml(e)}</b>: <code>${escapeHtml(renderEncoding(row, e))}</code></div>` +
      `<div style="line-height:1.1">${chips.join("")}${escapeHtml(more)}</div>` +
      `<div style="font-size:12px;color:#444">head start ${encoded.headPos}, span [${encoded.headPos}, ${headEnd}); tail start ${encoded.tailPos}, span [${encoded.tailPos}, ${tailEnd})</div></div>`
    );
  });
  const legend =
    `<div style="font-size:12px"><span style="background:${HEAD_CHIP};padding:0 4px">head span</span> <span style="background:${TAIL_CHIP};padding:0 4px">tail span</span> ` +
    `<span style="border:2px solid #222;padding:0 4px">start position</span> — entity_span pooling reads the two start positions and the mean of each span; cls pooling reads position 0.</div>`;
  return `<div style="max-width:100%;overflow-x:auto">${legend}${blocks.join("")}</div>`;
}

/** Rows per class in each batch (e.g. { balanced: rows, priority: rows }), labels in the study's order. */
export function batchComposition(batches: Readonly<Record<string, readonly Row[]>>): DataFrame {
  const { DataFrame } = loadDanfo();
  const cols: Record<string, (string | number)[]> = { label: [...LABELS.map((l) => l.en), "batch size"] };
  for (const [name, rows] of Object.entries(batches)) {
    cols[name] = [...LABELS.map((l) => rows.filter((r) => r.r === l.zh).length), rows.length];
  }
  return new DataFrame(cols, { index: [...LABELS.map((l) => l.zh as string), "all"] });
}

/** What text augmentation added to a train split, per class: the rows it had and the copies each strategy made. */
export function augmentReportTable(reports: Readonly<Record<string, AugmentReport>>): DataFrame {
  const { DataFrame } = loadDanfo();
  const first = Object.values(reports)[0];
  if (!first) throw new Error("augmentReportTable: no report");
  const cols: Record<string, (string | number)[]> = {
    label: LABELS.map((l) => l.en),
    "train rows": LABELS.map((l) => first.originalPerClass[l.zh] ?? 0),
  };
  for (const [name, r] of Object.entries(reports)) cols[`+ ${name}`] = LABELS.map((l) => r.addedPerClass[l.zh] ?? 0);
  return new DataFrame(cols, { index: LABELS.map((l) => l.zh as string) });
}

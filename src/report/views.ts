/**
 * DataFrames the notebooks show about data and encodings (the study tables live in tables.ts).
 * Each returns a danfo DataFrame; notebooks pass it to showTable().
 */
import type { DataFrame } from "danfojs-node";
import { loadDanfo } from "./danfo";
import { LABELS } from "../data/labels";
import type { Dataset, Row } from "../data/types";
import type { LoadReport } from "../data/load";
import { describeRows } from "../data/describe";
import type { SplitOverlap } from "../data/split";
import { renderEncoding, encodeRowWithInfo, type RelationTokenizer } from "../encoding";
import { STUDY_ENCODINGS, type EncodingName } from "../encoding/types";

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
    const { encoded, info } = encodeRowWithInfo(tokenizer, row, { encoding: e, maxLength: opts.maxLength ?? 128, faithful: opts.faithful });
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
        at_prefix: `${(100 * d.atPrefixShare).toFixed(1)}%`,
        repeated_head: `${(100 * d.repeatedHeadShare).toFixed(1)}%`,
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
    share: ks.map((k) => `${((100 * d.entitiesPerSentence.histogram[k]) / total).toFixed(1)}%`),
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

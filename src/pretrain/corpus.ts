/**
 * The unlabeled pre-training corpus: the input TEXTS of the study's train rows and of CMeIE-V2 dev / unlabeled
 * test, deduplicated, with every evaluation sentence removed (val/dev, test and the selection slice of train).
 * Only the sentence/text field of each line enters the corpus — never `r`, `spo_list` or any other annotation;
 * labels are read only to cut the selection slice the same way fine-tuning does.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { datasetFiles, loadRows } from "../data/load";
import { DEFAULT_SELECTION, selectionSplit, type SelectionSpec } from "../data/selection";

export class CorpusError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
    message: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ""}${field ? ` (${field})` : ""}: ${message}`);
    this.name = "CorpusError";
  }
}

export interface CorpusSource {
  file: string;
  /** the one field read from each JSON line: study rows `sentence`, CMeIE `text` */
  field: "sentence" | "text";
}

/**
 * The key under which corpus texts are deduplicated and matched against evaluation sentences: NFKC, no
 * whitespace, lower case. The study's rows are CMeIE texts with their spaces removed, so an exact match finds 89
 * of the val sentences in CMeIE-V2_dev.jsonl where this key finds 360.
 */
export function corpusKey(text: string): string {
  return text.normalize("NFKC").replace(/\s+/gu, "").toLowerCase();
}

/**
 * The unlabeled text of a data folder: study train sentences and CMeIE v2 dev / unlabeled test texts. The study's
 * val split is evaluation text and is not a source (its sentences are also removed from every other file).
 */
export function defaultCorpusSources(dataDir = path.resolve(process.cwd(), "..", "shared", "data")): CorpusSource[] {
  return [
    { file: path.join(dataDir, "study_train.jsonl"), field: "sentence" },
    { file: path.join(dataDir, "CMeIE-V2_dev.jsonl"), field: "text" },
    { file: path.join(dataDir, "CMeIE-V2_test_unlabeled.jsonl"), field: "text" },
  ];
}

/** Sentences that must never reach pre-training, by where they come from (e.g. "val", "selection"). */
export interface Exclusion {
  name: string;
  texts: Iterable<string>;
}

export interface CorpusFileStats {
  file: string;
  lines: number;
  /** texts new to the corpus from this file */
  kept: number;
  /** texts removed because an exclusion set holds them, per set name (first matching set) */
  removed: Record<string, number>;
}

export interface CorpusStats {
  files: CorpusFileStats[];
  texts: number;
  chars: number;
  duplicates: number;
  /** distinct keys per exclusion set */
  excluded: Record<string, number>;
  /** sha256 of the kept texts in order: a resumed pre-training must see the same corpus */
  digest: string;
}

export interface Corpus {
  texts: string[];
  stats: CorpusStats;
}

/**
 * Read the texts (in file order, first occurrence kept), dropping duplicates and every text whose corpusKey is in
 * an exclusion set; how many each set removed is counted per file.
 */
export function buildCorpus(sources: CorpusSource[], opts: { exclude?: readonly Exclusion[] } = {}): Corpus {
  const exclude = (opts.exclude ?? []).map((e) => ({ name: e.name, keys: new Set([...e.texts].map(corpusKey)) }));
  const seen = new Set<string>();
  const texts: string[] = [];
  const files: CorpusFileStats[] = [];
  let duplicates = 0;
  for (const src of sources) {
    if (!fs.existsSync(src.file)) throw new CorpusError(src.file, undefined, undefined, "file not found");
    const lines = fs.readFileSync(src.file, "utf8").split(/\r?\n/);
    const stats: CorpusFileStats = { file: path.basename(src.file), lines: 0, kept: 0, removed: Object.fromEntries(exclude.map((e) => [e.name, 0])) };
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      stats.lines++;
      const text = readField(src, line, i + 1).trim();
      if (text === "") return;
      const key = corpusKey(text);
      const hit = exclude.find((e) => e.keys.has(key));
      if (hit) {
        stats.removed[hit.name]++;
        return;
      }
      if (seen.has(key)) {
        duplicates++;
        return;
      }
      seen.add(key);
      texts.push(text);
      stats.kept++;
    });
    files.push(stats);
  }
  const chars = texts.reduce((a, t) => a + [...t].length, 0);
  const digest = createHash("sha256").update(texts.join("\n")).digest("hex");
  const excluded = Object.fromEntries(exclude.map((e) => [e.name, e.keys.size]));
  return { texts, stats: { files, texts: texts.length, chars, duplicates, excluded, digest } };
}

function readField(src: CorpusSource, line: string, lineNo: number): string {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw new CorpusError(src.file, lineNo, undefined, `not JSON: ${(e as Error).message}`);
  }
  const value = (obj as Record<string, unknown>)[src.field];
  if (typeof value !== "string") throw new CorpusError(src.file, lineNo, src.field, "missing or not a string");
  return value;
}

/**
 * What pre-training on `dataDir` must not see: the sentences of its evaluation splits (val/dev and test, where
 * present) and of the selection slice of its train split, on which fine-tuning recipes and the pre-training
 * length are chosen.
 */
export function evaluationExclusions(dataDir: string, selection: SelectionSpec = DEFAULT_SELECTION): Exclusion[] {
  const files = datasetFiles(dataDir);
  const out: Exclusion[] = [];
  for (const split of ["dev", "test"] as const) {
    const f = files[split];
    if (f) out.push({ name: path.basename(f), texts: loadRows(f, { mode: "lenient" }).rows.map((r) => r.sentence) });
  }
  if (files.train) {
    const train = loadRows(files.train, { mode: "lenient" }).rows;
    out.push({ name: "selection slice of train", texts: selectionSplit(train, selection).selection.map((r) => r.sentence) });
  }
  return out;
}

/** One line per file: lines, kept, and what each exclusion removed. */
export function formatCorpusReport(stats: CorpusStats): string {
  const rows = stats.files.map((f) => {
    const removed = Object.entries(f.removed).filter(([, n]) => n > 0).map(([k, n]) => `${n} in ${k}`).join(", ");
    return `  ${f.file}: ${f.lines} lines, ${f.kept} kept` + (removed ? `, removed ${removed}` : ", nothing removed");
  });
  const sets = Object.entries(stats.excluded).map(([k, n]) => `${k} ${n}`).join(", ");
  return [`corpus: ${stats.texts} texts, ${stats.chars} chars, ${stats.duplicates} duplicates dropped; excluded sentences: ${sets || "none"}`, ...rows].join("\n");
}

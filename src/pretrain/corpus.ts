/**
 * The unlabeled pre-training corpus: the input TEXTS of the study's train + val rows and of CMeIE-V2 dev /
 * unlabeled test, deduplicated. Only the sentence/text field of each line is read — never `r`, `spo_list` or
 * any other annotation — and the study's test split is not here at all (withheld by ../shared/data).
 */
import * as fs from "node:fs";
import * as path from "node:path";

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

/** The issue's corpus, resolved against a data folder (default ../shared/data from the repo root). */
export function defaultCorpusSources(dataDir = path.resolve(process.cwd(), "..", "shared", "data")): CorpusSource[] {
  return [
    { file: path.join(dataDir, "study_train.jsonl"), field: "sentence" },
    { file: path.join(dataDir, "study_val.jsonl"), field: "sentence" },
    { file: path.join(dataDir, "CMeIE-V2_dev.jsonl"), field: "text" },
    { file: path.join(dataDir, "CMeIE-V2_test_unlabeled.jsonl"), field: "text" },
  ];
}

export interface CorpusFileStats {
  file: string;
  lines: number;
  /** texts new to the corpus from this file */
  kept: number;
}

export interface CorpusStats {
  files: CorpusFileStats[];
  texts: number;
  chars: number;
  duplicates: number;
}

export interface Corpus {
  texts: string[];
  stats: CorpusStats;
}

/** Read the texts (in file order, first occurrence kept), dropping duplicates and any text in `exclude`. */
export function buildCorpus(sources: CorpusSource[], opts: { exclude?: Iterable<string> } = {}): Corpus {
  const exclude = new Set([...(opts.exclude ?? [])].map((s) => s.trim()));
  const seen = new Set<string>();
  const texts: string[] = [];
  const files: CorpusFileStats[] = [];
  let duplicates = 0;
  for (const src of sources) {
    if (!fs.existsSync(src.file)) throw new CorpusError(src.file, undefined, undefined, "file not found");
    const lines = fs.readFileSync(src.file, "utf8").split(/\r?\n/);
    let n = 0;
    let kept = 0;
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      n++;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new CorpusError(src.file, i + 1, undefined, `not JSON: ${(e as Error).message}`);
      }
      const value = (obj as Record<string, unknown>)[src.field];
      if (typeof value !== "string") throw new CorpusError(src.file, i + 1, src.field, "missing or not a string");
      const text = value.trim();
      if (text === "" || exclude.has(text)) return;
      if (seen.has(text)) {
        duplicates++;
        return;
      }
      seen.add(text);
      texts.push(text);
      kept++;
    });
    files.push({ file: path.basename(src.file), lines: n, kept });
  }
  const chars = texts.reduce((a, t) => a + [...t].length, 0);
  return { texts, stats: { files, texts: texts.length, chars, duplicates } };
}

/**
 * The study's effects against encoder strength (issue #33 item 3): a strength is one results folder — today's
 * results/study (the MLM checkpoint), and results/study-<name> once the plan's grid has run on a stronger one — and
 * each table's named comparisons are read in every folder the same way the readings read one (tableComparisonLines,
 * the study's own difference, readingVerdict), so each effect can be set beside itself at each strength.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ComparisonLine, Verdict } from "../metrics";
import { formatInterval, readingVerdict, signedPoints, verdictPhrase } from "../report/reading";
import { effectsByGroupChart, type PlotlyFigure } from "../report/charts";
import { PROJECT_ROOT, fromProjectPath } from "../runs/config";
import { STUDY_PLAN_FILE } from "./plan";
import { studyResultsDir } from "./results";
import { TABLE_NAMES, TABLE_SPECS, type TableName } from "./study-tables";
import { loadResults, studyDifference, tableComparisonLines, type TableResult } from "./tables";

/** Where the strengths' folders are: results/study, then results/study-<name>. */
export const STRENGTHS_ROOT = path.join(PROJECT_ROOT, "results");

/** The command that writes a new strength's folder (the committed plan's grid). */
export const NEXT_STRENGTH_COMMAND = `npm run reproduce -- --plan ${STUDY_PLAN_FILE} --export results/study-<name>/`;

/**
 * The strength folders under `root` that hold at least one table: study first, then study-<name> by name. Without a
 * root, a stand-in results folder (MEDREL_RESULTS_DIR, as loadResults reads it) is the one strength.
 */
export function strengthDirs(root?: string): string[] {
  if (root === undefined && process.env.MEDREL_RESULTS_DIR) return [studyResultsDir()];
  const dir = root ?? STRENGTHS_ROOT;
  if (!fs.existsSync(dir)) return [];
  const names = fs.readdirSync(dir).filter((d) => d === "study" || d.startsWith("study-"));
  const withTables = names.filter((d) => fs.statSync(path.join(dir, d)).isDirectory() && TABLE_NAMES.some((t) => fs.existsSync(path.join(dir, d, `${t}.json`))));
  return withTables.sort((a, b) => (a === "study" ? -1 : b === "study" ? 1 : a.localeCompare(b))).map((d) => path.join(dir, d));
}

/**
 * A strength named by its checkpoint, from the configs of its runs: "MLM 5k (data/pretrained/quick)". The objective
 * and steps come from the checkpoint's config.json (its medrel.pretrain record) when it is on this machine.
 */
export function strengthLabel(tables: readonly Pick<TableResult, "runs">[]): string {
  const pretrained = [...new Set(tables.flatMap((t) => t.runs.map((r) => (r.config.model.kind === "preset" ? r.config.model.pretrained : undefined))))].filter(
    (p): p is string => typeof p === "string",
  );
  if (pretrained.length === 0) return "no pre-trained checkpoint recorded";
  return pretrained
    .map((p) => {
      const file = path.join(fromProjectPath(p), "config.json");
      const pre = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as { medrel?: { pretrain?: { objective?: string; steps?: number } } }).medrel?.pretrain : undefined;
      if (!pre?.steps) return p;
      const steps = pre.steps % 1000 === 0 ? `${pre.steps / 1000}k` : pre.steps.toLocaleString("en-US");
      return `${(pre.objective ?? "mlm") === "mlm" ? "MLM" : pre.objective!.toUpperCase()} ${steps} (${p})`;
    })
    .join(" + ");
}

/** One strength: its folder, its checkpoint in words, and its tables. */
export interface Strength {
  dir: string;
  label: string;
  tables: TableResult<"shipped">[];
}

/** One named comparison of a table at one strength: the reading (effect, interval), the study's own value, the verdict. */
export interface StrengthEffect {
  table: TableName;
  /** "Weighted Loss − Regular Loss (Macro-F1)": the same at every strength */
  comparison: string;
  strength: string;
  line: ComparisonLine;
  /** the study's own b − a, when its table has both */
  study?: number;
  verdict: Verdict;
}

/**
 * Every strength folder under `root`, loaded (a folder whose tables all fail to load throws, naming the file); `tables`
 * to read only those (a notebook shows one: each table read is every run's hash and predictions checked).
 */
export function loadStrengths(dirs = strengthDirs(), tables: readonly TableName[] = TABLE_NAMES): Strength[] {
  const out = dirs.map((dir) => {
    const loaded = tables.map((t) => loadResults(t, dir)).filter((t): t is TableResult<"shipped"> => t !== null);
    return { dir, label: strengthLabel(loaded), tables: loaded };
  });
  // two folders of one checkpoint (a re-run) stay two strengths: the folder tells them apart
  return out.map((s) => (out.filter((x) => x.label === s.label).length > 1 ? { ...s, label: `${s.label}, ${path.basename(s.dir)}/` } : s));
}

/** "Weighted Loss − Regular Loss (Macro-F1)". */
export const comparisonName = (c: Pick<ComparisonLine, "a" | "b" | "metric">): string => `${c.b} − ${c.a} (${c.metric})`;

/** Each table's named comparisons at each strength, in the readings' order (a comparison with no runs at a strength is left out there). */
export function strengthEffects(strengths: readonly Strength[]): StrengthEffect[] {
  return strengths.flatMap((s) =>
    s.tables.flatMap((t) =>
      tableComparisonLines(t.table, t.records, t.variants)
        .filter((c) => c.seeds[0] > 0 && c.seeds[1] > 0)
        .map((line): StrengthEffect => {
          const study = studyDifference(t.table, line.metric, line);
          return { table: t.table, comparison: comparisonName(line), strength: s.label, line, study, verdict: readingVerdict(line, study) };
        }),
    ),
  );
}

/** What to say while only today's strength exists (no second folder yet), or undefined once there are two. */
export function missingStrengthLine(strengths: readonly Strength[]): string | undefined {
  if (strengths.length >= 2) return undefined;
  const have = strengths.map((s) => `${path.relative(PROJECT_ROOT, s.dir)} (${s.label})`).join(", ") || "none";
  return `Only one strength so far: ${have}. The second — the plan's grid on the stronger checkpoint — has not been run yet: \`${NEXT_STRENGTH_COMMAND}\` writes it, and it joins here.`;
}

/** "+0.27 [−1.40 … +1.95] rules out": one effect at one strength, compact (README and notebook tables). */
export function effectCell(e: StrengthEffect): string {
  const ci = Number.isFinite(e.line.ci[0]) ? ` [${formatInterval(e.line.ci)}]` : "";
  return `${signedPoints(e.line.diff)}${ci} ${e.verdict.kind}`;
}

/** One table's effects at every strength with their intervals beside the study's own values, or null when it has none. */
export function strengthEffectsChart(table: TableName, effects: readonly StrengthEffect[]): PlotlyFigure | null {
  const mine = effects.filter((e) => e.table === table);
  if (mine.length === 0) return null;
  const points = mine.map((e) => ({ x: e.comparison, group: e.strength, diff: e.line.diff, ci: e.line.ci, note: verdictPhrase(e.line, e.verdict) }));
  const refs = new Map(mine.filter((e) => e.study !== undefined).map((e) => [e.comparison, e.study!] as const));
  const title = `${TABLE_SPECS[table].title}: each effect at each encoder strength (points, 95% interval over seeds; ◇ = the study's own value)`;
  return effectsByGroupChart(points, [...refs].map(([x, value]) => ({ x, value })), { title, height: 500 });
}

/** One row of a table's effects by strength: the comparison, the study's own value, and one cell per strength ("–" where it has no runs). */
export interface StrengthRow {
  comparison: string;
  study?: number;
  cells: string[];
}

/** A table's comparisons × strengths, compact cells (effectCell): what the README block and the notebook table show. */
export function strengthRows(table: TableName, strengths: readonly Pick<Strength, "label">[], effects: readonly StrengthEffect[]): StrengthRow[] {
  const mine = effects.filter((e) => e.table === table);
  return [...new Set(mine.map((e) => e.comparison))].map((comparison) => {
    const at = mine.filter((e) => e.comparison === comparison);
    const cell = (label: string): string => {
      const e = at.find((x) => x.strength === label);
      return e ? effectCell(e) : "–";
    };
    return { comparison, study: at.find((e) => e.study !== undefined)?.study, cells: strengths.map((s) => cell(s.label)) };
  });
}

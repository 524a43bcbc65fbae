/**
 * The study's effects at each encoder strength (issue #33 item 3), as a notebook shows them for one table: a line
 * while only today's strength exists, the chart (each effect with its 95% interval per strength, the study's own
 * value beside it) and the table of comparisons × strengths with their verdicts.
 */
import { showChart, showSentences, showTable } from "../report";
import { loadDanfo } from "../report/danfo";
import { signedPoints } from "../report/reading";
import { loadStrengths, missingStrengthLine, strengthDirs, strengthEffects, strengthEffectsChart, strengthRows, TABLE_SPECS, type TableName } from "../experiments";

/** One table's effects at every strength folder there is (results/study, results/study-<name>; `dirs` to choose). */
export function showStrengths(table: TableName, opts: { dirs?: readonly string[] } = {}): void {
  const strengths = loadStrengths([...(opts.dirs ?? strengthDirs())], [table]);
  const effects = strengthEffects(strengths);
  const missing = missingStrengthLine(strengths);
  if (missing) showSentences([missing]);
  const chart = strengthEffectsChart(table, effects);
  if (!chart) {
    console.log(`No comparison of the ${TABLE_SPECS[table].title.toLowerCase()} table has runs at any strength yet.`);
    return;
  }
  showChart(chart);
  const rows = strengthRows(table, strengths, effects);
  const { DataFrame } = loadDanfo();
  const cols: Record<string, string[]> = { "the study's": rows.map((r) => (r.study === undefined ? "–" : signedPoints(r.study))) };
  strengths.forEach((s, i) => (cols[s.label] = rows.map((r) => r.cells[i])));
  const frame = new DataFrame(cols, { index: rows.map((r) => r.comparison) });
  showTable(frame, { caption: "effect in points [95% interval over seeds] and its verdict against the study's own value, at each encoder strength" });
}

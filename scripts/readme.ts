/**
 * npm run readme: regenerate the README's figures from the files commands wrote. Every block between
 * `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` is rendered here from its source file; test/readme.test.ts
 * fails when README.md differs from what this renders, so a figure nothing reproduces cannot stay.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadResults, STUDY_RESULTS_DIR, TABLE_NAMES, TABLE_SPECS, tableComparisonLines, type ShippedTable } from "../src/experiments";
import { metricValue, summarize, type MetricRow } from "../src/metrics";
import { RESULT_FILE as THROUGHPUT_FILE, readResult, renderReadmeTable } from "../bench/readme-table";

export const README = path.resolve(__dirname, "..", "README.md");

const fmt = (m: number, s: number): string => (Number.isFinite(s) ? `${m.toFixed(2)} ± ${s.toFixed(2)}` : m.toFixed(2));
const signed = (d: number): string => `${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(2)}`;
const pval = (p: number): string => (Number.isNaN(p) ? "–" : p < 0.001 ? "< 0.001" : p.toFixed(3));

/** The models table on the study's data: each model's micro/macro-F1 and time per run. */
function qualityBlock(t: ShippedTable): string {
  const rows = t.variants.map((v) => {
    const recs = t.records.filter((r) => r.variant === v);
    const cell = (m: MetricRow): string => {
      const s = summarize(recs.map((r) => metricValue(r.metrics, m)));
      return fmt(s.mean, s.std);
    };
    return `| ${v} | ${cell("Micro-F1")} | ${cell("Macro-F1")} | ${recs.length} |`;
  });
  return [`| model (${t.split} split, study data) | micro-F1 | macro-F1 | seeds |`, "|---|---:|---:|---:|", ...rows].join("\n");
}

/** Each table's readings on the study's data: difference, paired test, verdict. */
function readingsBlock(tables: ShippedTable[]): string {
  const lines = ["| table | comparison | metric | difference (points) | p | beyond seed noise? |", "|---|---|---|---:|---:|---|"];
  for (const t of tables) {
    for (const c of tableComparisonLines(t.table, t.records, t.variants)) {
      lines.push(`| ${TABLE_SPECS[t.table].title} | ${c.b} vs ${c.a} | ${c.metric} | ${signed(c.diff)} | ${pval(c.p)} | ${c.beyondNoise ? "yes" : "no"} (${c.test}, ${c.seeds[1]} seeds) |`);
    }
  }
  return lines.join("\n");
}

/** name -> markdown, for every block whose source file exists. */
export function renderBlocks(): Map<string, string> {
  const out = new Map<string, string>();
  const shipped = TABLE_NAMES.map((t) => loadResults(t, STUDY_RESULTS_DIR)).filter((t): t is ShippedTable => t !== null);
  const models = shipped.find((t) => t.table === "models");
  if (models) out.set("quality", qualityBlock(models));
  if (shipped.length) out.set("study-readings", readingsBlock(shipped));
  if (fs.existsSync(THROUGHPUT_FILE)) out.set("speed", renderReadmeTable(readResult()));
  return out;
}

/** README.md with every generated block replaced by its rendering (blocks without a source are left as they are). */
export function renderReadme(text: string, blocks = renderBlocks()): string {
  return text.replace(/(<!-- generated:([\w-]+) -->\n)([\s\S]*?)(<!-- \/generated:\2 -->)/g, (all, open: string, name: string, _body: string, close: string) =>
    blocks.has(name) ? `${open}${blocks.get(name)}\n${close}` : all,
  );
}

if (require.main === module) {
  const before = fs.readFileSync(README, "utf8");
  const after = renderReadme(before);
  fs.writeFileSync(README, after);
  console.log(after === before ? "README.md: generated blocks already current" : "README.md: generated blocks rewritten");
}

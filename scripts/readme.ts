/**
 * npm run readme: regenerate the READMEs' figures from the files commands wrote. Every block between
 * `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` in README.md and data/pretrained/quick/README.md is rendered
 * here from its source file; test/readme.test.ts fails when a README differs from what this renders, so a figure
 * nothing reproduces cannot stay.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadResults, STUDY_RESULTS_DIR, TABLE_NAMES, TABLE_SPECS, tableComparisonLines, type ShippedTable } from "../src/experiments";
import { metricValue, summarize, type MetricRow } from "../src/metrics";
import { RESULT_FILE as THROUGHPUT_FILE, readResult, renderReadmeTable } from "../bench/readme-table";

export const README = path.resolve(__dirname, "..", "README.md");
/** Every file with generated blocks. */
export const READMES = [README, path.resolve(__dirname, "..", "data", "pretrained", "quick", "README.md")];
const PRETRAIN_SELECTION = path.resolve(__dirname, "..", "bench", "results", "pretrain-selection.json");

interface SelectionRecord {
  name: string;
  seeds: number[];
  micro: { mean: number; std: number };
  macro: { mean: number; std: number };
  runs: { bestEpoch: number; seconds: number }[];
}

/** bench:selection's records: checkpoints and levers on the selection split. */
function selectionBlock(records: SelectionRecord[]): string {
  const rows = records.map((r) => {
    const min = r.runs.reduce((a, x) => a + x.seconds, 0) / r.runs.length / 60;
    return `| ${r.name} | ${fmt(r.micro.mean, r.micro.std)} | ${fmt(r.macro.mean, r.macro.std)} | ${r.seeds.join(", ")} | ${r.runs.map((x) => x.bestEpoch + 1).join(", ")} | ${min.toFixed(1)} |`;
  });
  return ["| setting | selection micro-F1 | selection macro-F1 | seeds | best epoch | min / run |", "|---|---:|---:|---|---|---:|", ...rows].join("\n");
}

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
  if (fs.existsSync(PRETRAIN_SELECTION)) out.set("pretrain-selection", selectionBlock(JSON.parse(fs.readFileSync(PRETRAIN_SELECTION, "utf8")) as SelectionRecord[]));
  return out;
}

/** README.md with every generated block replaced by its rendering (blocks without a source are left as they are). */
export function renderReadme(text: string, blocks = renderBlocks()): string {
  return text.replace(/(<!-- generated:([\w-]+) -->\n)([\s\S]*?)(<!-- \/generated:\2 -->)/g, (all, open: string, name: string, _body: string, close: string) =>
    blocks.has(name) ? `${open}${blocks.get(name)}\n${close}` : all,
  );
}

if (require.main === module) {
  const blocks = renderBlocks();
  for (const file of READMES) {
    const before = fs.readFileSync(file, "utf8");
    const after = renderReadme(before, blocks);
    fs.writeFileSync(file, after);
    console.log(`${path.relative(process.cwd(), file)}: ${after === before ? "generated blocks already current" : "generated blocks rewritten"}`);
  }
}

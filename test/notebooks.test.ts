/**
 * Executes every notebook under notebooks/ headless in real Jupyter with the tslab kernel
 * (jupyter nbconvert --execute), in the `smoke` preset, and fails on any error output.
 * Executed copies land in reports/notebooks/ so a person can open them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(__dirname, "..");
const outDir = path.join(root, "reports", "notebooks");

interface NbOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  ename?: string;
  evalue?: string;
  data?: Record<string, unknown>;
}
interface NbCell {
  cell_type: string;
  source: string | string[];
  outputs?: NbOutput[];
}

const notebooks = fs
  .readdirSync(path.join(root, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();

test("there are notebooks to execute", () => {
  assert.ok(notebooks.includes("00_quickstart.ipynb"));
  assert.ok(notebooks.includes("01_data.ipynb"));
});

for (const nb of notebooks) {
  test(`notebook ${nb} executes in Jupyter (tslab) without error outputs`, { timeout: 20 * 60_000 }, () => {
    fs.mkdirSync(outDir, { recursive: true });
    const out = path.join(outDir, nb);
    execFileSync(
      "jupyter",
      [
        "nbconvert", "--to", "notebook", "--execute",
        "--ExecutePreprocessor.timeout=1200", "--allow-errors",
        "--ExecutePreprocessor.kernel_name=tslab",
        "--output", out, path.join(root, "notebooks", nb),
      ],
      { cwd: path.join(root, "notebooks"), env: { ...process.env, MEDREL_PRESET: "smoke" }, stdio: "pipe" },
    );
    const executed = JSON.parse(fs.readFileSync(out, "utf8")) as { cells: NbCell[] };
    const errors: string[] = [];
    let outputs = 0;
    executed.cells.forEach((cell, i) => {
      for (const o of cell.outputs ?? []) {
        outputs++;
        if (o.output_type === "error") errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
        const text = Array.isArray(o.text) ? o.text.join("") : (o.text ?? "");
        if (o.name === "stderr" && /Error|Traceback/.test(text)) errors.push(`cell ${i} stderr: ${text.slice(0, 300)}`);
      }
    });
    assert.deepEqual(errors, [], `${nb} produced error outputs`);
    assert.ok(outputs > 0, `${nb} produced no outputs at all`);
  });
}

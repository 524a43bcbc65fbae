/**
 * npm run pretrain:commit -- [--out data/pretrained/electra] [--budget-mb 60] [--every-minutes M]
 * Commit the pre-training snapshot `<out>/snapshot/` (that folder only: `git add -- <it>`, `git commit -- <it>`;
 * other staged changes stay staged) with a message giving step, losses and the git bytes the export folder's
 * history takes of the budget. Refused when this version would take it past the budget (room kept for the final
 * export: 2 bytes per exported parameter + 512 KiB). Nothing happens when the snapshot is unchanged since the last
 * commit. With --every-minutes it loops (a background job beside `npm run pretrain`; `--commit` there does the same
 * from inside the trainer).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { commitSnapshot, DEFAULT_BUDGET_BYTES, exportReserveBytes, gitLedger, SNAPSHOT_JSON } from "./snapshot";

function once(out: string, budgetBytes: number): void {
  const dir = path.join(out, "snapshot");
  if (!fs.existsSync(path.join(dir, SNAPSHOT_JSON))) {
    console.log(`[pretrain:commit] no snapshot in ${dir} yet`);
    return;
  }
  const msg = commitSnapshot(dir, { root: out, budgetBytes, reserve: exportReserveBytes(dir), name: path.basename(out) });
  const l = gitLedger(out);
  console.log(msg ? `[pretrain:commit] ${msg}` : `[pretrain:commit] unchanged since the last commit (${(l.bytes / 1048576).toFixed(2)} MB committed under ${out}, ${l.versions} commits)`);
}

async function main(): Promise<void> {
  const o = new Command("pretrain:commit")
    .option("--out <dir>", "the pre-training's export folder (its snapshot/ is committed)", "data/pretrained/electra")
    .option("--budget-mb <n>", "git bytes the folder's whole history may take", Number, DEFAULT_BUDGET_BYTES / 1048576)
    .option("--every-minutes <m>", "loop: try again every m minutes", Number)
    .parse()
    .opts<{ out: string; budgetMb: number; everyMinutes?: number }>();
  const out = path.resolve(o.out);
  const budget = o.budgetMb * 1048576;
  once(out, budget);
  if (!o.everyMinutes) return;
  for (;;) {
    await new Promise((r) => setTimeout(r, o.everyMinutes! * 60_000));
    try {
      once(out, budget);
    } catch (e) {
      console.error(`[pretrain:commit] ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

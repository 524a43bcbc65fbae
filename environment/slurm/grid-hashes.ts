/**
 * tsx environment/slurm/grid-hashes.ts <table|all> <preset> <seeds|default> <shards> [data-dir]
 * Prints "<hash> <shard>" for each job that `npm run reproduce -- --table <table> --preset <preset>
 * [--seeds <seeds>] [--data-dir D] --shard i/<shards>` makes, shard by shard: its distinct runs and the n-gram
 * teachers they read (`teacher-<hash>`): the SLURM test's expected folders, and the number of array tasks a grid can
 * use (`... default 1 | grep -vc '^teacher-'`; "default": each table's own seeds).
 */
import { TABLE_NAMES, shardJobs, isPresetName, type TableName } from "../../src/experiments";
import { reproduceGrid } from "../../src/cli/reproduce";

function main(argv: string[]): void {
  const [table, preset, seeds, shards, dataDir] = argv;
  const known = table === "all" || (TABLE_NAMES as readonly string[]).includes(table);
  if (!known || !isPresetName(preset) || !(seeds === "default" || Number(seeds) > 0) || !(Number(shards) > 0)) {
    throw new Error(`usage: grid-hashes.ts <${TABLE_NAMES.join("|")}|all> <preset> <seeds|default> <shards> [data-dir], got ${argv.join(" ")}`);
  }
  const tables = table === "all" ? [...TABLE_NAMES] : [table as TableName];
  // reproduce shards the tables' jobs in this order, flattened
  const jobs = [...reproduceGrid({ tables, preset, seeds: seeds === "default" ? undefined : Number(seeds), dataDir }).byTable.values()].flat();
  for (let i = 1; i <= Number(shards); i++) {
    for (const h of new Set(shardJobs(jobs, { index: i, count: Number(shards) }).map((j) => j.hash))) console.log(`${h} ${i}`);
  }
}

main(process.argv.slice(2));

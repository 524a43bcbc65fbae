/**
 * tsx environment/slurm/grid-hashes.ts <table> <preset> <seeds> <shards>
 * Prints "<hash> <shard>" for each distinct run of a table's grid on the demo data (what `npm run reproduce
 * -- --shard i/n` would train where): the SLURM test's expected runs.
 */
import { TABLE_NAMES, gridJobs, shardJobs, configHash, isPresetName, type TableName } from "../../src/experiments";

function main(argv: string[]): void {
  const [table, preset, seeds, shards] = argv;
  if (!(TABLE_NAMES as readonly string[]).includes(table) || !isPresetName(preset) || !(Number(seeds) > 0) || !(Number(shards) > 0)) {
    throw new Error(`usage: grid-hashes.ts <${TABLE_NAMES.join("|")}> <preset> <seeds> <shards>, got ${argv.join(" ")}`);
  }
  const jobs = gridJobs(table as TableName, { preset, seeds: Array.from({ length: Number(seeds) }, (_, i) => i) });
  for (let i = 1; i <= Number(shards); i++) {
    const hashes = new Set(shardJobs(jobs, { index: i, count: Number(shards) }).map((j) => configHash(j.config)));
    for (const h of hashes) console.log(`${h} ${i}`);
  }
}

main(process.argv.slice(2));

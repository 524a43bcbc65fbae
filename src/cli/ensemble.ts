/**
 * npm run ensemble -- --results DIR: the models table's ensemble row needs each seed's n-gram fitted without the
 * selection slice to choose its weight on; this fits them (a minute each, the data must be here) and writes their
 * slice predictions and DIR/ensemble.json. The row itself is computed wherever the results are read.
 */
import * as path from "node:path";
import { Command } from "commander";
import { STUDY_RESULTS_DIR, writeHeldoutNgrams } from "../experiments";
import { runMain } from "./common";

const program = new Command()
  .name("ensemble")
  .description("Fit each n-gram run of a results folder on train minus the selection slice, for the ensemble row's weight")
  .option("--results <dir>", "the results folder (results/study, or a strength's results/study-<name>)", STUDY_RESULTS_DIR)
  .parse();

runMain(async () => {
  const { results } = program.opts<{ results: string }>();
  const file = writeHeldoutNgrams(path.resolve(results));
  console.log(`${path.relative(process.cwd(), file)} written; commit it with the predictions beside it, then npm run readme`);
});

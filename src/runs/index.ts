/** src/runs: the run store — what a run is (its config: schema, validation, hash; its record) and where it lives (run folders, saved predictions). */
export * from "./config";
export * from "./record";
export * from "./store";
export * from "./predictions";

/** src/runs: what a run is — its config (schema, hash), its record, its saved predictions. */
export * from "./config";
export * from "./record";
export * from "./predictions";

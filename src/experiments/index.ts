/** src/experiments: typed configs, presets, the run cache, grids for the study's tables. */
export * from "./config";
export * from "./presets";
export * from "./store";
export * from "./grids";
export * from "./run";
export * from "./baseline";
export * from "./tables";
export * from "./playground";

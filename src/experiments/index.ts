/** src/experiments: typed configs, presets, the study's table specs, the run cache, grids, tables, the playground. */
export * from "./config";
export * from "./presets";
export * from "./study-tables";
export * from "./store";
export * from "./grids";
export * from "./run";
export * from "./baseline";
export * from "./tables";
export * from "./results";
export * from "./playground";
export * from "./notebook";
export * from "./section";
export * from "./encoders";

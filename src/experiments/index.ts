/** src/experiments: presets, the study's table specs, the run cache, the jobs of a grid (runs and teachers), tables, the playground; the config and the run record come from src/runs. */
export * from "../runs";
export * from "./presets";
export * from "./study-tables";
export * from "./rows";
export * from "./teacher";
export * from "./grids";
export * from "./run";
export * from "./tables";
export * from "./results";
export * from "./playground";
export * from "./notebook";
export * from "./section";
export * from "./encoders";
export * from "./plan";

/** src/views: what the notebooks and the report display — a table section, the class-weights playground, two rows through two encoders, the first cell's setup. The engine they show is src/experiments. */
export * from "./notebook";
export * from "./section";
export * from "./tables";
export * from "./playground";
export * from "./encoders";
export * from "./strengths";

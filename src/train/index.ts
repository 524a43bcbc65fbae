/** src/train: the training loop and everything it needs (optimizer, schedules, batching, class weights, loss, progress). */
export * from "./errors";
export * from "./loss";
export * from "./optimizer";
export * from "./schedule";
export * from "./class-weights";
export * from "./batching";
export * from "./progress";
export * from "./checkpoint";
export * from "./inference";
export * from "./state";
export * from "./config";
export * from "./loop";

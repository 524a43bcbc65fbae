/**
 * medrel-notebooks: one shared module for the notebooks and the CLI.
 * Each area is a namespace, so names read as the data flow: data -> encoding -> model -> train -> metrics -> report.
 *
 *   import { data, encoding, experiments, report, views } from "../dist";
 */
export * as data from "./data";
export * as encoding from "./encoding";
export * as model from "./model";
export * as train from "./train";
export * as augment from "./augment";
export * as metrics from "./metrics";
export * as report from "./report";
export * as experiments from "./experiments";
export * as views from "./views";
export * as backend from "./backend";
export { Rng } from "./random";

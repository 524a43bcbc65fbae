import type { Label } from "./labels";

/** One relation instance in the study's row format (plus optional entity types from CMeIE). */
export interface Row {
  id: string;
  sentence: string;
  /** head entity (subject) */
  h: string;
  /** tail entity (object) */
  t: string;
  r: Label;
  /** entity types when known (CMeIE subject_type / object_type); the study rows have none */
  hType?: string;
  tType?: string;
}

export type SplitName = "train" | "dev" | "test";

export interface Dataset {
  train: Row[];
  dev: Row[];
  test: Row[];
  /** human-readable origin, e.g. "demo", a folder path */
  source: string;
}

/** What every notebook's first cell calls: the backend, the data and the preset, said once. */
import * as path from "node:path";
import { initBackend, type BackendInfo } from "../backend/select";
import type { DataSpec } from "../runs/config";
import { STUDY_DATA_DIR, notebookPreset, type PresetName } from "../experiments";

export interface NotebookContext {
  /** the data the notebook's own cells read: the demo, or a folder laid out as the study's (MEDREL_DATA wins) */
  DATA: DataSpec;
  /** quick (the default) or MEDREL_PRESET (the test suite runs every notebook with smoke) */
  PRESET: PresetName;
  backend: BackendInfo;
}

/**
 * The data a notebook runs on: MEDREL_DATA when set ("study" = the study's own data beside the project, "demo", or a
 * folder, relative to the notebook's folder), else its first cell's `dataDir` (null = the demo). Like MEDREL_PRESET, it
 * lets `npm run notebook -- --execute 06 --data study` (or a server started with it) run a notebook unedited.
 */
export function notebookData(dataDir: string | null = null, env: NodeJS.ProcessEnv = process.env): { DATA: DataSpec; name: string } {
  const chosen = env.MEDREL_DATA?.trim() || dataDir;
  if (!chosen || chosen === "demo") return { DATA: { kind: "demo" }, name: "the demo (data/demo)" };
  if (chosen === "study") return { DATA: { kind: "dir", dir: STUDY_DATA_DIR }, name: `the study's data (${STUDY_DATA_DIR})` };
  return { DATA: { kind: "dir", dir: path.resolve(chosen) }, name: chosen };
}

/**
 * Set a notebook up: say which data and preset it runs (MEDREL_DATA and MEDREL_PRESET, else the arguments and
 * quick), then start the TensorFlow.js backend, whose line comes second: a reader looks for the data first.
 */
export async function notebookSetup(dataDir: string | null = null): Promise<NotebookContext> {
  const { DATA, name } = notebookData(dataDir);
  const PRESET = notebookPreset();
  console.log(`data: ${name}, preset: ${PRESET} (MEDREL_DATA and MEDREL_PRESET change them)`);
  const backend = await initBackend();
  return { DATA, PRESET, backend };
}

/** What every notebook's first cell calls: the backend, the data and the preset, said once. */
import * as path from "node:path";
import { initBackend, type BackendInfo } from "../backend/select";
import type { DataSpec } from "../runs/config";
import { notebookPreset, type PresetName } from "./presets";

export interface NotebookContext {
  /** the data the notebook's own cells read: the demo, or a folder laid out as the study's */
  DATA: DataSpec;
  /** quick (the default) or MEDREL_PRESET (the test suite runs every notebook with smoke) */
  PRESET: PresetName;
  backend: BackendInfo;
}

/**
 * Set a notebook up: print which TensorFlow.js backend (and native kernels) it uses, resolve `dataDir` (relative to
 * the notebook's folder; null = the demo) and pick the preset.
 */
export async function notebookSetup(dataDir: string | null = null): Promise<NotebookContext> {
  const backend = await initBackend();
  const DATA: DataSpec = dataDir ? { kind: "dir", dir: path.resolve(dataDir) } : { kind: "demo" };
  const PRESET = notebookPreset();
  console.log(`data: ${dataDir ?? "the demo (data/demo)"}, preset: ${PRESET}`);
  return { DATA, PRESET, backend };
}

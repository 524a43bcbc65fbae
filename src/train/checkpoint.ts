/**
 * Training checkpoints under `checkpointDir`:
 *   last/  model.safetensors + config.json (saveCheckpoint: a loadable Hugging Face folder),
 *          optimizer.safetensors (AdamW moments + step), trainer_state.json (epoch, step, history, best, RNG)
 *   best/  model.safetensors + config.json of the best dev Macro-F1 epoch so far
 * Folders are written beside the old one and swapped in, so a crash mid-write leaves the previous checkpoint.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { BertForRelationClassification, SafetensorsSource, saveCheckpoint, storedShape, toStoredLayout, type SaveCheckpointOptions } from "../model";
import { CheckpointError } from "./errors";

export const CHECKPOINT_FILES = {
  weights: "model.safetensors",
  optimizer: "optimizer.safetensors",
  state: "trainer_state.json",
} as const;

/**
 * Replace `dir` by a freshly written folder: write a temp folder unique to this call (two writers never share one),
 * move the old one aside, swap, drop the old one. A failed write (a full disk) removes its temp folder and names
 * the folder it was writing.
 */
export async function writeFolder(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const old = `${dir}.old`;
  try {
    fs.mkdirSync(tmp, { recursive: true });
    await write(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new CheckpointError(dir, `could not write it: ${(e as Error).message}`);
  }
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

/** The folder holding a complete checkpoint `dir` (or its previous copy if a crash hit mid-swap). */
export function completeFolder(dir: string, marker: string): string | undefined {
  if (fs.existsSync(path.join(dir, marker))) return dir;
  if (fs.existsSync(path.join(`${dir}.old`, marker))) return `${dir}.old`;
  return undefined;
}

/** Whether `checkpointDir` holds a last checkpoint that train() would resume from. */
export function hasResumableCheckpoint(checkpointDir: string): boolean {
  return completeFolder(path.join(checkpointDir, "last"), CHECKPOINT_FILES.state) !== undefined;
}

/** Save the model as a Hugging Face folder (weights in HF layout + config.json). */
export async function saveModelFolder(model: BertForRelationClassification, dir: string, opts: SaveCheckpointOptions): Promise<void> {
  await saveCheckpoint(model, dir, opts);
}

/**
 * Read a model.safetensors written by saveCheckpoint as tensors in the model's stored layout, keyed like
 * model.params (shapes checked). The caller owns (disposes) the tensors.
 */
export function readModelWeights(model: BertForRelationClassification, dir: string): Map<string, tf.Tensor> {
  const file = path.join(dir, CHECKPOINT_FILES.weights);
  if (!fs.existsSync(file)) throw new CheckpointError(file, "weights file not found");
  const src = new SafetensorsSource(file);
  const out = new Map<string, tf.Tensor>();
  try {
    const names = new Set(src.keys());
    for (const [k, v] of model.params) {
      if (!names.has(k)) throw new CheckpointError(file, `missing weight "${k}"`);
      const hfShape = src.info(k).shape;
      if (storedShape(k, hfShape).join(",") !== v.shape.join(",")) {
        throw new CheckpointError(file, `"${k}" has shape [${hfShape}] (HF layout); the model stores [${v.shape}]`);
      }
      out.set(k, tf.tensor(toStoredLayout(k, hfShape, src.readFloat32(k)), v.shape, "float32"));
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  } finally {
    src.close();
  }
  return out;
}

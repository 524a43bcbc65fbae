/**
 * Lean backprop: tfjs's backward pass keeps every intermediate gradient and every tensor saved for backward until
 * the whole pass ends, and fills the gradient of each unused output of a multi-output kernel with a zeros tensor
 * of that output's size (for our LayerNorm kernel: its row stats). For a BERT layer that is
 * about twice its activations again, held to the end. Here each tape node frees what only it needed (its outputs'
 * gradients and its saved tensors) once its input gradients are taken, and our multi-output kernels get null for
 * the unused outputs (their gradient functions read only the first). Numbers are unchanged: the same gradient
 * functions run in the same order; only the lifetime of their inputs changes.
 *
 * How: every tape node's `gradient` is wrapped when tfjs records it. tfjs calls the nodes in reverse order and
 * evaluates a node's input-gradient closures before calling the next node, so what a node needed is freed at the
 * next node's call. Only at the top level (a plain gradients(), incl. the replay of src/backend/recompute.ts):
 * under higher-order gradients the tape and its saved tensors are kept as tfjs keeps them.
 * MEDREL_LEAN_BACKPROP=0 leaves tfjs as shipped (to measure what this buys).
 */
import * as tf from "@tensorflow/tfjs";
import { MEDREL_KERNELS } from "./kernels";

/** Our kernels with outputs only kept for the gradient (LayerNorm's row stats). */
const AUX_OUTPUT_KERNELS = new Set<string>([MEDREL_KERNELS.layerNorm]);

interface TapeNode {
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[]; gradientDepth: number };
  addTapeNode(
    kernelName: string,
    inputs: tf.NamedTensorMap,
    outputs: tf.Tensor[],
    gradientsFunc: unknown,
    saved: tf.Tensor[],
    attrs: tf.NamedAttrMap,
  ): void;
}

/** What the node processed last needed; freed when the next node runs. */
let pending: tf.Tensor[] = [];

function flush(): void {
  for (const t of pending) t.dispose();
  pending = [];
}

let installed = false;
let enabled = false;

/** Wrap the engine's tape so that backward passes free as they go (idempotent; see the file comment). */
export function installLeanBackprop(): boolean {
  if (process.env.MEDREL_LEAN_BACKPROP === "0") return false;
  enabled = true;
  if (installed) return true;
  const engine = tf.engine() as unknown as EngineInternals;
  const record = engine.addTapeNode.bind(engine);
  engine.addTapeNode = (kernelName, inputs, outputs, gradientsFunc, saved, attrs) => {
    record(kernelName, inputs, outputs, gradientsFunc, saved, attrs);
    const node = engine.state.activeTape[engine.state.activeTape.length - 1];
    const tfGradient = node.gradient;
    if (!tfGradient) return;
    const auxOnly = AUX_OUTPUT_KERNELS.has(kernelName);
    node.gradient = (dys) => {
      flush();
      if (!enabled) return tfGradient(dys);
      const grads =
        auxOnly && dys[0] != null
          ? (tf.getGradient(kernelName).gradFunc(dys as tf.Tensor[], saved, attrs) as Record<string, () => tf.Tensor>)
          : tfGradient(dys);
      if (engine.state.gradientDepth > 0) return grads;
      // an output's gradient made before the output existed is the caller's dy (gradients(f, xs, dy)): not ours to free
      const mine = dys.filter((dy, i): dy is tf.Tensor => dy != null && dy.id > outputs[i].id);
      pending = [...mine, ...(saved ?? [])];
      // a gradient function may hand a dy on as an input's gradient (straight-through): then it lives on
      const kept: Record<string, () => tf.Tensor> = {};
      for (const [name, f] of Object.entries(grads)) {
        kept[name] = () => {
          const g = f();
          pending = pending.filter((t) => t !== g);
          return g;
        };
      }
      return kept;
    };
  };
  installed = true;
  return true;
}

/** Turn the behaviour off and on again (tests and benchmarks compare the two in one process). */
export function setLeanBackprop(on: boolean): void {
  if (on && !installed) installLeanBackprop();
  enabled = on && installed;
}

export function leanBackpropActive(): boolean {
  return enabled;
}

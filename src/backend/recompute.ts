/**
 * Gradient checkpointing (Chen et al. 2016, "Training deep nets with sublinear memory cost"): a block's
 * forward runs without recording its activations; its backward runs the block again under a tape of its
 * own and takes the gradients from that. One more forward of the block buys back everything it would
 * have kept for backward except its inputs.
 *
 * The block must be a pure function of its arguments and of `params` (tensors that outlive the backward
 * pass, i.e. variables): dropout inside it must take its seed from the caller, so the second run draws
 * the same masks (our dropout is a counter hash of (seed, index), see ops.dropout).
 */
import * as tf from "@tensorflow/tfjs";

/** The engine field a nested tape has to leave alone (tfjs drops the active tape at the end of a top-level gradients()). */
interface EngineState {
  state: { activeTape: unknown };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
}

/** Gradients of f at (x, consts) with respect to x and params, given dy; nothing f computed outlives the call. */
function replayGrads(
  f: (x: tf.Tensor, ...consts: tf.Tensor[]) => tf.Tensor,
  x: tf.Tensor,
  consts: tf.Tensor[],
  params: tf.Tensor[],
  dy: tf.Tensor,
): tf.Tensor[] {
  const engine = tf.engine() as unknown as EngineState;
  // we run inside the outer backward pass (no tape active); our gradients() is "top level" to tfjs, which then sets
  // the engine's tape to null, and the outer pass still needs it to free its saved tensors: put it back afterwards
  const outerTape = engine.state.activeTape;
  try {
    return tf.tidy(() => {
      const xs = [x, ...params];
      const { grads } = engine.gradients(() => f(x, ...consts), xs, dy, true);
      return grads.map((g, i) => g ?? tf.zerosLike(xs[i]));
    });
  } finally {
    engine.state.activeTape = outerTape;
  }
}

/**
 * y = f(x, ...consts) with f's activations recomputed in backward instead of kept. Gradients flow to x and to
 * `params` (the weights f reads, passed here so the tape sees them); `consts` (e.g. an attention mask) get none.
 */
export function checkpoint<T extends tf.Tensor>(
  f: (x: tf.Tensor, ...consts: tf.Tensor[]) => T,
  x: tf.Tensor,
  consts: tf.Tensor[],
  params: tf.Tensor[],
): T {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    // kept until backward (the tape holds these, not f's intermediates)
    save([x, ...consts]);
    return {
      value: f(x, ...consts),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => replayGrads(f, saved[0], saved.slice(1), params, dy as tf.Tensor),
    };
  });
  return op(x, ...params) as T;
}

/**
 * Per-kernel wall time on a backend, for benches: wraps every registered kernel of the backend with a timer
 * until the returned `stop()` restores the originals and hands back the totals.
 */
import * as tf from "@tensorflow/tfjs";

export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
}

export function profileKernels(backendName = tf.getBackend()): () => KernelTime[] {
  const configs = tf.getKernelsForBackend(backendName);
  const totals = new Map<string, KernelTime>();
  for (const cfg of configs) {
    const t: KernelTime = { kernel: cfg.kernelName, ms: 0, calls: 0 };
    totals.set(cfg.kernelName, t);
    const inner = cfg.kernelFunc;
    tf.unregisterKernel(cfg.kernelName, backendName);
    tf.registerKernel({
      ...cfg,
      setupFunc: undefined,
      kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          t.ms += performance.now() - t0;
          t.calls++;
        }
      }) as tf.KernelFunc,
    });
  }
  return () => {
    for (const cfg of configs) {
      tf.unregisterKernel(cfg.kernelName, backendName);
      tf.registerKernel(cfg);
    }
    return [...totals.values()].filter((t) => t.calls > 0).sort((a, b) => b.ms - a.ms);
  };
}

/** Numeric comparisons shared by the test files (against PyTorch / scikit-learn / scipy fixtures). */
import assert from "node:assert/strict";

/** The largest |a[i] − b[i]| (lengths must match). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "length mismatch");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The largest |a[i]|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Assert actual ≈ expected elementwise: |Δ| ≤ tol · max(1, |expected|) ("rel": absolute near 0, relative for large
 * values) or |Δ| ≤ tol ("abs"); scalars are compared as one-element arrays.
 */
export function assertClose(actual: number | ArrayLike<number>, expected: number | ArrayLike<number>, tol: number, what: string, mode: "rel" | "abs" = "rel"): void {
  const a = typeof actual === "number" ? [actual] : actual;
  const e = typeof expected === "number" ? [expected] : expected;
  assert.equal(a.length, e.length, `${what}: length`);
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    assert.ok(d <= (mode === "abs" ? tol : tol * Math.max(1, Math.abs(e[i]))), `${what}${e.length > 1 ? `[${i}]` : ""}: ${a[i]} vs ${e[i]} (|Δ| ${d}, tol ${tol})`);
  }
}

/** SIGKILL `child` as soon as `ready()` holds (polled every 20 ms); rejects if the child exits first. */
export function killWhen(child: import("node:child_process").ChildProcess, ready: () => boolean, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (!ready()) return;
      clearInterval(t);
      child.kill("SIGKILL");
      resolve();
    }, 20);
    child.on("exit", () => {
      clearInterval(t);
      reject(new Error(`the run finished before it could be killed (${what})`));
    });
  });
}

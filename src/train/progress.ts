/**
 * Training progress: a live bar in a terminal (cli-progress), one overwritten HTML entry in a tslab
 * notebook (tslab.newDisplay()), one line per epoch elsewhere (CI logs, pipes). Updates are throttled
 * to at most 2 per second, so a long run never prints thousands of lines.
 * Mode: `auto` (default) picks tty when stdout is a terminal, notebook inside a tslab kernel, lines otherwise; env
 * MEDREL_PROGRESS=tty|notebook|lines|silent forces one. The notebook display itself is presentation: src/report
 * implements it and callers hand it in (`notebook`), so training never imports the report.
 */
import { SingleBar } from "cli-progress";

export type ProgressMode = "auto" | "tty" | "notebook" | "lines" | "silent";
export const PROGRESS_MODES: readonly ProgressMode[] = ["auto", "tty", "notebook", "lines", "silent"];

/** Where the loop is, after a training step. */
export interface StepProgress {
  /** 0-based */
  epoch: number;
  epochs: number;
  /** steps done in this epoch (1-based after the first step) */
  step: number;
  stepsInEpoch: number;
  globalStep: number;
  totalSteps: number;
  /** mean training loss over this epoch so far */
  loss: number;
  lr: number;
  samplesPerSec: number;
  /** seconds since this epoch started */
  epochSeconds: number;
}

/** One epoch of a run: a row of TrainResult.history and of a run folder's history.json, as shown at the end of the epoch. */
export interface EpochRow {
  epoch: number;
  step: number;
  trainLoss: number;
  devLoss?: number;
  devMacroF1: number;
  devMicroF1: number;
  lr: number;
  seconds: number;
  samplesPerSec: number;
}

export interface Progress {
  startEpoch(epoch: number, epochs: number, stepsInEpoch: number): void;
  update(p: StepProgress): void;
  endEpoch(s: EpochRow, epochs: number, isBest: boolean): void;
  /** a one-off message (resume notice, early stop) */
  note(msg: string): void;
  stop(): void;
}

export interface ProgressOptions {
  mode?: ProgressMode;
  /** minimum milliseconds between two live updates (default 500, i.e. ≤ 2 updates/s) */
  minIntervalMs?: number;
  /** where tty bars and lines go (default process.stdout) */
  stream?: NodeJS.WriteStream;
  /** what is training (e.g. "Weighted Loss, seed 0"), shown with the bar, lines and notebook table */
  label?: string;
  /** the notebook display (src/report's notebookProgress); undefined outside a kernel */
  notebook?: (label: string | undefined, minIntervalMs: number) => Progress | undefined;
}

/** Whether this process is a tslab kernel (its modules are loaded, or it was started as one). */
export function inNotebookKernel(): boolean {
  const inCache = Object.keys(require.cache).some((k) => /[\\/]tslab[\\/]dist[\\/]/.test(k));
  return inCache || process.argv.some((a) => /tslab/.test(a));
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** ETA of the epoch and of the whole run, from the mean step time so far (evaluation time not included). */
export function etas(p: StepProgress): { epoch: number; run: number } {
  const perStep = p.step > 0 ? p.epochSeconds / p.step : NaN;
  return { epoch: (p.stepsInEpoch - p.step) * perStep, run: (p.totalSteps - p.globalStep) * perStep };
}

export function formatEpochLine(s: EpochRow, epochs: number, isBest = false): string {
  const dev = s.devLoss === undefined ? "" : ` dev_loss ${s.devLoss.toFixed(4)}`;
  return (
    `epoch ${s.epoch + 1}/${epochs} step ${s.step} loss ${s.trainLoss.toFixed(4)}${dev} ` +
    `dev_macro_f1 ${s.devMacroF1.toFixed(4)} dev_micro_f1 ${s.devMicroF1.toFixed(4)} lr ${s.lr.toExponential(2)} ` +
    `${s.samplesPerSec.toFixed(1)} samples/s ${formatDuration(s.seconds)}${isBest ? " *best" : ""}`
  );
}

/** The mode `auto` resolves to in this process. */
export function detectProgressMode(): Exclude<ProgressMode, "auto"> {
  const forced = process.env.MEDREL_PROGRESS as ProgressMode | undefined;
  if (forced && forced !== "auto" && PROGRESS_MODES.includes(forced)) return forced;
  if (process.stdout.isTTY) return "tty";
  if (inNotebookKernel()) return "notebook";
  return "lines";
}

// ---- implementations -------------------------------------------------------------------------

class SilentProgress implements Progress {
  startEpoch(): void {}
  update(): void {}
  endEpoch(): void {}
  note(): void {}
  stop(): void {}
}

/** Lines for logs and pipes: one per epoch, and between them a step line with the ETA at most once a minute. */
class LineProgress implements Progress {
  private last = Date.now();
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly label?: string,
    private readonly minIntervalMs = 60_000,
  ) {}
  startEpoch(epoch: number): void {
    if (epoch === 0 && this.label) this.stream.write(`training ${this.label}\n`);
  }
  update(p: StepProgress): void {
    const now = Date.now();
    if (now - this.last < this.minIntervalMs) return;
    this.last = now;
    const e = etas(p);
    this.stream.write(
      `epoch ${p.epoch + 1}/${p.epochs} step ${p.step}/${p.stepsInEpoch} loss ${p.loss.toFixed(4)} ${p.samplesPerSec.toFixed(1)} samples/s ` +
        `ETA ${formatDuration(e.epoch)} (run ${formatDuration(e.run)})\n`,
    );
  }
  endEpoch(s: EpochRow, epochs: number, isBest: boolean): void {
    this.last = Date.now();
    this.stream.write(formatEpochLine(s, epochs, isBest) + "\n");
  }
  note(msg: string): void {
    this.stream.write(msg + "\n");
  }
  stop(): void {}
}

class TtyProgress implements Progress {
  private bar: SingleBar | undefined;
  private last = 0;
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly minIntervalMs: number,
    private readonly label?: string,
  ) {}
  startEpoch(epoch: number, epochs: number, stepsInEpoch: number): void {
    this.bar?.stop();
    if (epoch === 0 && this.label) this.stream.write(`training ${this.label}\n`);
    this.bar = new SingleBar({
      stream: this.stream,
      fps: 1000 / this.minIntervalMs,
      barsize: 24,
      hideCursor: false,
      clearOnComplete: true,
      format: `epoch ${epoch + 1}/${epochs} [{bar}] {value}/{total} | loss {loss} | {sps} samples/s | lr {lr} | ETA {etaEpoch} (run {etaRun})`,
    });
    this.bar.start(stepsInEpoch, 0, { loss: "-", sps: "-", lr: "-", etaEpoch: "--:--", etaRun: "--:--" });
    this.last = 0;
  }
  update(p: StepProgress): void {
    const now = Date.now();
    if (now - this.last < this.minIntervalMs && p.step < p.stepsInEpoch) return;
    this.last = now;
    const e = etas(p);
    this.bar?.update(p.step, {
      loss: p.loss.toFixed(4),
      sps: p.samplesPerSec.toFixed(1),
      lr: p.lr.toExponential(2),
      etaEpoch: formatDuration(e.epoch),
      etaRun: formatDuration(e.run),
    });
  }
  endEpoch(s: EpochRow, epochs: number, isBest: boolean): void {
    this.bar?.stop();
    this.bar = undefined;
    this.stream.write(formatEpochLine(s, epochs, isBest) + "\n");
  }
  note(msg: string): void {
    this.stream.write(msg + "\n");
  }
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** A progress reporter for this process (see the module comment for how `auto` decides). */
export function createProgress(opts: ProgressOptions = {}): Progress {
  const minIntervalMs = opts.minIntervalMs ?? 500;
  const stream = opts.stream ?? process.stdout;
  let mode = opts.mode ?? "auto";
  if (mode === "auto") mode = detectProgressMode();
  switch (mode) {
    case "silent":
      return new SilentProgress();
    case "tty":
      return new TtyProgress(stream, minIntervalMs, opts.label);
    case "notebook":
      // the notebook display is presentation (src/report implements it); without one, lines
      return opts.notebook?.(opts.label, minIntervalMs) ?? new LineProgress(stream, opts.label);
    default:
      return new LineProgress(stream, opts.label);
  }
}

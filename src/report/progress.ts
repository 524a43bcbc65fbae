/**
 * Training progress inside a notebook: one overwritten tslab display per run — a live bar, then a table of the
 * epochs (the best in bold) — titled with what is training. Training hands its progress to this through the
 * Progress interface of src/train; outside a kernel there is no display and training prints lines.
 */
import { etas, formatDuration, type EpochRow, type Progress, type StepProgress } from "../train/progress";
import { escapeHtml } from "./display";
import { kernelTslab } from "./tslab";

interface TslabDisplay {
  html(s: string): void;
}

let kernelOk: boolean | undefined;

/** A fresh tslab display, or undefined outside a kernel (then never tried again in this process). */
function newKernelDisplay(): TslabDisplay | undefined {
  if (kernelOk === false) return undefined;
  try {
    const d = (kernelTslab() as unknown as { newDisplay(): TslabDisplay }).newDisplay();
    d.html(`<div style="font-family:monospace">training…</div>`); // throws "Not ready" outside a kernel
    kernelOk = true;
    return d;
  } catch {
    kernelOk = false;
    return undefined;
  }
}

class NotebookProgress implements Progress {
  private last = 0;
  private live = "";
  private readonly rows: string[] = [];
  private readonly notes: string[] = [];
  constructor(
    private readonly display: TslabDisplay,
    private readonly minIntervalMs: number,
    private readonly label?: string,
  ) {}
  private render(): void {
    const title = this.label ? `<div style="font-family:monospace;font-weight:bold">${escapeHtml(this.label)}</div>` : "";
    const table = this.rows.length
      ? `<table style="font-family:monospace;font-size:12px"><tr><th>epoch</th><th>step</th><th>train loss</th><th>selection loss</th>` +
        `<th>selection Macro-F1</th><th>selection Micro-F1</th><th>lr</th><th>samples/s</th><th>time</th></tr>${this.rows.join("")}</table>`
      : "";
    const notes = this.notes.map((n) => `<div style="font-family:monospace">${escapeHtml(n)}</div>`).join("");
    this.display.html(`<div>${title}${this.live}${table}${notes}</div>`);
  }
  startEpoch(epoch: number, epochs: number, stepsInEpoch: number): void {
    this.live = `<div style="font-family:monospace">epoch ${epoch + 1}/${epochs} <progress value="0" max="${stepsInEpoch}"></progress> 0/${stepsInEpoch}</div>`;
    this.last = 0;
    this.render();
  }
  update(p: StepProgress): void {
    const now = Date.now();
    if (now - this.last < this.minIntervalMs) return;
    this.last = now;
    const e = etas(p);
    this.live =
      `<div style="font-family:monospace">epoch ${p.epoch + 1}/${p.epochs} ` +
      `<progress value="${p.step}" max="${p.stepsInEpoch}"></progress> ${p.step}/${p.stepsInEpoch} | ` +
      `loss ${p.loss.toFixed(4)} | ${p.samplesPerSec.toFixed(1)} samples/s | lr ${p.lr.toExponential(2)} | ` +
      `ETA ${formatDuration(e.epoch)} (run ${formatDuration(e.run)})</div>`;
    this.render();
  }
  endEpoch(s: EpochRow, epochs: number, isBest: boolean): void {
    const f = (x: number | undefined): string => (x === undefined ? "" : x.toFixed(4));
    this.rows.push(
      `<tr${isBest ? ' style="font-weight:bold"' : ""}><td>${s.epoch + 1}/${epochs}</td><td>${s.step}</td><td>${f(s.trainLoss)}</td>` +
        `<td>${f(s.devLoss)}</td><td>${f(s.devMacroF1)}</td><td>${f(s.devMicroF1)}</td><td>${s.lr.toExponential(2)}</td>` +
        `<td>${s.samplesPerSec.toFixed(1)}</td><td>${formatDuration(s.seconds)}</td></tr>`,
    );
    this.live = "";
    this.render();
  }
  note(msg: string): void {
    this.notes.push(msg);
    this.render();
  }
  stop(): void {}
}

/** The notebook display for createProgress's `notebook` option: undefined outside a tslab kernel. */
export function notebookProgress(label: string | undefined, minIntervalMs: number): Progress | undefined {
  const d = newKernelDisplay();
  return d ? new NotebookProgress(d, minIntervalMs, label) : undefined;
}

/**
 * Drives a decision-rule preview (src/report/preview.ts) in headless Chromium: reads what it shows, moves sliders the
 * way a person would (value + input event), reads it again. Shared by the preview test and the notebook-06 test.
 */
import { chromium, type Page } from "playwright-core";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CHROMIUM_FLAGS, chromiumPath } from "../src/tools/browser";

export interface PreviewState {
  /** per-class F1 now, as the page holds it (data-value) */
  f1: number[];
  /** per-class F1 at w = 1 as shown (2 decimals, %) */
  f1BaseText: string[];
  macro: number;
  micro: number;
  macroText: string;
  /** the decision weights as shown */
  weights: number[];
  code: string;
  /** the split the preview re-scores (its checked radio) */
  split: string;
}

// page scripts are plain strings: tsx would wrap the helpers of a compiled function in __name(), which the page lacks
const READ = `(i) => {
  const root = document.querySelectorAll(".medrel-preview")[i];
  const all = (sel) => Array.from(root.querySelectorAll(sel));
  return {
    f1: all(".medrel-f1").map((e) => Number(e.getAttribute("data-value"))),
    f1BaseText: all(".medrel-f1-base").map((e) => e.textContent),
    macro: Number(root.querySelector(".medrel-macro").getAttribute("data-value")),
    micro: Number(root.querySelector(".medrel-micro").getAttribute("data-value")),
    macroText: root.querySelector(".medrel-macro").textContent,
    weights: all(".medrel-wv").map((e) => Number(e.textContent)),
    code: root.querySelector(".medrel-code").textContent,
    split: root.querySelector("input.medrel-split:checked").value,
  };
}`;

const MOVE = `([i, moves]) => {
  const sliders = document.querySelectorAll(".medrel-preview")[i].querySelectorAll("input.medrel-w");
  for (const [c, v] of Object.entries(moves)) {
    sliders[Number(c)].value = String(v);
    sliders[Number(c)].dispatchEvent(new Event("input"));
  }
}`;

const PICK_SPLIT = `([i, split]) => {
  const r = document.querySelectorAll(".medrel-preview")[i].querySelector('input.medrel-split[value="' + split + '"]');
  r.checked = true;
  r.dispatchEvent(new Event("change"));
}`;

const READY = `(i) => { const m = document.querySelectorAll(".medrel-preview .medrel-macro")[i]; return m !== undefined && m.getAttribute("data-value") !== null; }`;

function readState(page: Page, index: number): Promise<PreviewState> {
  return page.evaluate(`(${READ})(${index})`) as Promise<PreviewState>;
}

/**
 * Open `htmlFile`, read the index-th preview, set the sliders in `moves` (class index → slider value, log2 of the
 * weight), read it again; optionally pick a split first and save a screenshot of the preview.
 */
export async function drivePreview(
  htmlFile: string,
  moves: Readonly<Record<number, number>>,
  opts: { index?: number; split?: string; screenshot?: string } = {},
): Promise<{ before: PreviewState; after: PreviewState }> {
  const bin = chromiumPath();
  if (!bin) throw new Error("chromium not found (npm run setup installs Debian's chromium)");
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, { executablePath: bin, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 900 } });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`file://${path.resolve(htmlFile)}`);
    const index = opts.index ?? 0;
    await page.waitForFunction(`(${READY})(${index})`, undefined, { timeout: 60_000 });
    if (opts.split) await page.evaluate(`(${PICK_SPLIT})(${JSON.stringify([index, opts.split])})`);
    const before = await readState(page, index);
    await page.evaluate(`(${MOVE})(${JSON.stringify([index, moves])})`);
    const after = await readState(page, index);
    if (opts.screenshot) {
      fs.mkdirSync(path.dirname(opts.screenshot), { recursive: true });
      await page.locator(".medrel-preview").nth(index).screenshot({ path: opts.screenshot });
    }
    return { before, after };
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

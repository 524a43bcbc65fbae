/**
 * Open an HTML page in headless Chromium (Debian's `chromium`): the DOM after scripts ran, and a screenshot.
 * Used to check that exported notebooks really draw their plotly charts.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Headless Chromium on this workplace: no sandbox as root, no GPU, no network of its own (QUIC, updates, sync). */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const FLAGS = [
  ...CHROMIUM_FLAGS,
  "--hide-scrollbars",
  // let plotly's scripts run before the DOM is dumped
  "--virtual-time-budget=20000",
];

export function chromiumPath(): string | undefined {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) if (fs.existsSync(p)) return p;
  return undefined;
}

export interface RenderedPage {
  dom: string;
  /** number of plotly charts drawn (their main SVG layer) */
  charts: number;
  /** bar/point marks drawn across all charts */
  marks: number;
  screenshot?: string;
}

export function renderPage(htmlFile: string, opts: { screenshot?: string; width?: number; height?: number } = {}): RenderedPage {
  const bin = chromiumPath();
  if (!bin) throw new Error("chromium not found (npm run setup installs Debian's chromium)");
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-chromium-"));
  const url = `file://${path.resolve(htmlFile)}`;
  try {
    const dom = execFileSync(bin, [...FLAGS, `--user-data-dir=${profile}`, "--dump-dom", url], {
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 256 * 1024 * 1024,
      timeout: 120_000,
    }).toString();
    if (opts.screenshot) {
      fs.mkdirSync(path.dirname(opts.screenshot), { recursive: true });
      execFileSync(
        bin,
        [...FLAGS, `--user-data-dir=${profile}`, `--window-size=${opts.width ?? 1200},${opts.height ?? 5000}`, `--screenshot=${path.resolve(opts.screenshot)}`, url],
        { stdio: "ignore", timeout: 120_000 },
      );
    }
    // every drawn plotly chart has one plot-container; bars and markers are <g class="point">
    const charts = (dom.match(/class="plot-container plotly"/g) ?? []).length;
    const marks = (dom.match(/class="point"/g) ?? []).length;
    return { dom, charts, marks, screenshot: opts.screenshot };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

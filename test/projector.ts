/**
 * A projector in a dark room: 1024 × 768, the browser asked for a dark scheme, and a dark page theme (a Jupyter dark
 * theme, a reader's extension) put over the page. What a class reads on it, our tables, prose and charts, must keep
 * its contrast and fit the width. Shared by the index page, exported-notebook and live-UI tests.
 */
import type { Page } from "playwright-core";

/** A dark theme over the page: dark backgrounds and light text on the page and on Jupyter's containers (live and exported). */
export const DARK_THEME_CSS = `html, body, #site, #notebook, #notebook-container, div.cell, div.output_area, div.output_subarea, .rendered_html,
.jp-Notebook, .jp-Cell, .jp-OutputArea, .jp-OutputArea-output, .jp-RenderedHTMLCommon { background-color: #121212 !important; color: #e0e0e0 !important; }`;

export interface ProjectorProblem {
  what: "contrast" | "overflow";
  /** the element: tag and class, and its text (60 characters) */
  where: string;
  detail: string;
}

// a page script as a string: tsx would wrap a compiled function's helpers in __name(), which the page lacks
const CHECK = `([scope, wide]) => {
  const rgba = (s) => { const m = s.match(/[\\d.]+/g) || ["0", "0", "0", "0"]; return m.length >= 3 ? [+m[0], +m[1], +m[2], m.length > 3 ? +m[3] : 1] : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  // the colour behind an element: the nearest opaque background; plotly's text lies over its chart's first SVG (paper_bgcolor)
  const behind = (el) => {
    const chart = el.closest(".svg-container");
    if (chart) return rgba(getComputedStyle(chart.querySelector(".main-svg")).backgroundColor);
    for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0.5) return c; }
    return [255, 255, 255, 1];
  };
  const name = (el) => (el.tagName.toLowerCase() + "." + String(el.getAttribute("class") || "").split(" ")[0] + " " + (el.textContent || "").trim().slice(0, 60));
  const problems = [];
  for (const root of document.querySelectorAll(scope)) {
    for (const el of root.querySelectorAll("*")) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || el.getClientRects().length === 0 || el.closest("script, style, .medrel-ignore")) continue;
      const cs = getComputedStyle(el);
      if (cs.visibility === "hidden" || +cs.opacity === 0) continue;
      const fg = rgba(el instanceof SVGElement ? cs.fill : cs.color);
      const r = ratio(fg, behind(el));
      // WCAG AA: 4.5 for text, 3 for large text (24 px, or 18.66 px bold)
      const large = parseFloat(cs.fontSize) >= 24 || (parseFloat(cs.fontSize) >= 18.66 && +cs.fontWeight >= 700);
      if (r < (large ? 3 : 4.5)) problems.push({ what: "contrast", where: name(el), detail: "ratio " + r.toFixed(2) + " (" + cs.color + (el instanceof SVGElement ? ", fill " + cs.fill : "") + ")" });
    }
    for (const el of [root, ...root.querySelectorAll(wide)]) {
      if (el.scrollWidth > el.clientWidth + 1) problems.push({ what: "overflow", where: name(el), detail: el.scrollWidth + " > " + el.clientWidth + " px" });
    }
  }
  return problems;
}`;

/**
 * Contrast of every text inside scope (against what is really behind it) and horizontal overflow of scope itself and
 * of the tables' boxes and charts in it. Returns what fails; [] when all is legible and nothing is cut.
 */
export async function projectorProblems(page: Page, scope: string): Promise<ProjectorProblem[]> {
  const wide = "table, div:has(> table), .js-plotly-plot, .plot-container";
  return (await page.evaluate(`(${CHECK})(${JSON.stringify([scope, wide])})`)) as ProjectorProblem[];
}

/** The dark room: the scheme asked for and the dark theme over the page. */
export async function darkRoom(page: Page): Promise<void> {
  await page.emulateMedia({ colorScheme: "dark" });
  await page.addStyleTag({ content: DARK_THEME_CSS });
}

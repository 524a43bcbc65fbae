/**
 * The study's 10 relation labels: one typed schema used everywhere.
 * Index order is the authors' (study-recipe.md): 临床表现 0 … 影像学检查 9.
 */
export const LABELS = [
  { id: 0, zh: "临床表现", en: "Clinical Manifestation", short: "Clinical" },
  { id: 1, zh: "药物治疗", en: "Drug Treatment", short: "Drug" },
  { id: 2, zh: "同义词", en: "Synonym", short: "Synonym" },
  { id: 3, zh: "病因", en: "Etiology", short: "Etiology" },
  { id: 4, zh: "并发症", en: "Complication", short: "Complication" },
  { id: 5, zh: "病理分型", en: "Pathological Subtype", short: "Subtype" },
  { id: 6, zh: "实验室检查", en: "Laboratory Test", short: "LabTest" },
  { id: 7, zh: "辅助治疗", en: "Adjuvant Treatment", short: "Adjuvant" },
  { id: 8, zh: "相关（导致）", en: "Related", short: "Related" },
  { id: 9, zh: "影像学检查", en: "Imaging Test", short: "ImagingTest" },
] as const;

export type LabelInfo = (typeof LABELS)[number];
/** Canonical label string (the CMeIE predicate as in the study files). */
export type Label = LabelInfo["zh"];
export const NUM_LABELS = LABELS.length;
export const LABEL_NAMES: readonly Label[] = LABELS.map((l) => l.zh);

/** Spellings that mean the same label (slides write 相关, the data 相关（导致）, some files half-width brackets). */
const ALIASES: Record<string, Label> = {
  相关: "相关（导致）",
  "相关(导致)": "相关（导致）",
};
for (const l of LABELS) {
  ALIASES[l.zh] = l.zh;
  ALIASES[l.en] = l.zh;
  ALIASES[l.en.toLowerCase()] = l.zh;
}

/** Canonical label for any accepted spelling, or undefined when unknown. */
export function normalizeLabel(raw: string): Label | undefined {
  const s = raw.trim();
  return ALIASES[s] ?? ALIASES[s.toLowerCase()];
}

export function labelIndex(label: Label): number {
  const i = LABEL_NAMES.indexOf(label);
  if (i < 0) throw new Error(`unknown label "${label}"`);
  return i;
}

/** The study's hard classes: 并发症 (4) and 相关（导致） (8). */
export const STUDY_HARD_CLASSES: readonly Label[] = ["并发症", "相关（导致）"];

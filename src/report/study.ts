/**
 * The study's published tables (data/study-tables.json, a verbatim copy of the slides' numbers),
 * loaded once and validated with zod so every table builder reads typed facts.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

/** Bad or unreadable study-tables file; the message names the file and the field path. */
export class StudyTablesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StudyTablesError";
  }
}

const StudyTableSchema = z
  .object({
    note: z.string(),
    columns: z.array(z.string()).min(1),
    rows: z.record(z.string(), z.array(z.number())),
  })
  .superRefine((t, ctx) => {
    for (const [row, values] of Object.entries(t.rows)) {
      if (values.length !== t.columns.length) {
        ctx.addIssue({
          code: "custom",
          path: ["rows", row],
          message: `has ${values.length} values for ${t.columns.length} columns`,
        });
      }
    }
  });

export const StudyTablesSchema = z.object({
  copied_from: z.string(),
  source: z.string(),
  labels: z.array(z.object({ zh: z.string(), en: z.string() })).length(10),
  encodings: z.record(z.string(), z.string()),
  tables: z.object({
    model_comparison: StudyTableSchema,
    encoding_ablation: StudyTableSchema,
    weighted_loss: StudyTableSchema,
    augmentation: StudyTableSchema,
  }),
  loss: z.string(),
});

export type StudyTables = z.infer<typeof StudyTablesSchema>;
export type StudyTableName = keyof StudyTables["tables"];

/** data/study-tables.json, found from this file both under src/ (tsx) and dist/ (built). */
export const STUDY_TABLES_PATH = path.resolve(__dirname, "../../data/study-tables.json");

const loaded = new Map<string, StudyTables>();

export function loadStudyTables(file: string = STUDY_TABLES_PATH): StudyTables {
  const hit = loaded.get(file);
  if (hit) return hit;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new StudyTablesError(`${file}: cannot read study tables: ${(err as Error).message}`);
  }
  const parsed = StudyTablesSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    throw new StudyTablesError(`${file}: ${issues}`);
  }
  loaded.set(file, parsed.data);
  return parsed.data;
}

/**
 * How a study table lays its variants out, as on its slide: as columns, with the metrics as rows (the model, loss and
 * augmentation tables), or as rows, with the metrics as columns (the encoding table). Each table spec says which.
 */
export type StudyOrientation = "variants-as-columns" | "variants-as-rows";

/** One published number (in %) by its row and column names, or undefined when the study's table has no such cell. */
export function studyValue(
  table: StudyTableName,
  row: string,
  column: string,
  tables: StudyTables = loadStudyTables(),
): number | undefined {
  const t = tables.tables[table];
  const j = t.columns.indexOf(column);
  const values = t.rows[row];
  return j < 0 || values === undefined ? undefined : values[j];
}

/** The published value of `metric` for `variant` (in %), read the way the table is laid out. */
export function studyMetric(
  table: StudyTableName,
  orientation: StudyOrientation,
  variant: string,
  metric: string,
  tables: StudyTables = loadStudyTables(),
): number | undefined {
  return orientation === "variants-as-rows" ? studyValue(table, variant, metric, tables) : studyValue(table, metric, variant, tables);
}

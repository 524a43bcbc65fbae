/**
 * One error class per kind of model/checkpoint problem. Every message names the file and, where there is one,
 * the field or tensor key, so a notebook user can fix the folder without reading this code.
 */

/** config.json is missing a field, has a wrong type, or is not JSON. */
export class ModelConfigError extends Error {
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    message: string,
  ) {
    super(`${file}${field ? `: field "${field}"` : ""}: ${message}`);
    this.name = "ModelConfigError";
  }
}

/** The checkpoint is a model family or option this BERT implementation does not compute faithfully. */
export class UnsupportedModelError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
  ) {
    super(`${file}: field "${field}": ${message}`);
    this.name = "UnsupportedModelError";
  }
}

/** A file the folder needs is not there. */
export class MissingFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "MissingFileError";
  }
}

/** A weights file is malformed: truncated, bad header, unknown dtype, unsupported container or pickle opcode. */
export class WeightsFormatError extends Error {
  constructor(
    readonly file: string,
    readonly key: string | undefined,
    message: string,
  ) {
    super(`${file}${key ? ` [${key}]` : ""}: ${message}`);
    this.name = "WeightsFormatError";
  }
}

/** A tensor in the checkpoint does not have the shape config.json implies. */
export class ShapeMismatchError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    readonly expected: readonly number[],
    readonly actual: readonly number[],
    hint = "",
  ) {
    super(
      `${file} [${key}]: shape [${actual.join(", ")}] does not match [${expected.join(", ")}] expected from config.json` +
        (hint ? ` (${hint})` : ""),
    );
    this.name = "ShapeMismatchError";
  }
}

/** The tokenizer and the checkpoint's word embeddings disagree in a way we cannot fix by resizing. */
export class VocabSizeError extends Error {
  constructor(
    readonly file: string,
    readonly tokenizerSize: number,
    readonly checkpointSize: number,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "VocabSizeError";
  }
}

/** Model inputs with inconsistent shapes or out-of-range positions. */
export class ModelInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`model input "${field}": ${message}`);
    this.name = "ModelInputError";
  }
}

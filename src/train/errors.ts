/** Typed errors of the training loop; messages name the field (and file) at fault. */

/** A TrainConfig (or optimizer/schedule option) field has a value the loop cannot use. */
export class TrainConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`TrainConfig.${field}: ${message}`);
    this.name = "TrainConfigError";
  }
}

/** A dataset handed to train/predict/evaluate is unusable (empty, missing labels, ragged rows). */
export class TrainDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainDataError";
  }
}

/** A checkpoint or optimizer-state file is missing, malformed, or does not fit the model. */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "CheckpointError";
  }
}

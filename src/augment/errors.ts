/** Typed errors of src/augment; messages name the option field at fault. */

/** A sampler option or the label list handed to a sampler cannot give the asked-for batches. */
export class SamplerError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`sampler option ${field}: ${message}`);
    this.name = "SamplerError";
  }
}

/** An augmentation / hard-class option has a value that cannot be used. */
export class AugmentConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`augment option ${field}: ${message}`);
    this.name = "AugmentConfigError";
  }
}

/** A training row cannot be augmented as given (unknown label, missing field). */
export class AugmentDataError extends Error {
  constructor(
    readonly rowId: string,
    readonly field: string,
    message: string,
  ) {
    super(`train row id=${rowId} field ${field}: ${message}`);
    this.name = "AugmentDataError";
  }
}

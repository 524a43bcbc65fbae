/** A row cannot be encoded as asked (bad option, maxLength too small). */
export class EncodingError extends Error {
  constructor(
    readonly rowId: string,
    readonly field: string,
    detail: string,
  ) {
    super(`row ${rowId} (${field}): ${detail}`);
    this.name = "EncodingError";
  }
}

/** A transform rejected a record (it threw, ran past its limits, or cannot compile): the record goes to the DLQ. */
export class TransformError extends Error {
  constructor(
    readonly transform: string,
    message: string,
  ) {
    super(`transform ${transform}: ${message}`);
    this.name = 'TransformError';
  }
}

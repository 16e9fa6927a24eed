/**
 * The destination could not be connected to (refused, not accepting connections, authentication,
 * unknown database). Nothing was written, so no record is at fault: the sink retries the batch
 * instead of counting it towards the records' max_retries and the DLQ. `code` is the driver's (the
 * error class the logs show).
 */
export class DestinationConnectError extends Error {
  readonly code?: string;
  constructor(readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
    this.name = 'DestinationConnectError';
    this.code = (cause as { code?: string })?.code;
  }
}

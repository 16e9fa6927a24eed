/**
 * Errors of the network itself, whatever the driver: the server cannot be reached now. Each
 * connector's classifier (isConnectionError) starts from this and adds its driver's own signs.
 */
export function isNetworkError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/.test(err?.code ?? ''))
    return true;
  return /socket hang up|write after end|connection timeout|timeout expired/i.test(String(err?.message ?? ''));
}

/** JSON value (envelope conventions) -> a parameter that Postgres casts back to the column type exactly. */
export function toPgParam(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'json' || type === 'jsonb') return typeof value === 'string' ? value : JSON.stringify(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

/** DLQ error class of a Postgres error: `pg_<SQLSTATE>` (e.g. pg_23514, a check violation). */
export function pgErrorClass(e: unknown): string {
  const code = (e as { code?: string })?.code;
  return code ? `pg_${code}` : (e as Error)?.name || 'Error';
}

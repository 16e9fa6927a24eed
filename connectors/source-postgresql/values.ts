const INT = new Set([21, 23, 26]);
const FLOAT = new Set([700, 701]);

/**
 * Postgres text output -> JSON value. Exactness first: numeric, int8 beyond 2^53, timestamps, dates,
 * uuid, bytea (\x hex), arrays (Postgres array literal) and json/jsonb (as JSON text, like Debezium's
 * io.debezium.data.Json, because JSON.parse would lose numeric scale such as 1.0 and json's
 * formatting) stay strings. `undefined` marks an unchanged TOASTed value (absent from the update).
 */
export function fromPgText(oid: number, text: string | null | undefined): unknown {
  if (text === null) return null;
  if (text === undefined) return undefined;
  if (oid === 16) return text === 't' || text === 'true';
  if (INT.has(oid)) return Number(text);
  if (oid === 20) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : text;
  }
  if (FLOAT.has(oid)) {
    const n = Number(text);
    return Number.isFinite(n) && String(n) === text ? n : text;
  }
  return text;
}

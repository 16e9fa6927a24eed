/**
 * The record values the kafka destination sends. `sluice`: the envelope as Sluice's own topics carry
 * it. `debezium`: the shape Debezium's JSON converter writes with schemas disabled, so consumers of
 * Debezium topics read it unchanged: `{before, after, source, op, ts_ms, transaction}`, op codes
 * c/u/d/r/t, and the `source` block of Debezium's PostgreSQL or MySQL connector with its field names
 * (version, connector, name, ts_ms, snapshot "true"/"false"/..., db, sequence, schema, table, txId,
 * lsn, xmin; for MySQL server_id, gtid, file, pos, row, thread, query). Row values keep Sluice's
 * exact forms (numeric and temporal values as text, like Debezium's decimal.handling.mode=string);
 * `db` of a Postgres source is null, because Sluice's change events do not carry the database name.
 */
import { Envelope, encodeEnvelope } from '../../core/change-event';

export type EnvelopeFormat = 'sluice' | 'debezium';

/** A Postgres LSN `X/Y` as Debezium's number (bytes into the WAL); null when it is not one. */
export function lsnNumber(lsn: string | null): number | null {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(lsn ?? '');
  return m ? parseInt(m[1], 16) * 2 ** 32 + parseInt(m[2], 16) : null;
}

const snapshotText = (s: boolean | string) => (typeof s === 'string' ? s : s ? 'true' : 'false');

/** Debezium's value of a change event; `name` is the logical server name (Sluice's topic prefix). */
export function debeziumValue(env: Envelope, name: string): Record<string, unknown> {
  const s = env.source;
  const mysql = s.gtid !== undefined || s.file !== undefined;
  const source = mysql
    ? {
        version: 'sluice',
        connector: 'mysql',
        name,
        ts_ms: s.ts_ms,
        snapshot: snapshotText(s.snapshot),
        db: s.schema,
        sequence: null,
        table: s.table,
        server_id: 0,
        gtid: s.gtid ?? null,
        file: s.file ?? '',
        pos: s.pos ?? 0,
        row: 0,
        thread: null,
        query: null,
      }
    : {
        version: 'sluice',
        connector: 'postgresql',
        name,
        ts_ms: s.ts_ms,
        snapshot: snapshotText(s.snapshot),
        db: null,
        sequence: JSON.stringify([null, lsnNumber(s.lsn) === null ? null : String(lsnNumber(s.lsn))]),
        schema: s.schema,
        table: s.table,
        txId: s.tx_id,
        lsn: lsnNumber(s.lsn),
        xmin: null,
      };
  return { before: env.before, after: env.after, source, op: env.op, ts_ms: env.ts_ms, transaction: null };
}

/** The Kafka value of a change event in the chosen envelope. */
export function recordValue(env: Envelope, format: EnvelopeFormat, name: string): string {
  return format === 'debezium' ? JSON.stringify(debeziumValue(env, name)) : encodeEnvelope(env);
}

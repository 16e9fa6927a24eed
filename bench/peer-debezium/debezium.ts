/**
 * The two Debezium connectors of bench/peer-debezium, configured the way a Debezium user tuning for
 * throughput and latency would (each choice is explained here and in docs/benchmarks.md): the
 * Postgres source with pgoutput, and the JDBC sink in upsert mode keyed by the record key.
 */

export interface PgConn {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export function pgConn(url: string): PgConn {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1),
  };
}

/** Topic Debezium writes the `public.bench` table to. */
export const benchTopic = (prefix: string) => `${prefix}.public.bench`;

export function sourceConfig(
  src: PgConn,
  o: { prefix: string; slot: string; publication: string },
): Record<string, string | number | boolean> {
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': 1, // a Postgres slot has one reader
    'database.hostname': src.host,
    'database.port': src.port,
    'database.user': src.user,
    'database.password': src.password,
    'database.dbname': src.database,
    'topic.prefix': o.prefix,
    'plugin.name': 'pgoutput',
    'slot.name': o.slot,
    'publication.name': o.publication,
    'publication.autocreate.mode': 'filtered', // a publication of the included table only
    'table.include.list': 'public.bench',
    // The table is new and empty when the connector starts: stream from the slot, no snapshot.
    'snapshot.mode': 'no_data',
    // Batches handed to Connect: 10,240 events per poll instead of 2,048, with a queue of four
    // batches so the WAL reader keeps decoding while Connect converts and sends the previous one.
    'max.batch.size': 10240,
    'max.queue.size': 40960,
    // poll() waits for a full batch or this long (default 500 ms). At 5,000 rows/s a 10k batch
    // would take 2 s to fill, so a short interval is what keeps commit -> visible latency low; at
    // full speed batches fill before it expires, so it costs nothing there.
    'poll.interval.ms': 20,
    // The topic mirrors Sluice's: one partition per table (ordering per key kept trivially).
    'topic.creation.default.partitions': 1,
    'topic.creation.default.replication.factor': 1,
    // No transaction metadata topic, no tombstones (the bench has no deletes; both add records).
    'provide.transaction.metadata': false,
    'tombstones.on.delete': false,
    // Per-event latency statistics (quantile sketches fed through a queue on every event) and the
    // __debezium.context.* headers on every record (which the sink's header converter parses per
    // record) are monitoring aids nobody reads here; both showed in thread dumps of the hot path.
    'statistics.metrics.enabled': false,
    'extended.headers.enabled': false,
    'decimal.handling.mode': 'precise', // numeric(12,2) as a Connect Decimal: exact at the sink
  };
}

export function sinkConfig(dst: PgConn, o: { topic: string }): Record<string, string | number | boolean> {
  return {
    'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
    'tasks.max': 1, // one partition
    topics: o.topic,
    'connection.url': `jdbc:postgresql://${dst.host}:${dst.port}/${dst.database}`,
    'connection.username': dst.user,
    'connection.password': dst.password,
    'insert.mode': 'upsert', // INSERT ... ON CONFLICT (id) DO UPDATE
    'primary.key.mode': 'record_key',
    'delete.enabled': true,
    'schema.evolution': 'none', // the bench creates the table (with arrived_at), as Sluice's side does
    'collection.name.format': 'bench',
    // Up to 5,000 records per flush (the same batch_size Sluice's destination gets), with the
    // consumer's max.poll.records at 5,000 so a poll fills a batch.
    'batch.size': 5000,
    // Collapses several changes of one key within a batch into the last one (fewer rows to write;
    // the updates of the workload hit the newest rows, often still in the same batch).
    'use.reduction.buffer': true,
    // One INSERT ... SELECT FROM unnest(arrays) per batch instead of a JDBC batch of single-row
    // statements: Debezium's own fast path for Postgres (3.x), the same shape Sluice writes.
    'dialect.postgres.unnest.insert.enabled': true,
    'use.time.zone': 'UTC', // timestamps without zone are UTC (the bench has only timestamptz)
  };
}

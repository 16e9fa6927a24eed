/**
 * The 10-column workload of bench/pipeline.ts per source kind: the source table, the same columns
 * on the destination Postgres plus an arrival clock, and the statements the load generator sends.
 * Latency everywhere is `arrived_at - src_ts` read on the destination (one machine clock).
 */
export interface BenchWorkload {
  kind: 'postgresql' | 'mysql';
  /** The source table `bench`. */
  sourceDdl: string;
  /** `bench` on the destination Postgres, created before the sink sees the table, with `arrived_at DEFAULT clock_timestamp()`. */
  destinationDdl: string;
  /** One multi-row INSERT of rows `from` .. `from + n - 1` (autocommit: one transaction). */
  insert(from: number, n: number): string;
  /** Updates the 200 newest rows (updates in the throughput mix). */
  update: string;
}

/** Values of row i; `now` is the dialect's current-time expression for column g. */
export const benchRow = (i: number, now: string) =>
  `(${i % 1000}, ${i * 7}, ${(i % 10000) / 100}, 'name ${i}', 'some longer text value for row ${i}', ${i % 2 === 0}, ${now}, '{"k": ${i}}')`;
export const BENCH_INSERT = 'INSERT INTO bench (a, b, c, d, e, f, g, h) VALUES ';

/** The Postgres columns of `bench` (source and, plus `arrived_at`, destination). */
export const BENCH_COLS =
  'id bigserial PRIMARY KEY, a int, b bigint, c numeric(12,2), d text, e ' +
  'text, f boolean, g timestamptz DEFAULT clock_timestamp(), h jsonb, ' +
  'src_ts timestamptz DEFAULT clock_timestamp()';

/** Postgres source (bench/pipeline's default, and both sides of bench/peer-debezium). */
export const postgresWorkload: BenchWorkload = {
  kind: 'postgresql',
  sourceDdl: `CREATE TABLE bench (${BENCH_COLS})`,
  destinationDdl: `CREATE TABLE bench (${BENCH_COLS}, arrived_at timestamptz DEFAULT clock_timestamp())`,
  insert: (from, n) =>
    BENCH_INSERT + Array.from({ length: n }, (_, k) => benchRow(from + k, 'clock_timestamp()')).join(','),
  update: `UPDATE bench SET a = a + 1 WHERE id IN (SELECT id FROM bench ORDER BY id DESC LIMIT 200)`,
};

/**
 * MariaDB: the same columns in MySQL types. TIMESTAMP(6) (not DATETIME) because the MySQL source
 * sends TIMESTAMP as a UTC instant (timestamptz at the destination), so src_ts compares with the
 * destination's clock_timestamp() without any time-zone assumption; (6) keeps microseconds.
 * CURRENT_TIMESTAMP(6) is the statement's start, at or before each row's commit: if anything the
 * latency is over-stated by the insert's own duration. BOOLEAN is tinyint(1) -> smallint, JSON -> jsonb
 * (what the sink would create itself).
 */
export const mariadbWorkload: BenchWorkload = {
  kind: 'mysql',
  sourceDdl: `CREATE TABLE bench (id BIGINT AUTO_INCREMENT PRIMARY KEY, a INT, b BIGINT, c DECIMAL(12,2), d TEXT, e TEXT, f BOOLEAN,
    g TIMESTAMP(6) NULL DEFAULT CURRENT_TIMESTAMP(6), h JSON, src_ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))`,
  destinationDdl: `CREATE TABLE bench (id bigint PRIMARY KEY, a integer, b bigint, c numeric(12,2), d text, e text, f smallint, g timestamptz, h jsonb,
    src_ts timestamptz, arrived_at timestamptz DEFAULT clock_timestamp())`,
  insert: (from, n) => BENCH_INSERT + Array.from({ length: n }, (_, k) => benchRow(from + k, 'NOW(6)')).join(','),
  // MySQL cannot read the table it updates in a subquery; UPDATE ... ORDER BY ... LIMIT does the same.
  update: 'UPDATE bench SET a = a + 1 ORDER BY id DESC LIMIT 200',
};

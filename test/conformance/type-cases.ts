// The type round-trip data of each (source kind, destination kind) row: a `typed` table with every
// type the source has (edge values and NULLs), the change that updates every type and deletes a row,
// and how each side is read so that both print every value alike. The procedure is the same for every
// row (scenarios.ts, typeRoundTrip); only these data differ.
import assert from 'node:assert/strict';
import { q, rowsOf } from '../dataplane/harness';
import { mysqlQuery } from '../mysql-helpers';

export interface TypeCase {
  /** Source DDL of `typed` (and what it needs, e.g. an enum type). */
  ddl: string;
  insert: string;
  /** Updates of every type and a delete. */
  change: string;
  source(url: string): Promise<unknown[]>;
  destination(url: string): Promise<unknown[]>;
  /** The column types the destination created, where it creates typed columns. */
  columnTypes?: { read(url: string): Promise<Record<string, string>>; expect: Record<string, string> };
  /** Checks on the envelopes in the table's topic. */
  envelope?(events: any[]): void;
}

const plain = (rows: unknown[]) => rows.map((r) => ({ ...(r as object) }));

// ---------- Postgres -> Postgres: every value compared as its ::text ----------

const PG_TYPES_COLS = [
  'id',
  'i',
  'bi',
  'n',
  't',
  'b',
  'ts',
  'tstz',
  'd',
  'u',
  'j',
  'jb',
  'by',
  'arr',
  'tarr',
  'f',
  'big',
];
export const pgToPg: TypeCase = {
  ddl: `CREATE TABLE typed (id bigserial PRIMARY KEY, i int, bi bigint, n numeric(30,10), t text, b boolean, ts timestamp, tstz timestamptz, d date, u uuid,
    j json, jb jsonb, "by" bytea, arr int[], tarr text[], f float8, big numeric);`,
  insert: `INSERT INTO typed (i, bi, n, t, b, ts, tstz, d, u, j, jb, "by", arr, tarr, f, big) VALUES
    (-2147483648, 9007199254740993, 12345678901234567890.0123456789, 'héllo ''quoted'' "x" \\ tab	end', true,
    '2024-02-29 23:59:59.123456', '2024-01-01 12:00:00.5+05:30', '0001-01-01',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50, "x"], "b": null}', '{"k": {"nested": true}, "n": 1.0}',
     '\\x00ff10', '{1,NULL,3}', '{"a b","c,d",NULL}', 1.0000000000000002, 1e40),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (0, -1, -0.5, '', false, '1999-12-31 00:00:00', '1970-01-01 00:00:00+00', '2038-01-19',
    '00000000-0000-0000-0000-000000000000', '[]', '[]', '\\x', '{}', '{}', -0.0, 0)`,
  // A value that starts with U+FEFF keeps it (a TextDecoder would strip it as a byte order mark).
  change: `UPDATE typed SET t = 'changed', jb = '{"v": 2}', n = 0.0000000001 WHERE i = 0; DELETE FROM typed WHERE i IS NULL;
    UPDATE typed SET t = E'\\uFEFFbom', tarr = ARRAY[E'\\uFEFFx'] WHERE i = -2147483648`,
  source: (url) => rowsOf(url, 'typed', PG_TYPES_COLS),
  destination: (url) => rowsOf(url, 'typed', PG_TYPES_COLS),
};

// ---------- Postgres -> MariaDB: each value as the text MariaDB shows for the mapped type ----------

// Booleans 1/0, DATETIME(6) in UTC, bytea as HEX; char(n) as Postgres sends it, blank-padded, which `::text` would strip.
const PG_TYPED = `SELECT id::text, i::text, si::text, bi::text, n::text, big::text, vc, ch, t, b::int::text AS b,
  to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US') AS ts, to_char(tstz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS tstz, to_char(d, 'YYYY-MM-DD') AS d,
  u::text, j::text, jb::text, upper(encode("by", 'hex')) AS "by", e::text, arr::text, f::text FROM typed ORDER BY id`;
const MY_TYPED = `SELECT CAST(id AS CHAR) AS id, CAST(i AS CHAR) AS i, CAST(si AS CHAR) AS si, CAST(bi AS CHAR) AS bi, CAST(n AS CHAR) AS n, big, vc, ch, t,
  CAST(b AS CHAR) AS b, CAST(ts AS CHAR) AS ts, CAST(tstz AS CHAR) AS tstz, CAST(d AS CHAR) AS d, u, CAST(j AS CHAR)
  AS j, CAST(jb AS CHAR) AS jb, HEX(\`by\`) AS \`by\`, e, arr, CAST(f AS CHAR) AS f
  FROM typed ORDER BY id`;
const mysqlColumnTypes = async (url: string) =>
  Object.fromEntries(
    (
      await mysqlQuery(
        url,
        'SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t FROM ' +
          'information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND ' +
          "TABLE_NAME = 'typed' ORDER BY ORDINAL_POSITION",
      )
    ).map((r) => [r.c, r.t]),
  );
export const pgToMysql: TypeCase = {
  ddl: `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TABLE typed (id bigserial PRIMARY KEY, i int, si smallint, bi bigint, n numeric(30,10), big numeric, vc varchar(20), ch char(4), t text, b boolean,
    ts timestamp, tstz timestamptz, d date, u uuid, j json, jb jsonb, "by" bytea, e mood, arr int[], f float8);`,
  insert: `INSERT INTO typed (i, si, bi, n, big, vc, ch, t, b, ts, tstz, d, u, j, jb, "by", e, arr, f) VALUES
    (-2147483648, -32768, 9007199254740993, 12345678901234567890.0123456789, 1e40, 'ünïcødé ''q'' "x"', 'ab', 'héllo ''quoted'' "x" \\ tab	end 😀', true,
     '2024-02-29 23:59:59.123456', '2024-01-01 12:00:00.5+05:30', '2024-02-29', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
     '{"a": [1, 2.50, "x"], "b": null}', '{"k": {"nested": true}, "n": 1.0}', '\\x00ff10', 'happy', '{1,NULL,3}', 0.1),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (0, 0, -9223372036854775808, -0.5, 0.000000000000000000000000000000000001, '', '    ', '', false,
    '1999-12-31 00:00:00', '1970-01-01 00:00:00+00', '1000-01-01',
     '00000000-0000-0000-0000-000000000000', '[]', '[]', '\\x', 'sad', '{}', -2.5)`,
  change:
    "UPDATE typed SET t = 'changed', jb = '{\"v\": 2}', n = 0.0000000001, " +
    "tstz = '2030-06-30 23:30:00-02:00' WHERE i = 0; DELETE FROM typed " +
    'WHERE i IS NULL',
  source: (url) => q(url, PG_TYPED),
  destination: async (url) => plain(await mysqlQuery(url, MY_TYPED)),
  columnTypes: {
    read: mysqlColumnTypes,
    expect: {
      id: 'bigint(20)',
      i: 'int(11)',
      si: 'smallint(6)',
      bi: 'bigint(20)',
      n: 'decimal(30,10)',
      big: 'longtext',
      vc: 'varchar(20)',
      ch: 'varchar(4)',
      t: 'longtext',
      b: 'tinyint(1)',
      ts: 'datetime(6)',
      tstz: 'datetime(6)',
      d: 'date',
      u: 'char(36)',
      j: 'longtext',
      jb: 'longtext',
      by: 'longblob',
      e: 'longtext',
      arr: 'longtext',
      f: 'double',
    },
  },
};

// ---------- MariaDB -> Postgres: each column in a form both databases print the same way ----------

async function mysqlTypedRows(url: string): Promise<Record<string, unknown>[]> {
  const my = url.startsWith('mysql:');
  const cols = my
    ? `id, ti, si, mi, i, iu, CAST(bi AS CHAR) AS bi, CAST(bu AS CHAR) AS bu, CAST(d AS CHAR) AS d, vc, tx, CAST(dt AS CHAR) AS dt, CAST(dt6 AS CHAR) AS dt6,
       UNIX_TIMESTAMP(ts) AS ts, CAST(dd AS CHAR) AS dd, j, LOWER(HEX(bl)) AS bl, LOWER(HEX(vb)) AS vb, CAST(e AS CHAR) AS e, f`
    : `id, ti, si, mi, i, iu, bi::text AS bi, bu::text AS bu, d::text AS d, vc, tx, dt::text AS dt, dt6::text AS dt6,
       extract(epoch FROM ts) AS ts, dd::text AS dd, j::text AS j, encode(bl, 'hex') AS bl, encode(vb, 'hex') AS vb, e, f`;
  const rows = await q(url, `SELECT ${cols} FROM typed ORDER BY id`);
  return rows.map((r: any) => ({
    ...r,
    id: Number(r.id),
    ti: r.ti == null ? null : Number(r.ti),
    si: r.si == null ? null : Number(r.si),
    mi: r.mi == null ? null : Number(r.mi),
    i: r.i == null ? null : Number(r.i),
    iu: r.iu == null ? null : Number(r.iu),
    f: r.f == null ? null : Number(r.f),
    ts: r.ts == null ? null : Number(r.ts),
    j: typeof r.j === 'string' ? JSON.parse(r.j) : r.j,
  }));
}
export const mysqlToPg: TypeCase = {
  ddl: `CREATE TABLE typed (id bigint AUTO_INCREMENT PRIMARY KEY, ti tinyint, si smallint, mi mediumint, i int, iu int unsigned, bi bigint, bu bigint unsigned,
    d decimal(30,10), vc varchar(50), tx text, dt datetime, dt6 datetime(6), ts timestamp(3) NULL DEFAULT NULL, dd date, j json, bl blob, vb varbinary(20),
    e enum('red','green','blue'), f double);`,
  insert: `INSERT INTO typed (ti, si, mi, i, iu, bi, bu, d, vc, tx, dt, dt6, ts, dd, j, bl, vb, e, f) VALUES
    (-128, -32768, -8388608, -2147483648, 4294967295, 9007199254740993, 18446744073709551615, 12345678901234567890.0123456789,
     'héllo ''quoted'' "x"', 'tab\\tend \\\\ ünïcode ✓', '2024-02-29 23:59:59', '1999-12-31 00:00:00.123456', '2024-01-01 12:00:00.5', '0001-01-01',
     '{"a": [1, 2.50, "x"], "b": null}', X'00ff10', X'DEADBEEF', 'green', 1.0000000000000002),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (0, 0, 0, 0, 0, -1, 0, -0.5, '', '', '1970-01-01 00:00:01', '2038-01-19 03:14:07.999999', '1970-01-01 00:00:01',
    '2038-01-19', '[]', X'', X'', 'red', -1.5e-300)`,
  change:
    "UPDATE typed SET tx = 'changed', j = '{\"v\": 2}', d = 0.0000000001, e " +
    "= 'blue', bl = X'01' WHERE ti = 0; DELETE FROM typed WHERE ti IS NULL",
  source: mysqlTypedRows,
  destination: mysqlTypedRows,
  columnTypes: {
    // The destination columns carry the Postgres types of the MySQL columns.
    read: async (url) =>
      Object.fromEntries(
        (
          await q(
            url,
            `SELECT column_name, format_type(atttypid, atttypmod) AS t FROM information_schema.columns c JOIN
            pg_attribute a ON a.attrelid = 'typed'::regclass AND a.attname = c.column_name
       WHERE c.table_name = 'typed' AND c.column_name IN ('d', 'bu', 'vc', 'dt', 'dt6', 'ts', 'j', 'bl') ORDER BY ordinal_position`,
          )
        ).map((t: any) => [t.column_name, t.t]),
      ),
    expect: {
      bu: 'numeric(20,0)',
      d: 'numeric(30,10)',
      vc: 'character varying(50)',
      dt: 'timestamp(0) without time zone',
      dt6: 'timestamp without time zone',
      ts: 'timestamp(3) with time zone',
      j: 'jsonb',
      bl: 'bytea',
    },
  },
  envelope: (events) => {
    const e = events.find((x) => x.after?.ti === -128)!;
    assert.equal(e.after.d, '12345678901234567890.0123456789', 'decimal exact as a string');
    assert.equal(e.after.bi, '9007199254740993', 'bigint beyond 2^53 as a string');
    assert.equal(e.after.ts, '2024-01-01 12:00:00.500+00', 'timestamp in UTC');
    assert.equal(e.after.bl, '\\x00ff10');
  },
};

// ---------- MariaDB -> MariaDB: TIMESTAMP is shown in the session's zone at the source, stored in UTC at the destination ----------

const myTyped = (
  ts: string,
) => `SELECT CAST(id AS CHAR) AS id, CAST(ti AS CHAR) AS ti, CAST(ui AS CHAR) AS ui, CAST(bu AS CHAR) AS bu, CAST(dc AS CHAR) AS dc, vc, tx,
  CAST(dt AS CHAR) AS dt, DATE_FORMAT(${ts}, '%Y-%m-%d %H:%i:%s.%f') AS ts, CAST(d AS CHAR) AS d, CAST(j AS CHAR) AS j, HEX(bl) AS bl, CAST(e AS CHAR) AS e,
  CAST(f AS CHAR) AS f, CAST(b AS CHAR) AS b FROM typed ORDER BY id`;
export const mysqlToMysql: TypeCase = {
  ddl: `CREATE TABLE typed (id BIGINT AUTO_INCREMENT PRIMARY KEY, ti TINYINT, ui INT UNSIGNED, bu BIGINT UNSIGNED, dc DECIMAL(30,10), vc VARCHAR(20), tx TEXT,
    dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, d DATE, j JSON, bl BLOB, e ENUM('sad','ok','happy'), f DOUBLE, b TINYINT(1));`,
  insert: `INSERT INTO typed (ti, ui, bu, dc, vc, tx, dt, ts, d, j, bl, e, f, b) VALUES
    (-128, 4294967295, 18446744073709551615, 12345678901234567890.0123456789, 'ünï ''q'' "x"',
    'héllo 😀 \\\\ tab\tend', '2024-02-29 23:59:59.123456', '2024-01-01 12:00:00.5',
     '2024-02-29', '{"a": [1, 2.50, "x"], "b": null}', X'00FF10', 'happy', 0.1, 1),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (0, 0, 0, -0.5, '', '', '1000-01-01 00:00:00', '1970-01-02 00:00:00', '1000-01-01', '[]', X'', 'sad', -2.5, 0)`,
  change:
    "UPDATE typed SET tx = 'changed', j = '{\"v\": 2}', dc = 0.0000000001, e " +
    "= 'ok', bl = X'01' WHERE ti = 0; DELETE FROM typed WHERE ti IS NULL",
  source: async (url) => plain(await mysqlQuery(url, myTyped(`CONVERT_TZ(ts, @@session.time_zone, '+00:00')`))),
  destination: async (url) => plain(await mysqlQuery(url, myTyped('ts'))),
};

import { Client } from 'pg';
import * as mysql from 'mysql2/promise';
import { DbConnConfig, pgClientConfig } from '../workers/pgconn';
import { mysqlConnectionOptions, quoteMysqlIdent } from '../workers/destination-mysql';
import { qualified } from '../workers/envelope';

/**
 * A source or destination database as the verify checklist sees it: which tables a source captures,
 * and row counts. `schema` is the Postgres schema, or the database on MySQL / MariaDB.
 */
export interface CountingDatabase {
  /** The tables a source captures now, as `schema.table` (`database.table` on MySQL). */
  capturedTables(source: Record<string, any>): Promise<string[]>;
  primaryKey(schema: string, table: string): Promise<string[]>;
  /** Rows; `liveOnly` skips soft-deleted ones. */
  count(schema: string, table: string, liveOnly: boolean): Promise<number>;
  /** Append mode: keys whose latest change (highest `_sluice_offset`) is not a delete. */
  countLatest(schema: string, table: string, keys: string[]): Promise<number>;
  close(): Promise<void>;
}

class PgDatabase implements CountingDatabase {
  private constructor(private c: Client) {}
  static async open(cfg: DbConnConfig): Promise<PgDatabase> {
    const c = new Client(pgClientConfig(cfg));
    c.on('error', () => undefined);
    try { await c.connect(); } catch (e) { await c.end().catch(() => undefined); throw e; }
    return new PgDatabase(c);
  }
  async capturedTables(source: Record<string, any>) {
    return (await this.c.query(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`, [source.publication_name])).rows.map((x) => x.t as string);
  }
  async primaryKey(schema: string, table: string) {
    const r = await this.c.query(`SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary`, [qualified(schema, table)]);
    return r.rows.map((x) => x.attname as string);
  }
  async count(schema: string, table: string, liveOnly: boolean) {
    return Number((await this.c.query(`SELECT count(*) AS n FROM ${qualified(schema, table)}${liveOnly ? ' WHERE NOT _sluice_deleted' : ''}`)).rows[0].n);
  }
  async countLatest(schema: string, table: string, keys: string[]) {
    const k = keys.map((x) => `"${x.replace(/"/g, '""')}"`).join(', ');
    return Number((await this.c.query(`SELECT count(*) AS n FROM (SELECT DISTINCT ON (${k}) _sluice_op FROM ${qualified(schema, table)} ORDER BY ${k}, _sluice_offset DESC) x WHERE _sluice_op <> 'd'`)).rows[0].n);
  }
  async close() { await this.c.end().catch(() => undefined); }
}

class MysqlDatabase implements CountingDatabase {
  private constructor(private c: mysql.Connection) {}
  static async open(cfg: DbConnConfig): Promise<MysqlDatabase> {
    return new MysqlDatabase(await mysql.createConnection({ ...mysqlConnectionOptions(cfg), supportBigNumbers: true, bigNumberStrings: true }));
  }
  private async rows(sql: string, params: unknown[] = []) { return (await this.c.query({ sql, timeout: 30000 }, params))[0] as Record<string, any>[]; }
  private target(schema: string, table: string) { return `${quoteMysqlIdent(schema)}.${quoteMysqlIdent(table)}`; }
  /** database_include, then table_include / table_exclude as full-match regular expressions on `database.table`. */
  async capturedTables(source: Record<string, any>) {
    const dbs: string[] = source.database_include ?? [];
    if (!dbs.length) return [];
    const all = await this.rows(`SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (?) ORDER BY 1`, [dbs]);
    const full = (re: string) => new RegExp('^(?:' + re + ')$');
    const inc = ((source.table_include ?? []) as string[]).map(full);
    const exc = ((source.table_exclude ?? []) as string[]).map(full);
    return all.map((x) => String(x.t)).filter((t) => (!inc.length || inc.some((r) => r.test(t))) && !exc.some((r) => r.test(t)));
  }
  async primaryKey(schema: string, table: string) {
    const r = await this.rows(`SELECT COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, [schema, table]);
    return r.map((x) => String(x.c));
  }
  async count(schema: string, table: string, liveOnly: boolean) {
    return Number((await this.rows(`SELECT COUNT(*) AS n FROM ${this.target(schema, table)}${liveOnly ? ' WHERE NOT _sluice_deleted' : ''}`))[0].n);
  }
  async countLatest(schema: string, table: string, keys: string[]) {
    const k = keys.map(quoteMysqlIdent).join(', ');
    return Number((await this.rows(`SELECT COUNT(*) AS n FROM (SELECT _sluice_op, ROW_NUMBER() OVER (PARTITION BY ${k} ORDER BY _sluice_offset DESC) AS rn FROM ${this.target(schema, table)}) x WHERE rn = 1 AND _sluice_op <> 'd'`))[0].n);
  }
  async close() { await this.c.end().catch(() => undefined); }
}

/** Opens the database of a source or destination connector of kind `postgresql` or `mysql`. */
export function openCountingDatabase(kind: string, cfg: Record<string, any>): Promise<CountingDatabase> {
  if (kind === 'mysql') return MysqlDatabase.open(cfg as DbConnConfig);
  if (kind === 'postgresql') return PgDatabase.open(cfg as DbConnConfig);
  return Promise.reject(new Error(`row counts are not supported for connector kind ${kind}`));
}

/** Where a connector keeps tables: the Postgres schema, or the MySQL database. */
export function destinationSchema(kind: string, cfg: Record<string, any>): string {
  return kind === 'mysql' ? cfg.database : cfg.schema ?? 'public';
}

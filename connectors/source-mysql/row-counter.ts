import type { SourceRowCounter } from '../module';
import { MysqlConnConfig, openMysqlQuery, quoteMysqlIdent } from '../shared/mysql';
import { tableFilter } from '../shared/table-filter';
import { SIGNAL_TABLE } from './signal';

type Conn = Awaited<ReturnType<typeof openMysqlQuery>>;

/** A MySQL source captures the base tables of database_include, filtered by table_include / table_exclude. */
export class MysqlSourceCounter implements SourceRowCounter {
  private constructor(
    private c: Conn,
    private cfg: MysqlSourceCounterConfig,
  ) {}
  static async open(cfg: MysqlSourceCounterConfig): Promise<MysqlSourceCounter> {
    return new MysqlSourceCounter(await openMysqlQuery(cfg), cfg);
  }
  async capturedTables() {
    const dbs = this.cfg.database_include ?? [];
    if (!dbs.length) return [];
    const all = await this.c.rows(
      "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM " +
        "information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND " +
        'TABLE_SCHEMA IN (?) ORDER BY 1',
      [dbs],
    );
    const wanted = tableFilter(this.cfg.table_include, this.cfg.table_exclude);
    return all.map((x) => String(x.t)).filter((t) => wanted(t) && t.slice(t.indexOf('.') + 1) !== SIGNAL_TABLE);
  }
  async primaryKey(schema: string, table: string) {
    const r = await this.c.rows(
      'SELECT COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE ' +
        'WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = ' +
        "'PRIMARY' ORDER BY ORDINAL_POSITION",
      [schema, table],
    );
    return r.map((x) => String(x.c));
  }
  async count(schema: string, table: string) {
    return Number(
      (await this.c.rows(`SELECT COUNT(*) AS n FROM ${quoteMysqlIdent(schema)}.${quoteMysqlIdent(table)}`))[0].n,
    );
  }
  async close() {
    await this.c.close();
  }
}

interface MysqlSourceCounterConfig extends MysqlConnConfig {
  database_include?: string[];
  table_include?: string[];
  table_exclude?: string[];
}

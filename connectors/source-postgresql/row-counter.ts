import type { Client } from 'pg';
import type { SourceRowCounter } from '../module';
import { DbConnConfig, openPgClient, qualified } from '../shared/postgres';

/** The tables a Postgres source captures are those of its publication. */
export class PgSourceCounter implements SourceRowCounter {
  private constructor(
    private c: Client,
    private publication: string,
  ) {}
  static async open(cfg: DbConnConfig & { publication_name: string }): Promise<PgSourceCounter> {
    return new PgSourceCounter(await openPgClient(cfg), cfg.publication_name);
  }
  async capturedTables() {
    const r = await this.c.query(
      `SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
      [this.publication],
    );
    return r.rows.map((x) => x.t as string);
  }
  async primaryKey(schema: string, table: string) {
    const r = await this.c.query(
      'SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = ' +
        'i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ' +
        '$1::regclass AND i.indisprimary',
      [qualified(schema, table)],
    );
    return r.rows.map((x) => x.attname as string);
  }
  async count(schema: string, table: string) {
    return Number((await this.c.query(`SELECT count(*) AS n FROM ${qualified(schema, table)}`)).rows[0].n);
  }
  async close() {
    await this.c.end().catch(() => undefined);
  }
}

import type { Client } from 'pg';
import type { DestinationRowCounter } from '../module';
import { DbConnConfig, openPgClient, qualified, quoteIdent } from '../shared/postgres';

/** Rows of destination tables in the destination's schema. */
export class PgDestinationCounter implements DestinationRowCounter {
  private constructor(
    private c: Client,
    private schema: string,
  ) {}
  static async open(cfg: DbConnConfig & { schema?: string }): Promise<PgDestinationCounter> {
    return new PgDestinationCounter(await openPgClient(cfg), cfg.schema ?? 'public');
  }
  async count(table: string, liveOnly: boolean) {
    return Number(
      (
        await this.c.query(
          `SELECT count(*) AS n FROM ${qualified(this.schema, table)}${liveOnly ? ' WHERE NOT _sluice_deleted' : ''}`,
        )
      ).rows[0].n,
    );
  }
  async countLatest(table: string, keys: string[]) {
    const k = keys.map(quoteIdent).join(', ');
    return Number(
      (
        await this.c.query(
          `SELECT count(*) AS n FROM (SELECT DISTINCT ON (${k}) _sluice_op ` +
            `FROM ${qualified(this.schema, table)} ORDER BY ${k}, _sluice_offset DESC) x WHERE _sluice_op <> 'd'`,
        )
      ).rows[0].n,
    );
  }
  async close() {
    await this.c.end().catch(() => undefined);
  }
}

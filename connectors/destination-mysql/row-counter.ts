import type { DestinationRowCounter } from '../module';
import { MysqlConnConfig, openMysqlQuery, quoteMysqlIdent } from '../shared/mysql';

type Conn = Awaited<ReturnType<typeof openMysqlQuery>>;

/** Rows of destination tables in the destination's database. */
export class MysqlDestinationCounter implements DestinationRowCounter {
  private constructor(
    private c: Conn,
    private database: string,
  ) {}
  static async open(cfg: MysqlConnConfig & { database: string }): Promise<MysqlDestinationCounter> {
    return new MysqlDestinationCounter(await openMysqlQuery(cfg), cfg.database);
  }
  private target(table: string) {
    return `${quoteMysqlIdent(this.database)}.${quoteMysqlIdent(table)}`;
  }
  async count(table: string, liveOnly: boolean) {
    return Number(
      (
        await this.c.rows(
          `SELECT COUNT(*) AS n FROM ${this.target(table)}${liveOnly ? ' WHERE NOT _sluice_deleted' : ''}`,
        )
      )[0].n,
    );
  }
  async countLatest(table: string, keys: string[]) {
    const k = keys.map(quoteMysqlIdent).join(', ');
    return Number(
      (
        await this.c.rows(
          `SELECT COUNT(*) AS n FROM (SELECT _sluice_op, ROW_NUMBER() OVER (PARTITION BY ${k} ORDER BY ` +
            `_sluice_offset DESC) AS rn FROM ${this.target(table)}) x WHERE rn = 1 AND _sluice_op <> 'd'`,
        )
      )[0].n,
    );
  }
  async close() {
    await this.c.close();
  }
}

import { MigrationInterface, QueryRunner } from 'typeorm';

/** Lists page in (created_at, id) order per collection; without these every page sorts the table. */
export class ListOrderIndexes1764300000001 implements MigrationInterface {
  name = 'ListOrderIndexes1764300000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX connectors_category_created_idx ON connectors (category, created_at, id)`);
    await q.query(`CREATE INDEX pipelines_created_idx ON pipelines (created_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX pipelines_created_idx`);
    await q.query(`DROP INDEX connectors_category_created_idx`);
  }
}

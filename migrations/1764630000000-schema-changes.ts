import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Schema changes: the pipeline's policy (`schema_changes`), and the schema history of each pipeline
 * and source table — one row per version of the table's columns, with the changes that made it, the
 * source position and the Kafka offset (of the table's topic) at which they took effect, and whether
 * the sink applied them or holds the table until an operator acknowledges (status `held`, then
 * `acknowledged` with a resolution).
 */
export class SchemaChanges1764630000000 implements MigrationInterface {
  name = 'SchemaChanges1764630000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE pipelines ADD COLUMN schema_changes text NOT NULL DEFAULT 'propagate'`);
    await q.query(`
      CREATE TABLE schema_history (
        id bigserial PRIMARY KEY,
        pipeline_id uuid NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        table_name text NOT NULL,
        version integer NOT NULL,
        columns jsonb NOT NULL,
        changes jsonb NOT NULL DEFAULT '[]',
        ignored jsonb NOT NULL DEFAULT '[]',
        column_map jsonb NOT NULL DEFAULT '{}',
        position text NULL,
        kafka_partition integer NULL,
        kafka_offset bigint NULL,
        status text NOT NULL DEFAULT 'applied',
        reason text NULL,
        resolution text NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        acknowledged_at timestamptz NULL,
        UNIQUE (pipeline_id, table_name, version)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE schema_history`);
    await q.query(`ALTER TABLE pipelines DROP COLUMN schema_changes`);
  }
}

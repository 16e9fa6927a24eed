import { MigrationInterface, QueryRunner } from 'typeorm';

/** Runtime state of the data plane: pipeline status, source positions, snapshots, DLQ index. */
export class Dataplane1764400000000 implements MigrationInterface {
  name = 'Dataplane1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE pipeline_runtime (
        pipeline_id uuid PRIMARY KEY REFERENCES pipelines(id) ON DELETE CASCADE,
        state text NOT NULL DEFAULT 'Starting',
        reason text NULL,
        since timestamptz NOT NULL DEFAULT now(),
        worker_id text NULL,
        runner_token text NULL,
        heartbeat_at timestamptz NULL,
        runner_started_at timestamptz NULL,
        restart_requested_at timestamptz NULL,
        source jsonb NOT NULL DEFAULT '{}',
        sink jsonb NOT NULL DEFAULT '{}',
        lag_history jsonb NOT NULL DEFAULT '[]'
      )`);
    await q.query(`
      CREATE TABLE source_state (
        source_id uuid PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
        slot_name text NOT NULL,
        slot_established_at timestamptz NULL,
        acked_lsn text NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE snapshots (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        pipeline_id uuid NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        tables jsonb NOT NULL,
        filter text NULL,
        mode text NOT NULL DEFAULT 'incremental',
        reason text NOT NULL DEFAULT 'api',
        status text NOT NULL DEFAULT 'pending',
        progress jsonb NOT NULL DEFAULT '{}',
        error text NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz NULL
      )`);
    await q.query(`CREATE INDEX snapshots_pipeline_idx ON snapshots (pipeline_id, status)`);
    await q.query(`
      CREATE TABLE dlq_records (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        pipeline_id uuid NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        topic text NOT NULL,
        kafka_partition integer NOT NULL,
        kafka_offset bigint NOT NULL,
        record_key text NULL,
        record_value jsonb NULL,
        error_class text NOT NULL,
        error_message text NOT NULL,
        attempts integer NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT dlq_records_unique UNIQUE (pipeline_id, topic, kafka_partition, kafka_offset)
      )`);
    await q.query(`CREATE INDEX dlq_records_status_idx ON dlq_records (pipeline_id, status)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE dlq_records');
    await q.query('DROP TABLE snapshots');
    await q.query('DROP TABLE source_state');
    await q.query('DROP TABLE pipeline_runtime');
  }
}

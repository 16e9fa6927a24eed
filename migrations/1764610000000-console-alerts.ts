import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Metrics history for the console's charts (one row per pipeline every 10 s, pruned after 24 h),
 * and alerting: channels, rules, the evaluator's state per (rule, pipeline), the notifications
 * (one per transition) and their deliveries (the outbox: one row per notification and channel).
 */
export class ConsoleAlerts1764610000000 implements MigrationInterface {
  name = 'ConsoleAlerts1764610000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE pipeline_metrics (
        pipeline_id uuid NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        at timestamptz NOT NULL,
        lag bigint NULL,
        replication_lag_bytes bigint NULL,
        events_in bigint NOT NULL DEFAULT 0,
        events_out bigint NOT NULL DEFAULT 0,
        errors bigint NOT NULL DEFAULT 0,
        dlq_count integer NOT NULL DEFAULT 0,
        runner_token text NULL,
        in_total bigint NULL,
        out_total bigint NULL,
        err_total bigint NULL,
        PRIMARY KEY (pipeline_id, at)
      )`);
    await q.query(`CREATE INDEX pipeline_metrics_at_idx ON pipeline_metrics (at)`);
    await q.query(`
      CREATE TABLE alert_channels (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL UNIQUE,
        kind text NOT NULL,
        config jsonb NOT NULL DEFAULT '{}',
        secrets jsonb NOT NULL DEFAULT '{}',
        tags jsonb NOT NULL DEFAULT '{}',
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE alert_rules (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL UNIQUE,
        condition text NOT NULL,
        pipeline_id uuid NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        selector jsonb NOT NULL DEFAULT '{}',
        threshold bigint NOT NULL DEFAULT 0,
        for_seconds integer NOT NULL DEFAULT 0,
        channel_ids jsonb NOT NULL DEFAULT '[]',
        enabled boolean NOT NULL DEFAULT true,
        tags jsonb NOT NULL DEFAULT '{}',
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE alert_states (
        rule_id uuid NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
        pipeline_id uuid NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        firing boolean NOT NULL DEFAULT false,
        pending_since timestamptz NULL,
        changed_at timestamptz NOT NULL DEFAULT now(),
        seq integer NOT NULL DEFAULT 0,
        PRIMARY KEY (rule_id, pipeline_id)
      )`);
    // History outlives its rule and pipeline: names are copied, ids are not foreign keys.
    await q.query(`
      CREATE TABLE alert_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        rule_id uuid NOT NULL,
        rule_name text NOT NULL,
        pipeline_id uuid NOT NULL,
        pipeline_name text NOT NULL,
        seq integer NOT NULL,
        event text NOT NULL,
        condition text NOT NULL,
        value text NULL,
        reason text NULL,
        at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT alert_events_transition UNIQUE (rule_id, pipeline_id, seq, event)
      )`);
    await q.query(`CREATE INDEX alert_events_at_idx ON alert_events (at DESC)`);
    await q.query(`
      CREATE TABLE alert_deliveries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id bigint NOT NULL REFERENCES alert_events(id) ON DELETE CASCADE,
        channel_id uuid NOT NULL,
        channel_name text NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text NULL,
        delivered_at timestamptz NULL,
        CONSTRAINT alert_deliveries_once UNIQUE (event_id, channel_id)
      )`);
    await q.query(
      `CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_attempt_at) WHERE status = 'pending'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'alert_deliveries',
      'alert_events',
      'alert_states',
      'alert_rules',
      'alert_channels',
      'pipeline_metrics',
    ])
      await q.query(`DROP TABLE ${t}`);
  }
}

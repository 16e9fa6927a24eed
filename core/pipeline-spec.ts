import type { ConnectorSpec } from './spec';

/**
 * The pipeline's declaration, in the same form as a connector kind's, so validation, OpenAPI,
 * export and the Terraform schema treat it like every other object.
 */
export const pipelineSpec: Omit<ConnectorSpec, 'category' | 'kind'> = {
  title: 'Pipeline',
  description: 'Streams the changes of one source through an ordered chain of transforms into one destination.',
  fields: {
    source_id: {
      type: 'string',
      required: true,
      references: 'source',
      forcesReplacement: true,
      description: 'Source to capture from. Changing it means a new pipeline (new consumer group and offsets).',
    },
    destination_id: {
      type: 'string',
      required: true,
      references: 'destination',
      description: 'Destination to write into.',
    },
    transform_ids: {
      type: 'list',
      default: [],
      references: 'transform',
      uniqueItems: true,
      description: 'Transforms applied in this order to every record; each at most once.',
    },
    tables: {
      type: 'list',
      default: [],
      description: 'Tables (`schema.table`) this pipeline delivers. Empty means every table the source captures.',
    },
    ingestion_mode: {
      type: 'string',
      enum: ['upsert', 'append'],
      description:
        "Overrides the destination's ingestion_mode when set. upsert merges on " +
        'the primary key; append inserts every change with metadata columns ' +
        '(_sluice_op, _sluice_source_ts, _sluice_offset, _sluice_ingested_at).',
    },
    snapshot_new_tables: {
      type: 'boolean',
      default: true,
      description:
        'Backfill a table with an incremental snapshot when it starts to be ' +
        "captured: a new table at the source that the source's include rules " +
        'match, or a table added to `tables`. The stream does not stop.',
    },
    schema_changes: {
      type: 'string',
      default: 'propagate',
      enum: ['propagate', 'ignore_new_columns', 'fail'],
      description:
        "What a change of a source table's columns does downstream " +
        '(docs/dataplane.md, "Schema changes"). propagate: new columns are ' +
        'added, dropped ones kept (nullable, NULL in new rows), widened types ' +
        'altered where the destination can; an incompatible type change holds ' +
        'the table, Broken with reason schema_incompatible, until resolved. ' +
        "ignore_new_columns: the destination's columns stay as they are; new " +
        'source columns are left out. fail: any change holds the table, Broken ' +
        'with reason schema_changed, until acknowledged (`sluice schema ack`). ' +
        'A renamed column is a drop plus an add.',
    },
    delivery: {
      type: 'object',
      description:
        'Retry policy for records the destination rejects; after max_retries a record goes to the dead-letter queue.',
      default: {} as Record<string, string>,
      fields: {
        max_retries: {
          type: 'integer',
          default: 5,
          min: 0,
          max: 100,
          description: 'Attempts after the first before a record goes to the DLQ.',
        },
        backoff_initial_ms: {
          type: 'integer',
          default: 500,
          min: 1,
          max: 3_600_000,
          description: 'First retry delay (ms); doubles with jitter each attempt.',
        },
        backoff_max_ms: {
          type: 'integer',
          default: 30000,
          min: 1,
          max: 3_600_000,
          description: 'Largest retry delay (ms).',
        },
      },
    },
    desired_state: {
      type: 'string',
      default: 'running',
      enum: ['running', 'paused'],
      description: 'running or paused; pause/resume also change it.',
    },
  },
};

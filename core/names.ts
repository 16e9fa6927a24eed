/**
 * Names both planes agree on: Kafka topics and consumer groups of a pipeline, the DLQ topic and its
 * record headers, and the Terraform provider's source address. The control plane reads what the data
 * plane writes under these names (consumer-group lag, DLQ), so they are defined once, here.
 */

/** A table's topic: `<topic_prefix>.<schema>.<table>`, characters Kafka does not allow become `_`. */
export function topicFor(prefix: string, schema: string, table: string): string {
  return `${prefix}.${schema}.${table}`.replace(/[^a-zA-Z0-9._-]/g, '_');
}

/** The sink's consumer group: its committed offsets are the pipeline's delivery position. */
export const groupIdFor = (pipelineId: string) => `sluice-${pipelineId}`;

/** Records that exhausted their retries, with the DLQ_HEADERS below. */
export const dlqTopicFor = (pipelineId: string) => `sluice.dlq.${pipelineId}`;

/** Headers of a change event (column types) and of a DLQ record (why it is there, where it came from). */
export const HEADERS = {
  columns: 'sluice.columns',
  errorClass: 'sluice.error.class',
  errorMessage: 'sluice.error.message',
  attempts: 'sluice.attempts',
  originalTopic: 'sluice.original.topic',
  originalPartition: 'sluice.original.partition',
  originalOffset: 'sluice.original.offset',
} as const;

/** The Terraform provider's source address (an explicit host, so Terraform and OpenTofu share one mirror). */
export const providerSource = 'sluice.local/sluice/sluice';

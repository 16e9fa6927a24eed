import type { Admin, Kafka, Message, Producer, SASLOptions } from 'kafkajs';
import { Envelope, kafkaKey } from '../../core/change-event';
import { HEADERS } from '../../core/names';
import { kafkajs } from '../../patches';
import type { DestinationWriter, TopicPartition, WriterOpts } from '../module';
import { EnvelopeFormat, recordValue } from './envelope';

export interface KafkaDestConfig {
  bootstrap_servers: string[];
  envelope?: EnvelopeFormat;
  tombstones?: boolean;
  sasl_mechanism?: 'none' | 'plain' | 'scram-sha-256' | 'scram-sha-512';
  sasl_username?: string;
  sasl_password?: string;
  tls_mode?: 'disable' | 'require' | 'verify-full';
  tls_ca_pem?: string;
  topic_partitions?: number;
  topic_replication_factor?: number;
}

/** The `sluice.columns` header of a column list, rendered once per list (the sink shares lists between records). */
const columnsHeader = new WeakMap<Envelope['columns'], string>();
function columnsJson(cols: Envelope['columns']): string {
  let s = columnsHeader.get(cols);
  if (s === undefined) {
    s = JSON.stringify(cols);
    columnsHeader.set(cols, s);
  }
  return s;
}

/** Errors of one record (or batch) the destination cluster refuses: the sink retries, then sends them to the DLQ. */
const REJECTED = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_REQUIRED_ACKS',
  'POLICY_VIOLATION',
]);

/** The broker error type of a KafkaJS error, looking through the retry wrapper's causes. */
function brokerErrorType(e: unknown): string | null {
  for (
    let x = e as { type?: string; cause?: unknown } | undefined, depth = 0;
    x && depth < 5;
    x = x.cause as typeof x, depth++
  ) {
    if (typeof x.type === 'string' && REJECTED.has(x.type)) return x.type;
  }
  return null;
}

/** The KafkaJS client of a destination config (the writer's; the tests read the topics back with the same settings). */
export function kafkaClient(cfg: KafkaDestConfig, clientId: string): Kafka {
  const { Kafka, logLevel } = kafkajs();
  const mech = cfg.sasl_mechanism ?? 'none';
  if (mech !== 'none' && !cfg.sasl_username)
    throw new Error(
      `destination kafka: sasl_mechanism ${mech} needs sasl_username and sasl_password; set them or sasl_mechanism = "none"`,
    );
  const tls = cfg.tls_mode ?? 'disable';
  return new Kafka({
    clientId,
    brokers: cfg.bootstrap_servers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 }, // the sink retries without limit on top
    ssl:
      tls === 'disable'
        ? false
        : { rejectUnauthorized: tls === 'verify-full', ...(cfg.tls_ca_pem ? { ca: [cfg.tls_ca_pem] } : {}) },
    sasl:
      mech === 'none'
        ? undefined
        : ({ mechanism: mech, username: cfg.sasl_username ?? '', password: cfg.sasl_password ?? '' } as SASLOptions),
  });
}

/**
 * Kafka destination: each batch goes out as one idempotent, acks=all sendBatch (per partition in
 * order), keyed by the primary key (`{"id":1}`, as Sluice's and Debezium's own topics are), so a
 * key's changes stay in one partition and in order; KafkaJS's default partitioner is the Java
 * client's murmur2. Delivery is at-least-once: after a crash the re-read changes are sent again,
 * which consumers that keep the latest value per key (or a compacted topic) do not see.
 */
export class KafkaWriter implements DestinationWriter {
  private cfg: KafkaDestConfig;
  private kafka: Kafka;
  private producer: Producer | null = null;
  private admin: Admin | null = null;
  private topics = new Set<string>();

  constructor(private o: WriterOpts) {
    this.cfg = o.cfg as KafkaDestConfig;
    this.kafka = kafkaClient(this.cfg, `sluice-dest-${o.pipelineId.slice(0, 8)}`);
  }

  private async connect(): Promise<Producer> {
    if (this.producer) return this.producer;
    const { Partitioners } = kafkajs();
    const p = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    await p.connect();
    this.producer = p;
    return p;
  }

  /** After any failure: a new producer (and producer id), so an idempotent sequence left in doubt never blocks the next send. */
  private async reset() {
    const p = this.producer;
    const a = this.admin;
    this.producer = null;
    this.admin = null;
    await Promise.all([p?.disconnect().catch(() => undefined), a?.disconnect().catch(() => undefined)]);
  }

  private async ensureTopics(names: string[]) {
    const missing = names.filter((t) => !this.topics.has(t));
    if (!missing.length) return;
    if (!this.admin) {
      const a = this.kafka.admin();
      await a.connect();
      this.admin = a;
    }
    const existing = new Set(await this.admin.listTopics());
    const create = missing.filter((t) => !existing.has(t));
    if (create.length) {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: create.map((topic) => ({
          topic,
          numPartitions: this.cfg.topic_partitions ?? 1,
          replicationFactor: this.cfg.topic_replication_factor ?? -1,
        })),
      });
      this.o.log.info({ pipeline_id: this.o.pipelineId, topics: create }, 'destination topics created');
    }
    for (const t of missing) this.topics.add(t);
  }

  async write(
    envs: Envelope[],
    _offsets: string[],
    tableFor: (schema: string, table: string) => string,
    from: TopicPartition,
  ): Promise<void> {
    const format = this.cfg.envelope ?? 'sluice';
    const tombstones = this.cfg.tombstones ?? true;
    const byTopic = new Map<string, Message[]>();
    for (const env of envs) {
      const topic = tableFor(env.source.schema, env.source.table)
        .replace(/[^a-zA-Z0-9._-]/g, '_')
        .slice(0, 249);
      // Debezium's logical server name is the prefix of the topic the change came from.
      const suffix = `.${env.source.schema}.${env.source.table}`.replace(/[^a-zA-Z0-9._-]/g, '_');
      const name = from.topic.endsWith(suffix) ? from.topic.slice(0, -suffix.length) : from.topic;
      const key = kafkaKey(env.columns, env.op === 'd' ? env.before : env.after);
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push({
        key,
        value: recordValue(env, format, name),
        headers: format === 'sluice' ? { [HEADERS.columns]: columnsJson(env.columns) } : undefined,
      });
      if (env.op === 'd' && tombstones && key !== null) list.push({ key, value: null });
    }
    try {
      const producer = await this.connect();
      await this.ensureTopics([...byTopic.keys()]);
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (e) {
      await this.reset();
      throw e;
    }
  }

  /** Only a refused record is a rejection; anything else (brokers down, login refused, a topic not creatable) is retried without limit. */
  isConnectionError(e: unknown) {
    return brokerErrorType(e) === null;
  }
  errorClass(e: unknown) {
    const t = brokerErrorType(e);
    return t ? `kafka_${t.toLowerCase()}` : (e as Error)?.name || 'Error';
  }
  async close() {
    await this.reset();
  }
}

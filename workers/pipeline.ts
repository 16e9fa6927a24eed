import { Logger } from 'pino';
import { topicFor } from '../core/names';
import { backoff, sleep } from '../core/retry';
import { UnknownConnectorKindError } from '../core/errors';
import { SecretBox } from '../core/secrets';
import { destinationModule, sourceModule, transformModule } from '../connectors';
import type { ControlDb } from './control-db';
import { connectKafka, pipelineKafka } from './kafka-clients';
import { ChangeEventSource, SourceSession } from './source-session';
import { DestConfig, SinkRunner } from './sink';
import { pipelineCounters, SinkThread, sinkThreadEnabled } from './sink-thread';
import { TransformDef } from './transforms';
import { metrics } from './metrics';
import type { SchemaPolicy } from './schema-tracker';

export interface LoadedPipeline {
  id: string;
  name: string;
  version: number;
  desired_state: string;
  tables: string[];
  ingestion_mode: 'upsert' | 'append' | null;
  schema_changes: SchemaPolicy;
  snapshot_new_tables: boolean;
  delivery: { max_retries: number; backoff_initial_ms: number; backoff_max_ms: number };
  source: { id: string; kind: string; version: number; config: Record<string, any> & { topic_prefix: string } };
  destination: { id: string; kind: string; version: number; config: DestConfig };
  transforms: TransformDef[];
  /** Changes whenever anything the runner depends on changes: the runner restarts then. */
  signature: string;
}

export async function loadPipeline(ds: ControlDb, secrets: SecretBox, id: string): Promise<LoadedPipeline | null> {
  const rows = await ds.query(`SELECT * FROM pipelines WHERE id = $1`, [id]);
  if (!rows.length) return null;
  const p = rows[0];
  const ids = [p.source_id, p.destination_id, ...(p.transform_ids as string[])];
  const conns = await ds.query(`SELECT * FROM connectors WHERE id = ANY($1)`, [ids]);
  const byId = new Map<string, any>(conns.map((c: any) => [c.id, c]));
  const open = (c: any) => {
    const cfg = { ...c.config };
    for (const [field, enc] of Object.entries(c.secrets ?? {})) cfg[field] = secrets.decrypt(enc as string, field);
    return cfg;
  };
  const src = byId.get(p.source_id);
  const dst = byId.get(p.destination_id);
  if (!src || !dst) return null;
  const transforms: TransformDef[] = (p.transform_ids as string[])
    .map((t) => byId.get(t))
    .filter(Boolean)
    .map((t: any) => ({ id: t.id, name: t.name, kind: t.kind, config: open(t) }));
  const signature = [
    p.version,
    src.version,
    dst.version,
    ...(p.transform_ids as string[]).map((t) => `${t}:${byId.get(t)?.version}`),
  ].join('|');
  return {
    id: p.id,
    name: p.name,
    version: p.version,
    desired_state: p.desired_state,
    tables: p.tables ?? [],
    ingestion_mode: p.ingestion_mode,
    schema_changes: p.schema_changes ?? 'propagate',
    snapshot_new_tables: p.snapshot_new_tables !== false,
    delivery: p.delivery,
    source: { id: src.id, kind: src.kind, version: src.version, config: open(src) },
    destination: { id: dst.id, kind: dst.kind, version: dst.version, config: open(dst) },
    transforms,
    signature,
  };
}

export type PipelineState = 'Starting' | 'Snapshotting' | 'Active' | 'Paused' | 'Broken';

/** One pipeline's source runner and sink runner, plus its status reports. */
export class PipelineRunner {
  private source: ChangeEventSource | null = null;
  private sink: SinkRunner | SinkThread | null = null;
  private state: PipelineState = 'Starting';
  private reason: string | null = null;
  private since = new Date();
  readonly startedAt = new Date();

  constructor(
    private p: LoadedPipeline,
    private o: {
      ds: ControlDb;
      databaseUrl: string;
      logLevel: string;
      kafkaBrokers: string[];
      log: Logger;
      workerId: string;
      token: string;
      graceMs: number;
      partitions: number;
    },
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    const { p, o } = this;
    const log = o.log.child({ pipeline_id: p.id, source_id: p.source.id, destination_id: p.destination.id });
    const { kafka, producer, admin } = pipelineKafka(`sluice-${p.id.slice(0, 8)}`, o.kafkaBrokers);
    const report = setInterval(() => {
      this.report().catch((e) => log.warn({ err: (e as Error).message }, 'status report failed'));
    }, 1000);
    await this.report().catch(() => undefined);
    try {
      // A kind this build does not know (stored by a newer version, or removed) stops here, loudly.
      try {
        sourceModule(p.source.kind);
        destinationModule(p.destination.kind);
        for (const t of p.transforms) transformModule(t.kind);
      } catch (e) {
        if (!(e instanceof UnknownConnectorKindError)) throw e;
        this.set('Broken', `unknown_connector_kind: ${e.message}`);
        log.error({ err: e.message }, 'pipeline cannot run: unknown connector kind');
        await sleep(0x7fffffff, signal); // the status reports go on, so the API shows the reason
        return;
      }
      await connectKafka({ producer, admin }, signal, (e) => {
        this.set('Broken', `kafka_unreachable: ${e.message}`);
        log.warn({ err: e.message }, 'Kafka not reachable; retrying');
      });
      if (signal.aborted) return;
      const common = {
        pipelineId: p.id,
        sourceId: p.source.id,
        producer,
        admin,
        kafka,
        control: o.ds,
        log,
        signal,
        graceMs: o.graceMs,
        partitions: o.partitions,
      };
      const delivered = (t: { schema: string; table: string }) =>
        !p.tables.length || p.tables.includes(`${t.schema}.${t.table}`);
      let sinkTopics: string[] = [];
      this.source = new SourceSession(sourceModule(p.source.kind), {
        ...common,
        cfg: p.source.config,
        snapshotNewTables: p.snapshot_new_tables,
        // A new table at the source: its topic joins the sink's subscription (rebuilt sinks get it too).
        onNewTables: (added) => {
          const topics = added.filter(delivered).map((t) => t.topic);
          sinkTopics.push(...topics);
          this.sink?.addTopics(topics);
        },
      });
      const sourceDone = this.source.run();
      await Promise.race([
        this.source.ready,
        new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })),
      ]);
      let sinkDone: Promise<void> = Promise.resolve();
      if (!signal.aborted) {
        sinkTopics = this.source.tables
          .filter(delivered)
          .map((t) => topicFor(p.source.config.topic_prefix, t.schema, t.table));
        const mode = p.ingestion_mode ?? p.destination.config.ingestion_mode ?? 'upsert';
        const sinkCfg = {
          pipelineId: p.id,
          kind: p.destination.kind,
          cfg: p.destination.config,
          mode,
          topics: sinkTopics,
          delivery: p.delivery,
          transforms: p.transforms,
          graceMs: o.graceMs,
          topicPrefix: p.source.config.topic_prefix,
          schemaChanges: p.schema_changes,
        };
        const newSink = () =>
          sinkThreadEnabled()
            ? new SinkThread(
                {
                  ...sinkCfg,
                  topics: [...sinkTopics],
                  kafkaBrokers: o.kafkaBrokers,
                  databaseUrl: o.databaseUrl,
                  logLevel: o.logLevel,
                  logBindings: log.bindings(),
                },
                log,
                signal,
              )
            : new SinkRunner({
                ...sinkCfg,
                topics: [...sinkTopics],
                kafka,
                producer,
                admin,
                control: o.ds,
                log,
                signal,
              });
        // A sink that dies (its thread crashed, the control DB was down when it started) is rebuilt
        // with backoff, from the committed offsets, and the pipeline shows Broken meanwhile.
        sinkDone = (async () => {
          for (let attempt = 1; !signal.aborted; attempt++) {
            this.sink = newSink();
            try {
              await this.sink.run();
              if (signal.aborted) return;
              throw new Error('sink runner ended by itself');
            } catch (e) {
              if (signal.aborted) return;
              log.error({ err: (e as Error).message, attempt }, 'sink runner failed; restarting it');
              this.sink.status = {
                ...this.sink.status,
                state: 'broken',
                reason: `sink_failed: ${(e as Error).message}`,
              };
              await sleep(backoff(attempt, 1000, 30000), signal);
            }
          }
        })();
      }
      await Promise.all([sourceDone, sinkDone]);
    } finally {
      clearInterval(report);
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
  }

  private set(state: PipelineState, reason: string | null) {
    if (state !== this.state) this.since = new Date();
    this.state = state;
    this.reason = reason;
  }

  private compute() {
    const s = this.source?.status;
    const k = this.sink?.status;
    if (s?.state === 'broken') this.set('Broken', s.reason);
    else if (k?.state === 'broken') this.set('Broken', k.reason);
    else if (!s || !k || s.state === 'starting' || k.state === 'starting') {
      if (this.state !== 'Broken' || s) this.set('Starting', s?.reason ?? null);
    } else if (this.source?.snapshotActive) this.set('Snapshotting', null);
    else this.set('Active', s.state === 'stopped' ? s.reason : null); // initial_only done: the reason says nothing streams
  }

  async report(final?: { state: PipelineState; reason: string | null }) {
    if (final) this.set(final.state, final.reason);
    else this.compute();
    const s = this.source?.status;
    const k = this.sink?.status;
    if (s?.replication_lag_bytes != null) metrics.lag.set({ pipeline: this.p.id }, s.replication_lag_bytes);
    const c = await pipelineCounters(this.p.id);
    const source = {
      ...(s
        ? {
            state: s.state,
            reason: s.reason,
            position: s.position,
            last_event_at: s.last_event_at,
            replication_lag_bytes: s.replication_lag_bytes,
          }
        : { state: 'starting' }),
      events_in_total: c.events_in,
    };
    const sink = {
      ...(k
        ? {
            state: k.state,
            reason: k.reason,
            lag: k.lag,
            last_write_at: k.last_write_at,
            partitions: k.partitions ?? {},
          }
        : { state: 'starting' }),
      events_out_total: c.events_out,
      errors_total: c.errors,
    };
    // Only the fence holder writes (runner_token); a stale runner cannot overwrite its successor.
    await this.o.ds.query(
      `INSERT INTO pipeline_runtime (pipeline_id, state, reason, since, worker_id, runner_token, heartbeat_at, runner_started_at, source, sink, lag_history)
       VALUES ($1,$2,$3,$4,$5,$6,now(),$7,$8,$9, jsonb_build_array(jsonb_build_object('at', now(), 'lag', $10::bigint)))
       ON CONFLICT (pipeline_id) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason,
         since = CASE WHEN pipeline_runtime.state = EXCLUDED.state THEN pipeline_runtime.since ELSE EXCLUDED.since END,
         worker_id = EXCLUDED.worker_id, runner_token = EXCLUDED.runner_token, heartbeat_at = now(), runner_started_at = EXCLUDED.runner_started_at,
         source = EXCLUDED.source, sink = EXCLUDED.sink,
         lag_history = (SELECT COALESCE(jsonb_agg(x), '[]'::jsonb) FROM (SELECT x FROM
         jsonb_array_elements(pipeline_runtime.lag_history || EXCLUDED.lag_history) x OFFSET GREATEST(0,
         jsonb_array_length(pipeline_runtime.lag_history) + 1 - 60)) q)`,
      [
        this.p.id,
        this.state,
        this.reason,
        this.since,
        this.o.workerId,
        this.o.token,
        this.startedAt,
        JSON.stringify(source),
        JSON.stringify(sink),
        k?.lag ?? null,
      ],
    );
  }
}

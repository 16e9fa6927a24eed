/**
 * The sink runner of a pipeline in its own worker thread.
 *
 * Why: a pipeline's source and sink each cost ~20 – 25 µs of CPU per row (docs/benchmarks.md). On
 * one event loop they cap a pipeline at one core; in two threads the source's decoding and the
 * sink's fetch decoding, JSON parsing and statement building run in parallel. Kafka is the only
 * thing they share, so the thread needs nothing from the main thread but plain configuration: it
 * opens its own Kafka client (consumer, DLQ producer, admin), its own control-DB pool (DLQ records)
 * and its own logger, and reports its status and metrics back by message.
 *
 * Fencing stays in the main thread: the thread lives inside the process that holds the pipeline's
 * advisory locks, ends when the runner is stopped, and dies with the process on kill -9.
 * `SLUICE_SINK_THREAD=0` runs the sink on the main event loop instead (same SinkRunner).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { connectKafka, pipelineKafka } from './kafka-clients';
import { Pool } from 'pg';
import { AggregatorRegistry, MetricObjectWithValues, MetricValue } from 'prom-client';
import { Logger } from 'pino';
import { createLogger } from '../core/log';
import { metrics, registry } from './metrics';
import { SinkRunner, SinkRunnerOpts, SinkStatus } from './sink';

/** What the thread needs to build its SinkRunner: plain data only (structured-clone). */
export type SinkThreadConfig = Omit<SinkRunnerOpts, 'kafka' | 'producer' | 'admin' | 'control' | 'log' | 'signal'> & {
  kafkaBrokers: string[];
  databaseUrl: string;
  logLevel: string;
  logBindings: Record<string, unknown>;
};

type FromThread =
  | { type: 'status'; status: SinkStatus }
  | { type: 'metrics'; metrics: MetricObjectWithValues<MetricValue<string>>[] };
type ToThread = { type: 'stop' } | { type: 'topics'; topics: string[] };

export const sinkThreadEnabled = () => process.env.SLUICE_SINK_THREAD !== '0';

/** Latest metrics of every live sink thread of this process, merged into the worker's /metrics. */
const threadMetrics = new Map<number, MetricObjectWithValues<MetricValue<string>>[]>();

/** The worker's Prometheus text: this thread's registry plus the sink threads' last reports. */
export async function workerMetricsText(): Promise<{ contentType: string; text: string }> {
  if (!threadMetrics.size) return { contentType: registry.contentType, text: await registry.metrics() };
  const merged = AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...threadMetrics.values()]);
  return { contentType: merged.contentType, text: await merged.metrics() };
}

/**
 * Cumulative event counters of one pipeline in this process (main thread plus its sink thread's last
 * report), written into the runner's status row: the API samples them into the metrics history.
 */
export async function pipelineCounters(
  pipelineId: string,
): Promise<{ events_in: number; events_out: number; errors: number }> {
  const values = [
    ...(await Promise.all([metrics.eventsIn.get(), metrics.eventsOut.get(), metrics.retries.get()])),
    ...[...threadMetrics.values()].flat(),
  ];
  const sum = (name: string) =>
    values
      .filter((m) => m.name === name)
      .flatMap((m) => m.values)
      .reduce((a, v) => a + (v.labels.pipeline === pipelineId ? Number(v.value) : 0), 0);
  return {
    events_in: sum('sluice_events_in_total'),
    events_out: sum('sluice_events_out_total'),
    errors: sum('sluice_write_retries_total'),
  };
}

/** Main-thread handle: the same `status` and `run()` as a SinkRunner. */
export class SinkThread {
  status: SinkStatus = { state: 'starting', reason: null, lag: null, last_write_at: null, broken_since: null };

  private worker: Worker | null = null;

  constructor(
    private cfg: SinkThreadConfig,
    private log: Logger,
    private signal: AbortSignal,
  ) {}

  /** New tables' topics join the thread's subscription. */
  addTopics(topics: string[]) {
    this.cfg = { ...this.cfg, topics: [...new Set([...this.cfg.topics, ...topics])] };
    this.worker?.postMessage({ type: 'topics', topics } satisfies ToThread);
  }

  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(__filename, { workerData: { sinkThread: this.cfg } });
      this.worker = worker;
      const threadId = worker.threadId;
      this.log.debug({ thread_id: threadId }, 'sink runner started in its own thread');
      const stop = () => worker.postMessage({ type: 'stop' } satisfies ToThread);
      if (this.signal.aborted) stop();
      else this.signal.addEventListener('abort', stop, { once: true });
      worker.on('message', (m: FromThread) => {
        if (m.type === 'status') this.status = m.status;
        else if (m.type === 'metrics') threadMetrics.set(threadId, m.metrics);
      });
      let failure: Error | null = null;
      worker.on('error', (e) => {
        failure = e;
        this.log.error({ err: e.message }, 'sink thread failed');
      });
      worker.on('exit', (code) => {
        this.signal.removeEventListener('abort', stop);
        threadMetrics.delete(threadId);
        this.status = { ...this.status, state: 'stopped' };
        if (failure || (code !== 0 && !this.signal.aborted))
          reject(failure ?? new Error(`sink thread exited with code ${code}`));
        else resolve();
      });
    });
  }
}

/** Thread side: builds the SinkRunner from plain configuration and runs it until the main thread says stop. */
async function threadMain(c: SinkThreadConfig): Promise<void> {
  const port = parentPort!;
  const abort = new AbortController();
  let sink: SinkRunner | null = null;
  const early: string[] = [];
  port.on('message', (m: ToThread) => {
    if (m.type === 'stop') abort.abort();
    else if (sink) sink.addTopics(m.topics);
    else early.push(...m.topics);
  });
  const log = createLogger(c.logLevel).child(c.logBindings);
  const { kafka, producer, admin } = pipelineKafka(`sluice-sink-${c.pipelineId.slice(0, 8)}`, c.kafkaBrokers);
  const pool = new Pool({
    connectionString: c.databaseUrl,
    max: 2,
    application_name: `sluice-sink-ctl-${c.pipelineId.slice(0, 8)}`,
    idleTimeoutMillis: 10000,
  });
  pool.on('error', () => undefined);
  const control = { query: async (sql: string, params?: unknown[]) => (await pool.query(sql, params)).rows };
  const { kafkaBrokers: _b, databaseUrl: _d, logLevel: _l, logBindings: _lb, ...opts } = c;
  sink = new SinkRunner({ ...opts, kafka, producer, admin, control, log, signal: abort.signal });
  if (early.length) sink.addTopics(early);
  const report = () => {
    port.postMessage({ type: 'status', status: sink.status } satisfies FromThread);
    registry.getMetricsAsJSON().then(
      (metrics) => port.postMessage({ type: 'metrics', metrics } satisfies FromThread),
      () => undefined,
    );
  };
  const timer = setInterval(report, 500);
  try {
    await connectKafka({ producer, admin }, abort.signal, (e) => {
      sink.status = { ...sink.status, reason: `kafka: ${e.message}` };
      log.warn({ err: e.message }, 'Kafka not reachable from the sink; retrying');
    });
    if (!abort.signal.aborted) await sink.run();
  } finally {
    clearInterval(timer);
    report();
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}

if (!isMainThread && workerData?.sinkThread) {
  threadMain(workerData.sinkThread as SinkThreadConfig).then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

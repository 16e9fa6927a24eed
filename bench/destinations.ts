/**
 * bench/destinations: the burst of bench/pipeline (the 10-column workload: inserts in 1,000-row
 * transactions with an update of the 200 newest rows every 5,000) from a Postgres source into each
 * destination kind, everything on this machine, one kind after the other on one test stack.
 *   npm run bench:destinations -- [--rows 50000] [--only postgresql,s3,elasticsearch,kafka,webhook]
 *   (= npm run build && node dist/bench/destinations.js ...)
 * Needs the services of test/run.sh (a stack from `node dist/stack/cli.js start`, DATABASE_URL,
 * KAFKA_BROKERS and SLUICE_HOME exported, as for bench/pipeline); the extra servers (Elasticsearch,
 * moto, the second Kafka broker) start on first use, as in the conformance suite.
 *
 * Each kind is done when the destination holds every source row (read back the way the conformance
 * suite compares: the bucket's Parquet files through DuckDB, the index, the topic, the receiver),
 * polled every second (every 100 ms for Postgres), so a kind's end-to-end figure is late by up to one
 * poll. Worker CPU per row (user+system of the worker process, from /proc) is the steadier figure on
 * a shared machine. Destination settings are the kinds' defaults except where the kit needs one
 * (s3 files close after 1 s of age; elasticsearch without replicas). Prints figures; asserts nothing.
 */
import { DestinationKit } from '../test/conformance/kits';
import { destinationElasticsearch } from '../test/conformance/kits/destination-elasticsearch';
import { destinationKafka } from '../test/conformance/kits/destination-kafka';
import { destinationPostgresql } from '../test/conformance/kits/destination-postgresql';
import { destinationS3 } from '../test/conformance/kits/destination-s3';
import { WebhookReceiver, webhookConfig } from '../test/conformance/kits/destination-webhook';
import { setupPipeline, spawnWorker, stopWorker, teardown, waitFor } from '../test/dataplane/harness';
import { load1, throughput } from './pipeline-measure';
import { postgresWorkload } from './pipeline-workload';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const rows = Number(arg('--rows') ?? 50000);
const kinds = ['postgresql', 's3', 'elasticsearch', 'kafka', 'webhook'];
const only = (arg('--only') ?? kinds.join(',')).split(',');
for (const k of only)
  if (!kinds.includes(k)) {
    console.error(`--only ${k}: unknown kind; use some of ${kinds.join(', ')}`);
    process.exit(2);
  }

interface Target {
  url: string;
  config?: Record<string, unknown>;
  delivered: () => Promise<number>;
  destroy: () => Promise<void>;
  pollMs: number;
}

/** A fresh destination of `kind` and how to count the source rows it holds. */
async function target(kind: string): Promise<Target> {
  if (kind === 'webhook') {
    // A receiver of its own: the kit's fails 2% of requests on purpose, which a throughput figure must not include.
    const r = new WebhookReceiver();
    await r.start();
    const size = async () => [...r.state.values()].reduce((n, m) => n + m.size, 0);
    return { url: r.url, config: webhookConfig(r), delivered: size, destroy: () => r.stop(), pollMs: 1000 };
  }
  const kit: DestinationKit = {
    postgresql: destinationPostgresql,
    s3: destinationS3,
    elasticsearch: destinationElasticsearch,
    kafka: destinationKafka,
  }[kind]!;
  const db = await kit.database(false);
  const delivered = async () => (await kit.rows(db.url, 'bench', ['id'], 'id', '').catch(() => [])).length;
  return {
    url: db.url,
    config: db.config,
    delivered,
    destroy: () => db.destroy(),
    pollMs: kind === 'postgresql' ? 100 : 1000,
  };
}

async function main() {
  const out: Record<string, unknown>[] = [];
  for (const kind of only) {
    const t = await target(kind);
    const s = await setupPipeline({
      ddl: postgresWorkload.sourceDdl,
      source: { snapshot_chunk_size: 5000 },
      destinationKind: kind,
      ...(t.config ? { destinationConfig: t.config } : { dstUrl: t.url, destination: { batch_size: 5000 } }),
    });
    const w = spawnWorker(s.api, { SLUICE_LOG_LEVEL: 'warn' });
    try {
      await waitFor(
        `${kind}: pipeline Active`,
        async () => (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/status`)).body.state === 'Active',
        120000,
      );
      const r = await throughput({ srcUrl: s.srcUrl, dstUrl: s.dstUrl, pid: w.proc.pid! }, postgresWorkload, rows, {
        delivered: t.delivered,
        pollMs: t.pollMs,
      });
      out.push({ kind, ...r });
      console.log(JSON.stringify({ kind, ...r }));
    } finally {
      await stopWorker(w).catch(() => undefined);
      await teardown(s, []).catch(() => undefined);
      await t.destroy().catch(() => undefined);
    }
  }
  console.log(`\n${rows.toLocaleString('en')} rows per kind, Postgres source, load1 at the end ${load1()}`);
  console.log('| destination | end-to-end rows/s | worker CPU µs/row | seconds | load1 before -> after |');
  console.log('| --- | ---: | ---: | ---: | --- |');
  for (const r of out as any[])
    console.log(
      `| ${r.kind} | ${r.e2eRowsPerS} | ${r.workerCpuUsPerRow} | ${r.seconds} | ${r.load1Before} -> ${r.load1After} |`,
    );
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * bench/pipeline: end-to-end figures of the data plane on this machine (everything co-located).
 *   npm run bench:pipeline -- [--source postgresql|mysql] [--quick]
 *     [--only throughput,latency,recvlogical,snapshot,backlog] [--backlog-rows 10000000]
 *   (= npm run build && node dist/bench/pipeline.js ...)
 * --source mysql runs parts 1 and 2 with the source table on the stack's MariaDB (bench/pipeline-workload.ts);
 * the destination is Postgres either way. Parts 3 to 5 are Postgres-only; part 5 (backlog) runs only
 * when asked for with --only, it takes 15+ minutes.
 * Worker CPU (user+system of the whole worker process, from /proc) is reported per row: it is the
 * signal to optimise on a shared machine where wall-clock figures are noisy. SLUICE_WORKER_NODE_ARGS
 * (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) is passed to the worker, which is then stopped with
 * SIGTERM so the profile gets written.
 * Needs the services of test/run.sh (DATABASE_URL, KAFKA_BROKERS, SLUICE_HOME exported; e.g. a
 * stack from `node dist/stack/cli.js start`). Prints figures; asserts nothing.
 *
 *  1. max sustained rows/s: a burst of inserts+updates on a 10-column table, time until the destination has them all;
 *  2. latency p50/p99 (source commit -> visible in the destination) at 1,000, 5,000 and 20,000 rows/s;
 *  3. pg_recvlogical decoding the same WAL (pgoutput), the physical reference, and the ratio;
 *  4. snapshot rows/s of a 1M-row table;
 *  5. backlog: --backlog-rows rows written while the destination refuses connections, everything
 *     in Kafka, then the destination back: drain rows/s and the worker's RSS throughout.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { Client } from 'pg';
import { freshDatabase } from '../test/helpers';
import { q, setupPipeline, Setup, spawnWorker, stopWorker, teardown, waitFor, Worker } from '../test/dataplane/harness';
import {
  latency,
  load1,
  MeasureTarget,
  processCpuMs,
  rssMiB,
  startSluicePipeline,
  throughput,
} from './pipeline-measure';
import { BENCH_COLS, BENCH_INSERT, benchRow, mariadbWorkload, postgresWorkload } from './pipeline-workload';

const quick = process.argv.includes('--quick');
const onlyArg = process.argv.indexOf('--only');
const sourceArg = process.argv.indexOf('--source');
const sourceKind = sourceArg > 0 ? process.argv[sourceArg + 1] : 'postgresql';
if (!['postgresql', 'mysql'].includes(sourceKind)) {
  console.error(
    `--source ${sourceKind}: unknown source kind; use --source postgresql (the default) or --source mysql (the stack's MariaDB)`,
  );
  process.exit(2);
}
const ALL_PARTS = ['throughput', 'latency', 'recvlogical', 'snapshot', 'backlog'];
const parts = new Set(
  onlyArg > 0
    ? process.argv[onlyArg + 1].split(',')
    : sourceKind === 'mysql'
      ? ['throughput', 'latency']
      : ['throughput', 'latency', 'recvlogical', 'snapshot'],
);
for (const p of parts) {
  if (!ALL_PARTS.includes(p)) {
    console.error(`--only ${p}: unknown part; the parts are ${ALL_PARTS.join(', ')}`);
    process.exit(2);
  }
}
const backlogArg = process.argv.indexOf('--backlog-rows');
const backlogRows = backlogArg > 0 ? Number(process.argv[backlogArg + 1]) : 10_000_000;
if (!Number.isInteger(backlogRows) || backlogRows < 10000) {
  console.error(`--backlog-rows ${process.argv[backlogArg + 1]}: expected a whole number of rows, at least 10000`);
  process.exit(2);
}
for (const p of ['recvlogical', 'snapshot', 'backlog']) {
  if (sourceKind === 'mysql' && parts.has(p)) {
    console.error(
      `--only ${p}: measured for --source postgresql only; with --source mysql use --only throughput,latency`,
    );
    process.exit(2);
  }
}
const workerEnv = {
  SLUICE_LOG_LEVEL: 'warn',
  ...(process.env.SLUICE_WORKER_NODE_ARGS ? { SLUICE_WORKER_NODE_ARGS: process.env.SLUICE_WORKER_NODE_ARGS } : {}),
};

const workerCpuMs = (w: Worker) => processCpuMs(w.proc.pid!);
const target = (s: Setup, w: Worker): MeasureTarget => ({ srcUrl: s.srcUrl, dstUrl: s.dstUrl, pid: w.proc.pid! });
/** Stops the worker politely when profiling (the profile is written at exit), then tears down. */
async function finish(s: Setup, w: Worker) {
  if (workerEnv.SLUICE_WORKER_NODE_ARGS) await stopWorker(w, 'SIGTERM');
  await teardown(s, [w]);
}
const COLS = BENCH_COLS;
const row = (i: number) => benchRow(i, 'clock_timestamp()');
const INSERT = BENCH_INSERT;
const workload = sourceKind === 'mysql' ? mariadbWorkload : postgresWorkload;

async function count(url: string, sql: string) {
  return Number((await q(url, sql))[0].n);
}

/** Server-side INSERT of rows `from` .. `to` of the 10-column table (generate_series; ids from the sequence). */
const generatedRows = (from: number, to: number) =>
  `INSERT INTO bench (a, b, c, d, e, f, h) SELECT g % 1000, g * 7, (g % 10000) / 100.0, 'name ' || g, 'some ` +
  `longer text value for row ' || g, g % 2 = 0, jsonb_build_object('k', g) FROM generate_series(${from}, ${to}) g`;

async function recvlogical(rows: number) {
  const url = await freshDatabase('bench_raw');
  await q(url, `CREATE TABLE bench (${COLS}); CREATE PUBLICATION raw_pub FOR TABLE bench`);
  await q(url, `SELECT pg_create_logical_replication_slot('raw_slot', 'pgoutput')`);
  const c = new Client({ connectionString: url });
  await c.connect();
  for (let i = 0; i < rows; i += 1000)
    await c.query(INSERT + Array.from({ length: 1000 }, (_, k) => row(i + k)).join(','));
  const end = (await c.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l;
  await c.end();
  const root = '/usr/lib/postgresql';
  const v = fs
    .readdirSync(root)
    .filter((x) => /^\d+$/.test(x))
    .sort((a, b) => Number(b) - Number(a))[0];
  const u = new URL(url);
  const t0 = Date.now();
  const r = spawnSync(
    `${root}/${v}/bin/pg_recvlogical`,
    [
      '-h',
      u.hostname,
      '-p',
      u.port,
      '-U',
      u.username,
      '-d',
      u.pathname.slice(1),
      '-S',
      'raw_slot',
      '--start',
      '-E',
      end,
      '-o',
      'proto_version=1',
      '-o',
      'publication_names=raw_pub',
      '-f',
      '/dev/null',
      '--no-loop',
    ],
    { env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) }, encoding: 'utf8', timeout: 300000 },
  );
  const secs = (Date.now() - t0) / 1000;
  await q(url, `SELECT pg_drop_replication_slot('raw_slot')`).catch(() => undefined);
  if (r.status !== 0) return { error: (r.stderr || r.stdout).slice(0, 300) };
  return { rows, seconds: secs, rowsPerS: Math.round(rows / secs) };
}

async function snapshot(rows: number) {
  const s = await setupPipeline({
    ddl: `CREATE TABLE bench (${COLS})`,
    source: { snapshot_chunk_size: 10000 },
    destination: { batch_size: 5000 },
  });
  await q(s.srcUrl, generatedRows(1, rows));
  // The pipeline's initial snapshot starts when the worker first takes it.
  const load1Before = load1();
  const t0 = Date.now();
  const w = spawnWorker(s.api, workerEnv);
  let readDone = 0;
  let cpuStart = 0; // the worker's start-up (loading modules, connecting) is not snapshot work
  let cpuRead = 0;
  await waitFor(
    'snapshot delivered',
    async () => {
      if (!readDone) {
        const snaps = (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/snapshots`)).body.items;
        if (!cpuStart && snaps[0]?.status === 'running') cpuStart = workerCpuMs(w);
        if (snaps[0]?.status === 'done') {
          readDone = Date.now();
          cpuRead = workerCpuMs(w);
        }
      }
      return (await count(s.dstUrl, 'SELECT count(*) AS n FROM bench').catch(() => 0)) >= rows;
    },
    1800000,
    250,
  );
  const t1 = Date.now();
  const cpuEnd = workerCpuMs(w);
  const peakRssMiB = rssMiB(w.proc.pid!, 'VmHWM');
  await finish(s, w);
  return {
    rows,
    load1Before,
    load1After: load1(),
    workerCpuUsPerRowRead: cpuRead ? Math.round(((cpuRead - cpuStart) * 1000) / rows) : null,
    workerCpuUsPerRowTotal: Math.round(((cpuEnd - cpuStart) * 1000) / rows),
    readRowsPerS: readDone ? Math.round(rows / ((readDone - t0) / 1000)) : null,
    e2eRowsPerS: Math.round(rows / ((t1 - t0) / 1000)),
    seconds: (t1 - t0) / 1000,
    peakRssMiB,
  };
}

/**
 * A long backlog behind a stopped destination: the destination database refuses connections (ALLOW_CONNECTIONS
 * false, its sessions terminated) while `rows` are written to the source in 10,000-row transactions and the
 * source side moves them all into Kafka (the slot's confirmed_flush_lsn reaches the end of the load); then the
 * destination comes back and the drain is timed until it holds every row. The worker's RSS is sampled every
 * second throughout: bounded memory means the backlog stays in Kafka, not in the worker.
 */
async function backlog(rows: number) {
  const { s, w } = await startSluicePipeline(postgresWorkload, workerEnv);
  const dstDb = decodeURIComponent(new URL(s.dstUrl).pathname.slice(1));
  const admin = s.srcUrl; // same server: ALTER DATABASE / pg_terminate_backend on the destination from here
  const rss = { idle: rssMiB(w.proc.pid!), backlog: 0, drain: 0 };
  let phase: 'backlog' | 'drain' = 'backlog';
  const sampler = setInterval(() => {
    const now = rssMiB(w.proc.pid!);
    rss[phase] = Math.max(rss[phase], now);
  }, 1000);
  try {
    await q(admin, `ALTER DATABASE "${dstDb}" ALLOW_CONNECTIONS false`);
    await q(admin, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [dstDb]);
    const load1Before = load1();
    const t0 = Date.now();
    const per = 10000;
    for (let i = 1; i <= rows; i += per) {
      await q(s.srcUrl, generatedRows(i, Math.min(rows, i + per - 1)));
      if ((i - 1) % 1_000_000 === 0)
        console.log(`backlog: ${i - 1} rows written, worker RSS ${rssMiB(w.proc.pid!)} MiB`);
    }
    const end = (await q(s.srcUrl, 'SELECT pg_current_wal_lsn()::text AS l'))[0].l;
    const tWritten = Date.now();
    await waitFor(
      'source side caught up (slot confirmed past the load)',
      async () =>
        (
          await q(
            s.srcUrl,
            `SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2`,
            [end, s.slot],
          )
        )[0]?.ok === true,
      3600000,
      1000,
    );
    const tInKafka = Date.now();
    const stateWhileDown = (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/status`)).body.state;
    console.log(`backlog: ${rows} rows in Kafka after ${(tInKafka - t0) / 1000} s, pipeline ${stateWhileDown}`);
    phase = 'drain';
    const cpu0 = workerCpuMs(w);
    const load1Drain = load1();
    const tBack = Date.now();
    await q(admin, `ALTER DATABASE "${dstDb}" ALLOW_CONNECTIONS true`);
    await waitFor(
      'backlog drained',
      async () => (await count(s.dstUrl, 'SELECT count(*) AS n FROM bench').catch(() => 0)) >= rows,
      3600000,
      1000,
    );
    const tDrained = Date.now();
    const cpuMs = workerCpuMs(w) - cpu0;
    return {
      rows,
      load1Before,
      load1DrainStart: load1Drain,
      load1After: load1(),
      writeRowsPerS: Math.round(rows / ((tWritten - t0) / 1000)),
      intoKafkaSeconds: (tInKafka - t0) / 1000,
      stateWhileDown,
      drainSeconds: (tDrained - tBack) / 1000,
      drainRowsPerS: Math.round(rows / ((tDrained - tBack) / 1000)),
      drainWorkerCpuUsPerRow: Math.round((cpuMs * 1000) / rows),
      idleRssMiB: rss.idle,
      backlogPeakRssMiB: rss.backlog,
      drainPeakRssMiB: rss.drain,
      workerLifetimePeakRssMiB: rssMiB(w.proc.pid!, 'VmHWM'),
    };
  } finally {
    clearInterval(sampler);
    await q(admin, `ALTER DATABASE "${dstDb}" ALLOW_CONNECTIONS true`).catch(() => undefined);
    await finish(s, w);
  }
}

async function main() {
  const out: Record<string, unknown> = {
    machine: `${require('node:os').cpus().length} cores, ${Math.round(require('node:os').totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    source: workload.kind,
  };
  if (parts.has('throughput') || parts.has('latency')) {
    const { s, w } = await startSluicePipeline(workload, workerEnv);
    try {
      if (parts.has('throughput')) {
        out.throughput = await throughput(target(s, w), workload, quick ? 50000 : 200000);
        console.log('throughput', out.throughput);
      }
      if (parts.has('latency')) {
        out.latency_1000 = await latency(target(s, w), workload, 1000, quick ? 10 : 30);
        console.log('latency @1000/s', out.latency_1000);
        out.latency_5000 = await latency(target(s, w), workload, 5000, quick ? 10 : 30);
        console.log('latency @5000/s', out.latency_5000);
        out.latency_20000 = await latency(target(s, w), workload, 20000, quick ? 10 : 30);
        console.log('latency @20000/s', out.latency_20000);
      }
    } finally {
      await finish(s, w);
    }
  }
  if (parts.has('recvlogical')) {
    const raw = await recvlogical(quick ? 50000 : 200000);
    out.pg_recvlogical = raw;
    const t = out.throughput as { e2eRowsPerS: number } | undefined;
    if (t && 'rowsPerS' in raw) out.ratio_e2e_to_recvlogical = +(t.e2eRowsPerS / raw.rowsPerS!).toFixed(3);
    console.log('pg_recvlogical', raw);
  }
  if (parts.has('snapshot')) {
    out.snapshot = await snapshot(quick ? 100000 : 1000000);
    console.log('snapshot', out.snapshot);
  }
  if (parts.has('backlog')) {
    out.backlog = await backlog(quick ? Math.min(backlogRows, 1_000_000) : backlogRows);
    console.log('backlog', out.backlog);
  }
  console.log(JSON.stringify(out, null, 2));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

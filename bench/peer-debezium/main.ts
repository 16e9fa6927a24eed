/**
 * bench/peer-debezium: Sluice and Debezium + Kafka Connect side by side, on the same Postgres,
 * Kafka and 10-column workload as bench/pipeline, in alternating runs of one invocation.
 *   npm run bench:peer-debezium -- [--pairs 2] [--rows 200000] [--warmup 50000] [--rate 5000]
 *     [--latency-seconds 30] [--first sluice|debezium] [--connect-port N]
 *   --only sluice|debezium runs one side only (tuning; no ratios).
 * (= bench/peer-debezium/run.sh: installs, builds and starts the stack when needed, then this.)
 *
 * Each run gets fresh source and destination databases and a fresh data-plane process (a Sluice
 * worker, or a Kafka Connect JVM with Debezium's Postgres source and JDBC sink), then: a warm-up
 * burst (untimed: the JVM's JIT and V8's alike), the sustained burst (rows/s until all are in the
 * destination, CPU of that process per row), a paced load at --rate (commit -> visible p50/p99),
 * and a check that destination == source (row count and an md5 of every column of every row):
 * a run whose data did not arrive intact fails the bench.
 * Needs the services of test/run.sh (stack ports or DATABASE_URL / KAFKA_BROKERS exported).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { env, freshDatabase } from '../../test/helpers';
import { q, teardown, waitFor } from '../../test/dataplane/harness';
import { latency, MeasureTarget, sampleLoad, startSluicePipeline, throughput } from '../pipeline-measure';
import { postgresWorkload as workload } from '../pipeline-workload';
import { ConnectWorker, ensureConnectJars } from './connect';
import { benchTopic, pgConn, sinkConfig, sourceConfig } from './debezium';

type System = 'sluice' | 'debezium';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`--${name} ${process.argv[i + 1] ?? ''}: expected a positive whole number (default ${fallback})`);
    process.exit(2);
  }
  return v;
}
const firstArg = process.argv.indexOf('--first');
const first: System = firstArg > 0 ? (process.argv[firstArg + 1] as System) : 'sluice';
if (first !== 'sluice' && first !== 'debezium') {
  console.error(`--first ${first}: use --first sluice (the default) or --first debezium`);
  process.exit(2);
}
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? (process.argv[onlyArg + 1] as System) : undefined;
if (only !== undefined && only !== 'sluice' && only !== 'debezium') {
  console.error(`--only ${only}: use --only sluice or --only debezium (for tuning one side; no ratios)`);
  process.exit(2);
}
const opts = {
  pairs: flag('pairs', 2),
  rows: flag('rows', 200000),
  warmup: flag('warmup', 50000),
  rate: flag('rate', 5000),
  latencySeconds: flag('latency-seconds', 30),
  // Beside the broker's port: 34092 -> 34083, as the stack derives its other ports from one base.
  connectPort: flag('connect-port', Number(env.kafkaBrokers[0].split(':').pop()) - 9),
};
const log = (line: string) => process.stderr.write(`[peer-debezium] ${line}\n`);

interface RunResult {
  run: number;
  system: System;
  setupSeconds: number;
  sustained: Awaited<ReturnType<typeof throughput>>;
  latency: Awaited<ReturnType<typeof latency>>;
  load: { before: number; mean: number; max: number; after: number };
  check: { rows: number; md5: string };
  /** Debezium runs: CPU seconds of the Connect JVM by thread group in the sustained phase. */
  sustainedThreadCpuSeconds?: Record<string, number>;
}

const CHECKSUM =
  "SELECT count(*) AS n, md5(string_agg(concat_ws('|', id, a, b, c, d, " +
  "e, f, g, h, src_ts), E'\\n' ORDER BY id)) AS sum FROM bench";

/** Waits (up to 60 s) until destination == source in every column of every row; otherwise fails with what differs. */
async function verify(t: MeasureTarget, system: System): Promise<{ rows: number; md5: string }> {
  let src: any;
  let dst: any;
  try {
    await waitFor(
      `${system}: destination == source`,
      async () => {
        [src] = await q(t.srcUrl, CHECKSUM);
        [dst] = await q(t.dstUrl, CHECKSUM);
        return src.n === dst.n && src.sum === dst.sum;
      },
      60000,
      1000,
    );
  } catch {
    const rowsOf = async (url: string) =>
      new Map(
        (await q(url, `SELECT id::text, concat_ws('|', id, a, b, c, d, e, f, g, h, src_ts) AS r FROM bench`)).map(
          (x) => [x.id, x.r],
        ),
      );
    const [a, b] = [await rowsOf(t.srcUrl), await rowsOf(t.dstUrl)];
    const missing = [...a.keys()].filter((k) => !b.has(k));
    const differ = [...a.keys()].filter((k) => b.has(k) && a.get(k) !== b.get(k));
    const extra = [...b.keys()].filter((k) => !a.has(k));
    throw new Error(
      `${system}: the destination does not match the source: source ${src?.n} rows, destination ${dst?.n}; ` +
        `${missing.length} missing (e.g. id ${missing.slice(0, 3).join(', ')}), ${differ.length} different ` +
        `(e.g. source ${a.get(differ[0])} vs destination ${b.get(differ[0])}), ${extra.length} unexpected`,
    );
  }
  return { rows: Number(src.n), md5: src.sum };
}

/** The measured phases, the same for both systems. */
async function measure(
  run: number,
  system: System,
  t: MeasureTarget,
  setupSeconds: number,
  threadCpuMs?: () => Record<string, number>,
): Promise<RunResult> {
  const load = sampleLoad();
  log(`run ${run} ${system}: warm-up ${opts.warmup} rows`);
  await throughput(t, workload, opts.warmup);
  log(`run ${run} ${system}: sustained ${opts.rows} rows`);
  const cpu0 = threadCpuMs?.();
  const sustained = await throughput(t, workload, opts.rows);
  const cpu1 = threadCpuMs?.();
  log(
    `run ${run} ${system}: ${sustained.e2eRowsPerS} rows/s, ${sustained.workerCpuUsPerRow} ` +
      `µs CPU/row; latency at ${opts.rate} rows/s for ${opts.latencySeconds} s`,
  );
  const lat = await latency(t, workload, opts.rate, opts.latencySeconds);
  const loadSeen = load.stop();
  const check = await verify(t, system);
  log(
    `run ${run} ${system}: p50 ${lat.p50_ms} ms, p99 ${lat.p99_ms} ms; ${check.rows} rows match the source (md5 ${check.md5})`,
  );
  const threads =
    cpu0 && cpu1
      ? Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, +((v - (cpu0[k] ?? 0)) / 1000).toFixed(1)]))
      : undefined;
  if (threads)
    log(`run ${run} ${system}: CPU seconds by thread group in the sustained phase: ${JSON.stringify(threads)}`);
  return {
    run,
    system,
    setupSeconds,
    sustained,
    latency: lat,
    load: loadSeen,
    check,
    ...(threads ? { sustainedThreadCpuSeconds: threads } : {}),
  };
}

async function dropDatabases(urls: string[]) {
  for (const url of urls) {
    const name = new URL(url).pathname.slice(1);
    await q(env.databaseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e) =>
      log(`could not drop database ${name}: ${e.message}`),
    );
  }
}

const kafka = new Kafka({ brokers: env.kafkaBrokers, logLevel: logLevel.NOTHING, clientId: 'peer-debezium' });

/** Deletes the run's topics (they hold hundreds of MB of events) once the run is measured. */
async function deleteTopics(match: (topic: string) => boolean) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(match);
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30000 });
  } catch (e) {
    log(`could not delete topics: ${(e as Error).message}`);
  } finally {
    await admin.disconnect();
  }
}

/** Child processes to kill if the bench is interrupted (Ctrl-C), so no worker or JVM outlives it. */
const onInterruptKill = new Set<() => void>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const kill of onInterruptKill) kill();
    process.exit(130);
  });
}
function onInterrupt(kill: () => void): () => void {
  onInterruptKill.add(kill);
  return () => onInterruptKill.delete(kill);
}

async function runSluice(run: number): Promise<RunResult> {
  const t0 = Date.now();
  const { s, w } = await startSluicePipeline(workload, { SLUICE_LOG_LEVEL: 'warn' });
  const untrack = onInterrupt(() => w.proc.kill('SIGKILL'));
  try {
    return await measure(
      run,
      'sluice',
      { srcUrl: s.srcUrl, dstUrl: s.dstUrl, pid: w.proc.pid! },
      (Date.now() - t0) / 1000,
    );
  } finally {
    untrack();
    await teardown(s, [w]);
    await dropDatabases([s.srcUrl, s.dstUrl, s.api.databaseUrl]);
    await deleteTopics((x) => x.startsWith(s.prefix));
  }
}

async function runDebezium(run: number, jars: { classpath: string; pluginPath: string }): Promise<RunResult> {
  const t0 = Date.now();
  const tag = crypto.randomBytes(3).toString('hex');
  const prefix = `pd${tag}`;
  const slot = `pd_slot_${tag}`;
  const srcUrl = await freshDatabase('pd_src');
  const dstUrl = await freshDatabase('pd_dst');
  await q(srcUrl, workload.sourceDdl);
  await q(dstUrl, workload.destinationDdl);
  // Created up front with one partition (as Sluice creates its topic): a sink subscribing before the
  // source's first record would otherwise have the broker auto-create it with its default of 3.
  const admin = kafka.admin();
  await admin.connect();
  await admin
    .createTopics({
      waitForLeaders: true,
      topics: [{ topic: benchTopic(prefix), numPartitions: 1, replicationFactor: 1 }],
    })
    .finally(() => admin.disconnect());
  const worker = new ConnectWorker({ port: opts.connectPort, brokers: env.kafkaBrokers, home: env.home, tag, ...jars });
  const untrack = onInterrupt(() => worker.kill());
  try {
    await worker.start();
    await worker.createConnector(
      `src-${prefix}`,
      sourceConfig(pgConn(srcUrl), { prefix, slot, publication: `pd_pub_${tag}` }),
    );
    await waitFor(
      `slot ${slot} streaming`,
      async () => (await q(srcUrl, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]))[0]?.active,
      60000,
      250,
    );
    await worker.createConnector(`snk-${prefix}`, sinkConfig(pgConn(dstUrl), { topic: benchTopic(prefix) }));
    const result = await measure(run, 'debezium', { srcUrl, dstUrl, pid: worker.pid }, (Date.now() - t0) / 1000, () =>
      worker.threadCpuMs(),
    );
    await worker.running(`src-${prefix}`); // throws with the trace if a task failed on the way
    await worker.running(`snk-${prefix}`);
    return result;
  } catch (e) {
    log(`run ${run} debezium failed; Kafka Connect's log: ${worker.logFile}`);
    throw e;
  } finally {
    untrack();
    await worker.stop();
    await q(
      srcUrl,
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
      [slot],
    ).catch(() => undefined);
    await dropDatabases([srcUrl, dstUrl]);
    await deleteTopics((x) => x.startsWith(prefix) || x.includes(`peer-debezium-${tag}`) || x.endsWith(`.${prefix}`));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n: number) => n.toLocaleString('en-US');

function report(results: RunResult[], meta: Record<string, unknown>) {
  const head = [
    'run',
    'system',
    'sustained rows/s',
    'source rows/s',
    'CPU µs/row',
    'CPU s',
    'of which JIT s',
    `p50 ms @${opts.rate}/s`,
    'p99 ms',
    'max ms',
    'achieved/s',
    'CPU µs/row @rate',
    'load avg before/mean/max',
    'rows checked',
  ];
  const rows = results.map((r) => [
    String(r.run),
    r.system,
    fmt(r.sustained.e2eRowsPerS),
    fmt(r.sustained.sourceRowsPerS),
    String(r.sustained.workerCpuUsPerRow),
    String(r.sustained.cpuSeconds),
    r.sustainedThreadCpuSeconds ? String(r.sustainedThreadCpuSeconds.JIT ?? 0) : '-',
    String(r.latency.p50_ms),
    String(r.latency.p99_ms),
    String(r.latency.max_ms),
    fmt(r.latency.achieved),
    String(r.latency.workerCpuUsPerRow),
    `${r.load.before} / ${r.load.mean} / ${r.load.max}`,
    `${fmt(r.check.rows)} ok`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(
    `\nSluice worker vs Kafka Connect ${meta.connect} JVM (Debezium postgres ${meta.debeziumPostgres}, ` +
      `jdbc sink ${meta.debeziumJdbc}); ${meta.machine}, node ${process.version}`,
  );
  console.log(
    `${opts.pairs} pairs; each run: ${fmt(opts.warmup)} warm-up rows, ${fmt(opts.rows)} sustained rows ` +
      `(1,000-row transactions, updates mixed in), ${opts.latencySeconds} s at ${fmt(opts.rate)} rows/s`,
  );
  console.log(line(head));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
  const by = (sys: System) => results.filter((r) => r.system === sys);
  const med = (sys: System, f: (r: RunResult) => number) => median(by(sys).map(f));
  const tp = (sys: System) => med(sys, (r) => r.sustained.e2eRowsPerS);
  const cpu = (sys: System) => med(sys, (r) => r.sustained.workerCpuUsPerRow);
  const p99 = (sys: System) => med(sys, (r) => r.latency.p99_ms);
  const systems = (['sluice', 'debezium'] as System[]).filter((x) => by(x).length);
  console.log(
    '\nmedians: ' + systems.map((x) => `${x} ${fmt(tp(x))} rows/s, ${cpu(x)} µs CPU/row, p99 ${p99(x)} ms`).join('; '),
  );
  let ratios: Record<string, number> | undefined;
  if (systems.length === 2) {
    ratios = {
      throughput_sluice_over_debezium: +(tp('sluice') / tp('debezium')).toFixed(2),
      cpu_per_row_sluice_over_debezium: +(cpu('sluice') / cpu('debezium')).toFixed(2),
      p99_sluice_over_debezium: +(p99('sluice') / p99('debezium')).toFixed(2),
    };
    console.log(
      `ratios (Sluice / Debezium, medians): throughput ${ratios.throughput_sluice_over_debezium}x, CPU ` +
        `per row ${ratios.cpu_per_row_sluice_over_debezium}x, p99 latency ${ratios.p99_sluice_over_debezium}x`,
    );
    for (let p = 0; p < opts.pairs; p++) {
      const pair = results.slice(2 * p, 2 * p + 2);
      const s = pair.find((r) => r.system === 'sluice')!;
      const d = pair.find((r) => r.system === 'debezium')!;
      console.log(
        `  pair ${p + 1} (runs ${s.run} and ${d.run}): throughput ${(s.sustained.e2eRowsPerS / d.sustained.e2eRowsPerS).toFixed(2)}x, ` +
          `CPU per row ${(s.sustained.workerCpuUsPerRow / d.sustained.workerCpuUsPerRow).toFixed(2)}x`,
      );
    }
  }
  console.log(JSON.stringify({ ...meta, opts, results, ratios }, null, 2));
}

async function main() {
  const t0 = Date.now();
  const jars = await ensureConnectJars(log);
  const pom = fs.readFileSync(
    path.join(__dirname, '..', '..', '..', 'bench', 'peer-debezium', 'maven', 'pom.xml'),
    'utf8',
  );
  const prop = (n: string) => new RegExp(`<${n}>([^<]+)<`).exec(pom)?.[1];
  const meta = {
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    connect: prop('kafka\\.version'),
    debeziumPostgres: prop('debezium\\.version'),
    debeziumJdbc: prop('debezium\\.jdbc\\.version'),
    jarsFetchedSeconds: jars.fetchedSeconds,
    startedAt: new Date().toISOString(),
  };
  log(
    `Kafka Connect REST on 127.0.0.1:${opts.connectPort}; jars ${jars.fetchedSeconds === null ? 'cached' : `fetched in ${jars.fetchedSeconds} s`}`,
  );
  const results: RunResult[] = [];
  const order: System[] = only ? [only] : first === 'sluice' ? ['sluice', 'debezium'] : ['debezium', 'sluice'];
  for (let p = 0; p < opts.pairs; p++) {
    for (const system of order) {
      const run = results.length + 1;
      log(`run ${run}: ${system}`);
      results.push(system === 'sluice' ? await runSluice(run) : await runDebezium(run, jars));
    }
  }
  report(results, { ...meta, totalSeconds: (Date.now() - t0) / 1000 });
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * bench/sink: the consume side alone (Kafka -> SinkRunner -> Postgres destination), in this process.
 *   npm run build && node dist/bench/sink.js [--rows 200000] [--partitions 1] [--batch 5000] [--runs 1] [--profile]
 * Needs the test stack's Postgres and Kafka (DATABASE_URL / KAFKA_BROKERS or SLUICE_*_PORT as for the tests).
 *
 * Produces `rows` change events of bench/pipeline.ts's 10-column table in the source's exact format
 * (envelope JSON without `columns`, the `sluice.columns` header, key = primary-key JSON), with 200
 * updates of recent keys every 5,000 inserts, into a fresh topic; then starts a SinkRunner on it and
 * times it until the destination holds every row. Reported per row: CPU of this process (the sink:
 * fetch, decode, transforms, write; process.cpuUsage) and CPU of the Postgres server's processes
 * (/proc, the whole cluster: the destination upserts), plus wall time and the 1-minute load average.
 * The destination's final content is checked (row count and sum of the updated column).
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import os from 'node:os';
import crypto from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { kafkajs } from '../patches';
import pino from 'pino';
import { Client } from 'pg';
import { freshDatabase, env } from '../test/helpers';
import { SinkRunner } from '../workers/sink';
import { ColumnInfo } from '../core/change-event';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROWS = arg('rows', 200000);
const PARTS = arg('partitions', 1);
const BATCH = arg('batch', 5000);
const RUNS = arg('runs', 1);
/** --profile DIR: a CPU profile of the consume phase only (not the produce phase) is written there. */
const PROFILE = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : null;
const post = (s: inspector.Session, m: string, p?: object) =>
  new Promise<any>((res, rej) => s.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r))));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load1 = () => +os.loadavg()[0].toFixed(2);

const COLUMNS: ColumnInfo[] = [
  { name: 'id', oid: 20, type: 'bigint', key: true },
  { name: 'a', oid: 23, type: 'integer', key: false },
  { name: 'b', oid: 20, type: 'bigint', key: false },
  { name: 'c', oid: 1700, type: 'numeric(12,2)', key: false },
  { name: 'd', oid: 25, type: 'text', key: false },
  { name: 'e', oid: 25, type: 'text', key: false },
  { name: 'f', oid: 16, type: 'boolean', key: false },
  { name: 'g', oid: 1184, type: 'timestamp with time zone', key: false },
  { name: 'h', oid: 3802, type: 'jsonb', key: false },
  { name: 'src_ts', oid: 1184, type: 'timestamp with time zone', key: false },
];
const DDL =
  'id bigint PRIMARY KEY, a int, b bigint, c numeric(12,2), d text, e ' +
  'text, f boolean, g timestamptz, h jsonb, src_ts timestamptz';

/** CPU ms of the Postgres cluster: every child of the postmaster, plus the children it already reaped. */
function pgCpuMs(): number {
  const pidFile = [process.env.SLUICE_HOME, env.home]
    .filter(Boolean)
    .map((h) => `${h}/postgres/data/postmaster.pid`)
    .find((f) => fs.existsSync(f));
  if (!pidFile) return NaN;
  const pm = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  const stat = (pid: number) => {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  };
  const pmf = stat(pm);
  let ticks = Number(pmf[11]) + Number(pmf[12]) + Number(pmf[13]) + Number(pmf[14]);
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = stat(Number(d));
      if (Number(f[1]) === pm) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return ticks * 10;
}

function row(i: number, a: number) {
  const ts = new Date(1764300000000 + i).toISOString().replace('T', ' ').replace('Z', '+00');
  return {
    id: i,
    a,
    b: i * 7,
    c: ((i % 10000) / 100).toFixed(2),
    d: `name ${i}`,
    e: `some longer text value for row ${i}`,
    f: i % 2 === 0,
    g: ts,
    h: `{"k": ${i}}`,
    src_ts: ts,
  };
}

async function produce(kafka: Kafka, topic: string, rows: number): Promise<number> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: kafkajs().Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const cols = JSON.stringify(COLUMNS);
  const a = new Map<number, number>();
  let msgs: { key: string; value: string; headers: Record<string, string> }[] = [];
  let lsn = 0;
  const push = (op: 'c' | 'u', r: ReturnType<typeof row>) => {
    const source = {
      lsn: `0/${(++lsn).toString(16).toUpperCase()}`,
      tx_id: 1000 + lsn,
      ts_ms: Date.now(),
      schema: 'public',
      table: 'bench',
      snapshot: false,
    };
    msgs.push({
      key: JSON.stringify({ id: r.id }),
      value: JSON.stringify({ op, before: null, after: r, source, ts_ms: Date.now() }),
      headers: { 'sluice.columns': cols },
    });
  };
  let sumA = 0;
  for (let i = 1; i <= rows; i++) {
    a.set(i, i % 1000);
    sumA += i % 1000;
    push('c', row(i, i % 1000));
    if (i % 5000 === 0)
      for (let k = i - 199; k <= i; k++) {
        a.set(k, a.get(k)! + 1);
        sumA += 1;
        push('u', row(k, a.get(k)!));
      }
    if (msgs.length >= 5000) {
      await producer.send({ topic, messages: msgs, acks: -1 });
      msgs = [];
    }
  }
  if (msgs.length) await producer.send({ topic, messages: msgs, acks: -1 });
  await producer.disconnect();
  return sumA;
}

async function once(run: number) {
  const { Kafka, logLevel } = kafkajs();
  const kafka = new Kafka({ clientId: 'bench-sink', brokers: env.kafkaBrokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench_sink_${crypto.randomBytes(3).toString('hex')}`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: PARTS,
        replicationFactor: -1,
        configEntries: [{ name: 'max.message.bytes', value: String(8 * 1024 * 1024) }],
      },
    ],
  });
  const sumA = await produce(kafka, topic, ROWS);
  const dstUrl = await freshDatabase('bench_sink');
  const dst = new Client({ connectionString: dstUrl });
  await dst.connect();
  await dst.query(`CREATE TABLE bench (${DDL})`);
  const u = new URL(dstUrl);
  const producer = kafka.producer();
  await producer.connect();
  const ac = new AbortController();
  const pipelineId = crypto.randomUUID();
  const sink = new SinkRunner({
    pipelineId,
    kind: 'postgresql',
    mode: 'upsert',
    topics: [topic],
    kafka,
    producer,
    admin,
    signal: ac.signal,
    graceMs: 30000,
    topicPrefix: 'bench',
    transforms: [],
    schemaChanges: 'propagate',
    cfg: {
      host: u.hostname,
      port: Number(u.port),
      database: u.pathname.slice(1),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      tls_mode: 'disable',
      schema: 'public',
      table_name_format: '{table}',
      ingestion_mode: 'upsert',
      hard_delete: true,
      batch_size: BATCH,
      flush_interval_ms: 500,
    },
    control: { query: async () => [] } as never,
    log: pino({ level: 'warn' }),
    delivery: { max_retries: 2, backoff_initial_ms: 50, backoff_max_ms: 200 },
  });
  await sleep(500);
  const l0 = load1();
  const prof = PROFILE ? new inspector.Session() : null;
  if (prof) {
    prof.connect();
    await post(prof, 'Profiler.enable');
    await post(prof, 'Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const pg0 = pgCpuMs();
  const t0 = Date.now();
  const running = sink.run();
  // Done when the group's committed offsets reach the end of every partition (asks Kafka, not the measured Postgres).
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  const done = async () =>
    (await admin.fetchOffsets({ groupId: `sluice-${pipelineId}`, topics: [topic] }))[0].partitions.every(
      (p) => Number(p.offset) >= ends.get(p.partition)!,
    );
  while (!(await done())) await sleep(50);
  const t1 = Date.now();
  const cpu = process.cpuUsage(cpu0);
  const pg1 = pgCpuMs();
  const l1 = load1();
  if (prof) {
    const { profile } = await post(prof, 'Profiler.stop');
    fs.writeFileSync(`${PROFILE}/sink-${Date.now()}.cpuprofile`, JSON.stringify(profile));
    prof.disconnect();
  }
  ac.abort();
  await running;
  const res = (await dst.query('SELECT count(*) AS n, sum(a) AS s FROM bench')).rows[0];
  const n = Number(res.n);
  const sum = Number(res.s);
  await dst.end();
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  const r = {
    run,
    rows: ROWS,
    partitions: PARTS,
    batch: BATCH,
    wallS: (t1 - t0) / 1000,
    rowsPerS: Math.round(ROWS / ((t1 - t0) / 1000)),
    sinkCpuUsPerRow: +((cpu.user + cpu.system) / ROWS).toFixed(1),
    sinkUserUs: +(cpu.user / ROWS).toFixed(1),
    pgCpuUsPerRow: +(((pg1 - pg0) * 1000) / ROWS).toFixed(1),
    load1Before: l0,
    load1After: l1,
    contentOk: n === ROWS && sum === sumA,
  };
  console.log(JSON.stringify(r));
  if (!r.contentOk) {
    console.error(`content mismatch: rows ${n}/${ROWS}, sum(a) ${sum}/${sumA}`);
    process.exitCode = 1;
  }
}

async function main() {
  for (let i = 1; i <= RUNS; i++) await once(i);
  process.exit(process.exitCode ?? 0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});

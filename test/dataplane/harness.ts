import { ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import * as mysql from 'mysql2/promise';
import { env, freshDatabase, startTestApi, TestApi } from '../helpers';
import { freshMysqlDatabase, mysqlQuery } from '../mysql-helpers';
import { workerNodeFlags } from '../../workers/node-flags';
import { kafkajs } from '../../patches';

export { env };

export const repo = path.resolve(__dirname, '..', '..', '..');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined | null | false>,
  timeoutMs = 30000,
  everyMs = 200,
): Promise<T> {
  // The monotonic clock: a VM snapshot here pauses the machine and moves the wall clock ~45 s on, which
  // timed out two 30 - 60 s waits after 13 s of test time (CI run 6, "virtual machine fork" in dmesg).
  const end = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < end) {
    try {
      const v = await f();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** One statement on a Postgres or (mysql:// URL) MySQL/MariaDB database. */
export async function q(url: string, sql: string, params: unknown[] = []): Promise<any[]> {
  if (isMysql(url)) return mysqlQuery(url, sql, params);
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export interface Worker {
  proc: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

/** A real worker process (so kill -9 is real), sharing the API's control DB and secret key. */
export function spawnWorker(api: TestApi, extraEnv: Record<string, string> = {}): Worker {
  const logFile = path.join(api.home, `worker-${crypto.randomBytes(3).toString('hex')}.log`);
  const out = fs.openSync(logFile, 'a');
  const nodeArgs = (extraEnv.SLUICE_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof for bench profiling
  const proc = spawn(
    process.execPath,
    [...workerNodeFlags(), ...nodeArgs, path.join(repo, 'dist', 'workers', 'main.js')],
    {
      env: {
        ...process.env,
        DATABASE_URL: api.databaseUrl,
        SLUICE_HOME: api.home,
        SLUICE_LOG_LEVEL: 'info',
        SLUICE_BROKEN_GRACE_MS: '3000',
        SLUICE_RECONCILE_MS: '500',
        ...extraEnv,
      },
      stdio: ['ignore', out, out],
    },
  );
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, logFile, exited };
}

export async function stopWorker(w: Worker, signal: NodeJS.Signals = 'SIGTERM') {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null) return;
  w.proc.kill(signal);
  await Promise.race([w.exited, sleep(20000)]);
  if (w.proc.exitCode === null && w.proc.signalCode === null) {
    w.proc.kill('SIGKILL');
    await w.exited;
  }
}

const isMysql = (url: string) => url.startsWith('mysql:');

export interface Setup {
  /** sourceKind / dstKind 'mysql': srcUrl / dstUrl is a mysql:// URL of a MariaDB database. */
  sourceKind: 'postgresql' | 'mysql';
  api: TestApi;
  srcUrl: string;
  dstUrl: string;
  dstKind: string;
  pipelineId: string;
  sourceId: string;
  destinationId: string;
  prefix: string;
  slot: string;
  /** Reads a destination table back as text rows (a destination kind that is no SQL database supplies it); default rowsOf(dstUrl). */
  dstRows?: (table: string, cols: string[], key: string, where: string) => Promise<Record<string, string | null>[]>;
}

/**
 * Creates source + destination databases, runs `ddl` on the source, and a pipeline through the API.
 * `sourceKind: 'mysql'` puts the source on the test stack's MariaDB (a fresh database) instead.
 */
export async function setupPipeline(opts: {
  ddl: string;
  sourceKind?: 'postgresql' | 'mysql';
  source?: Record<string, unknown>;
  destination?: Record<string, unknown>;
  pipeline?: Record<string, unknown>;
  transforms?: Record<string, unknown>[];
  srcUrl?: string;
  dstUrl?: string;
  destinationKind?: string;
  srcHostPort?: { host: string; port: number };
  dstHostPort?: { host: string; port: number };
  /** The whole destination config (instead of one derived from dstUrl), for kinds that are no SQL database. */
  destinationConfig?: Record<string, unknown>;
  dstRows?: Setup['dstRows'];
  /** An API already running (several pipelines on one control plane); default: a new one. */
  api?: TestApi;
}): Promise<Setup> {
  const api = opts.api ?? (await startTestApi());
  const sourceKind = opts.sourceKind ?? 'postgresql';
  const srcUrl =
    opts.srcUrl ?? (sourceKind === 'mysql' ? await freshMysqlDatabase('dp_src') : await freshDatabase('dp_src'));
  const dstUrl = opts.dstUrl ?? (opts.destinationConfig ? '' : await freshDatabase('dp_dst'));
  await q(srcUrl, opts.ddl);
  const su = new URL(srcUrl);
  const du = new URL(dstUrl || 'postgres://unused@localhost/unused');
  const tag = crypto.randomBytes(3).toString('hex');
  const slot = `dp_slot_${tag}`;
  const prefix = `dp${tag}`;
  const conn = {
    host: opts.srcHostPort?.host ?? su.hostname,
    port: opts.srcHostPort?.port ?? Number(su.port),
    user: decodeURIComponent(su.username),
    password: decodeURIComponent(su.password),
    tls_mode: 'disable',
  };
  const src = await api.call('POST', '/v1/sources', {
    name: `src-${tag}`,
    kind: sourceKind,
    config:
      sourceKind === 'mysql'
        ? {
            ...conn,
            database_include: [su.pathname.slice(1)],
            server_id: 10000 + crypto.randomInt(1_000_000),
            topic_prefix: prefix,
            heartbeat_interval_ms: 1000,
            ...opts.source,
          }
        : {
            ...conn,
            database: su.pathname.slice(1),
            slot_name: slot,
            publication_name: `dp_pub_${tag}`,
            topic_prefix: prefix,
            heartbeat_interval_ms: 1000,
            ...opts.source,
          },
  });
  assert.equal(src.status, 201, src.text);
  const dst = await api.call('POST', '/v1/destinations', {
    name: `dst-${tag}`,
    kind: opts.destinationKind ?? 'postgresql',
    config: opts.destinationConfig ?? {
      host: opts.dstHostPort?.host ?? du.hostname,
      port: opts.dstHostPort?.port ?? Number(du.port),
      database: du.pathname.slice(1),
      user: decodeURIComponent(du.username),
      password: decodeURIComponent(du.password),
      tls_mode: 'disable',
      ...opts.destination,
    },
  });
  assert.equal(dst.status, 201, dst.text);
  const transformIds: string[] = [];
  for (const t of opts.transforms ?? []) {
    const r = await api.call('POST', '/v1/transforms', { name: `t-${tag}-${transformIds.length}`, ...t });
    assert.equal(r.status, 201, r.text);
    transformIds.push(r.body.id);
  }
  const p = await api.call('POST', '/v1/pipelines', {
    name: `p-${tag}`,
    source_id: src.body.id,
    destination_id: dst.body.id,
    transform_ids: transformIds,
    delivery: { max_retries: 2, backoff_initial_ms: 50, backoff_max_ms: 200 },
    ...opts.pipeline,
  });
  assert.equal(p.status, 201, p.text);
  return {
    sourceKind,
    api,
    srcUrl,
    dstUrl,
    dstKind: opts.destinationKind ?? 'postgresql',
    pipelineId: p.body.id,
    sourceId: src.body.id,
    destinationId: dst.body.id,
    prefix,
    slot,
    dstRows: opts.dstRows,
  };
}

/**
 * Drops a replication slot left on the test Postgres by a runner that was stopped (it would pin WAL
 * for the rest of the run); terminates its walsender first if it is still attached.
 */
export async function dropReplicationSlot(url: string, slot: string) {
  for (let i = 0; i < 20 && url; i++) {
    await q(url, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active`, [
      slot,
    ]).catch(() => undefined);
    const left = await q(
      url,
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
      [slot],
    ).then(
      () => q(url, `SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot]),
      () => [1],
    );
    if (!left.length) break;
    await sleep(250);
  }
}

export async function teardown(s: Setup | undefined, workers: Worker[]) {
  for (const w of workers) await stopWorker(w, 'SIGKILL').catch(() => undefined);
  if (!s) return;
  if (s.sourceKind === 'postgresql')
    await q(
      s.srcUrl,
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
      [s.slot],
    ).catch(() => undefined);
  await s.api.close?.().catch?.(() => undefined);
}

/** Rows of a table as text, keyed and ordered by `key`, for exact comparison (a mysql:// URL: mysqlRowsOf). */
export async function rowsOf(
  url: string,
  table: string,
  cols: string[],
  key = 'id',
  where = '',
): Promise<Record<string, string | null>[]> {
  if (isMysql(url)) return mysqlRowsOf(url, table, cols, key, where);
  return q(
    url,
    `SELECT ${cols.map((c) => `"${c}"::text AS "${c}"`).join(', ')} FROM ${table} ${where} ORDER BY ${key}`,
  );
}

/**
 * Text rows in rowsOf's order, for a destination read back without SQL: by the key's text (rowsOf's
 * ORDER BY names its text output column, so `10` comes before `2`).
 */
export function sortByKeyText<T extends Record<string, string | null>>(rows: T[], key: string): T[] {
  return rows.sort((a, b) => {
    const x = a[key] ?? '';
    const y = b[key] ?? '';
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** The same rows read from a MySQL/MariaDB table, each value as text (CAST ... AS CHAR). */
export async function mysqlRowsOf(
  url: string,
  table: string,
  cols: string[],
  key = 'id',
  where = '',
): Promise<Record<string, string | null>[]> {
  const rows = await mysqlQuery(
    url,
    `SELECT ${cols.map((c) => `CAST(\`${c}\` AS CHAR) AS \`${c}\``).join(', ')} FROM ${table} ${where} ORDER BY ${key}`,
  );
  return rows.map((r) => ({ ...r }));
}

/** One statement on the pipeline's destination database, whatever its kind. */
export async function dstQuery(s: Setup, sql: string): Promise<unknown[]> {
  return q(s.dstUrl, sql);
}

/** Waits until destination == source for `table` (same keys and values), then asserts it. */
export async function assertConverges(
  s: Setup,
  table: string,
  cols: string[],
  opts: { timeoutMs?: number; key?: string; dstWhere?: string; srcWhere?: string } = {},
) {
  let src: unknown[] = [];
  let dst: unknown[] = [];
  try {
    await waitFor(
      `destination ${table} == source`,
      async () => {
        src = await rowsOf(s.srcUrl, table, cols, opts.key, opts.srcWhere ?? '');
        dst = s.dstRows
          ? await s.dstRows(table, cols, opts.key ?? 'id', opts.dstWhere ?? '')
          : await rowsOf(s.dstUrl, table, cols, opts.key, opts.dstWhere ?? '');
        return JSON.stringify(src) === JSON.stringify(dst);
      },
      opts.timeoutMs ?? 60000,
      500,
    );
  } catch (e) {
    const srcKeys = new Set(src.map((r: any) => JSON.stringify(r)));
    const dstKeys = new Set(dst.map((r: any) => JSON.stringify(r)));
    const missing = [...srcKeys].filter((k) => !dstKeys.has(k)).slice(0, 5);
    const extra = [...dstKeys].filter((k) => !srcKeys.has(k)).slice(0, 5);
    throw new Error(
      `${(e as Error).message}; source ${src.length} rows, destination ${dst.length}; ` +
        `missing/different e.g. ${missing.join(' ')}; unexpected e.g. ${extra.join(' ')}`,
    );
  }
  assert.deepEqual(dst, src);
}

/** One connection of the load generator, Postgres or MySQL; statements are written with `$n` placeholders. */
export interface LoadConn {
  query(sql: string, params?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
}

export async function loadConn(url: string): Promise<LoadConn> {
  if (isMysql(url)) {
    const c = await mysql.createConnection({ uri: url, connectTimeout: 2000 });
    c.on('error', () => undefined);
    return {
      query: (sql, params) => c.query(sql.replace(/\$\d+/g, '?').replace(/random\(\)/g, 'RAND()'), params),
      end: () => c.end().catch(() => undefined),
    };
  }
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  await c.connect();
  return { query: (sql, params) => c.query(sql, params), end: () => c.end().catch(() => undefined) };
}

/** Steady write load: inserts, updates and deletes on `table(id serial, v int, note text)`; survives outages. */
export function startLoad(
  url: string,
  table: string,
  opts: { perSecond?: number; maxOps?: number; deletes?: boolean } = {},
) {
  let stop = false;
  let ops = 0;
  let errors = 0;
  const per = opts.perSecond ?? 100;
  const max = opts.maxOps ?? 20000;
  // MySQL cannot read the table it changes in a subquery: a derived table wraps it.
  const pick = isMysql(url)
    ? `(SELECT id FROM (SELECT id FROM ${table} ORDER BY random() LIMIT 1) x)`
    : `(SELECT id FROM ${table} ORDER BY random() LIMIT 1)`;
  const done = (async () => {
    let c: LoadConn | null = null;
    while (!stop && ops < max) {
      try {
        if (!c) c = await loadConn(url);
        const t0 = Date.now();
        const n = Math.max(1, Math.round(per / 10));
        await c.query('BEGIN');
        for (let i = 0; i < n; i++) {
          const r = Math.random();
          if (r < 0.6)
            await c.query(`INSERT INTO ${table} (v, note) VALUES ($1, $2)`, [
              Math.floor(Math.random() * 1e6),
              `n${ops}`,
            ]);
          else if (r < 0.9) await c.query(`UPDATE ${table} SET v = v + 1, note = $1 WHERE id = ${pick}`, [`u${ops}`]);
          else if (opts.deletes !== false) await c.query(`DELETE FROM ${table} WHERE id = ${pick}`);
          ops++;
        }
        await c.query('COMMIT');
        await sleep(Math.max(0, 100 - (Date.now() - t0)));
      } catch {
        errors++;
        await c?.end().catch(() => undefined);
        c = null;
        await sleep(300);
      }
    }
    await c?.end().catch(() => undefined);
  })();
  return {
    stop: async () => {
      stop = true;
      await done;
      return { ops, errors };
    },
    get ops() {
      return ops;
    },
  };
}

export async function status(s: Setup) {
  const r = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/status`);
  return r.body;
}
/**
 * Every record of `topic` (on `brokers`, default the stack's) from the beginning up to its current
 * end, as parsed values (null: a tombstone) with their keys.
 */
export async function topicRecords(
  topic: string,
  brokers: string[] = env.kafkaBrokers,
): Promise<{ key: string | null; env: any }[]> {
  const { Kafka } = kafkajs();
  const kafka = new Kafka({ brokers, logLevel: 0 });
  const admin = kafka.admin();
  await admin.connect();
  // A topic not created yet throws here: disconnect anyway (an open connection keeps the test process alive).
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const want = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  const from = new Map(ends.map((e) => [e.partition, Number(e.low)])); // records before `low` were deleted
  const out: { key: string | null; env: any }[] = [];
  const total = [...want].reduce((a, [p, high]) => a + high - (from.get(p) ?? 0), 0);
  if (!total) return out;
  const consumer = kafka.consumer({ groupId: `read-${crypto.randomBytes(4).toString('hex')}` });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let n = 0;
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (Number(message.offset) >= (want.get(partition) ?? 0)) return;
        out.push({
          key: message.key?.toString() ?? null,
          env: message.value ? JSON.parse(message.value.toString()) : null,
        });
        n++;
      },
    });
    await waitFor(`${total} records of ${topic}`, async () => n >= total, 30000, 100);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Until the pipeline reports Active. 60 s: a fresh pipeline on a machine at load 15 took over 30 s (CI beside a repeat run). */
export function waitActive(s: Setup, ms = 60000) {
  return waitFor('Active', async () => (await status(s)).state === 'Active', ms);
}

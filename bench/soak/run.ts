import fs from 'node:fs';
import { LocalStack } from '../../stack/stack';
import { q, Setup, setupPipeline, sleep, stopWorker } from '../../test/dataplane/harness';
import { PgInstance } from '../../test/dataplane/pg-instance';
import { TcpProxy } from '../../test/dataplane/tcp-proxy';
import { startTestApi, TestApi } from '../../test/helpers';
import { FAULT_KINDS, FaultKind, faults, SoakServices, WorkerPool } from './faults';
import { ITEMS_DDL, LoadStats, MixedLoad, PROBE_DDL } from './load';
import { Rng } from './rng';

export interface SoakOptions {
  minutes: number;
  seed: number;
  txPerSecond: number;
  jsonFile?: string;
  keep: boolean;
}

/** A fault's record in the report; times in ms, `at` from the start of the load. */
export interface FaultRecord {
  n: number;
  kind: FaultKind;
  detail: string | null;
  at_ms: number;
  outage_ms: number;
  /** From the heal (service restarted, link restored) until every pipeline is Active and caught up. */
  recovery_ms: number | null;
  recovery_by_pipeline: Record<string, number | null>;
  /** Pipeline states seen between the injection and the recovery, with Broken reasons. */
  seen: Record<string, string[]>;
}

export interface PipelineCheck {
  name: string;
  source: { rows: number; checksum: string };
  destination: { rows: number; checksum: string };
  equal: boolean;
  duplicate_rows: number;
  dlq: number;
  state: string;
  sink_lag: number | null;
  source_caught_up: boolean;
  verify_failed: string[];
  load: LoadStats;
  first_differences?: string[];
}

export interface SoakReport {
  seed: number;
  minutes: number;
  started_at: string;
  load_ms: number;
  faults: FaultRecord[];
  summary: Record<string, { count: number; recovery_ms: { min: number | null; median: number | null; max: number | null } }>;
  convergence_ms: number | null;
  pipelines: PipelineCheck[];
  failures: string[];
  ok: boolean;
  machine: { cpus: number; load_avg_start: number[]; load_avg_end: number[] };
}

const RECOVERY_TIMEOUT_MS = 240_000;
const CONVERGENCE_TIMEOUT_MS = 300_000;

/** Count and an order-independent checksum of `items` (sum of the first 32 bits of each row's md5), the same SQL value on both kinds. */
function checksumSql(kind: 'postgresql' | 'mysql'): string {
  return kind === 'mysql'
    ? `SELECT count(*) AS n, CAST(COALESCE(SUM(CONV(SUBSTR(MD5(CONCAT(id, ':', v, ':', COALESCE(note, '~'))), 1, 8), 16, 10)), 0) AS CHAR) AS sum FROM items`
    : `SELECT count(*) AS n, COALESCE(SUM(('x' || substr(md5(id::text || ':' || v::text || ':' || COALESCE(note, '~')), 1, 8))::bit(32)::bigint), 0)::text AS sum FROM items`;
}

async function rowsAndChecksum(url: string, kind: 'postgresql' | 'mysql'): Promise<{ rows: number; checksum: string }> {
  const [r] = await q(url, checksumSql(kind));
  return { rows: Number(r.n), checksum: String(r.sum) };
}

async function firstDifferences(p: Setup): Promise<string[]> {
  const read = async (url: string) => new Map((await q(url, 'SELECT id, v, note FROM items ORDER BY id')).map((r: any) => [String(r.id), `${r.v}:${r.note ?? '~'}`]));
  const [src, dst] = await Promise.all([read(p.srcUrl), read(p.dstUrl)]);
  const out: string[] = [];
  for (const [id, v] of src) if (dst.get(id) !== v && out.length < 10) out.push(`id ${id}: source ${v}, destination ${dst.get(id) ?? 'missing'}`);
  for (const [id, v] of dst) if (!src.has(id) && out.length < 20) out.push(`id ${id}: only in the destination (${v})`);
  return out;
}

const median = (xs: number[]) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
const secs = (ms: number | null) => (ms === null ? 'n/a' : (ms / 1000).toFixed(1));

export async function runSoak(o: SoakOptions): Promise<boolean> {
  const home = process.env.SLUICE_HOME!;
  const started = Date.now();
  let loadStart = started;
  const stamp = () => `+${((Date.now() - loadStart) / 1000).toFixed(1)}s`;
  const log = (line: string) => console.log(`[soak ${stamp()}] ${line}`);
  const rng = new Rng(o.seed);
  const failures: string[] = [];
  const os = await import('node:os');
  const loadAvgStart = os.loadavg().map((x) => +x.toFixed(2));
  log(`seed ${o.seed} (--seed ${o.seed} replays this fault schedule), ${o.minutes} min of load and faults, ${o.txPerSecond} tx/s per pipeline; ` +
    `services in ${home} (Postgres ${process.env.SLUICE_PG_PORT}, Redis ${process.env.SLUICE_REDIS_PORT}, Kafka ${process.env.SLUICE_KAFKA_PORT}, MariaDB ${process.env.SLUICE_MARIADB_PORT}); ` +
    `${os.cpus().length} CPUs, load average ${loadAvgStart.join(' ')}`);

  // The stack's own lines matter while it starts and stops; during the faults each fault's line says it all.
  let stackQuiet = false;
  const stack = new LocalStack({ home, log: (l) => { if (!stackQuiet) log(`stack: ${l}`); } });
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    // Throwaway services: a soak starts from nothing, so runs are comparable.
    await stack.stop();
    fs.rmSync(home, { recursive: true, force: true });
    await stack.start();
    await stack.startService('mariadb');
    if (!o.keep) cleanup.push(() => stack.stop());
    const [sourcePostgres, destination] = await Promise.all([PgInstance.withDatabase('soak'), PgInstance.withDatabase('soak_pg')]);
    cleanup.push(() => sourcePostgres.destroy(), () => destination.destroy());
    await q(destination.url, 'CREATE DATABASE soak_my');
    const mariadbPort = Number(new URL(stack.mariadbEndpoints().mysqlUrl).port);
    const [srcProxy, myProxy, dstProxy] = [new TcpProxy(sourcePostgres.port), new TcpProxy(mariadbPort), new TcpProxy(destination.port)];
    for (const p of [srcProxy, myProxy, dstProxy]) { await p.start(); cleanup.push(() => p.close()); }
    const via = (p: TcpProxy) => ({ host: '127.0.0.1', port: p.port });

    const api: TestApi = await startTestApi({ config: { logLevel: 'warn' } });
    cleanup.push(() => api.close());
    const seedProbe = `${PROBE_DDL}; INSERT INTO soak_probe (id, seq) VALUES (1, 0)`;
    const pg = await setupPipeline({
      api, ddl: `${ITEMS_DDL.postgresql}; ${seedProbe}`, srcUrl: sourcePostgres.urlFor('soak'), dstUrl: destination.urlFor('soak_pg'),
      srcHostPort: via(srcProxy), dstHostPort: via(dstProxy),
    });
    const my = await setupPipeline({
      api, sourceKind: 'mysql', ddl: `${ITEMS_DDL.mysql}; ${seedProbe}`, dstUrl: destination.urlFor('soak_my'),
      srcHostPort: via(myProxy), dstHostPort: via(dstProxy),
    });
    const pipelines = [{ name: 'postgres', s: pg }, { name: 'mariadb', s: my }];
    const status = async (s: Setup) => (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/status`)).body;

    // Shorter idle/query timeouts than the defaults, so a stalled link is noticed within the stall.
    const workers = new WorkerPool(api, { SLUICE_SOURCE_IDLE_TIMEOUT_MS: '8000', SLUICE_DB_QUERY_TIMEOUT_MS: '8000', SLUICE_LOG_LEVEL: 'info' });
    workers.spawn();
    workers.spawn();
    cleanup.push(async () => { for (const w of workers.all) await stopWorker(w, 'SIGKILL').catch(() => undefined); });
    const services: SoakServices = {
      stack, sourcePostgres, destination, proxies: [srcProxy, myProxy, dstProxy], workers,
      holders: async () => (await Promise.all(pipelines.map((p) => status(p.s)))).map((st) => Number(String(st.worker_id ?? '').split(':')[1])).filter(Boolean),
    };
    for (const p of pipelines) {
      const end = Date.now() + 120_000;
      while ((await status(p.s)).state !== 'Active') {
        if (Date.now() > end) throw new Error(`pipeline ${p.name} not Active within 120 s: ${JSON.stringify(await status(p.s))}`);
        await sleep(500);
      }
    }
    log(`setup done in ${((Date.now() - started) / 1000).toFixed(1)} s: pipelines Active, 2 workers (logs in ${api.home})`);

    // Load: each pipeline gets its own random stream, so the fault schedule alone follows the seed.
    const loads = pipelines.map((p, i) => new MixedLoad(p.s.srcUrl, rng.fork(i), { txPerSecond: o.txPerSecond, largeEveryMs: [40_000, 120_000], largeRows: [2_000, 20_000] }));
    loadStart = Date.now();
    stackQuiet = true;
    for (const l of loads) l.start();
    const endAt = loadStart + o.minutes * 60_000;

    // Recovery: every pipeline Active and a probe row written after the heal visible in its destination.
    let probeSeq = 0;
    const recovered = async (p: Setup, since: number, seen: string[]): Promise<number | null> => {
      const seq = ++probeSeq;
      const deadline = since + RECOVERY_TIMEOUT_MS;
      while (Date.now() < deadline) {
        try { await q(p.srcUrl, `UPDATE soak_probe SET seq = ${seq} WHERE id = 1`); break; } catch { await sleep(250); }
      }
      while (Date.now() < deadline) {
        try {
          const st = await status(p);
          const label = st.state === 'Broken' ? `Broken (${String(st.reason).split(':')[0]})` : st.state;
          if (!seen.includes(label)) seen.push(label);
          if (st.state === 'Active') {
            const [row] = await q(p.dstUrl, 'SELECT seq FROM soak_probe WHERE id = 1');
            if (Number(row?.seq) >= seq) return Date.now() - since;
          }
        } catch { /* the destination or the API's view is still coming back */ }
        await sleep(250);
      }
      return null;
    };
    const watch = (seen: Record<string, string[]>, until: { done: boolean }) => (async () => {
      while (!until.done) {
        for (const p of pipelines) {
          const st = await status(p.s).catch(() => null);
          const label = !st ? null : st.state === 'Broken' ? `Broken (${String(st.reason).split(':')[0]})` : st.state;
          if (label && !seen[p.name].includes(label)) seen[p.name].push(label);
        }
        await sleep(1000);
      }
    })();

    const kinds = faults(services);
    const records: FaultRecord[] = [];
    const gapMs: [number, number] = [3000, Math.min(30_000, Math.max(8000, o.minutes * 1000))];
    const deck: FaultKind[] = [];
    for (let n = 1; ; n++) {
      const gap = rng.between(...gapMs);
      if (!deck.length) deck.push(...rng.shuffle(FAULT_KINDS));
      const kind = deck.shift()!;
      const fault = kinds[kind];
      const outage = rng.between(...fault.outageMs);
      // Stop when the fault and its recovery would not fit before the end (a minimal recovery of 20 s).
      if (Date.now() + gap + outage + 20_000 > endAt) break;
      await sleep(gap);
      const seen: Record<string, string[]> = Object.fromEntries(pipelines.map((p) => [p.name, []]));
      const at = Date.now();
      const until = { done: false };
      const watcher = watch(seen, until);
      const detail = (await fault.inject(rng)) || null;
      await sleep(Math.max(0, outage - (Date.now() - at)));
      await fault.heal();
      const healed = Date.now();
      const each = await Promise.all(pipelines.map((p) => recovered(p.s, healed, seen[p.name])));
      until.done = true;
      await watcher;
      const rec: FaultRecord = {
        n, kind, detail, at_ms: at - loadStart, outage_ms: healed - at,
        recovery_ms: each.some((x) => x === null) ? null : Math.max(...(each as number[])),
        recovery_by_pipeline: Object.fromEntries(pipelines.map((p, i) => [p.name, each[i]])),
        seen,
      };
      records.push(rec);
      log(`fault ${n} ${kind}${detail ? ` [${detail}]` : ''} at ${secs(rec.at_ms)} s: outage ${secs(rec.outage_ms)} s, ` +
        `recovered after ${secs(rec.recovery_ms)} s (${pipelines.map((p) => `${p.name} ${secs(rec.recovery_by_pipeline[p.name])} s, seen ${seen[p.name].join(' -> ') || '-'}`).join('; ')})`);
      if (rec.recovery_ms === null) failures.push(`fault ${n} (${kind}): not recovered within ${RECOVERY_TIMEOUT_MS / 1000} s of the heal`);
      for (const w of workers.unexpectedExits()) failures.push(`worker pid ${w.proc.pid} exited by itself (code ${w.proc.exitCode}, signal ${w.proc.signalCode}); log ${w.logFile}`);
      if (workers.unexpectedExits().length) break;
    }
    const remaining = endAt - Date.now();
    if (remaining > 0) await sleep(remaining);
    const loadMs = Date.now() - loadStart;
    const stats = await Promise.all(loads.map((l) => l.stop()));
    log(`load stopped after ${secs(loadMs)} s: ${pipelines.map((p, i) => `${p.name} ${stats[i].transactions} tx (${stats[i].largeTransactions} large, up to ${stats[i].largestTransaction} rows), ${stats[i].errors} failed`).join('; ')}`);

    // The sources' positions now: each pipeline must get past them (nothing stuck).
    const heads = await Promise.all(pipelines.map((p) => p.s.sourceKind === 'mysql'
      ? q(p.s.srcUrl, 'SELECT @@GLOBAL.gtid_binlog_pos AS head').then((r) => String(r[0].head))
      : q(p.s.srcUrl, 'SELECT pg_current_wal_lsn()::text AS head').then((r) => String(r[0].head))));

    // Convergence: destination == source (count and checksum) for both.
    const convergeStart = Date.now();
    let convergence: number | null = null;
    let last: { src: { rows: number; checksum: string }; dst: { rows: number; checksum: string } }[] = [];
    while (Date.now() - convergeStart < CONVERGENCE_TIMEOUT_MS) {
      last = await Promise.all(pipelines.map(async (p) => ({
        src: await rowsAndChecksum(p.s.srcUrl, p.s.sourceKind),
        dst: await rowsAndChecksum(p.s.dstUrl, 'postgresql').catch(() => ({ rows: -1, checksum: 'unreadable' })),
      })));
      if (last.every((x) => x.src.rows === x.dst.rows && x.src.checksum === x.dst.checksum)) { convergence = Date.now() - convergeStart; break; }
      await sleep(1000);
    }
    log(convergence === null ? `NOT converged within ${CONVERGENCE_TIMEOUT_MS / 1000} s` : `converged ${secs(convergence)} s after the load stopped`);

    const checks: PipelineCheck[] = [];
    for (const [i, p] of pipelines.entries()) {
      const caughtUp = await (async () => {
        for (const end = Date.now() + 60_000; Date.now() < end; await sleep(1000)) {
          const ok = p.s.sourceKind === 'mysql'
            ? gtidAtLeast(JSON.parse((await q(api.databaseUrl, 'SELECT acked_lsn FROM source_state WHERE source_id = $1', [p.s.sourceId]))[0]?.acked_lsn ?? '{}').gtid ?? '', heads[i])
            : (await q(p.s.srcUrl, 'SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2', [heads[i], p.s.slot]))[0]?.ok === true;
          if (ok) return true;
        }
        return false;
      })();
      let st = await status(p.s);
      let verifyFailed: string[] = [];
      for (const end = Date.now() + 60_000; ; await sleep(1000)) {
        st = await status(p.s);
        const v = await api.call('GET', `/v1/pipelines/${p.s.pipelineId}/verify`);
        verifyFailed = (v.body.checks ?? [{ check: `verify answered ${v.status}`, pass: false }]).filter((c: any) => !c.pass).map((c: any) => `${c.check}${c.table ? ` ${c.table}` : ''}: ${c.detail}`);
        if ((st.state === 'Active' && st.sink.lag === 0 && !verifyFailed.length) || Date.now() > end) break;
      }
      const dlq = (await api.call('GET', `/v1/pipelines/${p.s.pipelineId}/dlq?page_size=1`)).body.total;
      const [dup] = await q(p.s.dstUrl, 'SELECT count(*) - count(DISTINCT id) AS d FROM items');
      const c: PipelineCheck = {
        name: p.name, source: last[i]?.src, destination: last[i]?.dst,
        equal: !!last[i] && last[i].src.rows === last[i].dst.rows && last[i].src.checksum === last[i].dst.checksum,
        duplicate_rows: Number(dup.d), dlq: Number(dlq), state: st.state, sink_lag: st.sink.lag, source_caught_up: caughtUp, verify_failed: verifyFailed, load: stats[i],
      };
      if (!c.equal) c.first_differences = await firstDifferences(p.s);
      checks.push(c);
      const fail = (what: string) => failures.push(`${p.name}: ${what}`);
      if (!c.equal) fail(`destination != source: source ${c.source.rows} rows (checksum ${c.source.checksum}), destination ${c.destination.rows} (${c.destination.checksum}); ${c.first_differences?.join('; ')}`);
      if (c.duplicate_rows) fail(`${c.duplicate_rows} duplicate rows in the destination`);
      if (c.dlq) fail(`${c.dlq} records in the DLQ`);
      if (c.state !== 'Active' || c.sink_lag !== 0) fail(`stuck: state ${c.state} (${st.reason ?? ''}), sink lag ${c.sink_lag}`);
      if (!c.source_caught_up) fail(`stuck: the source position did not get past ${heads[i]} within 60 s of convergence`);
      if (c.verify_failed.length) fail(`verify: ${c.verify_failed.join('; ')}`);
    }
    for (const w of workers.unexpectedExits()) if (!failures.some((f) => f.includes(`pid ${w.proc.pid} `))) failures.push(`worker pid ${w.proc.pid} exited by itself; log ${w.logFile}`);

    const summary: SoakReport['summary'] = {};
    for (const kind of FAULT_KINDS) {
      const of = records.filter((r) => r.kind === kind);
      const times = of.map((r) => r.recovery_ms).filter((x): x is number => x !== null);
      summary[kind] = { count: of.length, recovery_ms: { min: times.length ? Math.min(...times) : null, median: median(times), max: times.length ? Math.max(...times) : null } };
    }
    const report: SoakReport = {
      seed: o.seed, minutes: o.minutes, started_at: new Date(started).toISOString(), load_ms: loadMs, faults: records, summary,
      convergence_ms: convergence, pipelines: checks, failures, ok: failures.length === 0,
      machine: { cpus: os.cpus().length, load_avg_start: loadAvgStart, load_avg_end: os.loadavg().map((x) => +x.toFixed(2)) },
    };
    stackQuiet = false;
    printReport(report);
    if (o.jsonFile) fs.writeFileSync(o.jsonFile, JSON.stringify(report, null, 2) + '\n');
    if (!report.ok) console.log(`worker logs: ${workers.all.map((w) => w.logFile).join(' ')}`);
    return report.ok;
  } finally {
    for (const f of cleanup.reverse()) await f().catch((e) => log(`cleanup: ${(e as Error).message}`));
  }
}

/** Every domain of GTID position `head` (MariaDB `d-s-n,...`) is reached by `pos`. */
function gtidAtLeast(pos: string, head: string): boolean {
  const seqs = (g: string) => new Map(g.split(',').filter(Boolean).map((x) => { const [d, , n] = x.trim().split('-'); return [d, Number(n)] as const; }));
  const have = seqs(pos);
  return [...seqs(head)].every(([d, n]) => (have.get(d) ?? -1) >= n);
}

export function printReport(r: SoakReport): void {
  const line = (cells: (string | number)[], widths: number[]) => cells.map((c, i) => String(c).padEnd(widths[i])).join(' ').trimEnd();
  const w = [3, 9, 21, 9, 12, 0];
  console.log(`\nSoak: seed ${r.seed}, ${(r.load_ms / 60000).toFixed(1)} min of load, ${r.faults.length} faults, ${r.machine.cpus} CPUs, load average ${r.machine.load_avg_start.join(' ')} -> ${r.machine.load_avg_end.join(' ')}`);
  console.log(line(['#', 'at (s)', 'fault', 'outage', 'recovery (s)', 'states seen (postgres | mariadb)'], w));
  for (const f of r.faults) {
    console.log(line([f.n, secs(f.at_ms), f.kind, secs(f.outage_ms), secs(f.recovery_ms), Object.values(f.seen).map((s) => s.join(' > ') || '-').join(' | ')], w));
  }
  console.log('\nrecovery by fault kind (s): count, min, median, max');
  for (const [kind, s] of Object.entries(r.summary)) {
    console.log(`  ${kind.padEnd(21)} ${String(s.count).padStart(3)}  ${secs(s.recovery_ms.min).padStart(6)} ${secs(s.recovery_ms.median).padStart(6)} ${secs(s.recovery_ms.max).padStart(6)}`);
  }
  console.log(`\nconvergence after the load stopped: ${secs(r.convergence_ms)} s`);
  for (const p of r.pipelines) {
    console.log(`${p.name}: source ${p.source?.rows} rows (checksum ${p.source?.checksum}), destination ${p.destination?.rows} (${p.destination?.checksum}) ${p.equal ? 'EQUAL' : 'DIFFERENT'}; ` +
      `duplicates ${p.duplicate_rows}, DLQ ${p.dlq}, ${p.state}, sink lag ${p.sink_lag}, source caught up ${p.source_caught_up}, verify ${p.verify_failed.length ? 'FAILED' : 'passed'}; ` +
      `load ${p.load.transactions} tx / ${p.load.statements} statements, ${p.load.largeTransactions} large (up to ${p.load.largestTransaction} rows), ${p.load.errors} failed during faults`);
  }
  console.log(r.ok ? '\nSOAK PASSED' : `\nSOAK FAILED:\n${r.failures.map((f) => `  - ${f}`).join('\n')}`);
}

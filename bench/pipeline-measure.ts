/**
 * The measurements of bench/pipeline.ts, shared with bench/peer-debezium: a burst of the 10-column
 * workload (max sustained rows/s end to end), a paced load (commit -> visible latency), the CPU of
 * the process that moves the data, and the machine's load average while it runs. Each takes the
 * source and destination URLs and the pid to charge CPU to, so any data plane can be measured the
 * same way.
 */
import fs from 'node:fs';
import os from 'node:os';
import { loadConn, q, setupPipeline, Setup, sleep, spawnWorker, waitFor, Worker } from '../test/dataplane/harness';
import { BenchWorkload } from './pipeline-workload';

/** What a measurement runs against: the source and destination databases and the process doing the work. */
export interface MeasureTarget {
  srcUrl: string;
  dstUrl: string;
  pid: number;
}

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat counts CPU time in these ticks

/**
 * CPU milliseconds (user + system, all threads) that process `pid` used so far, from /proc (no
 * cgroups needed); with `tid`, of that one thread.
 */
export function processCpuMs(pid: number, tid?: string): number {
  const stat = fs.readFileSync(tid ? `/proc/${pid}/task/${tid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * (1000 / CLK_TCK); // utime, stime
}

/** Resident memory of process `pid` in MiB: `VmRSS` now, or `VmHWM` (its peak since it started). */
export function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

export const load1 = () => +os.loadavg()[0].toFixed(2);

/** Samples the 1-minute load average every second until stop(); stop() gives before/mean/max/after. */
export function sampleLoad() {
  const before = load1();
  const seen: number[] = [before];
  const timer = setInterval(() => seen.push(load1()), 1000);
  return {
    stop() {
      clearInterval(timer);
      const after = load1();
      seen.push(after);
      return {
        before,
        mean: +(seen.reduce((a, b) => a + b, 0) / seen.length).toFixed(2),
        max: Math.max(...seen),
        after,
      };
    },
  };
}

/**
 * A Sluice pipeline of `workload` on fresh databases (bench/pipeline's settings: snapshot chunks of
 * 5,000, destination batch_size 5,000), its destination table created with `arrived_at`, and a worker
 * process running it.
 */
export async function startSluicePipeline(
  workload: BenchWorkload,
  workerEnv: Record<string, string>,
): Promise<{ s: Setup; w: Worker }> {
  const s = await setupPipeline({
    ddl: workload.sourceDdl,
    sourceKind: workload.kind,
    source: { snapshot_chunk_size: 5000 },
    destination: { batch_size: 5000 },
  });
  // The destination table gets an arrival timestamp the source does not have: latency = arrived_at - src_ts.
  await q(s.dstUrl, workload.destinationDdl);
  const w = spawnWorker(s.api, workerEnv);
  await waitFor(
    'pipeline Active',
    async () => (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/status`)).body.state === 'Active',
    60000,
  );
  return { s, w };
}

async function count(url: string, sql: string) {
  return Number((await q(url, sql))[0].n);
}

/**
 * How a burst knows it is done: the number of distinct source rows the destination holds (default: a
 * count of the Postgres destination's bench table), polled every `pollMs`.
 */
export interface Delivered {
  delivered?: () => Promise<number>;
  pollMs?: number;
}

/**
 * Max sustained rows/s: `rows` inserted in 1,000-row transactions as fast as one connection can,
 * with an update of the 200 newest rows every 5,000 (updates in the mix), timed until the
 * destination has them all.
 */
export async function throughput(t: MeasureTarget, workload: BenchWorkload, rows: number, opts: Delivered = {}) {
  const delivered = opts.delivered ?? (() => count(t.dstUrl, 'SELECT count(*) AS n FROM bench'));
  const c = await loadConn(t.srcUrl);
  const before = await delivered();
  const load1Before = load1();
  const cpu0 = processCpuMs(t.pid);
  const t0 = Date.now();
  const per = 1000;
  for (let i = 0; i < rows; i += per) {
    await c.query(workload.insert(i, per));
    if (i % 5000 === 0) await c.query(workload.update);
  }
  const tWritten = Date.now();
  await c.end();
  await waitFor('all rows delivered', async () => (await delivered()) >= before + rows, 600000, opts.pollMs ?? 100);
  const tDone = Date.now();
  const cpuMs = processCpuMs(t.pid) - cpu0;
  return {
    rows,
    workerCpuUsPerRow: Math.round((cpuMs * 1000) / rows),
    cpuSeconds: +(cpuMs / 1000).toFixed(2),
    load1Before,
    load1After: load1(),
    sourceRowsPerS: Math.round(rows / ((tWritten - t0) / 1000)),
    e2eRowsPerS: Math.round(rows / ((tDone - t0) / 1000)),
    seconds: (tDone - t0) / 1000,
    /** The process's peak RSS since it started (VmHWM): the burst is the first thing a bench worker does. */
    peakRssMiB: rssMiB(t.pid, 'VmHWM'),
  };
}

/**
 * Latency at a fixed rate: inserts paced in 20 ms ticks for `seconds`, then p50/p99/max of
 * `arrived_at - src_ts` (both stamped by the one Postgres clock) over the rows of this phase only
 * (ids above the source's newest id at the start, so earlier phases need not be truncated away).
 */
export async function latency(t: MeasureTarget, workload: BenchWorkload, rate: number, seconds: number) {
  const c = await loadConn(t.srcUrl);
  const from = Number((await q(t.srcUrl, 'SELECT coalesce(max(id), 0) AS n FROM bench'))[0].n);
  const tickMs = 20;
  const perTick = (rate * tickMs) / 1000;
  const load1Before = load1();
  const cpu0 = processCpuMs(t.pid);
  const t0 = Date.now();
  let sent = 0;
  let carry = 0;
  while (Date.now() - t0 < seconds * 1000) {
    const tick = Date.now();
    carry += perTick;
    const n = Math.floor(carry);
    carry -= n;
    if (n) {
      await c.query(workload.insert(sent, n));
      sent += n;
    }
    await sleep(Math.max(0, tickMs - (Date.now() - tick)));
  }
  const achieved = Math.round(sent / ((Date.now() - t0) / 1000));
  await c.end();
  await waitFor(
    'latency rows delivered',
    async () => (await count(t.dstUrl, `SELECT count(*) AS n FROM bench WHERE id > ${from}`)) >= sent,
    600000,
    100,
  );
  const cpuMs = processCpuMs(t.pid) - cpu0;
  const r = await q(
    t.dstUrl,
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
    FROM (SELECT extract(epoch FROM arrived_at - src_ts) * 1000 AS ms FROM bench WHERE id > ${from}) x`,
  );
  return {
    target: rate,
    achieved,
    rows: sent,
    workerCpuUsPerRow: Math.round((cpuMs * 1000) / sent),
    load1Before,
    load1After: load1(),
    p50_ms: Math.round(r[0].p50),
    p99_ms: Math.round(r[0].p99),
    max_ms: Math.round(r[0].max),
  };
}

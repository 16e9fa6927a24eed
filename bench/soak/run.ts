import fs from 'node:fs';
import os from 'node:os';
import { q, Setup, sleep, Worker } from '../../test/dataplane/harness';
import { checkPipeline, sourceHead, waitConverged } from './checks';
import { FAULT_KINDS, FaultKind, faults } from './faults';
import { MixedLoad } from './load';
import { FaultRecord, faultLine, PipelineCheck, printReport, secs, SoakReport, summarize } from './report';
import { Rng } from './rng';
import { SoakSetup, startSoakServices } from './services';

export interface SoakOptions {
  minutes: number;
  seed: number;
  txPerSecond: number;
  jsonFile?: string;
  keep: boolean;
  /**
   * Time budget of the whole run: recovery, convergence and the final checks wait no longer than it
   * allows (a stuck pipeline then fails the run in time, with its report, instead of the caller's
   * timeout killing it without one). The load runs its `minutes` regardless.
   */
  maxSeconds?: number;
}

const RECOVERY_TIMEOUT_MS = 240_000;
/** A large transaction every 40-120 s per pipeline, of 2,000-20,000 rows. */
const LARGE_EVERY_MS: [number, number] = [40_000, 120_000];
const LARGE_ROWS: [number, number] = [2_000, 20_000];
const CONVERGENCE_TIMEOUT_MS = 300_000;
const loadAverage = () => os.loadavg().map((x) => +x.toFixed(2));
const diedLine = (w: Worker) =>
  `worker pid ${w.proc.pid} exited by itself (code ${w.proc.exitCode}, signal ${w.proc.signalCode}); log ${w.logFile}`;
const label = (st: any) => (st.state === 'Broken' ? `Broken (${String(st.reason).split(':')[0]})` : String(st.state));

/** Runs the soak; true when every check passed. */
export async function runSoak(o: SoakOptions): Promise<boolean> {
  const started = Date.now();
  // Teardown needs some seconds of the budget.
  const deadline = o.maxSeconds ? started + o.maxSeconds * 1000 - 20_000 : Infinity;
  let t0 = started;
  const log = (line: string) => console.log(`[soak +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const rng = new Rng(o.seed);
  const loadAvgStart = loadAverage();
  const e = process.env;
  log(
    `seed ${o.seed} (--seed ${o.seed} replays this fault schedule), ${o.minutes} min of load and faults, ` +
      `${o.txPerSecond} tx/s per pipeline; services in ${e.SLUICE_HOME} (Postgres ${e.SLUICE_PG_PORT}, ` +
      `Redis ${e.SLUICE_REDIS_PORT}, Kafka ${e.SLUICE_KAFKA_PORT}, MariaDB ${e.SLUICE_MARIADB_PORT}); ` +
      `${os.cpus().length} CPUs, load average ${loadAvgStart.join(' ')}`,
  );
  // The stack's own lines matter while it starts and stops; during the faults each fault's line says it all.
  let stackQuiet = false;
  const env = await startSoakServices(log, (l) => {
    if (!stackQuiet) log(`stack: ${l}`);
  });
  // Interrupted (Ctrl-C, a test runner's timeout): still stop the services and servers it started.
  const interrupted = () => {
    log("interrupted: stopping the soak's services");
    env.close(o.keep).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    log(`setup done in ${secs(Date.now() - started)} s: pipelines Active, 2 workers (logs in ${env.api.home})`);
    // Each load has a random stream of its own, so the fault schedule alone follows the seed.
    const shape = { txPerSecond: o.txPerSecond, largeEveryMs: LARGE_EVERY_MS, largeRows: LARGE_ROWS };
    const loads = env.pipelines.map((p, i) => new MixedLoad(p.s.srcUrl, rng.fork(i), shape));
    t0 = Date.now();
    stackQuiet = true;
    for (const l of loads) l.start();
    const { records, failures } = await injectFaults(env, rng, t0 + o.minutes * 60_000, deadline, log);
    await sleep(t0 + o.minutes * 60_000 - Date.now());
    const loadMs = Date.now() - t0;
    const stats = await Promise.all(loads.map((l) => l.stop()));
    const done = stats.map(
      (x, i) => `${env.pipelines[i].name} ${x.transactions} tx (${x.largeTransactions} large), ${x.errors} failed`,
    );
    log(`load stopped after ${secs(loadMs)} s: ${done.join('; ')}`);

    const heads = await Promise.all(env.pipelines.map((p) => sourceHead(p.s)));
    const convergeFor = Math.max(0, Math.min(CONVERGENCE_TIMEOUT_MS, deadline - Date.now() - 30_000));
    const converged = await waitConverged(env.pipelines, convergeFor);
    if (converged.ms === null) failures.push(`not converged within ${secs(convergeFor)} s of the end of the load`);
    log(
      converged.ms === null
        ? `NOT converged within ${secs(convergeFor)} s`
        : `converged ${secs(converged.ms)} s after the load stopped`,
    );
    const checks: PipelineCheck[] = [];
    for (const [i, p] of env.pipelines.entries()) {
      const r = await checkPipeline(env.api, p, converged.last[i], heads[i], stats[i], deadline);
      checks.push(r.check);
      failures.push(...r.failures);
    }
    failures.push(...env.workers.unexpectedExits().map(diedLine));
    const report: SoakReport = {
      seed: o.seed,
      minutes: o.minutes,
      started_at: new Date(started).toISOString(),
      load_ms: loadMs,
      faults: records,
      summary: summarize(records),
      convergence_ms: converged.ms,
      pipelines: checks,
      failures: [...new Set(failures)],
      ok: failures.length === 0,
      machine: { cpus: os.cpus().length, load_avg_start: loadAvgStart, load_avg_end: loadAverage() },
    };
    stackQuiet = false;
    printReport(report);
    if (!report.ok) console.log(`worker logs: ${env.workers.all.map((w) => w.logFile).join(' ')}`);
    if (o.jsonFile) fs.writeFileSync(o.jsonFile, JSON.stringify(report, null, 2) + '\n');
    return report.ok;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    stackQuiet = false;
    await env.close(o.keep);
  }
}

/**
 * The fault loop: after a random gap, the next kind from a shuffled deck (every kind once before any
 * repeats) for a random outage, healed, then the recovery measured; one fault at a time, until the
 * next one would not fit before `endAt` (with 20 s for its recovery).
 */
async function injectFaults(
  env: SoakSetup,
  rng: Rng,
  endAt: number,
  deadline: number,
  log: (line: string) => void,
): Promise<{ records: FaultRecord[]; failures: string[] }> {
  const kinds = faults(env);
  const records: FaultRecord[] = [];
  const failures: string[] = [];
  const minutes = (endAt - Date.now()) / 60_000;
  const gapMs: [number, number] = [3000, Math.min(30_000, Math.max(8000, minutes * 1000))];
  const deck: FaultKind[] = [];
  const loadStart = Date.now();
  let probe = 0;
  for (let n = 1; ; n++) {
    const gap = rng.between(...gapMs);
    if (!deck.length) deck.push(...rng.shuffle(FAULT_KINDS));
    const kind = deck.shift()!;
    const fault = kinds[kind];
    const outage = rng.between(...fault.outageMs);
    if (Date.now() + gap + outage + 20_000 > endAt) break;
    await sleep(gap);
    const seen: Record<string, string[]> = Object.fromEntries(env.pipelines.map((p) => [p.name, []]));
    const note = (name: string, st: any) => {
      if (st && !seen[name].includes(label(st))) seen[name].push(label(st));
    };
    const at = Date.now();
    const watching = { on: true };
    const watcher = (async () => {
      while (watching.on) {
        for (const p of env.pipelines) note(p.name, await env.status(p.s).catch(() => null));
        await sleep(1000);
      }
    })();
    const detail = (await fault.inject(rng)) || null;
    await sleep(outage - (Date.now() - at));
    await fault.heal();
    const healed = Date.now();
    const until = Math.min(healed + RECOVERY_TIMEOUT_MS, deadline);
    const each = await Promise.all(
      env.pipelines.map((p) => recovered(env, p.s, ++probe, healed, until, (st) => note(p.name, st))),
    );
    watching.on = false;
    await watcher;
    const rec: FaultRecord = {
      n,
      kind,
      detail,
      at_ms: at - loadStart,
      outage_ms: healed - at,
      recovery_ms: each.includes(null) ? null : Math.max(...(each as number[])),
      recovery_by_pipeline: Object.fromEntries(env.pipelines.map((p, i) => [p.name, each[i]])),
      seen,
    };
    records.push(rec);
    log(faultLine(rec));
    if (rec.recovery_ms === null) {
      failures.push(`fault ${n} (${kind}): not recovered within ${secs(until - healed)} s of the heal`);
      break; // the next fault would only pile onto a pipeline that is stuck already
    }
    const died = env.workers.unexpectedExits();
    if (died.length) {
      failures.push(...died.map(diedLine));
      break;
    }
  }
  return { records, failures };
}

/**
 * Recovery of one pipeline after a heal at `since`: a probe row written to the source after the heal
 * (retried until the source takes it) has reached the destination and the pipeline is Active, so the
 * backlog of the outage is delivered. Milliseconds from `since`, or null if not by `deadline`.
 */
async function recovered(
  env: SoakSetup,
  s: Setup,
  seq: number,
  since: number,
  deadline: number,
  note: (st: any) => void,
): Promise<number | null> {
  while (Date.now() < deadline) {
    try {
      await q(s.srcUrl, `UPDATE soak_probe SET seq = ${seq} WHERE id = 1`);
      break;
    } catch {
      await sleep(250);
    }
  }
  while (Date.now() < deadline) {
    try {
      const st = await env.status(s);
      note(st);
      const arrived = async () => Number((await q(s.dstUrl, 'SELECT seq FROM soak_probe WHERE id = 1'))[0]?.seq) >= seq;
      if (st.state === 'Active' && (await arrived())) return Date.now() - since;
    } catch {
      /* the destination, or the API's view of it, is still coming back */
    }
    await sleep(250);
  }
  return null;
}

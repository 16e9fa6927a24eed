import { FAULT_KINDS, FaultKind } from './faults';
import { LoadStats } from './load';

/** A fault's record in the report; times in ms, `at` from the start of the load. */
export interface FaultRecord {
  n: number;
  kind: FaultKind;
  detail: string | null;
  at_ms: number;
  /** From the injection until the heal: the service restarted and healthy, the link restored. */
  outage_ms: number;
  /** From the heal until every pipeline is Active and caught up (null: not within the timeout). */
  recovery_ms: number | null;
  recovery_by_pipeline: Record<string, number | null>;
  /** Pipeline states seen between the injection and the recovery, with Broken reasons. */
  seen: Record<string, string[]>;
}

export interface Counted {
  rows: number;
  checksum: string;
}

export interface PipelineCheck {
  name: string;
  source: Counted;
  destination: Counted;
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

export interface Recovery {
  min: number | null;
  median: number | null;
  max: number | null;
}

export interface SoakReport {
  seed: number;
  minutes: number;
  started_at: string;
  load_ms: number;
  faults: FaultRecord[];
  summary: Record<string, { count: number; recovery_ms: Recovery }>;
  convergence_ms: number | null;
  pipelines: PipelineCheck[];
  failures: string[];
  ok: boolean;
  machine: { cpus: number; load_avg_start: number[]; load_avg_end: number[] };
}

export const secs = (ms: number | null) => (ms === null ? 'n/a' : (ms / 1000).toFixed(1));

/** Count and recovery min / median / max per fault kind. */
export function summarize(faults: FaultRecord[]): SoakReport['summary'] {
  const out: SoakReport['summary'] = {};
  for (const kind of FAULT_KINDS) {
    const of = faults.filter((r) => r.kind === kind);
    const times = of
      .map((r) => r.recovery_ms)
      .filter((x): x is number => x !== null)
      .sort((a, b) => a - b);
    const at = (i: number) => (times.length ? times[i] : null);
    const recovery = { min: at(0), median: at(Math.floor((times.length - 1) / 2)), max: at(times.length - 1) };
    out[kind] = { count: of.length, recovery_ms: recovery };
  }
  return out;
}

export function faultLine(f: FaultRecord): string {
  const each = Object.entries(f.recovery_by_pipeline).map(
    ([name, ms]) => `${name} ${secs(ms)} s, seen ${f.seen[name].join(' -> ') || '-'}`,
  );
  return (
    `fault ${f.n} ${f.kind}${f.detail ? ` [${f.detail}]` : ''} at ${secs(f.at_ms)} s: outage ${secs(f.outage_ms)} s, ` +
    `recovered after ${secs(f.recovery_ms)} s (${each.join('; ')})`
  );
}

export function printReport(r: SoakReport): void {
  const widths = [4, 9, 22, 8, 10, 0];
  const row = (cells: (string | number)[]) =>
    cells
      .map((c, i) => String(c).padEnd(widths[i]))
      .join(' ')
      .trimEnd();
  const m = r.machine;
  console.log(
    `\nSoak: seed ${r.seed}, ${(r.load_ms / 60000).toFixed(1)} min of load, ${r.faults.length} faults, ` +
      `${m.cpus} CPUs, load average ${m.load_avg_start.join(' ')} -> ${m.load_avg_end.join(' ')}`,
  );
  console.log(row(['n', 'at (s)', 'fault', 'outage', 'recovery', 'states seen (postgres | mariadb)']));
  for (const f of r.faults) {
    const seen = Object.values(f.seen)
      .map((s) => s.join(' > ') || '-')
      .join(' | ');
    console.log(row([f.n, secs(f.at_ms), f.kind, secs(f.outage_ms), secs(f.recovery_ms), seen]));
  }
  console.log('\nrecovery by fault kind (s): count, min, median, max');
  for (const [kind, s] of Object.entries(r.summary)) {
    const c = s.recovery_ms;
    const times = [c.min, c.median, c.max].map((x) => secs(x).padStart(6)).join(' ');
    console.log(`  ${kind.padEnd(21)} ${String(s.count).padStart(3)} ${times}`);
  }
  console.log(`\nconvergence after the load stopped: ${secs(r.convergence_ms)} s`);
  for (const p of r.pipelines) {
    const l = p.load;
    console.log(
      `${p.name}: source ${p.source.rows} rows (checksum ${p.source.checksum}), destination ${p.destination.rows} ` +
        `(${p.destination.checksum}) ${p.equal ? 'EQUAL' : 'DIFFERENT'}; duplicates ${p.duplicate_rows}, DLQ ${p.dlq}, ${p.state}, ` +
        `sink lag ${p.sink_lag}, source caught up ${p.source_caught_up}, verify ${p.verify_failed.length ? 'FAILED' : 'passed'}; ` +
        `load ${l.transactions} tx / ${l.statements} statements, ${l.largeTransactions} large (up to ${l.largestTransaction} rows), ` +
        `${l.errors} failed during faults`,
    );
  }
  console.log(r.ok ? '\nSOAK PASSED' : `\nSOAK FAILED:\n${r.failures.map((f) => `  - ${f}`).join('\n')}`);
}

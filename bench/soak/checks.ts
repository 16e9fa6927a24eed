import { q, Setup, sleep } from '../../test/dataplane/harness';
import type { TestApi } from '../../test/helpers';
import { LoadStats } from './load';
import { Counted, PipelineCheck } from './report';
import type { SoakPipeline } from './services';

/**
 * Count and an order-independent checksum of `items`: the sum of the first 32 bits of each row's md5,
 * computed by the database itself (the same value on Postgres and MariaDB for the same rows).
 */
export async function countAndChecksum(url: string, kind: 'postgresql' | 'mysql'): Promise<Counted> {
  const sql =
    kind === 'mysql'
      ? `SELECT count(*) AS n,
         CAST(COALESCE(SUM(CONV(SUBSTR(MD5(CONCAT(id, ':', v, ':', COALESCE(note, '~'))), 1, 8), 16, 10)), 0) AS CHAR) AS sum
       FROM items`
      : `SELECT count(*) AS n,
         COALESCE(SUM(('x' || substr(md5(id::text || ':' || v::text || ':' || COALESCE(note, '~')), 1, 8))::bit(32)::bigint), 0)::text AS sum
       FROM items`;
  const [r] = await q(url, sql);
  return { rows: Number(r.n), checksum: String(r.sum) };
}

const equal = (a: Counted, b: Counted) => a.rows === b.rows && a.checksum === b.checksum;
export interface Compared {
  src: Counted;
  dst: Counted;
}

/** Waits until every pipeline's destination equals its source; the ms it took, or null after `timeoutMs`. */
export async function waitConverged(
  pipelines: SoakPipeline[],
  timeoutMs: number,
): Promise<{ ms: number | null; last: Compared[] }> {
  const start = Date.now();
  let last: Compared[] = [];
  while (Date.now() - start < timeoutMs) {
    last = await Promise.all(
      pipelines.map(async (p) => ({
        src: await countAndChecksum(p.s.srcUrl, p.s.sourceKind),
        dst: await countAndChecksum(p.s.dstUrl, 'postgresql').catch(() => ({ rows: -1, checksum: 'unreadable' })),
      })),
    );
    if (last.every((x) => equal(x.src, x.dst))) return { ms: Date.now() - start, last };
    await sleep(1000);
  }
  return { ms: null, last };
}

/** The source's head now: Postgres WAL LSN, or MariaDB's binlog GTID position. */
export async function sourceHead(s: Setup): Promise<string> {
  if (s.sourceKind === 'mysql') return String((await q(s.srcUrl, 'SELECT @@GLOBAL.gtid_binlog_pos AS head'))[0].head);
  return String((await q(s.srcUrl, 'SELECT pg_current_wal_lsn()::text AS head'))[0].head);
}

/** Every domain of MariaDB GTID position `head` (`d-s-n,...`) is reached by `pos`. */
export function gtidAtLeast(pos: string, head: string): boolean {
  const seqs = (g: string) =>
    new Map(
      g
        .split(',')
        .filter(Boolean)
        .map((x) => {
          const [domain, , seq] = x.trim().split('-');
          return [domain, Number(seq)] as const;
        }),
    );
  const have = seqs(pos);
  return [...seqs(head)].every(([d, n]) => (have.get(d) ?? -1) >= n);
}

/** The acknowledged source position got past `head` (the slot's confirmed LSN, or the persisted GTID position). */
async function pastHead(api: TestApi, s: Setup, head: string): Promise<boolean> {
  if (s.sourceKind === 'mysql') {
    const [st] = await q(api.databaseUrl, 'SELECT acked_lsn FROM source_state WHERE source_id = $1', [s.sourceId]);
    return gtidAtLeast(JSON.parse(st?.acked_lsn ?? '{}').gtid ?? '', head);
  }
  const sql = 'SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2';
  const [r] = await q(s.srcUrl, sql, [head, s.slot]);
  return r?.ok === true;
}

async function firstDifferences(s: Setup): Promise<string[]> {
  const read = async (url: string) =>
    new Map(
      (await q(url, 'SELECT id, v, note FROM items ORDER BY id')).map((r: any) => [
        String(r.id),
        `${r.v}:${r.note ?? '~'}`,
      ]),
    );
  const [src, dst] = await Promise.all([read(s.srcUrl), read(s.dstUrl)]);
  const out: string[] = [];
  for (const [id, v] of src) {
    if (dst.get(id) !== v && out.length < 10)
      out.push(`id ${id}: source ${v}, destination ${dst.get(id) ?? 'missing'}`);
  }
  for (const [id, v] of dst) if (!src.has(id) && out.length < 20) out.push(`id ${id}: only in the destination (${v})`);
  return out;
}

/**
 * The end-state checks of one pipeline after convergence: equal rows, no duplicate keys, DLQ empty,
 * nothing stuck (Active, sink lag 0, the source position past `head`, the verify checklist green; up to
 * a minute to get there). Returns the check and the failures in words.
 */
export async function checkPipeline(
  api: TestApi,
  p: SoakPipeline,
  counted: Compared,
  head: string,
  load: LoadStats,
  deadline: number,
): Promise<{ check: PipelineCheck; failures: string[] }> {
  const until = () => Math.min(Date.now() + 60_000, deadline);
  const s = p.s;
  let caughtUp = false;
  for (const end = until(); !caughtUp && Date.now() < end; await sleep(1000)) {
    caughtUp = await pastHead(api, s, head);
  }
  let st: any;
  let verifyFailed: string[] = [];
  for (const end = until(); ; await sleep(1000)) {
    st = (await api.call('GET', `/v1/pipelines/${s.pipelineId}/status`)).body;
    const v = await api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`);
    verifyFailed = (v.body.checks ?? [{ check: `verify answered ${v.status}`, pass: false }])
      .filter((c: any) => !c.pass)
      .map((c: any) => `${c.check}${c.table ? ` ${c.table}` : ''}: ${c.detail}`);
    if ((st.state === 'Active' && st.sink.lag === 0 && !verifyFailed.length) || Date.now() > end) break;
  }
  const dlq = Number((await api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?page_size=1`)).body.total);
  const [dup] = await q(s.dstUrl, 'SELECT count(*) - count(DISTINCT id) AS d FROM items');
  const check: PipelineCheck = {
    name: p.name,
    source: counted.src,
    destination: counted.dst,
    equal: equal(counted.src, counted.dst),
    duplicate_rows: Number(dup.d),
    dlq,
    state: st.state,
    sink_lag: st.sink.lag,
    source_caught_up: caughtUp,
    verify_failed: verifyFailed,
    load,
  };
  if (!check.equal) check.first_differences = await firstDifferences(s);
  const failures: string[] = [];
  const fail = (what: string) => failures.push(`${p.name}: ${what}`);
  if (!check.equal) {
    fail(
      `destination != source: source ${check.source.rows} rows (checksum ${check.source.checksum}), destination ` +
        `${check.destination.rows} (${check.destination.checksum}); ${check.first_differences?.join('; ')}`,
    );
  }
  if (check.duplicate_rows) fail(`${check.duplicate_rows} duplicate rows in the destination`);
  if (check.dlq) fail(`${check.dlq} records in the DLQ`);
  if (check.state !== 'Active' || check.sink_lag !== 0) {
    fail(`stuck: state ${check.state} (${st.reason ?? ''}), sink lag ${check.sink_lag}`);
  }
  if (!caughtUp) fail(`stuck: the source position did not get past ${head} within 60 s of convergence`);
  if (verifyFailed.length) fail(`verify: ${verifyFailed.join('; ')}`);
  return { check, failures };
}

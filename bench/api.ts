/**
 * bench/api: GET list and GET by id at 50 concurrent connections with 1,000 objects stored.
 * Runs against the real API (started here, in this process's own child) on the stack named by
 * DATABASE_URL / REDIS_URL / KAFKA_BROKERS (defaults: the `sluice dev` stack). Prints req/s and
 * latency percentiles; docs/benchmarks.md records the figures.
 *
 *   npm run bench:api            # needs `npm start` (or any stack) running
 */
import autocannon from 'autocannon';
import { startBenchApi } from './bench-api';

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 1000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

async function main() {
  const api = await startBenchApi({ profileDir: process.env.BENCH_PROFILE });
  const { url, token } = api;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  try {
    const ids: string[] = [];
    for (let i = 0; i < OBJECTS; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, OBJECTS - i) }, (_, j) =>
        fetch(url + '/v1/sources', { method: 'POST', headers, body: JSON.stringify({ name: `bench-${i + j}`, kind: 'postgresql', config: { host: 'db', database: 'd', user: 'u', password: 'p' } }) }).then((r) => r.json() as Promise<{ id: string }>)));
      ids.push(...batch.map((b) => b.id));
    }
    console.log(`stored ${ids.length} sources; ${CONNECTIONS} connections, ${SECONDS} s per run`);
    const run = (title: string, requests: autocannon.Request[], duration = SECONDS) =>
      new Promise<autocannon.Result>((resolve, reject) => autocannon({ url, connections: CONNECTIONS, duration, headers, requests, title }, (err, res) => (err ? reject(err) : resolve(res))));
    const rows: string[] = [];
    for (const [title, requests] of [
      ['GET /v1/sources (page of 50)', [{ method: 'GET', path: '/v1/sources?page=3&page_size=50' }]],
      ['GET /v1/sources/:id', ids.slice(0, 200).map((id) => ({ method: 'GET', path: `/v1/sources/${id}` }))],
    ] as [string, autocannon.Request[]][]) {
      await run('warmup', requests.slice(0, 1), 2);
      const r = await run(title, requests);
      const line = `${title.padEnd(30)} ${r.requests.average.toFixed(0).padStart(6)} req/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms   non-2xx ${r.non2xx}   errors ${r.errors}`;
      rows.push(line);
      console.log(line);
    }
  } finally {
    await api.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });

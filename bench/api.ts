/**
 * bench/api: GET list and GET by id at 50 concurrent connections with 1,000 objects stored.
 * Runs against the real API (started here, in this process's own child) on the stack named by
 * DATABASE_URL / REDIS_URL / KAFKA_BROKERS (defaults: the `sluice dev` stack). Prints req/s and
 * latency percentiles; docs/benchmarks.md records the figures.
 *
 *   npm run bench:api            # needs `npm start` (or any stack) running
 */
import os from 'node:os';
import autocannon from 'autocannon';
import { startBenchApi } from './bench-api';

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 1000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
// autocannon's worker threads (0 = in this thread); the connections are split between them.
const WORKERS = Number(process.env.BENCH_WORKERS ?? 0);

async function main() {
  const api = await startBenchApi({ profileDir: process.env.BENCH_PROFILE });
  const { url, token } = api;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  try {
    const ids: string[] = [];
    for (let i = 0; i < OBJECTS; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, OBJECTS - i) }, (_, j) =>
          fetch(url + '/v1/sources', {
            method: 'POST',
            headers,
            body: JSON.stringify({
              name: `bench-${i + j}`,
              kind: 'postgresql',
              config: { host: 'db', database: 'd', user: 'u', password: 'p' },
            }),
          }).then((r) => r.json() as Promise<{ id: string }>),
        ),
      );
      ids.push(...batch.map((b) => b.id));
    }
    console.log(
      `stored ${ids.length} sources; ${CONNECTIONS} connections, pipelining 1, ${SECONDS} s per ` +
        `run, ${RUNS} run(s), autocannon ${WORKERS ? `in ${WORKERS} worker threads` : 'in the bench thread'}`,
    );
    const run = (title: string, requests: autocannon.Request[], duration = SECONDS) =>
      new Promise<autocannon.Result>((resolve, reject) =>
        autocannon(
          {
            url,
            connections: CONNECTIONS,
            pipelining: 1,
            duration,
            headers,
            requests,
            title,
            ...(WORKERS ? { workers: WORKERS } : {}),
          },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
    const load = () => os.loadavg()[0].toFixed(2);
    for (let i = 1; i <= RUNS; i++) {
      for (const [title, requests] of [
        ['GET /v1/sources (page of 50)', [{ method: 'GET', path: '/v1/sources?page=3&page_size=50' }]],
        ['GET /v1/sources/:id', ids.slice(0, 200).map((id) => ({ method: 'GET', path: `/v1/sources/${id}` }))],
      ] as [string, autocannon.Request[]][]) {
        // Warm-up over every request of the run, so each object has been read (and cached) once.
        await run('warmup', requests, 2);
        const loadBefore = load();
        const r = await run(title, requests);
        console.log(
          `run ${i}  ${title.padEnd(30)} ${r.requests.average.toFixed(0).padStart(6)} req/s   p50 ${r.latency.p50} ms ` +
            `  p99 ${r.latency.p99} ms   non-2xx ${r.non2xx}   errors ${r.errors}   load avg ${loadBefore} -> ${load()}`,
        );
      }
    }
  } finally {
    await api.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

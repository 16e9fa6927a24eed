/**
 * bench/api: GET list and GET by id at 50 concurrent connections with 1,000 objects stored.
 * Runs against the real API (started here, in this process's own child) on the stack named by
 * DATABASE_URL / REDIS_URL / KAFKA_BROKERS (defaults: the `sluice dev` stack). Prints req/s and
 * latency percentiles; docs/benchmarks.md records the figures.
 *
 *   npm run bench:api            # needs `npm start` (or any stack) running
 */
import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { loadConfig } from '../api/config';

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 1000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

async function main() {
  const cfg = loadConfig();
  const db = `sluice_bench_${crypto.randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: cfg.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  const u = new URL(cfg.databaseUrl);
  u.pathname = '/' + db;
  const token = crypto.randomBytes(16).toString('hex');
  const port = 18000 + Math.floor(Math.random() * 1000);

  // The API runs in its own process, as in production, so the load generator does not share its CPU time slice.
  const child = fork(path.join(__dirname, '..', 'bin', 'sluice.js'), ['api'], {
    execArgv: process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [],
    env: { ...process.env, DATABASE_URL: u.toString(), SLUICE_BOOTSTRAP_TOKEN: token, SLUICE_API_PORT: String(port), SLUICE_LOG_LEVEL: 'warn', SLUICE_HOME: path.join('/tmp', db) },
    stdio: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  try {
    for (let i = 0; ; i++) {
      try { if ((await fetch(url + '/healthz')).ok) break; } catch { /* starting */ }
      if (i > 200) throw new Error('API did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
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
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await admin.query(`DROP DATABASE ${db} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });

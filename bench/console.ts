/**
 * bench/console: the console's Pipelines page with BENCH_PIPELINES (500) pipelines, each with a
 * runner report and a metrics sample (as a running installation has). Prints the server's time to
 * answer the page and its live fragment, and the time a real browser (Debian's headless Chromium)
 * takes from navigation to the page's load event, as percentiles over BENCH_RUNS renders.
 *
 *   npm run bench:console        # needs a stack (`npm start`, or DATABASE_URL/REDIS_URL/KAFKA_BROKERS)
 */
import os from 'node:os';
import { Client } from 'pg';
import { chromium } from 'playwright-core';
import { sampleMetrics } from '../api/metrics-history';
import { startBenchApi } from './bench-api';

const PIPELINES = Number(process.env.BENCH_PIPELINES ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium-headless-shell';

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const fmt = (xs: number[]) =>
  `p50 ${pct(xs, 50).toFixed(0)} ms   p95 ${pct(xs, 95).toFixed(0)} ms   max ${Math.max(...xs).toFixed(0)} ms`;

async function main() {
  const api = await startBenchApi();
  const headers = { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' };
  const db = new Client({ connectionString: api.databaseUrl });
  await db.connect();
  try {
    const post = async (path: string, body: unknown) => {
      const r = await fetch(api.url + path, { method: 'POST', headers, body: JSON.stringify(body) });
      if (r.status !== 201) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as { id: string };
    };
    const src = await post('/v1/sources', {
      name: 'bench-src',
      kind: 'postgresql',
      config: { host: 'db', database: 'd', user: 'u', password: 'p' },
    });
    const dst = await post('/v1/destinations', {
      name: 'bench-dst',
      kind: 'postgresql',
      config: { host: 'dw', database: 'd', user: 'u', password: 'p' },
    });
    for (let i = 0; i < PIPELINES; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, PIPELINES - i) }, (_, j) =>
          post('/v1/pipelines', {
            name: `bench-pipeline-${String(i + j).padStart(4, '0')}`,
            source_id: src.id,
            destination_id: dst.id,
            tags: { team: `t${(i + j) % 7}` },
          }),
        ),
      );
    }
    // What workers report for a running installation: a mix of states, lag, counters; two samples each.
    const states = ['Active', 'Active', 'Active', 'Active', 'Broken', 'Snapshotting'];
    await db.query(`INSERT INTO pipeline_runtime (pipeline_id, state, reason, heartbeat_at, runner_token, source, sink)
      SELECT id, (ARRAY[${states.map((s) => `'${s}'`).join(',')}])[1 + (row_number() OVER (ORDER BY name))::int % ${states.length}],
             CASE WHEN row_number() OVER (ORDER BY name) % ${states.length} = 4 THEN 'destination_unreachable: connect ECONNREFUSED 10.0.0.5:5432' END,
             now(), 'bench', jsonb_build_object('state', 'streaming', 'last_event_at', now(), 'events_in_total', 1000, 'replication_lag_bytes', 4096),
             jsonb_build_object('state', 'running', 'lag', 17, 'events_out_total', 990, 'errors_total', 0,
             'partitions', jsonb_build_object('bench.public.t/0', 17))
      FROM pipelines`);
    await sampleMetrics(db, new Date(Date.now() - 10_000));
    await db.query(
      'UPDATE pipeline_runtime SET source = source || \'{"events_in_total": ' +
        "2000}', sink = sink || '{\"events_out_total\": 1980}', heartbeat_at = " +
        'now()',
    );
    await sampleMetrics(db);

    const login = await fetch(api.url + '/console/login', {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: api.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${api.token}`,
    });
    const cookie = String(login.headers.get('set-cookie')).split(';')[0];
    const time = async (path: string) => {
      const t0 = performance.now();
      const r = await fetch(api.url + path, { headers: { cookie } });
      const body = await r.text();
      if (r.status !== 200 || !body.includes('bench-pipeline-0000')) throw new Error(`${path}: ${r.status}`);
      return { ms: performance.now() - t0, bytes: body.length };
    };
    await time('/console'); // warm-up
    const page: number[] = [];
    const frag: number[] = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await time('/console');
      page.push(r.ms);
      bytes = r.bytes;
      frag.push((await time('/console/fragments/pipelines')).ms);
    }
    console.log(
      `${PIPELINES} pipelines, ${RUNS} runs, load avg ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} (${os.cpus().length} cores)`,
    );
    console.log(`server  GET /console (whole page, ${(bytes / 1024).toFixed(0)} KiB)      ${fmt(page)}`);
    console.log(`server  GET /console/fragments/pipelines (refresh)   ${fmt(frag)}`);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
    try {
      const ctx = await browser.newContext();
      await ctx.addCookies([{ name: 'sluice_console', value: cookie.split('=').slice(1).join('='), url: api.url }]);
      const tab = await ctx.newPage();
      await tab.goto(api.url + '/console', { waitUntil: 'load' });
      const nav: number[] = [];
      const inPage: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        await tab.goto(api.url + '/console', { waitUntil: 'load' });
        await tab.waitForSelector('tr[data-pipeline="bench-pipeline-0499"], tr[data-pipeline]:last-child');
        nav.push(performance.now() - t0);
        // The browser's own clock: navigation start to the end of the load event.
        inPage.push((await tab.evaluate('performance.getEntriesByType("navigation")[0].loadEventEnd')) as number);
      }
      const rows = await tab.locator('tr[data-pipeline]').count();
      console.log(`browser navigation to load event (${rows} rows)        ${fmt(nav)}`);
      console.log(`browser's own timing, navigation start to load end   ${fmt(inPage)}`);
    } finally {
      await browser.close();
    }
  } finally {
    await db.end();
    await api.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

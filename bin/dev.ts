import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { LocalStack, StackEndpoints } from '../stack/stack';
import { pidAlive } from '../stack/stack';
import { CliError } from './client';
import { workerNodeFlags } from '../workers/node-flags';

/**
 * `sluice dev`: the whole system on one machine. Services, the API and one worker run detached
 * (they outlive this command); pid files in <home>/run link back to them so a second run finds
 * them and `sluice dev --stop` stops exactly them.
 */
type Proc = 'api' | 'worker';

const say = (line: string) => process.stderr.write(`[dev] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidFile(home: string, p: Proc) {
  return path.join(home, 'run', `${p}.pid`);
}

function runningPid(home: string, p: Proc): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile(home, p), 'utf8').trim());
    return pid > 0 && pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function childEnv(e: StackEndpoints, apiPort: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SLUICE_HOME: e.home,
    DATABASE_URL: e.databaseUrl,
    REDIS_URL: e.redisUrl,
    KAFKA_BROKERS: e.kafkaBrokers.join(','),
    SLUICE_API_PORT: String(apiPort),
  };
}

function startDetached(home: string, p: Proc, env: NodeJS.ProcessEnv): number {
  const existing = runningPid(home, p);
  if (existing) {
    say(`${p}: already running (pid ${existing})`);
    return existing;
  }
  fs.mkdirSync(path.join(home, 'run'), { recursive: true });
  fs.mkdirSync(path.join(home, 'logs'), { recursive: true });
  const log = fs.openSync(path.join(home, 'logs', `${p}.log`), 'a');
  const child = spawn(
    process.execPath,
    [...(p === 'worker' ? workerNodeFlags() : []), path.join(__dirname, 'sluice.js'), p],
    { env, detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  fs.writeFileSync(pidFile(home, p), String(child.pid));
  say(`${p}: started pid ${child.pid} (log ${path.join(home, 'logs', `${p}.log`)})`);
  return child.pid!;
}

async function stopProc(home: string, p: Proc): Promise<void> {
  const pid = runningPid(home, p);
  if (!pid) {
    fs.rmSync(pidFile(home, p), { force: true });
    return;
  }
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 150 && pidAlive(pid); i++) await sleep(100);
  if (pidAlive(pid)) {
    say(`${p}: did not stop within 15 s, killing`);
    process.kill(pid, 'SIGKILL');
  }
  fs.rmSync(pidFile(home, p), { force: true });
  say(`${p}: stopped (pid ${pid})`);
}

async function waitReady(url: string, timeoutMs: number, log: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    try {
      const r = await fetch(url + '/readyz');
      if (r.status === 200) return;
      last = JSON.stringify(await r.json());
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(300);
  }
  throw new CliError(`The API did not become ready within ${timeoutMs / 1000} s (${last}). See ${log}.`);
}

/** Demo tables with a few rows; idempotent. */
async function seedDemoSource(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`
      CREATE TABLE IF NOT EXISTS customers (id bigserial PRIMARY KEY, name text NOT NULL, email text, created_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES
      customers(id), total numeric(12,2) NOT NULL, status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO customers (id, name, email) VALUES (1, 'Ada Lovelace', 'ada@example.com'), (2, 'Grace Hopper', 'grace@example.com') ON CONFLICT DO NOTHING;
      INSERT INTO orders (id, customer_id, total, status) VALUES (1, 1, 42.50, 'paid'), (2, 2, 13.37, 'new') ON CONFLICT DO NOTHING;
      SELECT setval('customers_id_seq', GREATEST((SELECT max(id) FROM customers), 1));
      SELECT setval('orders_id_seq', GREATEST((SELECT max(id) FROM orders), 1));`);
  } finally {
    await c.end();
  }
}

/** The demo topology, created through the API's import (idempotent by name). */
export function demoTopology(e: StackEndpoints) {
  const src = new URL(e.demoSourceUrl);
  const dst = new URL(e.demoDestUrl);
  const conn = (u: URL) => ({
    host: u.hostname,
    port: Number(u.port || 5432),
    database: u.pathname.slice(1),
    user: decodeURIComponent(u.username),
    password: { $secret: `${u === src ? 'source' : 'destination'}_password` },
  });
  return {
    document: {
      format: 'sluice/v1',
      sources: [
        {
          name: 'demo-source',
          kind: 'postgresql',
          config: {
            ...conn(src),
            tls_mode: 'disable',
            table_include: ['public.customers', 'public.orders'],
            slot_name: 'sluice_demo',
            publication_name: 'sluice_demo_pub',
            topic_prefix: 'demo',
            heartbeat_interval_ms: 5000,
          },
          tags: { demo: 'true' },
        },
      ],
      destinations: [
        {
          name: 'demo-destination',
          kind: 'postgresql',
          config: { ...conn(dst), tls_mode: 'disable', schema: 'public', flush_interval_ms: 200 },
          tags: { demo: 'true' },
        },
      ],
      transforms: [
        {
          name: 'demo-mask-email',
          kind: 'mask_fields',
          config: { fields: ['email'], strategy: 'partial', keep_last: 11 },
          tags: { demo: 'true' },
        },
      ],
      pipelines: [
        {
          name: 'demo',
          source: 'demo-source',
          destination: 'demo-destination',
          transforms: ['demo-mask-email'],
          tables: [],
          snapshot_new_tables: true,
          desired_state: 'running',
          tags: { demo: 'true' },
        },
      ],
    },
    secrets: {
      source_password: decodeURIComponent(src.password),
      destination_password: decodeURIComponent(dst.password),
    },
  };
}

export async function devUp(opts: { json?: boolean } = {}): Promise<void> {
  const t0 = Date.now();
  const stack = new LocalStack();
  const e = await stack.start();
  const apiPort = Number(process.env.SLUICE_API_PORT ?? 8080);
  const url = `http://127.0.0.1:${apiPort}`;
  const env = childEnv(e, apiPort);
  startDetached(e.home, 'api', env);
  await waitReady(url, 90_000, path.join(e.logsDir, 'api.log'));
  startDetached(e.home, 'worker', env);

  await seedDemoSource(e.demoSourceUrl);
  const token = process.env.SLUICE_BOOTSTRAP_TOKEN ?? fs.readFileSync(path.join(e.home, 'token'), 'utf8').trim();
  const { document, secrets } = demoTopology(e);
  const r = await fetch(`${url}/v1/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-sluice-origin': 'cli' },
    body: JSON.stringify({ ...document, secrets }),
  });
  const plan = (await r.json()) as { summary?: Record<string, number>; detail?: string };
  if (r.status !== 200) throw new CliError(`Creating the demo pipeline failed: ${plan.detail}`);
  const created = plan.summary!.create > 0;
  say(`demo pipeline: ${created ? 'created' : 'already there'} (${JSON.stringify(plan.summary)})`);

  const hint = tokenCommand(process.env, e.home);
  const summary = {
    api: url,
    console: `${url}/console`,
    openapi: `${url}/openapi.json`,
    token_command: hint,
    token_file: process.env.SLUICE_BOOTSTRAP_TOKEN ? null : path.join(e.home, 'token'),
    logs: e.logsDir,
    control_db: e.databaseUrl.replace(/:[^:@/]*@/, ':***@'),
    demo_source: e.demoSourceUrl.replace(/:[^:@/]*@/, ':***@'),
    demo_destination: e.demoDestUrl.replace(/:[^:@/]*@/, ':***@'),
    redis: e.redisUrl,
    kafka: e.kafkaBrokers.join(','),
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  };
  if (opts.json) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    [
      '',
      `Sluice is up (${summary.seconds} s).`,
      `  Console      ${summary.console}   (sign in with the API token that \`${hint}\` prints)`,
      `  API          ${summary.api}   (ready: ${url}/readyz, reference: ${summary.openapi})`,
      `  Token        ${process.env.SLUICE_BOOTSTRAP_TOKEN ? 'the value of SLUICE_BOOTSTRAP_TOKEN' : summary.token_file}`,
      `  Logs         ${summary.logs}/{postgres,redis,kafka,api,worker}.log`,
      `  Control DB   ${summary.control_db}`,
      `  Demo         pipeline "demo": ${summary.demo_source} -> ${summary.demo_destination}`,
      '',
      'Try:',
      `  curl -s -H "Authorization: Bearer $(${hint})" ${url}/v1/pipelines`,
      '  bin/sluice status',
      '  npm stop            # stops everything started here',
      '',
    ].join('\n'),
  );
}

/**
 * A shell command that prints the admin token, for the sign-in hint: the bootstrap token when it
 * comes from SLUICE_BOOTSTRAP_TOKEN (its value is never printed), else the token file.
 */
export function tokenCommand(env: NodeJS.ProcessEnv, home: string): string {
  return env.SLUICE_BOOTSTRAP_TOKEN ? 'printenv SLUICE_BOOTSTRAP_TOKEN' : `cat ${path.join(home, 'token')}`;
}

export async function devDown(): Promise<void> {
  const stack = new LocalStack();
  const home = stack.endpoints().home;
  await stopProc(home, 'worker');
  await stopProc(home, 'api');
  await stack.stop();
  say('everything stopped');
}

export function devProcesses(home: string): Record<Proc, number | undefined> {
  return { api: runningPid(home, 'api'), worker: runningPid(home, 'worker') };
}

import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../core/config';

export interface BenchApi {
  url: string;
  token: string;
  databaseUrl: string;
  close(): Promise<void>;
}

/**
 * A real API for a benchmark: its own fresh database on the configured stack and its own process
 * (as in production, so the load generator does not share its event loop). close() stops it and
 * drops the database.
 */
export async function startBenchApi(opts: { profileDir?: string } = {}): Promise<BenchApi> {
  const cfg = loadConfig();
  const db = `sluice_bench_${crypto.randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: cfg.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  const u = new URL(cfg.databaseUrl);
  u.pathname = '/' + db;
  const token = crypto.randomBytes(16).toString('hex');
  const port = 18000 + Math.floor(Math.random() * 2000);
  const child = fork(path.join(__dirname, '..', 'bin', 'sluice.js'), ['api'], {
    execArgv: opts.profileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [],
    env: {
      ...process.env,
      DATABASE_URL: u.toString(),
      SLUICE_BOOTSTRAP_TOKEN: token,
      SLUICE_API_PORT: String(port),
      SLUICE_LOG_LEVEL: 'warn',
      SLUICE_HOME: path.join(os.tmpdir(), db),
    },
    stdio: 'inherit',
  });
  const close = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url + '/healthz')).ok) break;
    } catch {
      /* starting */
    }
    if (i > 200) {
      await close();
      throw new Error('the API did not start within 20 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, token, databaseUrl: u.toString(), close };
}

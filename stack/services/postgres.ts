// PostgreSQL: the control database and the demo source/destination databases, on one throwaway
// cluster (`wal_level=logical`) with TCP on loopback only. As root, initdb and the server run as
// the `postgres` user, which the Debian package creates (see shared/unprivileged.ts).
import * as fs from 'fs';
import * as path from 'path';
import { Client } from 'pg';
import type { ServiceContext, StackService } from '../service';
import { Daemon } from '../shared/daemon';
import { envPort, envSet } from '../shared/env';
import { DEMO_DBS, hostPort, withDatabase } from '../shared/urls';
import { appendLog, lastLines, lastOf } from '../shared/logs';
import { readPidFile, isServiceProcess } from '../shared/proc';
import { asUser, run, runAsync, spawnLogged, which } from '../shared/run';
import { installHint } from '../shared/packages';
import { chownFor, placement, Placement } from '../shared/unprivileged';

export const CONTROL_DB = 'sluice';

const USER = 'sluice';
const PASSWORD = 'sluice';
const MIN_MAJOR = 15;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;

interface PgBin {
  dir: string;
  major: number;
}

function majorOf(binDir: string): number | undefined {
  const r = run(path.join(binDir, 'pg_ctl'), ['--version']);
  const m = /(\d+)/.exec(r.out);
  return r.ok && m ? Number(m[1]) : undefined;
}

/** Highest /usr/lib/postgresql/<v>/bin with v >= 15, else pg_ctl on PATH; `major` pins a version. */
function findPgBin(major?: number): PgBin | undefined {
  const found: PgBin[] = [];
  const root = '/usr/lib/postgresql';
  for (const v of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    const dir = path.join(root, v, 'bin');
    if (/^\d+$/.test(v) && ['initdb', 'pg_ctl', 'postgres'].every((b) => fs.existsSync(path.join(dir, b)))) {
      found.push({ dir, major: Number(v) });
    }
  }
  const onPath = which('pg_ctl');
  if (onPath) {
    const dir = path.dirname(fs.realpathSync(onPath));
    const m = majorOf(dir);
    if (m !== undefined && !found.some((f) => f.dir === dir)) found.push({ dir, major: m });
  }
  found.sort((a, b) => b.major - a.major);
  if (major !== undefined) return found.find((f) => f.major === major);
  return found.find((f) => f.major >= MIN_MAJOR);
}

async function pgCheck(url: string): Promise<void> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('select 1');
  } finally {
    await c.end().catch(() => undefined);
  }
}

export function postgres(ctx: ServiceContext) {
  const port = envPort('SLUICE_PG_PORT', 15432);
  const url = () => envSet('DATABASE_URL') ?? `postgres://${USER}:${PASSWORD}@127.0.0.1:${port.port}/${CONTROL_DB}`;
  const adminUrl = () => withDatabase(url(), 'postgres');
  const place = (create: boolean): Placement =>
    placement(ctx, { user: 'postgres', fallbackTag: 'pg', inUse: (base) => running(path.join(base, 'data')) }, create);
  const dataDir = (p = place(false)) => path.join(p.base, 'data');
  const running = (data: string) => {
    const pid = readPidFile(path.join(data, 'postmaster.pid'));
    return pid !== undefined && isServiceProcess(pid, data);
  };
  const daemon = new Daemon(ctx, {
    pidFile: () => path.join(dataDir(), 'postmaster.pid'),
    marker: () => dataDir(),
    word: 'postgres',
    stopTimeoutMs: STOP_TIMEOUT_MS,
  });

  /** The binaries matching an existing cluster's major version, else the newest 15+. */
  function binFor(data: string): PgBin {
    let major: number | undefined;
    try {
      major = Number(fs.readFileSync(path.join(data, 'PG_VERSION'), 'utf8').trim());
    } catch {
      /* no cluster yet */
    }
    const bin = findPgBin(major);
    if (bin) return bin;
    throw new Error(
      major !== undefined
        ? `postgres: ${data} was created by PostgreSQL ${major}, whose binaries are not installed; install them or remove that directory`
        : `postgres: no PostgreSQL ${MIN_MAJOR}+ binaries found (looked in /usr/lib/postgresql/*/bin and PATH); ${installHint(ctx.name)}`,
    );
  }

  /** Runs a postgres binary, as the postgres user when we are root. */
  function pgRun(bin: string, args: string[]) {
    const p = place(false);
    return runAsync(...asUser(p.runAs, path.join(binFor(dataDir(p)).dir, bin), args));
  }

  async function initdb(p: Placement, data: string): Promise<void> {
    const bin = binFor(data);
    ctx.log(`initdb ${data} (PostgreSQL ${bin.major}, first run only)...`);
    fs.rmSync(data, { recursive: true, force: true }); // a half-done initdb
    const pwfile = path.join(p.base, '.pwfile');
    fs.writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
    chownFor(p, pwfile);
    try {
      const r = await pgRun('initdb', [
        '-D',
        data,
        '-U',
        USER,
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
      ]);
      appendLog(ctx.logFile, r.out);
      if (!r.ok) throw new Error(`postgres: initdb failed:\n${lastOf(r.out)}`);
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
    const include = `\n# Sluice local stack settings (rewritten on every start)\ninclude_if_exists = 'sluice.conf'\n`;
    fs.appendFileSync(path.join(data, 'postgresql.conf'), include);
  }

  /** Rewritten on every start so port changes take effect. */
  function writeConfig(p: Placement, data: string): void {
    const conf = path.join(data, 'sluice.conf');
    fs.writeFileSync(
      conf,
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${port.port}`,
        `unix_socket_directories = ''`, // TCP only: no clash with a system cluster's socket dir
        `password_encryption = 'scram-sha-256'`,
        `wal_level = logical`,
        `max_replication_slots = 20`,
        `max_wal_senders = 20`,
        `max_connections = 200`,
        `logging_collector = off`, // stderr goes to $SLUICE_HOME/logs/postgres.log
        `log_line_prefix = '%m [%p] %q%u@%d '`,
        '',
      ].join('\n'),
    );
    const hba = path.join(data, 'pg_hba.conf');
    fs.writeFileSync(
      hba,
      [
        '# Written by the Sluice local stack.',
        'local   all          all                  trust',
        'host    all          all   127.0.0.1/32   scram-sha-256',
        'host    replication  all   127.0.0.1/32   scram-sha-256',
        '',
      ].join('\n'),
    );
    chownFor(p, conf, hba);
  }

  async function start(): Promise<number> {
    const p = place(true);
    const data = dataDir(p);
    fs.mkdirSync(p.base, { recursive: true, mode: 0o700 });
    chownFor(p, p.base);
    if (!fs.existsSync(path.join(data, 'PG_VERSION'))) await initdb(p, data);
    writeConfig(p, data);
    // pg_ctl daemonizes postgres in its own session; the server inherits our log fd, so the log
    // can live where the postgres user could not open it by itself.
    const pgCtl = path.join(binFor(data).dir, 'pg_ctl');
    const [cmd, args] = asUser(p.runAs, pgCtl, ['start', '-D', data, '-w', '-t', String(START_TIMEOUT_MS / 1000)]);
    const { code } = await spawnLogged(cmd, args, { cwd: '/', logFile: ctx.logFile, wait: true });
    const pid = readPidFile(path.join(data, 'postmaster.pid'));
    if (code !== 0 || pid === undefined)
      throw new Error(`postgres: pg_ctl start failed (exit ${code}). ${lastLines(ctx.logFile)}`);
    return pid;
  }

  async function ensureDatabases(): Promise<void> {
    const c = new Client({ connectionString: adminUrl(), connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined);
    await c.connect();
    try {
      for (const db of [CONTROL_DB, ...DEMO_DBS]) {
        const r = await c.query('select 1 from pg_database where datname = $1', [db]);
        if (r.rowCount === 0) {
          await c.query(`create database "${db}"`);
          ctx.log(`created database ${db}`);
        }
      }
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async function pgCtlStop(): Promise<void> {
    const r = await pgRun('pg_ctl', [
      'stop',
      '-D',
      dataDir(),
      '-m',
      'fast',
      '-w',
      '-t',
      String(STOP_TIMEOUT_MS / 1000),
    ]);
    if (!r.ok) ctx.log(`pg_ctl stop failed (${r.out.split('\n').pop()}), will SIGKILL`);
  }

  return {
    name: ctx.name,
    ports: [port],
    externalEnv: 'DATABASE_URL',
    startTimeoutMs: START_TIMEOUT_MS,
    missing: () => (findPgBin() ? [] : [{ what: `postgresql>=${MIN_MAJOR}`, apt: ['postgresql-15', 'postgresql'] }]),
    pid: (clean?: boolean) => daemon.pid(clean),
    start,
    check: () => pgCheck(adminUrl()),
    ready: ensureDatabases,
    stop: () => daemon.stop(pgCtlStop),
    kill: () => daemon.kill(),
    address: () => hostPort(url(), 5432),
    endpoints: () => ({
      databaseUrl: url(),
      demoSourceUrl: withDatabase(url(), DEMO_DBS[0]),
      demoDestUrl: withDatabase(url(), DEMO_DBS[1]),
    }),
  } satisfies StackService;
}

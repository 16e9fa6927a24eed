// The local-services supervisor: a throwaway PostgreSQL, Redis and single-node KRaft Kafka for
// one machine, plus an optional MariaDB primary and GTID replica (MySQL-source tests and failover
// drills). Services run detached (they outlive the process that started them); pid files are
// the only link back to them, so every decision is re-derived from pid file + /proc + a health
// check rather than from memory. When DATABASE_URL / REDIS_URL / KAFKA_BROKERS / MYSQL_URL is set,
// that service is external and never started or stopped here.
import { spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { Client } from 'pg';
import { kafkajs } from '../patches';
import * as mysql from 'mysql2/promise';

export interface StackEndpoints {
  databaseUrl: string;
  demoSourceUrl: string;
  demoDestUrl: string;
  redisUrl: string;
  kafkaBrokers: string[];
  home: string;
  logsDir: string;
}

/** The local MariaDB pair (only meaningful once MariaDB is started; see mariadbEndpoints()). */
export interface MariadbEndpoints {
  /** MYSQL_URL when set, else the local primary. */
  mysqlUrl: string;
  /** Always the local replica; it replicates the local primary only. */
  mysqlReplicaUrl: string;
  mysqlDemoSourceUrl: string;
  mysqlDemoDestUrl: string;
}

export type ServiceName = 'postgres' | 'redis' | 'kafka' | 'mariadb' | 'mariadb-replica';

export interface ServiceStatus {
  name: ServiceName;
  state: 'running' | 'stopped' | 'external';
  pid?: number;
  address?: string;
  log?: string;
  /** Only for running local services: did a health check pass just now. */
  healthy?: boolean;
}

/** What start() runs by default. */
export const SERVICES: readonly ServiceName[] = ['postgres', 'redis', 'kafka'];
/** Only started on request (SLUICE_STACK_MARIADB=1 or startService), so the default stack stays light. */
export const OPTIONAL_SERVICES: readonly ServiceName[] = ['mariadb', 'mariadb-replica'];

const CONTROL_DB = 'sluice';
const DEMO_DBS = ['sluice_demo_source', 'sluice_demo_dest'];
const PG_USER = 'sluice';
const PG_PASSWORD = 'sluice';
const MIN_PG_MAJOR = 15;

const MYSQL_USER = 'sluice';
const MYSQL_PASSWORD = 'sluice';
// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107;

const START_TIMEOUT_MS: Record<ServiceName, number> = {
  postgres: 60_000, redis: 30_000, kafka: 120_000, mariadb: 60_000, 'mariadb-replica': 60_000,
};
const STOP_TIMEOUT_MS: Record<ServiceName, number> = {
  postgres: 60_000, redis: 20_000, kafka: 60_000, mariadb: 60_000, 'mariadb-replica': 60_000,
};
const LOCK_TIMEOUT_MS = 300_000; // a first start may be fetching jars or running apt-get

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// Works from both stack/ (ts sources) and dist/stack/ (compiled): look for the pom upwards.
function findRepoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'stack', 'kafka', 'pom.xml'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the repository root (stack/kafka/pom.xml) above ${__dirname}`);
  }
}

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}=${raw} is not a valid port`);
  return n;
}

function envSet(name: string): string | undefined {
  const v = process.env[name];
  return v && v.trim() !== '' ? v.trim() : undefined;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

// ---------------------------------------------------------------------------------------------
// Process helpers. /proc is the source of truth on Linux: kill(pid, 0) alone would call a zombie
// (a killed service whose parent never reaped it) alive, and would trust a recycled pid.

const HAVE_PROC = fs.existsSync('/proc/self/stat');

function procStat(pid: number): { state: string; ppid: number; pgrp: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** The pid and all its live descendants. Postgres children call setsid(), so a process-group
 *  signal does not reach them; walking the parent links does. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of HAVE_PROC ? fs.readdirSync('/proc') : []) {
    const pid = Number(entry);
    const st = Number.isInteger(pid) ? procStat(pid) : undefined;
    if (st && st.state !== 'Z') children.set(st.ppid, [...(children.get(st.ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

export function pidAlive(pid: number): boolean {
  if (HAVE_PROC) {
    const st = procStat(pid);
    return st !== undefined && st.state !== 'Z' && st.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdline(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** The pid is alive and its command line mentions `marker` (guards against recycled pids). */
function isServiceProcess(pid: number, marker: string): boolean {
  if (!pidAlive(pid)) return false;
  const cmd = cmdline(pid);
  return cmd === undefined || cmd.includes(marker);
}

function readPidFile(file: string): number | undefined {
  try {
    const n = parseInt(fs.readFileSync(file, 'utf8').split('\n')[0].trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function sendSignal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

async function waitDead(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(pidAlive)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (open: boolean) => {
      sock.destroy();
      resolve(open);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function tailFile(file: string, lines = 15): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 16_384);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').filter(Boolean).slice(-lines).map((l) => `    ${l}`).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '    (no log yet)';
  }
}

// cwd '/' because the postgres user may not be allowed into the caller's working directory.
function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: '/', timeout: 60_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim();
  return { ok: r.status === 0, out };
}

/** Like run() but without blocking the event loop (other services start in parallel). */
function runAsync(cmd: string, args: string[], cwd = '/'): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ ok: false, out: `${out}${String(e)}`.trim() }));
    child.on('close', (code) => resolve({ ok: code === 0, out: out.trim() }));
  });
}

// Debian puts mariadbd in /usr/sbin, which is not on a normal user's PATH.
function findMariadbd(): string | undefined {
  for (const p of [which('mariadbd'), '/usr/sbin/mariadbd', which('mysqld'), '/usr/sbin/mysqld']) {
    if (p && fs.existsSync(p)) return p;
  }
  return undefined;
}

function findMariadbTool(name: string): string | undefined {
  return which(name) ?? (fs.existsSync(path.join('/usr/bin', name)) ? path.join('/usr/bin', name) : undefined);
}

/** Runs a client tool with stdin and/or stdout connected to files (dumps can be large). */
function runWithFiles(cmd: string, args: string[], io: { stdin?: string; stdout?: string }): Promise<{ ok: boolean; out: string }> {
  const inFd = io.stdin ? fs.openSync(io.stdin, 'r') : 'ignore';
  const outFd = io.stdout ? fs.openSync(io.stdout, 'w', 0o600) : 'pipe';
  return new Promise<{ ok: boolean; out: string }>((resolve) => {
    const child = spawn(cmd, args, { cwd: '/', stdio: [inFd, outFd, 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ ok: false, out: `${out}${String(e)}`.trim() }));
    child.on('close', (code) => resolve({ ok: code === 0, out: out.trim() }));
  }).finally(() => {
    if (typeof inFd === 'number') fs.closeSync(inFd);
    if (typeof outFd === 'number') fs.closeSync(outFd);
  });
}

function tailBytes(file: string, bytes: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Health checks. Each throws with the reason so a start timeout can say what was last seen.

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

function redisPing(port: number, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const finish = (err?: Error) => {
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(timeoutMs, () => finish(new Error('PING timed out')));
    sock.once('error', (e) => finish(e));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('\r\n')) return;
      // "-LOADING ..." while the AOF/RDB is replayed counts as not ready yet.
      if (buf.startsWith('+PONG')) finish();
      else finish(new Error(`PING answered ${JSON.stringify(buf.trim())}`));
    });
  });
}

async function kafkaCheck(brokers: string[]): Promise<void> {
  const { Kafka, logLevel } = kafkajs();
  const kafka = new Kafka({
    clientId: 'sluice-stack-health',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    // Creates __consumer_offsets on first use and waits for its coordinator, so the first real
    // consumer group does not start with COORDINATOR_NOT_AVAILABLE / LOAD_IN_PROGRESS errors.
    await admin.describeGroups(['sluice-stack-health']);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

// As root over the unix socket: that account exists from mariadb-install-db on, so the same check
// works before the sluice user is created and on a replica before it has been seeded.
async function mariadbConnect(socketPath: string, timeoutMs = 3000): Promise<mysql.Connection> {
  const c = await mysql.createConnection({ socketPath, user: 'root', connectTimeout: timeoutMs });
  c.on('error', () => undefined); // a server going away must not crash the caller
  return c;
}

async function mariadbCheck(socketPath: string): Promise<void> {
  const c = await mariadbConnect(socketPath);
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @@version AS version, @@binlog_format AS format, @@gtid_strict_mode AS strict');
    // A datadir started with other settings would make the CDC source fail far from the cause.
    if (rows[0]?.format !== 'ROW') throw new Error(`binlog_format is ${rows[0]?.format}, expected ROW`);
  } finally {
    await c.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Postgres binaries and data-dir placement.

interface PgBin {
  dir: string;
  major: number;
}

function pgMajorOf(binDir: string): number | undefined {
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
    const m = pgMajorOf(dir);
    if (m !== undefined && !found.some((f) => f.dir === dir)) found.push({ dir, major: m });
  }
  found.sort((a, b) => b.major - a.major);
  if (major !== undefined) return found.find((f) => f.major === major);
  return found.find((f) => f.major >= MIN_PG_MAJOR);
}

interface PgLayout {
  base: string; // directory we own (and chown to the postgres user when root)
  data: string;
  runAs?: string; // 'postgres' when we are root: initdb/postgres refuse to run as root
}

interface StackState {
  postgres?: { base: string; data: string };
}

function userIds(user: string): { uid: number; gid: number } | undefined {
  const u = run('id', ['-u', user]);
  const g = run('id', ['-g', user]);
  return u.ok && g.ok ? { uid: Number(u.out), gid: Number(g.out) } : undefined;
}

// ---------------------------------------------------------------------------------------------

export class LocalStack {
  readonly home: string;
  readonly logsDir: string;
  private readonly log: (line: string) => void;
  private readonly repo: string;
  private readonly ports: { pg: number; redis: number; kafka: number; kafkaController: number; mariadb: number; mariadbReplica: number };

  constructor(opts: { home?: string; log?: (line: string) => void } = {}) {
    this.repo = findRepoRoot();
    this.home = path.resolve(opts.home ?? envSet('SLUICE_HOME') ?? path.join(this.repo, '.sluice'));
    this.logsDir = path.join(this.home, 'logs');
    this.log = opts.log ?? ((line) => process.stderr.write(`[stack] ${line}\n`));
    this.ports = {
      pg: envPort('SLUICE_PG_PORT', 15432),
      redis: envPort('SLUICE_REDIS_PORT', 16379),
      kafka: envPort('SLUICE_KAFKA_PORT', 19092),
      kafkaController: envPort('SLUICE_KAFKA_CONTROLLER_PORT', 19093),
      mariadb: envPort('SLUICE_MARIADB_PORT', 13306),
      mariadbReplica: envPort('SLUICE_MARIADB_REPLICA_PORT', 13307),
    };
  }

  // ----- public API ---------------------------------------------------------------------------

  endpoints(): StackEndpoints {
    const external = envSet('DATABASE_URL');
    const databaseUrl = external ?? `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${this.ports.pg}/${CONTROL_DB}`;
    const brokers = envSet('KAFKA_BROKERS');
    return {
      databaseUrl,
      demoSourceUrl: withDatabase(databaseUrl, DEMO_DBS[0]),
      demoDestUrl: withDatabase(databaseUrl, DEMO_DBS[1]),
      redisUrl: envSet('REDIS_URL') ?? `redis://127.0.0.1:${this.ports.redis}`,
      kafkaBrokers: brokers
        ? brokers.split(',').map((b) => b.trim()).filter(Boolean)
        : [`127.0.0.1:${this.ports.kafka}`],
      home: this.home,
      logsDir: this.logsDir,
    };
  }

  /** The local MariaDB primary (or MYSQL_URL) and replica, kept apart so StackEndpoints stays as it was. */
  mariadbEndpoints(): MariadbEndpoints {
    const local = (port: number) => `mysql://${MYSQL_USER}:${MYSQL_PASSWORD}@127.0.0.1:${port}/`;
    const mysqlUrl = envSet('MYSQL_URL') ?? local(this.ports.mariadb);
    return {
      mysqlUrl,
      mysqlReplicaUrl: local(this.ports.mariadbReplica),
      mysqlDemoSourceUrl: withDatabase(mysqlUrl, DEMO_DBS[0]),
      mysqlDemoDestUrl: withDatabase(mysqlUrl, DEMO_DBS[1]),
    };
  }

  /** SLUICE_STACK_MARIADB=1 adds the MariaDB primary and replica to start(). */
  mariadbEnabled(): boolean {
    return /^(1|true|yes|on)$/i.test(envSet('SLUICE_STACK_MARIADB') ?? '');
  }

  /** Starts every local (non-external) service that is not already running. Idempotent. */
  async start(): Promise<StackEndpoints> {
    await this.withLock(async () => {
      const all = [...SERVICES, ...(this.mariadbEnabled() ? OPTIONAL_SERVICES : [])];
      const wanted = all.filter((s) => !this.isExternal(s) && !(s === 'mariadb-replica' && this.isExternal('mariadb')));
      for (const s of all.filter((s) => this.isExternal(s))) this.log(`${s}: external (${this.externalAddress(s)}), not started`);
      if (this.isExternal('mariadb') && all.includes('mariadb-replica')) this.log('mariadb-replica: not started (it can only replicate the local primary)');
      const toLaunch = wanted.filter((s) => this.runningPid(s) === undefined);
      await this.ensurePackages(toLaunch);
      // The replica is seeded from the primary, so the pair starts in order; the rest in parallel.
      const maria = wanted.filter((s) => OPTIONAL_SERVICES.includes(s));
      const chain = async () => {
        for (const s of maria) await this.startOne(s);
      };
      const results = await Promise.allSettled([...wanted.filter((s) => !maria.includes(s)).map((s) => this.startOne(s)), chain()]);
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      if (errors.length) throw new Error(errors.join('\n'));
    });
    return this.endpoints();
  }

  /** Stops every service this stack runs locally and verifies by pid that nothing is left. */
  async stop(): Promise<void> {
    if (!fs.existsSync(this.home)) return;
    await this.withLock(async () => {
      const all = [...SERVICES, ...OPTIONAL_SERVICES].filter((s) => !this.isExternal(s));
      const results = await Promise.allSettled(all.map((s) => this.stopOne(s)));
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      if (errors.length) throw new Error(errors.join('\n'));
    });
  }

  /**
   * The default services, plus MariaDB's when this home has them (enabled, running, or a datadir
   * from an earlier start): a stack that never used MariaDB keeps reporting only what it runs,
   * so "everything is running" checks over status() still mean the default set.
   */
  async status(): Promise<ServiceStatus[]> {
    const optional = OPTIONAL_SERVICES.filter(
      (s) => this.mariadbEnabled() || this.isExternal(s) || fs.existsSync(this.mariadbDir(s)) || this.runningPid(s, false) !== undefined,
    );
    return Promise.all(
      [...SERVICES, ...optional].map(async (name): Promise<ServiceStatus> => {
        if (this.isExternal(name)) return { name, state: 'external', address: this.externalAddress(name) };
        const pid = this.runningPid(name, false);
        const base = { name, address: this.localAddress(name), log: this.logFile(name) };
        if (pid === undefined) return { ...base, state: 'stopped' };
        const healthy = await this.check(name).then(() => true, () => false);
        return { ...base, state: 'running', pid, healthy };
      }),
    );
  }

  /**
   * Starts one local service (for fault-injection tests that stopped or killed it, and for the
   * optional MariaDB pair). A replica that still has to be seeded starts the primary first.
   */
  async startService(name: ServiceName): Promise<void> {
    if (this.isExternal(name)) throw new Error(`${name} is external (${this.externalAddress(name)}); not managed here`);
    await this.withLock(async () => {
      const needsPrimary = name === 'mariadb-replica' && !this.replicaState().seeded_at && !this.isExternal('mariadb');
      const chain: ServiceName[] = needsPrimary ? ['mariadb', name] : [name];
      await this.ensurePackages(chain.filter((s) => this.runningPid(s) === undefined));
      for (const s of chain) await this.startOne(s);
    });
  }

  /**
   * Turns the local replica into a writable primary, as a failover would: stops fetching, waits
   * until everything already fetched is applied (so nothing the old primary sent is dropped),
   * forgets the primary and leaves read-only mode. Survives restarts of the replica. Idempotent.
   * Returns the replica's GTID position after promotion.
   */
  async promoteReplica(opts: { applyTimeoutMs?: number } = {}): Promise<{ gtidPos: string }> {
    const name: ServiceName = 'mariadb-replica';
    return this.withLock(async () => {
      if (this.runningPid(name) === undefined) throw new Error(`${name}: not running; start it before promoting it`);
      const c = await mariadbConnect(this.mariadbSocket(name), 5000);
      try {
        const [status] = await c.query<mysql.RowDataPacket[]>('SHOW SLAVE STATUS');
        if (status.length > 0) {
          await c.query('STOP SLAVE IO_THREAD');
          const [[io]] = await c.query<mysql.RowDataPacket[]>('SHOW SLAVE STATUS');
          const received = String(io?.Gtid_IO_Pos ?? '');
          if (received !== '') {
            const timeoutS = Math.max(1, Math.round((opts.applyTimeoutMs ?? 30_000) / 1000));
            const [[w]] = await c.query<mysql.RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, ?) AS r', [received, timeoutS]);
            if (Number(w?.r) !== 0) {
              const [[now]] = await c.query<mysql.RowDataPacket[]>('SELECT @@gtid_slave_pos AS pos');
              throw new Error(
                `${name}: relay log not applied within ${timeoutS}s (received ${received}, applied ${now?.pos}); ` +
                  `not promoting. Last lines of ${this.logFile(name)}:\n${tailFile(this.logFile(name))}`,
              );
            }
          }
          await c.query('STOP SLAVE');
          await c.query('RESET SLAVE ALL');
        }
        await c.query('SET GLOBAL read_only = 0');
        this.writeReplicaState({ ...this.replicaState(), promoted_at: new Date().toISOString() });
        const [[pos]] = await c.query<mysql.RowDataPacket[]>('SELECT @@gtid_current_pos AS pos');
        this.log(`${name}: promoted to a writable primary at GTID ${pos?.pos || '(empty)'}`);
        return { gtidPos: String(pos?.pos ?? '') };
      } finally {
        await c.end().catch(() => undefined);
      }
    });
  }

  /**
   * Stops the MariaDB pair and deletes both datadirs, so the next start is a fresh primary with a
   * freshly seeded replica. After a failover drill the two have diverged and this is the way back.
   */
  async resetMariadb(): Promise<void> {
    await this.withLock(async () => {
      for (const s of ['mariadb-replica', 'mariadb'] as const) {
        await this.stopOne(s);
        const sock = this.mariadbSocket(s);
        if (!sock.startsWith(this.mariadbDir(s) + path.sep)) fs.rmSync(sock, { force: true });
        fs.rmSync(`${sock}.lock`, { force: true });
        fs.rmSync(this.mariadbDir(s), { recursive: true, force: true });
      }
      this.log('mariadb: primary and replica reset (datadirs removed)');
    });
  }

  /** Graceful stop of one local service (SIGTERM / pg_ctl stop -m fast, SIGKILL after a timeout). */
  async stopService(name: ServiceName): Promise<void> {
    if (this.isExternal(name)) throw new Error(`${name} is external (${this.externalAddress(name)}); not managed here`);
    await this.withLock(() => this.stopOne(name));
  }

  /** Simulates a crash: SIGKILL to the service's process group, no shutdown work at all. */
  async killService(name: ServiceName): Promise<void> {
    if (this.isExternal(name)) throw new Error(`${name} is external (${this.externalAddress(name)}); not managed here`);
    await this.withLock(async () => {
      const pid = this.runningPid(name);
      if (pid === undefined) return this.log(`${name}: not running, nothing to kill`);
      const tree = processTree(pid);
      this.log(`${name}: SIGKILL pid ${tree.join(' ')}`);
      sendSignal(tree, 'SIGKILL');
      if (!(await waitDead(tree, 10_000))) throw new Error(`${name}: pid ${tree.filter(pidAlive).join(' ')} survived SIGKILL`);
    });
  }

  // ----- per-service plumbing -----------------------------------------------------------------

  // The replica is never external: it only ever replicates the local primary.
  private isExternal(name: ServiceName): boolean {
    if (name === 'mariadb-replica') return false;
    const env = { postgres: 'DATABASE_URL', redis: 'REDIS_URL', kafka: 'KAFKA_BROKERS', mariadb: 'MYSQL_URL' }[name];
    return envSet(env) !== undefined;
  }

  private externalAddress(name: ServiceName): string {
    const ep = this.endpoints();
    if (name === 'kafka') return ep.kafkaBrokers.join(',');
    const url = name === 'postgres' ? ep.databaseUrl : name === 'redis' ? ep.redisUrl : this.mariadbEndpoints().mysqlUrl;
    const defaultPort = { postgres: 5432, redis: 6379, mariadb: 3306, 'mariadb-replica': 3306 }[name];
    try {
      const u = new URL(url);
      return `${u.hostname}:${u.port || defaultPort}`; // no credentials
    } catch {
      return '(unparseable URL)';
    }
  }

  private servicePorts(name: ServiceName): { ports: number[]; env: string } {
    switch (name) {
      case 'postgres': return { ports: [this.ports.pg], env: 'SLUICE_PG_PORT' };
      case 'redis': return { ports: [this.ports.redis], env: 'SLUICE_REDIS_PORT' };
      case 'kafka': return { ports: [this.ports.kafka, this.ports.kafkaController], env: 'SLUICE_KAFKA_PORT / SLUICE_KAFKA_CONTROLLER_PORT' };
      case 'mariadb': return { ports: [this.ports.mariadb], env: 'SLUICE_MARIADB_PORT' };
      case 'mariadb-replica': return { ports: [this.ports.mariadbReplica], env: 'SLUICE_MARIADB_REPLICA_PORT' };
    }
  }

  private localAddress(name: ServiceName): string {
    return `127.0.0.1:${this.servicePorts(name).ports[0]}`;
  }

  private logFile(name: ServiceName): string {
    return path.join(this.logsDir, `${name}.log`);
  }

  private pidFile(name: ServiceName): string {
    if (name === 'postgres') return path.join(this.pgLayout(false).data, 'postmaster.pid');
    if (name === 'mariadb' || name === 'mariadb-replica') return path.join(this.mariadbDir(name), 'mariadb.pid');
    return path.join(this.home, name, `${name}.pid`);
  }

  private processMarker(name: ServiceName): string {
    if (name === 'postgres') return this.pgLayout(false).data;
    if (name === 'kafka') return path.join(this.home, 'kafka', 'server.properties');
    if (name === 'mariadb' || name === 'mariadb-replica') return `--datadir=${this.mariadbData(name)} `;
    return 'redis-server'; // redis rewrites its title to "redis-server host:port"
  }

  /** Pid of our running instance, or undefined; removes a stale pid file when `clean`. */
  private runningPid(name: ServiceName, clean = true): number | undefined {
    const file = this.pidFile(name);
    const pid = readPidFile(file);
    if (pid !== undefined && isServiceProcess(pid, this.processMarker(name))) return pid;
    if (clean && fs.existsSync(file)) {
      this.log(`${name}: removing stale pid file ${file}${pid ? ` (pid ${pid} is gone)` : ''}`);
      fs.rmSync(file, { force: true });
    }
    return undefined;
  }

  private check(name: ServiceName): Promise<void> {
    if (name === 'postgres') return pgCheck(withDatabase(this.endpoints().databaseUrl, 'postgres'));
    if (name === 'redis') return redisPing(this.ports.redis);
    if (name === 'mariadb' || name === 'mariadb-replica') return mariadbCheck(this.mariadbSocket(name));
    return kafkaCheck(this.endpoints().kafkaBrokers);
  }

  /** Work that must hold after every start, including "already running". */
  private async afterStart(name: ServiceName): Promise<void> {
    if (name === 'postgres') await this.ensureDatabases();
    else if (name === 'mariadb') await this.ensureMariadbAccounts();
    else if (name === 'mariadb-replica') await this.ensureReplication();
  }

  private async startOne(name: ServiceName): Promise<void> {
    const t0 = Date.now();
    let pid = this.runningPid(name);
    if (pid !== undefined) {
      await this.waitHealthy(name, pid, START_TIMEOUT_MS[name]);
      await this.afterStart(name);
      this.log(`${name}: already running (pid ${pid}) at ${this.localAddress(name)}`);
      return;
    }
    const { ports, env } = this.servicePorts(name);
    for (const port of ports) {
      if (await portOpen(port)) {
        throw new Error(`${name}: port ${port} is already in use by another process (not one this stack started); free it or set ${env}`);
      }
    }
    fs.mkdirSync(this.logsDir, { recursive: true });
    if (name === 'postgres') pid = await this.launchPostgres();
    else if (name === 'redis') pid = this.launchRedis();
    else if (name === 'kafka') pid = await this.launchKafka();
    else pid = await this.launchMariadb(name);
    this.log(`${name}: started pid ${pid}, waiting until it accepts connections (log ${this.logFile(name)})`);
    await this.waitHealthy(name, pid, START_TIMEOUT_MS[name]);
    await this.afterStart(name);
    this.log(`${name}: ready at ${this.localAddress(name)} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }

  private async waitHealthy(name: ServiceName, pid: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        await this.check(name);
        return;
      } catch (e) {
        last = (e as Error).message || String(e);
      }
      if (!pidAlive(pid)) {
        throw new Error(`${name}: process ${pid} exited during startup. Last lines of ${this.logFile(name)}:\n${tailFile(this.logFile(name))}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${name}: not healthy after ${timeoutMs / 1000}s (last error: ${last}); pid ${pid} is still running. ` +
            `Last lines of ${this.logFile(name)}:\n${tailFile(this.logFile(name))}`,
        );
      }
      await sleep(300);
    }
  }

  private async stopOne(name: ServiceName): Promise<void> {
    const pid = this.runningPid(name);
    if (pid === undefined) return this.log(`${name}: not running`);
    const t0 = Date.now();
    const tree = processTree(pid);
    this.log(`${name}: stopping pid ${pid}`);
    if (name === 'postgres') {
      const r = await this.pgRun('pg_ctl', ['stop', '-D', this.pgLayout(false).data, '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_MS.postgres / 1000)]);
      if (!r.ok) this.log(`postgres: pg_ctl stop failed (${r.out.split('\n').pop()}), will SIGKILL`);
    } else {
      sendSignal([pid], 'SIGTERM');
    }
    if (!(await waitDead([pid], STOP_TIMEOUT_MS[name]))) {
      this.log(`${name}: still running after ${STOP_TIMEOUT_MS[name] / 1000}s, sending SIGKILL`);
    }
    // Whatever the clean shutdown left behind (including late children) goes now, and we check.
    // The name filter keeps a pid that was recycled since the snapshot out of harm's way.
    const word = { postgres: 'postgres', redis: 'redis', kafka: 'java', mariadb: 'mariadbd', 'mariadb-replica': 'mariadbd' }[name];
    const left = [...new Set([...tree, ...processTree(pid)])].filter((p) => isServiceProcess(p, word));
    if (left.length) {
      sendSignal(left, 'SIGKILL');
      if (!(await waitDead(left, 10_000))) throw new Error(`${name}: pid ${left.filter(pidAlive).join(' ')} still alive after SIGKILL`);
    }
    if (name !== 'postgres') fs.rmSync(this.pidFile(name), { force: true });
    this.log(`${name}: stopped in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }

  /** Opens the service log for appending; the child inherits the fd, we close our copy. */
  private spawnDetached(name: ServiceName, cmd: string, args: string[], cwd: string): number {
    const fd = fs.openSync(this.logFile(name), 'a');
    try {
      fs.writeSync(fd, `\n==== ${new Date().toISOString()} sluice stack: ${cmd} ${args.join(' ')}\n`);
      const child = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', fd, fd] });
      child.on('error', () => undefined); // reported below through the missing pid
      if (child.pid === undefined) throw new Error(`${name}: could not run ${cmd}`);
      child.unref();
      return child.pid;
    } finally {
      fs.closeSync(fd);
    }
  }

  // ----- packages -----------------------------------------------------------------------------

  private async ensurePackages(services: ServiceName[]): Promise<void> {
    if (services.length === 0) return;
    const script = path.join(this.repo, 'stack', 'ensure-packages.sh');
    const child = spawn('bash', [script, ...services], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const forward = (chunk: Buffer) => {
      for (const l of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(l);
        this.log(l);
      }
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    const code = await new Promise<number | null>((resolve) => {
      child.on('error', () => resolve(-1));
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`missing system packages for ${services.join(', ')}:\n${lines.slice(-6).join('\n')}`);
  }

  // ----- postgres -----------------------------------------------------------------------------

  private statePath(): string {
    return path.join(this.home, 'stack.json');
  }

  private readState(): StackState {
    try {
      return JSON.parse(fs.readFileSync(this.statePath(), 'utf8')) as StackState;
    } catch {
      return {};
    }
  }

  /**
   * Where the cluster lives. Normally $SLUICE_HOME/postgres/data. As root, postgres runs as the
   * `postgres` user, which may be unable to traverse SLUICE_HOME (a clone under /root, mode 700);
   * then the cluster goes to /var/tmp/sluice-pg-<hash of SLUICE_HOME>. The choice is recorded
   * in stack.json so stop/status find it without re-deciding.
   */
  private pgLayout(create: boolean): PgLayout {
    const runAs = isRoot() ? 'postgres' : undefined;
    const recorded = this.readState().postgres;
    if (recorded) return { ...recorded, runAs };

    let base = path.join(this.home, 'postgres');
    const fallback = path.join('/var/tmp', `sluice-pg-${crypto.createHash('sha256').update(this.home).digest('hex').slice(0, 10)}`);
    if (runAs) {
      if (!create) {
        // Never started from this home: report wherever a start would have put it.
        if (!fs.existsSync(base) && fs.existsSync(fallback)) base = fallback;
        return { base, data: path.join(base, 'data'), runAs };
      }
      fs.mkdirSync(this.home, { recursive: true });
      if (!userIds(runAs)) {
        throw new Error(`postgres: running as root needs a '${runAs}' system user to own the cluster (initdb refuses root); install PostgreSQL from your distribution's packages or create the user`);
      }
      if (!run('runuser', ['-u', runAs, '--', 'test', '-x', this.home]).ok) {
        this.log(`postgres: user '${runAs}' cannot reach ${this.home}; keeping the cluster in ${fallback} instead`);
        base = fallback;
        // A fresh SLUICE_HOME must mean a fresh cluster, even though the old one lives outside it.
        const oldPid = readPidFile(path.join(base, 'data', 'postmaster.pid'));
        if (fs.existsSync(base) && !(oldPid && isServiceProcess(oldPid, path.join(base, 'data')))) {
          this.log(`postgres: removing leftover cluster ${base} from an earlier ${this.home}`);
          fs.rmSync(base, { recursive: true, force: true });
        }
      }
    }
    const layout: PgLayout = { base, data: path.join(base, 'data'), runAs };
    if (create) {
      fs.mkdirSync(this.home, { recursive: true });
      fs.writeFileSync(this.statePath(), JSON.stringify({ ...this.readState(), postgres: { base, data: layout.data } }, null, 2) + '\n');
    }
    return layout;
  }

  /** Runs a postgres binary, as the postgres user when we are root. */
  private pgRun(bin: string, args: string[]): Promise<{ ok: boolean; out: string }> {
    const layout = this.pgLayout(false);
    const exe = path.join(this.pgBinFor(layout).dir, bin);
    return layout.runAs ? runAsync('runuser', ['-u', layout.runAs, '--', exe, ...args]) : runAsync(exe, args);
  }

  /** The binaries matching an existing cluster's major version, else the newest 15+. */
  private pgBinFor(layout: PgLayout): PgBin {
    let major: number | undefined;
    try {
      major = Number(fs.readFileSync(path.join(layout.data, 'PG_VERSION'), 'utf8').trim());
    } catch {
      /* no cluster yet */
    }
    const bin = findPgBin(major);
    if (bin) return bin;
    throw new Error(
      major !== undefined
        ? `postgres: ${layout.data} was created by PostgreSQL ${major}, whose binaries are not installed; install them or remove that directory`
        : `postgres: no PostgreSQL ${MIN_PG_MAJOR}+ binaries found (looked in /usr/lib/postgresql/*/bin and PATH); run stack/ensure-packages.sh`,
    );
  }

  private async launchPostgres(): Promise<number> {
    const layout = this.pgLayout(true);
    const ids = layout.runAs ? userIds(layout.runAs) : undefined;
    const own = (p: string) => ids && fs.chownSync(p, ids.uid, ids.gid);
    fs.mkdirSync(layout.base, { recursive: true, mode: 0o700 });
    own(layout.base);

    if (!fs.existsSync(path.join(layout.data, 'PG_VERSION'))) {
      const bin = this.pgBinFor(layout);
      this.log(`postgres: initdb ${layout.data} (PostgreSQL ${bin.major}, first run only)...`);
      fs.rmSync(layout.data, { recursive: true, force: true }); // a half-done initdb
      const pwfile = path.join(layout.base, '.pwfile');
      fs.writeFileSync(pwfile, `${PG_PASSWORD}\n`, { mode: 0o600 });
      own(pwfile);
      try {
        const r = await this.pgRun('initdb', [
          '-D', layout.data, '-U', PG_USER, `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C',
          '--auth-local=trust', '--auth-host=scram-sha-256',
        ]);
        fs.appendFileSync(this.logFile('postgres'), `${r.out}\n`);
        if (!r.ok) throw new Error(`postgres: initdb failed:\n${r.out.split('\n').slice(-8).join('\n')}`);
      } finally {
        fs.rmSync(pwfile, { force: true });
      }
      fs.appendFileSync(path.join(layout.data, 'postgresql.conf'), `\n# Sluice local stack settings (rewritten on every start)\ninclude_if_exists = 'sluice.conf'\n`);
    }

    // Rewritten on every start so port changes take effect.
    const conf = path.join(layout.data, 'sluice.conf');
    fs.writeFileSync(
      conf,
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${this.ports.pg}`,
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
    const hba = path.join(layout.data, 'pg_hba.conf');
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
    own(conf);
    own(hba);

    // pg_ctl daemonizes postgres in its own session; the server inherits our log fd, so the log
    // can live where the postgres user could not open it by itself.
    const pg = this.pgBinFor(layout);
    const args = ['start', '-D', layout.data, '-w', '-t', String(START_TIMEOUT_MS.postgres / 1000)];
    const cmd = layout.runAs ? 'runuser' : path.join(pg.dir, 'pg_ctl');
    const full = layout.runAs ? ['-u', layout.runAs, '--', path.join(pg.dir, 'pg_ctl'), ...args] : args;
    const fd = fs.openSync(this.logFile('postgres'), 'a');
    let code: number | null;
    try {
      const child = spawn(cmd, full, { cwd: '/', detached: true, stdio: ['ignore', fd, fd] });
      code = await new Promise<number | null>((resolve) => {
        child.on('error', () => resolve(-1));
        child.on('exit', resolve);
      });
    } finally {
      fs.closeSync(fd);
    }
    const pid = readPidFile(path.join(layout.data, 'postmaster.pid'));
    if (code !== 0 || pid === undefined) {
      throw new Error(`postgres: pg_ctl start failed (exit ${code}). Last lines of ${this.logFile('postgres')}:\n${tailFile(this.logFile('postgres'))}`);
    }
    return pid;
  }

  private async ensureDatabases(): Promise<void> {
    const c = new Client({ connectionString: withDatabase(this.endpoints().databaseUrl, 'postgres'), connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined);
    await c.connect();
    try {
      for (const db of [CONTROL_DB, ...DEMO_DBS]) {
        const r = await c.query('select 1 from pg_database where datname = $1', [db]);
        if (r.rowCount === 0) {
          await c.query(`create database "${db}"`);
          this.log(`postgres: created database ${db}`);
        }
      }
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  // ----- redis --------------------------------------------------------------------------------

  private launchRedis(): number {
    const dir = path.join(this.home, 'redis');
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'redis.conf');
    fs.writeFileSync(
      conf,
      [
        '# Written by the Sluice local stack on every start.',
        'bind 127.0.0.1',
        `port ${this.ports.redis}`,
        'daemonize no',
        `dir ${dir}`,
        `pidfile ${this.pidFile('redis')}`,
        'logfile ""', // stdout, which is $SLUICE_HOME/logs/redis.log
        // BullMQ state must survive a restart of Redis (fault tests restart it mid-run).
        'appendonly yes',
        'maxmemory-policy noeviction',
        '',
      ].join('\n'),
    );
    const exe = which('redis-server');
    if (!exe) throw new Error('redis: redis-server not found on PATH; run stack/ensure-packages.sh');
    const pid = this.spawnDetached('redis', exe, [conf], dir);
    fs.writeFileSync(this.pidFile('redis'), `${pid}\n`); // redis rewrites it with the same pid
    return pid;
  }

  // ----- kafka --------------------------------------------------------------------------------

  private kafkaLib(): string {
    return path.join(this.repo, 'stack', 'kafka', 'lib');
  }

  private async ensureKafkaJars(): Promise<void> {
    const pomDir = path.join(this.repo, 'stack', 'kafka');
    const version = /<kafka\.version>([^<]+)</.exec(fs.readFileSync(path.join(pomDir, 'pom.xml'), 'utf8'))?.[1];
    const lib = this.kafkaLib();
    const have = fs.existsSync(lib) ? fs.readdirSync(lib) : [];
    if (have.includes(`kafka_2.13-${version}.jar`) && have.some((f) => f.startsWith('log4j-slf4j-impl-'))) return;

    this.log(`kafka: fetching Kafka ${version} jars from Maven Central (first run only)...`);
    const tmp = `${lib}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    const r = await runAsync('mvn', ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`], pomDir);
    if (!r.ok) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`kafka: mvn dependency:copy-dependencies failed:\n${r.out.split('\n').slice(-10).join('\n')}`);
    }
    // Swap in whole so an interrupted fetch never looks like a complete lib/.
    fs.rmSync(lib, { recursive: true, force: true });
    fs.renameSync(tmp, lib);
    this.log(`kafka: ${fs.readdirSync(lib).length} jars in ${lib}`);
  }

  private javaArgs(): string[] {
    return [
      '-Xms256m',
      '-Xmx512m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${path.join(this.repo, 'stack', 'kafka', 'log4j2.properties')}`,
      `-Dkafka.logs.dir=${this.logsDir}`,
      '-cp',
      `${this.kafkaLib()}/*`, // expanded by the JVM, not a shell
    ];
  }

  private async launchKafka(): Promise<number> {
    await this.ensureKafkaJars();
    const dir = path.join(this.home, 'kafka');
    const data = path.join(dir, 'data');
    const props = path.join(dir, 'server.properties');
    fs.mkdirSync(data, { recursive: true });
    const { kafka: port, kafkaController: ctrl } = this.ports;
    fs.writeFileSync(
      props,
      [
        '# Written by the Sluice local stack on every start: single-node KRaft broker+controller.',
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${ctrl}`,
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${ctrl}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        `log.dirs=${data}`,
        // One node: every internal topic must be satisfiable with a single replica.
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'share.coordinator.state.topic.replication.factor=1',
        'share.coordinator.state.topic.min.isr=1',
        'min.insync.replicas=1',
        'default.replication.factor=1',
        'group.initial.rebalance.delay.ms=0',
        // After a kill -9 the restarted broker cannot register until the controller has expired
        // the dead incarnation's session (default 9s); keep that short for crash tests.
        'broker.heartbeat.interval.ms=500',
        'broker.session.timeout.ms=3000',
        'num.partitions=3',
        'auto.create.topics.enable=true',
        '',
      ].join('\n'),
    );

    if (!fs.existsSync(path.join(data, 'meta.properties'))) {
      const clusterId = newKafkaClusterId();
      this.log(`kafka: formatting storage ${data} (cluster id ${clusterId}, first run only)...`);
      const r = await runAsync('java', [...this.javaArgs(), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props], dir);
      fs.mkdirSync(this.logsDir, { recursive: true });
      fs.appendFileSync(this.logFile('kafka'), `${r.out}\n`);
      if (!r.ok) throw new Error(`kafka: storage format failed:\n${r.out.split('\n').slice(-8).join('\n')}`);
    }

    const java = which('java');
    if (!java) throw new Error('kafka: java not found on PATH; run stack/ensure-packages.sh');
    const pid = this.spawnDetached('kafka', java, [...this.javaArgs(), 'kafka.Kafka', props], dir);
    fs.writeFileSync(this.pidFile('kafka'), `${pid}\n`);
    return pid;
  }

  // ----- mariadb ------------------------------------------------------------------------------
  // Debian's mariadb-server, started directly (no mysqld_safe, no systemd unit) with --no-defaults
  // so nothing from /etc/mysql leaks in: every setting the CDC source relies on is on the command
  // line below. Primary is server_id 1, replica server_id 2, both in GTID domain 0.

  private mariadbDir(name: ServiceName): string {
    return path.join(this.home, name);
  }

  private mariadbData(name: ServiceName): string {
    return path.join(this.mariadbDir(name), 'data');
  }

  /** In the service dir, unless that path is longer than a unix socket address can hold. */
  private mariadbSocket(name: ServiceName): string {
    const inDir = path.join(this.mariadbDir(name), 'mariadb.sock');
    if (Buffer.byteLength(inDir) <= MAX_SOCKET_PATH) return inDir;
    return path.join('/tmp', `sluice-${crypto.createHash('sha256').update(this.mariadbDir(name)).digest('hex').slice(0, 12)}.sock`);
  }

  private replicaStatePath(): string {
    return path.join(this.mariadbDir('mariadb-replica'), 'replica.json');
  }

  /** seeded_at: the dump from the primary is loaded and replication configured (a datadir without
   *  it is a half-done seed and is thrown away); promoted_at: promoteReplica() ran. */
  private replicaState(): { seeded_at?: string; seeded_gtid?: string; promoted_at?: string } {
    try {
      return JSON.parse(fs.readFileSync(this.replicaStatePath(), 'utf8'));
    } catch {
      return {};
    }
  }

  private writeReplicaState(state: { seeded_at?: string; seeded_gtid?: string; promoted_at?: string }): void {
    fs.writeFileSync(this.replicaStatePath(), JSON.stringify(state, null, 2) + '\n');
  }

  private async launchMariadb(name: ServiceName): Promise<number> {
    const replica = name === 'mariadb-replica';
    const dir = this.mariadbDir(name);
    const data = this.mariadbData(name);
    const state = replica ? this.replicaState() : {};
    if (replica && !state.seeded_at && fs.existsSync(data)) {
      this.log(`${name}: ${data} was never fully seeded from the primary; starting it over`);
      fs.rmSync(data, { recursive: true, force: true });
    }
    const files = path.join(dir, 'files');
    fs.mkdirSync(files, { recursive: true, mode: 0o700 });

    // As root, mariadbd is told to stay root (--user=root) rather than switch to the mysql user
    // the way postgres must: that user may not be able to traverse SLUICE_HOME (a clone under
    // /root), and this server only listens on loopback. secure_file_priv keeps LOAD DATA /
    // SELECT ... INTO OUTFILE inside the service dir all the same.
    const asRoot = isRoot() ? ['--user=root'] : [];
    if (!fs.existsSync(data)) {
      const installer = findMariadbTool('mariadb-install-db') ?? findMariadbTool('mysql_install_db');
      if (!installer) throw new Error(`${name}: mariadb-install-db not found; run stack/ensure-packages.sh mariadb`);
      this.log(`${name}: mariadb-install-db ${data} (first run only)...`);
      // Into a temporary dir first, so an interrupted install never looks like a datadir.
      const tmp = `${data}.tmp-${process.pid}`;
      fs.rmSync(tmp, { recursive: true, force: true });
      const r = await runAsync(installer, [
        '--no-defaults', `--datadir=${tmp}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...asRoot,
      ]);
      fs.mkdirSync(this.logsDir, { recursive: true });
      fs.appendFileSync(this.logFile(name), `${r.out}\n`);
      if (!r.ok) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw new Error(`${name}: mariadb-install-db failed (full output in ${this.logFile(name)}):\n${r.out.split('\n').slice(-8).join('\n')}`);
      }
      fs.renameSync(tmp, data);
    }

    const exe = findMariadbd();
    if (!exe) throw new Error(`${name}: mariadbd not found (looked on PATH and in /usr/sbin); run stack/ensure-packages.sh mariadb`);
    const port = this.servicePorts(name).ports[0];
    const socket = this.mariadbSocket(name);
    const args = [
      '--no-defaults', // must come first
      `--datadir=${data}`, // also the processMarker: keep it second
      `--socket=${socket}`,
      `--pid-file=${this.pidFile(name)}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      ...asRoot,
      `--server-id=${replica ? 2 : 1}`,
      // Named explicitly: the defaults derive from the hostname, which would orphan them if it changed.
      `--log-bin=${path.join(data, 'binlog')}`,
      `--relay-log=${path.join(data, 'relay-bin')}`,
      '--binlog-format=ROW',
      '--binlog-row-image=FULL',
      '--gtid-strict-mode=1',
      // The replica writes what it applies to its own binlog with the primary's GTIDs, so a source
      // switched to it after promotion finds its GTID set there.
      '--log-slave-updates=1',
      // A week of binlog: a CDC source can be down over a weekend and still resume; bounded disk.
      '--binlog-expire-logs-seconds=604800',
      '--max-binlog-size=104857600',
      // Compiled-in defaults are latin1; Debian's own config (which --no-defaults skips) says utf8mb4.
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci',
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=128M',
      '--max-connections=200',
      `--secure-file-priv=${files}`,
      '--report-host=127.0.0.1',
      `--report-port=${port}`,
      // A replica notices a dead primary in seconds, not the default minute.
      ...(replica ? ['--slave-net-timeout=10'] : []),
      ...(replica && !state.promoted_at ? ['--read-only=1'] : []),
    ];
    // No --log-error: the error log goes to stderr, which is $SLUICE_HOME/logs/<name>.log.
    const pid = this.spawnDetached(name, exe, args, dir);
    fs.writeFileSync(this.pidFile(name), `${pid}\n`); // mariadbd rewrites it with the same pid
    return pid;
  }

  private async withMariadb<T>(name: ServiceName, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
    const c = await mariadbConnect(this.mariadbSocket(name), 5000);
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /**
   * The sluice accounts and demo databases on the primary. Only what is missing is written:
   * every statement lands in the binlog, and a CDC source reading it should not see a GRANT per
   * restart. ALL PRIVILEGES in MariaDB 10.11 includes REPLICATION SLAVE, BINLOG MONITOR,
   * REPLICATION SLAVE ADMIN, SLAVE MONITOR and READ_ONLY ADMIN (what a binlog client and a
   * replica need). root keeps only its socket account, like postgres' local-only trust.
   */
  private async ensureMariadbAccounts(): Promise<void> {
    await this.withMariadb('mariadb', async (c) => {
      const [users] = await c.query<mysql.RowDataPacket[]>('SELECT Host AS host FROM mysql.user WHERE User = ?', [MYSQL_USER]);
      const have = new Set(users.map((u) => String(u.host)));
      for (const host of ['%', '127.0.0.1', 'localhost'].filter((h) => !have.has(h))) {
        await c.query('CREATE USER ?@? IDENTIFIED BY ?', [MYSQL_USER, host, MYSQL_PASSWORD]);
        await c.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [MYSQL_USER, host]);
        this.log(`mariadb: created user ${MYSQL_USER}@${host}`);
      }
      const [roots] = await c.query<mysql.RowDataPacket[]>("SELECT Host AS host FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'");
      for (const r of roots) await c.query('DROP USER ?@?', ['root', String(r.host)]);
      const [dbs] = await c.query<mysql.RowDataPacket[]>('SELECT SCHEMA_NAME AS db FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)', [DEMO_DBS]);
      const haveDb = new Set(dbs.map((d) => String(d.db)));
      for (const db of DEMO_DBS.filter((d) => !haveDb.has(d))) {
        await c.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`);
        this.log(`mariadb: created database ${db}`);
      }
    });
  }

  /** Seeds a new replica from the primary; on later starts only follows a changed primary port. */
  private async ensureReplication(): Promise<void> {
    const name: ServiceName = 'mariadb-replica';
    const state = this.replicaState();
    if (state.promoted_at) return; // a promoted replica is a primary now
    if (!state.seeded_at) return this.seedReplica();
    await this.withMariadb(name, async (c) => {
      const [[st]] = await c.query<mysql.RowDataPacket[]>('SHOW SLAVE STATUS');
      if (st && Number(st.Master_Port) !== this.ports.mariadb) {
        this.log(`${name}: primary port changed ${st.Master_Port} -> ${this.ports.mariadb}`);
        await c.query('STOP SLAVE');
        await c.query('CHANGE MASTER TO MASTER_PORT = ?', [this.ports.mariadb]);
        await c.query('START SLAVE');
      }
    });
  }

  /**
   * A consistent dump of the primary (--single-transaction, with the GTID it corresponds to) is
   * loaded without binlogging it, then the replica's binlog state is set to that GTID: with
   * gtid_strict_mode the replica's own history must equal the primary's, so that after a
   * promotion its new transactions continue the same domain's sequence. Replication then starts
   * at exactly that GTID, which works however long ago the primary purged its first binlogs.
   */
  private async seedReplica(): Promise<void> {
    const name: ServiceName = 'mariadb-replica';
    const t0 = Date.now();
    if (this.isExternal('mariadb')) {
      throw new Error(`${name}: can only be seeded from the local primary, but MYSQL_URL makes the primary external`);
    }
    if (this.runningPid('mariadb') === undefined) throw new Error(`${name}: the local primary (mariadb) must be running to seed the replica`);
    const dump = findMariadbTool('mariadb-dump') ?? findMariadbTool('mysqldump');
    const client = findMariadbTool('mariadb') ?? findMariadbTool('mysql');
    if (!dump || !client) throw new Error(`${name}: mariadb-dump / mariadb client not found; run stack/ensure-packages.sh mariadb`);
    const seed = path.join(this.mariadbDir(name), 'seed.sql');
    this.log(`${name}: seeding from the primary at ${this.localAddress('mariadb')} (first run only)...`);
    try {
      const d = await runWithFiles(dump, [
        '--no-defaults', `--socket=${this.mariadbSocket('mariadb')}`, '--user=root',
        '--all-databases', '--single-transaction', '--gtid', '--master-data=1',
        '--routines', '--events', '--triggers', '--flush-privileges',
      ], { stdout: seed });
      if (!d.ok) throw new Error(`${name}: mariadb-dump of the primary failed:\n${d.out.split('\n').slice(-8).join('\n')}`);
      // The dump ends with SET GLOBAL gtid_slave_pos='<the primary's GTID at the snapshot>'.
      const gtid = /SET GLOBAL gtid_slave_pos='([^']*)'/.exec(tailBytes(seed, 64 * 1024))?.[1];
      if (gtid === undefined) throw new Error(`${name}: the dump of the primary has no GTID position (${seed})`);
      const l = await runWithFiles(client, [
        '--no-defaults', `--socket=${this.mariadbSocket(name)}`, '--user=root', '--init-command=SET sql_log_bin=0',
      ], { stdin: seed });
      if (!l.ok) throw new Error(`${name}: loading the primary's dump failed:\n${l.out.split('\n').slice(-8).join('\n')}`);

      await this.withMariadb(name, async (c) => {
        await c.query('RESET MASTER');
        if (gtid !== '') await c.query('SET GLOBAL gtid_binlog_state = ?', [gtid]);
        await c.query('SET GLOBAL gtid_slave_pos = ?', [gtid]);
        await c.query(
          'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1',
          ['127.0.0.1', this.ports.mariadb, MYSQL_USER, MYSQL_PASSWORD],
        );
        await c.query('START SLAVE');
        await this.waitReplicating(c);
      });
      this.writeReplicaState({ seeded_at: new Date().toISOString(), seeded_gtid: gtid });
      this.log(`${name}: replicating from ${this.localAddress('mariadb')} since GTID ${gtid || '(empty)'}, seeded in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    } finally {
      fs.rmSync(seed, { force: true });
    }
  }

  private async waitReplicating(c: mysql.Connection, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [[st]] = await c.query<mysql.RowDataPacket[]>('SHOW SLAVE STATUS');
      if (st?.Slave_IO_Running === 'Yes' && st?.Slave_SQL_Running === 'Yes') return;
      const err = [st?.Last_IO_Error, st?.Last_SQL_Error].filter(Boolean).join('; ');
      if (Date.now() > deadline || (st?.Slave_SQL_Running === 'No' && st?.Last_SQL_Error)) {
        throw new Error(
          `mariadb-replica: replication not running after setup (IO ${st?.Slave_IO_Running}, SQL ${st?.Slave_SQL_Running}${err ? `: ${err}` : ''}). ` +
            `Last lines of ${this.logFile('mariadb-replica')}:\n${tailFile(this.logFile('mariadb-replica'))}`,
        );
      }
      await sleep(200);
    }
  }

  // ----- cross-process lock -------------------------------------------------------------------

  // start/stop from two processes at once (two test files, CLI + API) must not both initdb or
  // both launch Kafka. An O_EXCL lock file holding the owner's pid; a dead owner's lock is stale.
  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    fs.mkdirSync(this.home, { recursive: true });
    const lock = path.join(this.home, 'stack.lock');
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    let announced = false;
    for (;;) {
      try {
        fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = readPidFile(lock);
      if (owner === undefined || !pidAlive(owner)) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another stack operation (pid ${owner}) holds ${lock} for too long`);
      if (!announced) this.log(`waiting for another stack operation to finish (pid ${owner}, lock ${lock})`);
      announced = true;
      await sleep(250);
    }
    try {
      return await fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }
}

/** Same server, different database: how the demo URLs are derived from the control DB URL. */
export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

// Kafka's own Uuid.randomUuid(): 16 random bytes, url-safe base64 without padding, and never
// starting with '-' (the CLI would read it as an option). Saves a JVM start over `random-uuid`.
function newKafkaClusterId(): string {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

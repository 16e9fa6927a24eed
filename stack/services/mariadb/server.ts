// One mariadbd of Debian's mariadb-server, shared by the primary and the replica modules. Started
// directly (no mysqld_safe, no systemd unit) with --no-defaults so nothing from /etc/mysql leaks
// in: every setting the CDC source relies on is on the command line below. Both are in GTID
// domain 0; the server id tells them apart.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as mysql from 'mysql2/promise';
import type { ServiceContext, ServicePort } from '../../service';
import { Daemon } from '../../shared/daemon';
import { appendLog, lastOf } from '../../shared/logs';
import { installHint } from '../../shared/packages';
import { findProgram, isRoot, runAsync } from '../../shared/run';

export const MYSQL_USER = 'sluice';
export const MYSQL_PASSWORD = 'sluice';
// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107;

export type Row = mysql.RowDataPacket;

/** A client tool or the server: on PATH or in /usr/bin and /usr/sbin (Debian's mariadbd). */
export function mariadbProgram(...names: string[]): string | undefined {
  for (const n of names) {
    const p = findProgram(n, ['/usr/bin', '/usr/sbin']);
    if (p) return p;
  }
  return undefined;
}

/** The socket in the service dir, unless that path is longer than a unix socket address can hold. */
export function socketPath(ctx: ServiceContext): string {
  const inDir = path.join(ctx.dir, 'mariadb.sock');
  if (Buffer.byteLength(inDir) <= MAX_SOCKET_PATH) return inDir;
  return path.join('/tmp', `sluice-${crypto.createHash('sha256').update(ctx.dir).digest('hex').slice(0, 12)}.sock`);
}

// As root over the unix socket: that account exists from mariadb-install-db on, so the same check
// works before the sluice user is created and on a replica before it has been seeded.
export async function withRoot<T>(
  ctx: ServiceContext,
  fn: (c: mysql.Connection) => Promise<T>,
  timeoutMs = 5000,
): Promise<T> {
  const c = await mysql.createConnection({ socketPath: socketPath(ctx), user: 'root', connectTimeout: timeoutMs });
  c.on('error', () => undefined); // a server going away must not crash the caller
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export function localUrl(port: ServicePort): string {
  return `mysql://${MYSQL_USER}:${MYSQL_PASSWORD}@127.0.0.1:${port.port}/`;
}

/** What the primary and the replica modules have in common, as StackService members. */
export function mariadbServer(ctx: ServiceContext, opts: { port: ServicePort; serverId: number }) {
  const data = path.join(ctx.dir, 'data');
  const daemon = new Daemon(ctx, {
    pidFile: () => path.join(ctx.dir, 'mariadb.pid'),
    marker: () => `--datadir=${data} `,
    word: 'mariadbd',
    stopTimeoutMs: 60_000,
  });
  // As root, mariadbd is told to stay root (--user=root) rather than switch to the mysql user the
  // way postgres must: that user may not be able to traverse SLUICE_HOME (a clone under /root),
  // and this server only listens on loopback. secure_file_priv keeps LOAD DATA / SELECT ... INTO
  // OUTFILE inside the service dir all the same.
  const asRoot = () => (isRoot() ? ['--user=root'] : []);

  async function installDb(): Promise<void> {
    const installer = mariadbProgram('mariadb-install-db', 'mysql_install_db');
    if (!installer) throw new Error(`${ctx.name}: mariadb-install-db not found; ${installHint(ctx.name)}`);
    ctx.log(`mariadb-install-db ${data} (first run only)...`);
    // Into a temporary dir first, so an interrupted install never looks like a datadir.
    const tmp = `${data}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    const r = await runAsync(installer, [
      '--no-defaults',
      `--datadir=${tmp}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...asRoot(),
    ]);
    appendLog(ctx.logFile, r.out);
    if (!r.ok) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`${ctx.name}: mariadb-install-db failed (full output in ${ctx.logFile}):\n${lastOf(r.out)}`);
    }
    fs.renameSync(tmp, data);
  }

  /** Launches mariadbd; `extraArgs` come last (the replica's). */
  async function launch(extraArgs: string[]): Promise<number> {
    const files = path.join(ctx.dir, 'files');
    fs.mkdirSync(files, { recursive: true, mode: 0o700 });
    if (!fs.existsSync(data)) await installDb();
    const exe = mariadbProgram('mariadbd', 'mysqld');
    if (!exe)
      throw new Error(`${ctx.name}: mariadbd not found (looked on PATH and in /usr/sbin); ${installHint(ctx.name)}`);
    const port = opts.port.port;
    const args = [
      '--no-defaults', // must come first
      `--datadir=${data}`, // also the daemon's marker: keep it second
      `--socket=${socketPath(ctx)}`,
      `--pid-file=${path.join(ctx.dir, 'mariadb.pid')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      ...asRoot(),
      `--server-id=${opts.serverId}`,
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
      ...extraArgs,
    ];
    // No --log-error: the error log goes to stderr, which is $SLUICE_HOME/logs/<name>.log.
    return daemon.spawn(exe, args, ctx.dir);
  }

  async function check(): Promise<void> {
    await withRoot(
      ctx,
      async (c) => {
        const [rows] = await c.query<Row[]>('SELECT @@binlog_format AS format');
        // A datadir started with other settings would make the CDC source fail far from the cause.
        if (rows[0]?.format !== 'ROW') throw new Error(`binlog_format is ${rows[0]?.format}, expected ROW`);
      },
      3000,
    );
  }

  return {
    data,
    launch,
    socket: () => socketPath(ctx),
    /** The StackService members both modules share. */
    service: {
      name: ctx.name,
      ports: [opts.port],
      startTimeoutMs: 60_000,
      // The client and dump tool seed the replica; mariadb-server pulls them in.
      missing: () =>
        mariadbProgram('mariadbd') && ['mariadb-install-db', 'mariadb', 'mariadb-dump'].every((t) => mariadbProgram(t))
          ? []
          : [{ what: 'mariadb-server', apt: ['mariadb-server'] }],
      pid: (clean?: boolean) => daemon.pid(clean),
      check,
      stop: () => daemon.stop(),
      kill: () => daemon.kill(),
      reset: () => {
        const sock = socketPath(ctx);
        if (!sock.startsWith(ctx.dir + path.sep)) fs.rmSync(sock, { force: true });
        fs.rmSync(`${sock}.lock`, { force: true });
        fs.rmSync(ctx.dir, { recursive: true, force: true });
      },
    },
  };
}

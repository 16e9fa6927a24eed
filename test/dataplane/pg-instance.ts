import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A second, throwaway Postgres server (own data dir and port) so a test can stop or kill "the
 * destination" or "the source" without touching the control DB. Runs as the postgres user when root.
 */
export class PgInstance {
  readonly dir: string;
  readonly data: string;
  private runAs?: string;
  private bin: string;

  constructor(readonly port: number) {
    const root = '/usr/lib/postgresql';
    const v = fs
      .readdirSync(root)
      .filter((x) => /^\d+$/.test(x))
      .sort((a, b) => Number(b) - Number(a))[0];
    this.bin = path.join(root, v, 'bin');
    this.dir = fs.mkdtempSync(path.join('/var/tmp', 'dp-pg-'));
    this.data = path.join(this.dir, 'data');
    if (process.getuid?.() === 0) {
      this.runAs = 'postgres';
      const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim();
      const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim();
      fs.chownSync(this.dir, Number(id), Number(gid));
    }
  }

  /** A new instance on a free port, initialised, started, with database `db` created. */
  static async withDatabase(db: string): Promise<PgInstance> {
    const p = new PgInstance(await freePort());
    await p.init();
    p.run('createdb', ['-h', '127.0.0.1', '-p', String(p.port), '-U', 'sluice', db]);
    return p;
  }

  get url() {
    return `postgres://sluice:sluice@127.0.0.1:${this.port}/postgres`;
  }
  urlFor(db: string) {
    return `postgres://sluice:sluice@127.0.0.1:${this.port}/${db}`;
  }

  private run(exe: string, args: string[]) {
    const cmd = this.runAs ? 'runuser' : path.join(this.bin, exe);
    const full = this.runAs ? ['-u', this.runAs, '--', path.join(this.bin, exe), ...args] : args;
    const r = spawnSync(cmd, full, { encoding: 'utf8', cwd: '/', timeout: 60000 });
    if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
  }

  async init(): Promise<void> {
    this.run('initdb', ['-D', this.data, '-U', 'sluice', '-E', 'UTF8', '--locale=C', '--auth=trust']);
    fs.appendFileSync(
      path.join(this.data, 'postgresql.conf'),
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${this.port}`,
        `unix_socket_directories = ''`,
        'wal_level = logical',
        'max_replication_slots = 10',
        'max_wal_senders = 10',
        'fsync = off',
        'logging_collector = off',
        '',
      ].join('\n'),
    );
    await this.start();
  }

  async start(): Promise<void> {
    const log = path.join(this.dir, 'server.log');
    if (this.runAs) {
      fs.writeFileSync(log, '', { flag: 'a' });
      spawnSync('chown', [this.runAs, log]);
    }
    await new Promise<void>((resolve, reject) => {
      const cmd = this.runAs ? 'runuser' : path.join(this.bin, 'pg_ctl');
      const args = ['start', '-D', this.data, '-w', '-t', '60', '-l', log];
      const p = spawn(cmd, this.runAs ? ['-u', this.runAs, '--', path.join(this.bin, 'pg_ctl'), ...args] : args, {
        cwd: '/',
        detached: true,
        stdio: 'ignore',
      });
      p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`pg_ctl start exited ${c}; see ${log}`))));
    });
  }

  async stop(): Promise<void> {
    this.run('pg_ctl', ['stop', '-D', this.data, '-m', 'fast', '-w']);
  }

  /** A crash: SIGKILL to the postmaster and its children at once (no shutdown checkpoint); start() recovers. */
  async kill(): Promise<void> {
    const pid = Number(fs.readFileSync(path.join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    // The children first in the list: once the postmaster is gone they are re-parented and hard to find.
    const victims = [...childPids(pid), pid];
    for (const p of victims) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    const alive = (p: number) => {
      try {
        return !/^\S+ \(.*\) [ZX] /.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && victims.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  }

  async destroy(): Promise<void> {
    try {
      this.run('pg_ctl', ['stop', '-D', this.data, '-m', 'immediate', '-w']);
    } catch {
      /* not running */
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Direct children of `pid`, from /proc. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export const tmp = os.tmpdir();

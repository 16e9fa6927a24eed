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
    const v = fs.readdirSync(root).filter((x) => /^\d+$/.test(x)).sort((a, b) => Number(b) - Number(a))[0];
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

  get url() { return `postgres://sluice:sluice@127.0.0.1:${this.port}/postgres`; }
  urlFor(db: string) { return `postgres://sluice:sluice@127.0.0.1:${this.port}/${db}`; }

  private run(exe: string, args: string[]) {
    const cmd = this.runAs ? 'runuser' : path.join(this.bin, exe);
    const full = this.runAs ? ['-u', this.runAs, '--', path.join(this.bin, exe), ...args] : args;
    const r = spawnSync(cmd, full, { encoding: 'utf8', cwd: '/', timeout: 60000 });
    if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
  }

  async init(): Promise<void> {
    this.run('initdb', ['-D', this.data, '-U', 'sluice', '-E', 'UTF8', '--locale=C', '--auth=trust']);
    fs.appendFileSync(path.join(this.data, 'postgresql.conf'), [
      `listen_addresses = '127.0.0.1'`, `port = ${this.port}`, `unix_socket_directories = ''`, 'wal_level = logical',
      'max_replication_slots = 10', 'max_wal_senders = 10', 'fsync = off', 'logging_collector = off', '',
    ].join('\n'));
    await this.start();
  }

  async start(): Promise<void> {
    const log = path.join(this.dir, 'server.log');
    if (this.runAs) { fs.writeFileSync(log, '', { flag: 'a' }); spawnSync('chown', [this.runAs, log]); }
    await new Promise<void>((resolve, reject) => {
      const cmd = this.runAs ? 'runuser' : path.join(this.bin, 'pg_ctl');
      const args = ['start', '-D', this.data, '-w', '-t', '60', '-l', log];
      const p = spawn(cmd, this.runAs ? ['-u', this.runAs, '--', path.join(this.bin, 'pg_ctl'), ...args] : args, { cwd: '/', detached: true, stdio: 'ignore' });
      p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`pg_ctl start exited ${c}; see ${log}`))));
    });
  }

  async stop(): Promise<void> { this.run('pg_ctl', ['stop', '-D', this.data, '-m', 'fast', '-w']); }

  async destroy(): Promise<void> {
    try { this.run('pg_ctl', ['stop', '-D', this.data, '-m', 'immediate', '-w']); } catch { /* not running */ }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

export const tmp = os.tmpdir();

// The GTID replica (server_id 2) of the local MariaDB primary, for failover drills: seeded from a
// dump of the primary on its first start, read-only until promoteReplica() makes it a primary.
// It only ever replicates the local primary, so it is never external itself.
import * as fs from 'fs';
import * as path from 'path';
import type * as mysql from 'mysql2/promise';
import type { ServiceContext, StackService } from '../../service';
import { envPort, envSet } from '../../shared/env';
import { lastLines, lastOf, tailBytes } from '../../shared/logs';
import { sleep } from '../../shared/proc';
import { installHint } from '../../shared/packages';
import { runAsync } from '../../shared/run';
import { mariadbPrimary } from './primary';
import { localUrl, mariadbProgram, mariadbServer, MYSQL_PASSWORD, MYSQL_USER, Row, withRoot } from './server';

/** seeded_at: the dump of the primary is loaded and replication configured (a datadir without it
 *  is a half-done seed and is thrown away); promoted_at: promote() ran. */
interface ReplicaState {
  seeded_at?: string;
  seeded_gtid?: string;
  promoted_at?: string;
}

export function mariadbReplica(ctx: ServiceContext, primaryCtx: ServiceContext) {
  const server = mariadbServer(ctx, { port: envPort('SLUICE_MARIADB_REPLICA_PORT', 13307), serverId: 2 });
  const primary = mariadbPrimary(primaryCtx);
  const primaryPort = primary.ports[0].port;
  const primaryAt = `127.0.0.1:${primaryPort}`;
  const stateFile = path.join(ctx.dir, 'replica.json');
  const readState = (): ReplicaState => {
    try {
      return JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    } catch {
      return {};
    }
  };
  const writeState = (s: ReplicaState) => fs.writeFileSync(stateFile, JSON.stringify(s, null, 2) + '\n');

  async function start(): Promise<number> {
    const state = readState();
    if (!state.seeded_at && fs.existsSync(server.data)) {
      ctx.log(`${server.data} was never fully seeded from the primary; starting it over`);
      fs.rmSync(server.data, { recursive: true, force: true });
    }
    return server.launch([
      '--slave-net-timeout=10', // notices a dead primary in seconds, not the default minute
      ...(state.promoted_at ? [] : ['--read-only=1']),
    ]);
  }

  /** Seeds a new replica from the primary; on later starts only follows a changed primary port. */
  async function ensureReplication(): Promise<void> {
    const state = readState();
    if (state.promoted_at) return; // a promoted replica is a primary now
    if (!state.seeded_at) return seed();
    await withRoot(ctx, async (c) => {
      const [[st]] = await c.query<Row[]>('SHOW SLAVE STATUS');
      if (st && Number(st.Master_Port) !== primaryPort) {
        ctx.log(`primary port changed ${st.Master_Port} -> ${primaryPort}`);
        await c.query('STOP SLAVE');
        await c.query('CHANGE MASTER TO MASTER_PORT = ?', [primaryPort]);
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
  async function seed(): Promise<void> {
    const t0 = Date.now();
    if (primary.externalEnv && envSet(primary.externalEnv)) {
      throw new Error(
        `${ctx.name}: can only be seeded from the local primary, but ${primary.externalEnv} makes the primary external`,
      );
    }
    if (primary.pid() === undefined)
      throw new Error(`${ctx.name}: the local primary (${primary.name}) must be running to seed the replica`);
    const dump = mariadbProgram('mariadb-dump', 'mysqldump');
    const client = mariadbProgram('mariadb', 'mysql');
    if (!dump || !client)
      throw new Error(`${ctx.name}: mariadb-dump / mariadb client not found; ${installHint(ctx.name)}`);
    const file = path.join(ctx.dir, 'seed.sql');
    ctx.log(`seeding from the primary at ${primaryAt} (first run only)...`);
    try {
      const d = await runAsync(
        dump,
        [
          '--no-defaults',
          `--socket=${primary.socket()}`,
          '--user=root',
          '--all-databases',
          '--single-transaction',
          '--gtid',
          '--master-data=1',
          '--routines',
          '--events',
          '--triggers',
          '--flush-privileges',
        ],
        { stdout: file },
      );
      if (!d.ok) throw new Error(`${ctx.name}: mariadb-dump of the primary failed:\n${lastOf(d.out)}`);
      // The dump ends with SET GLOBAL gtid_slave_pos='<the primary's GTID at the snapshot>'.
      const gtid = /SET GLOBAL gtid_slave_pos='([^']*)'/.exec(tailBytes(file, 64 * 1024))?.[1];
      if (gtid === undefined) throw new Error(`${ctx.name}: the dump of the primary has no GTID position (${file})`);
      const l = await runAsync(
        client,
        ['--no-defaults', `--socket=${server.socket()}`, '--user=root', '--init-command=SET sql_log_bin=0'],
        { stdin: file },
      );
      if (!l.ok) throw new Error(`${ctx.name}: loading the primary's dump failed:\n${lastOf(l.out)}`);

      await withRoot(ctx, async (c) => {
        await c.query('RESET MASTER');
        if (gtid !== '') await c.query('SET GLOBAL gtid_binlog_state = ?', [gtid]);
        await c.query('SET GLOBAL gtid_slave_pos = ?', [gtid]);
        await c.query(
          'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, ' +
            'MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1',
          ['127.0.0.1', primaryPort, MYSQL_USER, MYSQL_PASSWORD],
        );
        await c.query('START SLAVE');
        await waitReplicating(c);
      });
      writeState({ seeded_at: new Date().toISOString(), seeded_gtid: gtid });
      ctx.log(
        `replicating from ${primaryAt} since GTID ${gtid || '(empty)'}, seeded in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
      );
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  async function waitReplicating(c: mysql.Connection, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [[st]] = await c.query<Row[]>('SHOW SLAVE STATUS');
      if (st?.Slave_IO_Running === 'Yes' && st?.Slave_SQL_Running === 'Yes') return;
      const err = [st?.Last_IO_Error, st?.Last_SQL_Error].filter(Boolean).join('; ');
      if (Date.now() > deadline || (st?.Slave_SQL_Running === 'No' && st?.Last_SQL_Error)) {
        throw new Error(
          `${ctx.name}: replication not running after setup ` +
            `(IO ${st?.Slave_IO_Running}, SQL ${st?.Slave_SQL_Running}${err ? `: ${err}` : ''}). ` +
            lastLines(ctx.logFile),
        );
      }
      await sleep(200);
    }
  }

  /**
   * Turns the replica into a writable primary, as a failover would: stops fetching, waits until
   * everything already fetched is applied (so nothing the old primary sent is dropped), forgets
   * the primary and leaves read-only mode. Survives restarts. Idempotent. Returns the GTID
   * position after promotion.
   */
  async function promote(opts: { applyTimeoutMs?: number } = {}): Promise<{ gtidPos: string }> {
    if (server.service.pid() === undefined) throw new Error(`${ctx.name}: not running; start it before promoting it`);
    return withRoot(ctx, async (c) => {
      const [status] = await c.query<Row[]>('SHOW SLAVE STATUS');
      if (status.length > 0) {
        await c.query('STOP SLAVE IO_THREAD');
        const [[io]] = await c.query<Row[]>('SHOW SLAVE STATUS');
        const received = String(io?.Gtid_IO_Pos ?? '');
        if (received !== '') {
          const timeoutS = Math.max(1, Math.round((opts.applyTimeoutMs ?? 30_000) / 1000));
          const [[w]] = await c.query<Row[]>('SELECT MASTER_GTID_WAIT(?, ?) AS r', [received, timeoutS]);
          if (Number(w?.r) !== 0) {
            const [[now]] = await c.query<Row[]>('SELECT @@gtid_slave_pos AS pos');
            throw new Error(
              `${ctx.name}: relay log not applied within ${timeoutS}s (received ${received}, applied ${now?.pos}); ` +
                `not promoting. ${lastLines(ctx.logFile)}`,
            );
          }
        }
        await c.query('STOP SLAVE');
        await c.query('RESET SLAVE ALL');
      }
      await c.query('SET GLOBAL read_only = 0');
      writeState({ ...readState(), promoted_at: new Date().toISOString() });
      const [[pos]] = await c.query<Row[]>('SELECT @@gtid_current_pos AS pos');
      ctx.log(`promoted to a writable primary at GTID ${pos?.pos || '(empty)'}`);
      return { gtidPos: String(pos?.pos ?? '') };
    });
  }

  const service = {
    ...server.service,
    after: [primary.name],
    // Seeding reads the primary; a seeded (or promoted) replica starts without it.
    requires: () => (readState().seeded_at ? [] : [primary.name]),
    start,
    ready: ensureReplication,
    address: () => `127.0.0.1:${server.service.ports[0].port}`,
    endpoints: () => ({ mysqlReplicaUrl: localUrl(server.service.ports[0]) }),
  } satisfies StackService;
  return { ...service, promote };
}

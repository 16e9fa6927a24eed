// The MariaDB primary (server_id 1): what MySQL-source tests stream from. MYSQL_URL makes it external.
import type { ServiceContext, StackService } from '../../service';
import { envPort, envSet } from '../../shared/env';
import { DEMO_DBS, hostPort, withDatabase } from '../../shared/urls';
import { localUrl, mariadbServer, MYSQL_PASSWORD, MYSQL_USER, Row, withRoot } from './server';

export function mariadbPrimary(ctx: ServiceContext) {
  const server = mariadbServer(ctx, { port: envPort('SLUICE_MARIADB_PORT', 13306), serverId: 1 });
  const url = () => envSet('MYSQL_URL') ?? localUrl(server.service.ports[0]);

  /**
   * The sluice accounts and demo databases. Only what is missing is written: every statement
   * lands in the binlog, and a CDC source reading it should not see a GRANT per restart. ALL
   * PRIVILEGES in MariaDB 10.11 includes REPLICATION SLAVE, BINLOG MONITOR, REPLICATION SLAVE
   * ADMIN, SLAVE MONITOR and READ_ONLY ADMIN (what a binlog client and a replica need). root
   * keeps only its socket account, like postgres' local-only trust.
   */
  async function ensureAccounts(): Promise<void> {
    await withRoot(ctx, async (c) => {
      const [users] = await c.query<Row[]>('SELECT Host AS host FROM mysql.user WHERE User = ?', [MYSQL_USER]);
      const have = new Set(users.map((u) => String(u.host)));
      for (const host of ['%', '127.0.0.1', 'localhost'].filter((h) => !have.has(h))) {
        await c.query('CREATE USER ?@? IDENTIFIED BY ?', [MYSQL_USER, host, MYSQL_PASSWORD]);
        await c.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [MYSQL_USER, host]);
        ctx.log(`created user ${MYSQL_USER}@${host}`);
      }
      const [roots] = await c.query<Row[]>(
        "SELECT Host AS host FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'",
      );
      for (const r of roots) await c.query('DROP USER ?@?', ['root', String(r.host)]);
      const [dbs] = await c.query<Row[]>(
        'SELECT SCHEMA_NAME AS db FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)',
        [DEMO_DBS],
      );
      const haveDb = new Set(dbs.map((d) => String(d.db)));
      for (const db of DEMO_DBS.filter((d) => !haveDb.has(d))) {
        await c.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`);
        ctx.log(`created database ${db}`);
      }
    });
  }

  const service = {
    ...server.service,
    externalEnv: 'MYSQL_URL',
    start: () => server.launch([]),
    ready: ensureAccounts,
    address: () => hostPort(url(), 3306),
    endpoints: () => ({
      mysqlUrl: url(),
      mysqlDemoSourceUrl: withDatabase(url(), DEMO_DBS[0]),
      mysqlDemoDestUrl: withDatabase(url(), DEMO_DBS[1]),
    }),
  } satisfies StackService;
  /** socket: the local server's (the replica seeds from it as root). */
  return { ...service, socket: server.socket };
}

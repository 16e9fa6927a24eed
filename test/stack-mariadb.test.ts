// test-lane: exclusive (starts and removes the stack MariaDB pair; test/run.sh runs it alone)
// The optional MariaDB pair of the local stack: what the MySQL source and its failover acceptance
// test build on. Starts (and at the end removes) its own primary and replica in the run's
// SLUICE_HOME; the default stack test/run.sh started is left alone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as mysql from 'mysql2/promise';
import { LocalStack, MariadbEndpoints } from '../stack/stack';

type Row = mysql.RowDataPacket;

async function withConn<T>(url: string, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ uri: url, connectTimeout: 5000 });
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function one(url: string, sql: string, params: unknown[] = []): Promise<Row> {
  return withConn(url, async (c) => (await c.query<Row[]>(sql, params))[0][0]);
}

function parseGtid(pos: string): { domain: number; server: number; seq: number } {
  const m = /^(\d+)-(\d+)-(\d+)$/.exec(pos);
  assert.ok(m, `expected a single-domain GTID position, got ${JSON.stringify(pos)}`);
  return { domain: Number(m[1]), server: Number(m[2]), seq: Number(m[3]) };
}

describe(
  'local MariaDB primary and GTID replica',
  { skip: process.env.MYSQL_URL ? 'MYSQL_URL points at an external MariaDB' : false },
  () => {
    const stack = new LocalStack({ log: () => undefined });
    let ep: MariadbEndpoints;
    let db: string;

    /** Blocks until the replica has applied everything the primary has binlogged. */
    async function caughtUp(): Promise<string> {
      const { pos } = await one(ep.mysqlUrl, 'SELECT @@gtid_binlog_pos AS pos');
      const { r } = await one(ep.mysqlReplicaUrl, 'SELECT MASTER_GTID_WAIT(?, 20) AS r', [pos]);
      assert.equal(Number(r), 0, `replica did not reach ${pos} within 20s`);
      return String(pos);
    }

    before(async () => {
      // A previous run (or drill) may have left a promoted replica: start from a fresh pair.
      await stack.resetMariadb();
      await stack.startService('mariadb');
      ep = stack.mariadbEndpoints();
      db = ep.mysqlDemoSourceUrl;
      // Data that exists before the replica does: it has to arrive through the seed, not the binlog.
      await withConn(db, async (c) => {
        await c.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, price DECIMAL(10,2))');
        await c.query("INSERT INTO items VALUES (1, 'één', 1.10), (2, 'two', 2.20), (3, 'three', NULL)");
      });
      await stack.startService('mariadb-replica');
    });

    after(async () => {
      await stack.resetMariadb();
    });

    it(
      'the primary binlogs full-image ROW events with GTIDs in strict mode, ' + 'and the sluice account may read them',
      async () => {
        const v = await one(
          ep.mysqlUrl,
          'SELECT @@version AS version, @@log_bin AS log_bin, @@binlog_format AS format, @@binlog_row_image AS image, ' +
            '@@gtid_strict_mode AS strict, @@log_slave_updates AS lsu, @@server_id AS sid, @@character_set_server AS cs',
        );
        assert.match(String(v.version), /MariaDB/);
        assert.deepEqual(
          [Number(v.log_bin), v.format, v.image, Number(v.strict), Number(v.lsu), Number(v.sid), v.cs],
          [1, 'ROW', 'FULL', 1, 1, 1, 'utf8mb4'],
        );
        const grants = await withConn(ep.mysqlUrl, async (c) =>
          (await c.query<Row[]>('SHOW GRANTS'))[0].map((g) => String(Object.values(g)[0])),
        );
        assert.ok(
          grants.some((g) => /GRANT ALL PRIVILEGES ON \*\.\* TO `sluice`@.* WITH GRANT OPTION/.test(g)),
          grants.join('\n'),
        );
        // What a binlog client runs on connect.
        await withConn(ep.mysqlUrl, async (c) => {
          await c.query('SHOW BINARY LOGS');
          await c.query('SHOW MASTER STATUS');
        });
        const dbs = await withConn(ep.mysqlUrl, async (c) =>
          (await c.query<Row[]>('SHOW DATABASES'))[0].map((r) => r.Database),
        );
        for (const d of ['sluice_demo_source', 'sluice_demo_dest']) assert.ok(dbs.includes(d), `${d} missing`);
      },
    );

    it('the replica was seeded with the existing rows and follows new writes at the same GTID position', async () => {
      const r = await one(
        ep.mysqlReplicaUrl,
        'SELECT @@server_id AS sid, @@read_only AS ro, @@binlog_format AS format',
      );
      assert.deepEqual([Number(r.sid), Number(r.ro), r.format], [2, 1, 'ROW']);
      await withConn(db, async (c) => {
        await c.query("INSERT INTO items VALUES (4, 'four', 4.40)");
        await c.query("UPDATE items SET name = 'one' WHERE id = 1");
        await c.query('DELETE FROM items WHERE id = 2');
      });
      const pos = await caughtUp();
      const replicaDb = new URL(ep.mysqlReplicaUrl);
      replicaDb.pathname = '/sluice_demo_source';
      const rows = (u: string) =>
        withConn(u, async (c) => (await c.query<Row[]>('SELECT id, name, price FROM items ORDER BY id'))[0]);
      const expected = [
        { id: 1, name: 'one', price: '1.10' },
        { id: 3, name: 'three', price: null },
        { id: 4, name: 'four', price: '4.40' },
      ];
      assert.deepEqual(
        (await rows(db)).map((x) => ({ ...x })),
        expected,
      );
      assert.deepEqual(
        (await rows(replicaDb.toString())).map((x) => ({ ...x })),
        expected,
      );
      // log_slave_updates: the replica's own binlog carries the primary's GTIDs, so a CDC source
      // switched to it after a promotion finds the position it had reached.
      const rp = await one(ep.mysqlReplicaUrl, 'SELECT @@gtid_slave_pos AS slave, @@gtid_binlog_pos AS binlog');
      assert.equal(rp.slave, pos);
      assert.equal(rp.binlog, pos);
      assert.equal(parseGtid(pos).server, 1);
    });

    it('status reports both, and starting them again changes nothing', async () => {
      const before = (await stack.status()).filter((s) => s.name.startsWith('mariadb'));
      assert.deepEqual(
        before.map((s) => [s.name, s.state, s.healthy]),
        [
          ['mariadb', 'running', true],
          ['mariadb-replica', 'running', true],
        ],
      );
      await stack.startService('mariadb');
      await stack.startService('mariadb');
      await stack.startService('mariadb-replica');
      const again = (await stack.status()).filter((s) => s.name.startsWith('mariadb'));
      assert.deepEqual(
        again.map((s) => [s.name, s.state, s.pid]),
        before.map((s) => [s.name, s.state, s.pid]),
      );
      const st = await one(ep.mysqlReplicaUrl, 'SHOW SLAVE STATUS');
      assert.deepEqual([st.Slave_IO_Running, st.Slave_SQL_Running, st.Using_Gtid], ['Yes', 'Yes', 'Slave_Pos']);
    });

    it(
      'failover: with the primary stopped, the promoted replica takes writes ' + 'continuing the same GTID domain',
      async () => {
        // Written just before the primary goes away: promotion must not drop it.
        await withConn(db, (c) => c.query("INSERT INTO items VALUES (5, 'last before failover', 5.50)"));
        const { pos: last } = await one(ep.mysqlUrl, 'SELECT @@gtid_binlog_pos AS pos');
        await stack.stopService('mariadb');
        const status = await stack.status();
        assert.equal(status.find((s) => s.name === 'mariadb')?.state, 'stopped');
        assert.equal(status.find((s) => s.name === 'mariadb-replica')?.state, 'running');

        const { gtidPos } = await stack.promoteReplica();
        assert.equal(gtidPos, last);
        const replicaDb = new URL(ep.mysqlReplicaUrl);
        replicaDb.pathname = '/sluice_demo_source';
        await withConn(replicaDb.toString(), async (c) => {
          assert.equal(
            (await c.query<Row[]>('SELECT name FROM items WHERE id = 5'))[0][0]?.name,
            'last before failover',
          );
          await c.query("INSERT INTO items VALUES (6, 'after failover', 6.60)");
        });
        const after = await one(ep.mysqlReplicaUrl, 'SELECT @@gtid_binlog_pos AS pos, @@read_only AS ro');
        const [a, b] = [parseGtid(String(last)), parseGtid(String(after.pos))];
        assert.deepEqual(
          [b.domain, b.server, b.seq],
          [a.domain, 2, a.seq + 1],
          `after promotion ${after.pos} should continue ${last}`,
        );
        assert.equal(Number(after.ro), 0);
        assert.equal(await one(ep.mysqlReplicaUrl, 'SHOW SLAVE STATUS'), undefined);

        // Promotion survives a restart: still writable, still not replicating; promoting again is a no-op.
        await stack.stopService('mariadb-replica');
        await stack.startService('mariadb-replica');
        const restarted = await one(ep.mysqlReplicaUrl, 'SELECT @@read_only AS ro, @@gtid_binlog_pos AS pos');
        assert.deepEqual([Number(restarted.ro), restarted.pos], [0, after.pos]);
        assert.equal((await stack.promoteReplica()).gtidPos, after.pos);
      },
    );
  },
);

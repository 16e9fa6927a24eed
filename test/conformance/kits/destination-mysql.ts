import { rowsOf } from '../../dataplane/harness';
import { freshMysqlDatabase, mysqlQuery } from '../../mysql-helpers';
import { DestinationKit, stackMariadb } from '.';

export const destinationMysql: DestinationKit = {
  kind: 'mysql',
  database: async (stoppable) => ({
    url: await freshMysqlDatabase('dst'),
    outage: stoppable ? stackMariadb : undefined,
    destroy: async () => {
      await stackMariadb.start().catch(() => undefined);
    },
  }),
  rows: (url, table, cols, key, where) => rowsOf(url, table, cols, key, where),
  rejectNegative: async (url) => {
    // Strict mode: a note longer than the column is an error (1406), never truncated; 4025 is MariaDB's failed CHECK.
    await mysqlQuery(
      url,
      'CREATE TABLE events (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(10), CONSTRAINT v_nonneg CHECK (v >= 0))',
    );
    return {
      rejects: (r) => r.v < 0 || r.note.length > 10,
      errorClasses: ['mysql_1406', 'mysql_4025'],
      accept: async () => {
        await mysqlQuery(url, 'ALTER TABLE events DROP CONSTRAINT v_nonneg, MODIFY note VARCHAR(100)');
      },
    };
  },
  truncate: async (url, table) => {
    await mysqlQuery(url, `DELETE FROM \`${table}\``);
  },
};

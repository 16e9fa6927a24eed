import { q, rowsOf } from '../../dataplane/harness';
import { DestinationKit, pgDatabase } from '.';

export const destinationPostgresql: DestinationKit = {
  kind: 'postgresql',
  database: (stoppable) => pgDatabase('dst', stoppable),
  rows: (url, table, cols, key, where) => rowsOf(url, table, cols, key, where),
  rejectNegative: async (url) => {
    await q(
      url,
      `CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL CONSTRAINT events_v_check CHECK (v >= 0), note text)`,
    );
    return {
      rejects: (r) => r.v < 0,
      errorClasses: ['pg_23514'],
      accept: async () => {
        await q(url, `ALTER TABLE events DROP CONSTRAINT events_v_check`);
      },
    };
  },
  truncate: async (url, table) => {
    await q(url, `DELETE FROM ${table}`);
  },
};

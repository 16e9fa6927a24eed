// What the conformance suite needs to know about each connector kind to run the same scenarios over
// every (source, destination) pair: how to get a fresh database (or one whose server a test may stop),
// the scenario tables' DDL, how to make a destination reject a record, and how to read a
// destination's data back for the comparison with the source. A new destination kind joins the suite
// with a DestinationKit here and a row in matrix.ts.
import { freshDatabase } from '../helpers';
import { freshMysqlDatabase, mariadbStack, mysqlQuery } from '../mysql-helpers';
import { q, rowsOf } from '../dataplane/harness';
import { PgInstance } from '../dataplane/pg-instance';

/** Rows a destination rejects for the poison scenario (f). */
export interface Rejection { rejects: (row: { v: number; note: string }) => boolean; errorClasses: string[]; accept: () => Promise<void> }

/** Something a scenario can stop and start (a database server). */
export interface Outage { stop(): Promise<void>; start(): Promise<void> }

/** A database for one test: its URL, and a way to stop its server when `outage` is set (own server, or the stack's MariaDB). */
export interface Database { url: string; outage?: Outage; destroy(): Promise<void> }

export interface SourceKit {
  kind: 'postgresql' | 'mysql';
  /** The scenario tables: `events(id, v, note)` with a generated key, `big(id, v, note)` with a given key. */
  ddl: { events: string; big: string };
  /** A fresh database; `stoppable`: on a server the test may stop (outage scenarios). */
  database(stoppable: boolean): Promise<Database>;
  /** The source's schema name for the tables (Postgres schema, MySQL database). */
  schemaOf(url: string): string;
}

export interface DestinationKit {
  kind: string;
  /** A fresh destination and the config the API gets for it; `stoppable` as for sources. */
  database(stoppable: boolean): Promise<Database & { config?: Record<string, unknown> }>;
  /** Rows of a destination table as text, ordered by `key`, in the form rowsOf gives for the source. */
  rows(url: string, table: string, cols: string[], key: string, where: string): Promise<Record<string, string | null>[]>;
  /**
   * Creates `events` so that the destination rejects some rows the source accepts (at least those
   * with a negative `v`): which rows, the DLQ error classes that gives, and how to accept them all.
   */
  rejectNegative(url: string): Promise<Rejection>;
  /** Empties a destination table (a snapshot then fills it again). */
  truncate(url: string, table: string): Promise<void>;
}

const mysqlSchema = (url: string) => new URL(url).pathname.slice(1);

/** The test stack's MariaDB primary, shared by every MySQL test of the run: stopping it is an outage of all of them. */
const stackMariadb: Outage = { stop: () => mariadbStack.stopService('mariadb'), start: () => mariadbStack.startService('mariadb') };

async function pgDatabase(prefix: string, stoppable: boolean): Promise<Database> {
  if (!stoppable) return { url: await freshDatabase(prefix), destroy: async () => undefined };
  const inst = await PgInstance.withDatabase(prefix);
  return { url: inst.urlFor(prefix), outage: inst, destroy: () => inst.destroy() };
}

export const sources: Record<'postgresql' | 'mysql', SourceKit> = {
  postgresql: {
    kind: 'postgresql',
    ddl: {
      events: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);',
      big: 'CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, note text);',
    },
    database: (stoppable) => pgDatabase('src', stoppable),
    schemaOf: () => 'public',
  },
  mysql: {
    kind: 'mysql',
    ddl: {
      events: 'CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, v int NOT NULL, note varchar(100));',
      big: 'CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, note varchar(100));',
    },
    database: async (stoppable) => ({ url: await freshMysqlDatabase('src'), outage: stoppable ? stackMariadb : undefined, destroy: async () => { await stackMariadb.start().catch(() => undefined); } }),
    schemaOf: mysqlSchema,
  },
};

export const destinations: Record<string, DestinationKit> = {
  postgresql: {
    kind: 'postgresql',
    database: (stoppable) => pgDatabase('dst', stoppable),
    rows: (url, table, cols, key, where) => rowsOf(url, table, cols, key, where),
    rejectNegative: async (url) => {
      await q(url, `CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL CONSTRAINT events_v_check CHECK (v >= 0), note text)`);
      return { rejects: (r) => r.v < 0, errorClasses: ['pg_23514'], accept: async () => { await q(url, `ALTER TABLE events DROP CONSTRAINT events_v_check`); } };
    },
    truncate: async (url, table) => { await q(url, `DELETE FROM ${table}`); },
  },
  mysql: {
    kind: 'mysql',
    database: async (stoppable) => ({ url: await freshMysqlDatabase('dst'), outage: stoppable ? stackMariadb : undefined, destroy: async () => { await stackMariadb.start().catch(() => undefined); } }),
    rows: (url, table, cols, key, where) => rowsOf(url, table, cols, key, where),
    rejectNegative: async (url) => {
      // Strict mode: a note longer than the column is an error (1406), never truncated; 4025 is MariaDB's failed CHECK.
      await mysqlQuery(url, 'CREATE TABLE events (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(10), CONSTRAINT v_nonneg CHECK (v >= 0))');
      return {
        rejects: (r) => r.v < 0 || r.note.length > 10, errorClasses: ['mysql_1406', 'mysql_4025'],
        accept: async () => { await mysqlQuery(url, 'ALTER TABLE events DROP CONSTRAINT v_nonneg, MODIFY note VARCHAR(100)'); },
      };
    },
    truncate: async (url, table) => { await mysqlQuery(url, `DELETE FROM \`${table}\``); },
  },
};

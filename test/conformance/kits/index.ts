// What the conformance suite needs to know about each connector kind to run the same scenarios over
// every (source, destination) pair: how to get a fresh database (or one whose server a test may stop),
// the scenario tables' DDL, how to make a destination reject a record, and how to read a
// destination's data back for the comparison with the source. A new destination kind joins the suite
// with a DestinationKit in a file of its own here (kits/<category>-<kind>.ts) and a row in matrix.ts.
import { freshDatabase } from '../../helpers';
import { mariadbStack } from '../../mysql-helpers';
import { PgInstance } from '../../dataplane/pg-instance';

/**
 * Rows a destination rejects for the poison scenario (f). A destination that takes any row (a
 * bucket, a topic) says so with REJECTS_NOTHING: the transform's poison records still go to the DLQ.
 */
export interface Rejection {
  rejects: (row: { v: number; note: string }) => boolean;
  errorClasses: string[];
  accept: () => Promise<void>;
}

export const REJECTS_NOTHING: Rejection = { rejects: () => false, errorClasses: [], accept: async () => undefined };

/** Something a scenario can stop and start (a database server). */
export interface Outage {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A database for one test: its URL, and a way to stop its server when `outage` is set (own server, or the stack's MariaDB). */
export interface Database {
  url: string;
  outage?: Outage;
  destroy(): Promise<void>;
}

export interface SourceKit {
  kind: 'postgresql' | 'mysql';
  /** The scenario tables: `events(id, v, note)` with a generated key, `big(id, v, note)` with a given key. */
  ddl: { events: string; big: string };
  /** A fresh database; `stoppable`: on a server the test may stop (outage scenarios). */
  database(stoppable: boolean): Promise<Database>;
  /** The source's schema name for the tables (Postgres schema, MySQL database). */
  schemaOf(url: string): string;
  /** DDL of the schema-change scenario in the source's dialect: table `sc` and the changes made to it. */
  schema: {
    table: string;
    add(column: string): string;
    drop(column: string): string;
    rename(from: string, to: string): string;
    /** `v` from int to bigint. */
    widen: string;
    /** `price` from numeric(10,2) to numeric(6,1): values change, incompatible. */
    narrow: string;
    /** Statements run in one transaction with the DDL (Postgres), or right around it (MySQL: DDL commits implicitly). */
    transaction(statements: string[]): string;
  };
}

export interface DestinationKit {
  kind: string;
  /** A fresh destination and the config the API gets for it; `stoppable` as for sources. */
  database(stoppable: boolean): Promise<Database & { config?: Record<string, unknown> }>;
  /** Rows of a destination table as text, ordered by `key`, in the form rowsOf gives for the source. */
  rows(
    url: string,
    table: string,
    cols: string[],
    key: string,
    where: string,
  ): Promise<Record<string, string | null>[]>;
  /**
   * Creates `events` so that the destination rejects some rows the source accepts (at least those
   * with a negative `v`): which rows, the DLQ error classes that gives, and how to accept them all;
   * REJECTS_NOTHING for a destination that cannot reject a row.
   */
  rejectNegative(url: string): Promise<Rejection>;
  /** Empties a destination table (a snapshot then fills it again); absent when the kind cannot (no d2 then). */
  truncate?(url: string, table: string): Promise<void>;
}

/** The test stack's MariaDB primary, shared by every MySQL test of the run: stopping it is an outage of all of them. */
export const stackMariadb: Outage = {
  stop: () => mariadbStack.stopService('mariadb'),
  start: () => mariadbStack.startService('mariadb'),
};

/** A fresh database on the test stack's Postgres, or (stoppable) on a Postgres server of its own. */
export async function pgDatabase(prefix: string, stoppable: boolean): Promise<Database> {
  if (!stoppable) return { url: await freshDatabase(prefix), destroy: async () => undefined };
  const inst = await PgInstance.withDatabase(prefix);
  return { url: inst.urlFor(prefix), outage: inst, destroy: () => inst.destroy() };
}

import type { ClientConfig } from 'pg';
import { isNetworkError } from './network';

/** What every Postgres connector (source or destination) connects with. */
export interface DbConnConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  tls_mode?: string;
}

/** node-postgres settings for a connector; sessions use fixed text formats so values round-trip. */
export function pgClientConfig(c: DbConnConfig, extra: Partial<ClientConfig> = {}): ClientConfig {
  const ssl =
    c.tls_mode === 'require'
      ? { rejectUnauthorized: false }
      : c.tls_mode === 'verify-ca' || c.tls_mode === 'verify-full'
        ? { rejectUnauthorized: true }
        : false;
  return {
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    password: c.password,
    ssl,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
    // A stalled network must surface as an error, never as a hang.
    query_timeout: Number(process.env.SLUICE_DB_QUERY_TIMEOUT_MS ?? 30000),
    options:
      '-c DateStyle=ISO,MDY -c TimeZone=UTC -c extra_float_digits=3 -c bytea_output=hex -c IntervalStyle=postgres',
    ...extra,
  };
}

export const quoteIdent = (s: string) => '"' + s.replace(/"/g, '""') + '"';
export const qualified = (schema: string, table: string) => `${quoteIdent(schema)}.${quoteIdent(table)}`;

/** Messages of node-postgres errors without a SQLSTATE that mean the connection, not the statement, failed. */
const TRANSIENT_MESSAGE = new RegExp(
  [
    'Connection terminated',
    'not queryable',
    'Client has encountered a connection error',
    'terminating connection',
    'the database system is (starting up|shutting down)',
    'stream idle',
    'Pool is closed',
  ].join('|'),
  'i',
);
/** node-postgres errors that mean "the server is not reachable now", as opposed to a statement the server rejects. */
export function isPgConnectionError(e: unknown): boolean {
  if (isNetworkError(e)) return true;
  const err = e as { code?: string; message?: string };
  if (/^(08|57P0|53|58)/.test(err?.code ?? '')) return true; // connection exception, admin shutdown, resources, system
  return TRANSIENT_MESSAGE.test(String(err?.message ?? ''));
}

/** One client for a short job (a row count, a catalog read); its socket errors surface on the queries. */
export async function openPgClient(cfg: DbConnConfig): Promise<import('pg').Client> {
  const { Client } = require('pg') as typeof import('pg');
  const c = new Client(pgClientConfig(cfg));
  c.on('error', () => undefined);
  try {
    await c.connect();
  } catch (e) {
    await c.end().catch(() => undefined);
    throw e;
  }
  return c;
}

import { Pool } from 'pg';
import { migrateUrl } from '../migrations';

/**
 * The data plane's handle on the control DB: plain SQL on a small pool (the worker reads pipelines
 * and connectors, and writes runtime state, snapshot progress, DLQ records and source positions).
 */
export interface ControlDb {
  query(sql: string, params?: unknown[]): Promise<any[]>;
}

export interface ControlDbPool extends ControlDb {
  close(): Promise<void>;
}

/** Migrates the control DB (a worker may start before any API on a fresh one), then opens the pool. */
export async function openControlDb(
  url: string,
  opts: { poolSize?: number; applicationName?: string; migrate?: boolean } = {},
): Promise<ControlDbPool> {
  if (opts.migrate !== false) await migrateUrl(url);
  const pool = new Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 10000,
    application_name: opts.applicationName ?? 'sluice-worker',
  });
  pool.on('error', () => undefined);
  return {
    query: async (sql, params) => (await pool.query(sql, params as unknown[])).rows,
    close: () => pool.end().catch(() => undefined),
  };
}

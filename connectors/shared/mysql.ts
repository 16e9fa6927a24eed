import type * as mysql from 'mysql2/promise';
import { isNetworkError } from './network';

/** What every MySQL / MariaDB connector connects with; `database` is absent for a source (it names several). */
export interface MysqlConnConfig {
  host: string;
  port: number;
  user: string;
  password?: string;
  tls_mode?: string;
  database?: string;
}

/**
 * mysql2 settings for a connector, without a default database (it may not exist yet). TLS modes as for
 * Postgres; `prefer` connects without TLS (mysql2 has no opportunistic mode). Values come back as text
 * where a number would lose digits (decimals, dates, big integers).
 */
export function mysqlConnectionOptions(c: MysqlConnConfig): mysql.ConnectionOptions {
  const ssl =
    c.tls_mode === 'require'
      ? { rejectUnauthorized: false }
      : c.tls_mode === 'verify-ca' || c.tls_mode === 'verify-full'
        ? { rejectUnauthorized: true }
        : undefined;
  return {
    host: c.host,
    port: c.port,
    user: c.user,
    password: c.password,
    ssl,
    charset: 'utf8mb4',
    connectTimeout: 5000,
    dateStrings: true,
    timezone: 'Z',
  };
}

export const quoteMysqlIdent = (s: string) => '`' + s.replace(/`/g, '``') + '`';

/** Server error numbers that mean "not reachable now": too many connections, shutdown, network read/write errors, connection killed (MariaDB 1927). */
const MYSQL_UNREACHABLE = new Set([1040, 1053, 1158, 1159, 1160, 1161, 1203, 1927]);

/** mysql2 errors that mean "the server is not reachable now", as opposed to a statement the server rejects. */
export function isMysqlConnectionError(e: unknown): boolean {
  if (isNetworkError(e)) return true;
  const err = e as { code?: string; message?: string; fatal?: unknown; errno?: unknown; sqlState?: unknown };
  if (
    /^PROTOCOL_(CONNECTION_LOST|SEQUENCE_TIMEOUT|ENQUEUE_AFTER_FATAL_ERROR|ENQUEUE_AFTER_QUIT)$/.test(err?.code ?? '')
  )
    return true;
  // mysql2 flags every connection-level failure as `fatal`.
  if (err?.fatal === true) return true;
  // mysql2's `code` names follow MySQL's table, which MariaDB's numbers leave above 1900: match the number.
  if (typeof err?.errno === 'number' && err.sqlState !== undefined && MYSQL_UNREACHABLE.has(err.errno)) return true;
  return /Query read timeout|Connection lost|connection is in closed state|Pool is closed/i.test(
    String(err?.message ?? ''),
  );
}

/** One connection for a short job (a row count, a catalog read): big numbers as text, a bounded query time. */
export async function openMysqlQuery(
  cfg: MysqlConnConfig,
): Promise<{ rows(sql: string, params?: unknown[]): Promise<Record<string, any>[]>; close(): Promise<void> }> {
  const mysql = require('mysql2/promise') as typeof import('mysql2/promise');
  const c = await mysql.createConnection({
    ...mysqlConnectionOptions(cfg),
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  c.on('error', () => undefined);
  return {
    rows: async (sql, params = []) => (await c.query({ sql, timeout: 30000 }, params))[0] as Record<string, any>[],
    close: async () => {
      await c.end().catch(() => undefined);
    },
  };
}

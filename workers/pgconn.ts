import { ClientConfig } from 'pg';

export interface DbConnConfig { host: string; port: number; database: string; user: string; password?: string; tls_mode?: string }

/** node-postgres settings for a connector; sessions use fixed text formats so values round-trip. */
export function pgClientConfig(c: DbConnConfig, extra: Partial<ClientConfig> = {}): ClientConfig {
  const ssl = c.tls_mode === 'require' ? { rejectUnauthorized: false } : c.tls_mode === 'verify-ca' || c.tls_mode === 'verify-full' ? { rejectUnauthorized: true } : false;
  return {
    host: c.host, port: c.port, database: c.database, user: c.user, password: c.password, ssl,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
    // A stalled network must surface as an error, never as a hang.
    query_timeout: Number(process.env.SLUICE_DB_QUERY_TIMEOUT_MS ?? 30000),
    options: '-c DateStyle=ISO,MDY -c TimeZone=UTC -c extra_float_digits=3 -c bytea_output=hex -c IntervalStyle=postgres',
    ...extra,
  };
}

const MYSQL_UNREACHABLE = new Set([1040, 1053, 1158, 1159, 1160, 1161, 1203, 1927]);

/** Errors that mean "the server is not reachable now", as opposed to a record the server rejects. */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  const code = err?.code ?? '';
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/.test(code)) return true;
  if (/^(08|57P0|53|58)/.test(code)) return true; // connection exception, admin shutdown, resources, system
  // mysql2 (MySQL / MariaDB): lost or timed-out connections; mysql2 flags every connection-level failure as `fatal`.
  if (/^PROTOCOL_(CONNECTION_LOST|SEQUENCE_TIMEOUT|ENQUEUE_AFTER_FATAL_ERROR|ENQUEUE_AFTER_QUIT)$/.test(code)) return true;
  if ((err as { fatal?: unknown })?.fatal === true) return true;
  // Server error numbers (mysql2's `code` names follow MySQL's table, which MariaDB's leaves above 1900):
  // too many connections, shutdown in progress, network read/write errors, connection killed (MariaDB 1927).
  const errno = (err as { errno?: unknown; sqlState?: unknown })?.errno;
  if (typeof errno === 'number' && (err as { sqlState?: unknown }).sqlState !== undefined && MYSQL_UNREACHABLE.has(errno)) return true;
  const m = String(err?.message ?? '');
  return /Connection terminated|connection timeout|timeout expired|not queryable|Client has encountered a connection error|terminating connection|the database system is (starting up|shutting down)|socket hang up|write after end|Query read timeout|stream idle|Connection lost|connection is in closed state|Pool is closed/i.test(m);
}

export const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  if (signal?.aborted) return resolve();
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); resolve(); };
  signal?.addEventListener('abort', onAbort, { once: true });
});

export function backoff(attempt: number, initial: number, max: number): number {
  const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + Math.random() * (base / 2)); // "equal jitter"
}

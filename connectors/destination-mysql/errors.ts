/**
 * DLQ error class of a MySQL / MariaDB error: `mysql_<server error number>` (e.g. mysql_1406, data
 * too long). The number, not mysql2's code name: those follow MySQL's numbering, which misnames
 * MariaDB's own errors (4025 is a CHECK failure there).
 */
export function mysqlErrorClass(e: unknown): string {
  const err = e as { errno?: number; sqlState?: string };
  return typeof err?.errno === 'number' && err.sqlState ? `mysql_${err.errno}` : (e as Error)?.name || 'Error';
}

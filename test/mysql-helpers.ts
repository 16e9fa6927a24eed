// MariaDB for the MySQL source/destination tests: the test stack's optional primary (and replica),
// started once per run on first use, plus a fresh database per test file.
import crypto from 'node:crypto';
import * as mysql from 'mysql2/promise';
import { LocalStack, MariadbEndpoints } from '../stack/stack';

export const mariadbStack = new LocalStack({ log: () => undefined });
let started: Promise<MariadbEndpoints> | null = null;

/** Starts the stack's MariaDB primary unless it runs already (or MYSQL_URL points elsewhere). */
export function startMariadb(): Promise<MariadbEndpoints> {
  started ??= (async () => {
    if (!process.env.MYSQL_URL) await mariadbStack.startService('mariadb');
    return mariadbStack.mariadbEndpoints();
  })();
  return started;
}

export function mysqlUrlWithDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + database;
  return u.toString();
}

/** Creates `<prefix>_<random>` on the MariaDB primary and returns its URL. */
export async function freshMysqlDatabase(prefix: string): Promise<string> {
  const ep = await startMariadb();
  const name = `${prefix}_${crypto.randomBytes(4).toString('hex')}`;
  await mysqlQuery(ep.mysqlUrl, `CREATE DATABASE \`${name}\``);
  return mysqlUrlWithDatabase(ep.mysqlUrl, name);
}

/** One statement on a short-lived connection (multiple statements allowed). */
export async function mysqlQuery<T = any>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = await mysql.createConnection({
    uri: url,
    connectTimeout: 5000,
    multipleStatements: true,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  try {
    const [rows] = await c.query(sql, params);
    return rows as T[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

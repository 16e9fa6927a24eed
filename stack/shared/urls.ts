// Service URLs: what the database services hand out and what status shows of external ones.

/** The demo source and destination databases each database service of the stack creates. */
export const DEMO_DBS = ['sluice_demo_source', 'sluice_demo_dest'] as const;

/** Same server, different database: how the demo URLs are derived from a server URL. */
export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** host:port of a URL, without credentials (what status shows of an external service). */
export function hostPort(url: string, defaultPort: number): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || defaultPort}`;
  } catch {
    return '(unparseable URL)';
  }
}

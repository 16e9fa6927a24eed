import path from 'node:path';

/** Every setting Sluice reads from the environment; README's Configuration table lists the same. */
export interface SluiceConfig {
  home: string;
  apiHost: string;
  apiPort: number;
  databaseUrl: string;
  redisUrl: string;
  kafkaBrokers: string[];
  bootstrapToken?: string;
  secretKey?: string;
  logLevel: string;
  bodyLimit: string;
  /** Public base URL of the API/console, for links in alert notifications. */
  consoleUrl?: string;
  authFailuresMax: number;
  authFailuresWindowMs: number;
}

export function repoRoot(): string {
  // dist/api/config.js or api/config.ts: two levels up either way once compiled.
  return path.resolve(__dirname, '..', '..');
}

export function sluiceHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.SLUICE_HOME ?? path.join(repoRoot(), '.sluice'));
}

/** Defaults point at the local stack (stack/), so `sluice api` works next to `sluice dev`. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SluiceConfig {
  const pgPort = env.SLUICE_PG_PORT ?? '15432';
  return {
    home: sluiceHome(env),
    apiHost: env.SLUICE_API_HOST ?? '127.0.0.1',
    apiPort: Number(env.SLUICE_API_PORT ?? 8080),
    databaseUrl: env.DATABASE_URL ?? `postgres://sluice:sluice@127.0.0.1:${pgPort}/sluice`,
    redisUrl: env.REDIS_URL ?? `redis://127.0.0.1:${env.SLUICE_REDIS_PORT ?? '16379'}`,
    kafkaBrokers: (env.KAFKA_BROKERS ?? `127.0.0.1:${env.SLUICE_KAFKA_PORT ?? '19092'}`)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    bootstrapToken: env.SLUICE_BOOTSTRAP_TOKEN || undefined,
    secretKey: env.SLUICE_SECRET_KEY || undefined,
    logLevel: env.SLUICE_LOG_LEVEL ?? 'info',
    bodyLimit: env.SLUICE_BODY_LIMIT ?? '1mb',
    consoleUrl: env.SLUICE_CONSOLE_URL || undefined,
    authFailuresMax: Number(env.SLUICE_AUTH_FAILURES_MAX ?? 20),
    authFailuresWindowMs: Number(env.SLUICE_AUTH_FAILURES_WINDOW_MS ?? 60_000),
  };
}

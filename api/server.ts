import http from 'node:http';
import { AddressInfo } from 'node:net';
import { DestinationStream, Logger } from 'pino';
import { DataSource } from 'typeorm';
import { createApp } from './app';
import { ensureBootstrapToken } from './auth';
import { loadConfig, SluiceConfig } from '../core/config';
import { openControlDb } from './db';
import { createLogger } from '../core/log';
import { Readiness } from './readiness';
import { ReadModel } from './read-model';
import { ChangeFeed } from './change-feed';
import { SecretBox } from '../core/secrets';
import { AlertEngine } from './alerts/engine';
import { verifyPipeline } from './routes/operations';

export interface RunningApi {
  url: string;
  port: number;
  alerts: AlertEngine;
  ds: DataSource;
  log: Logger;
  changes: ChangeFeed;
  tokenFile?: string;
  close(): Promise<void>;
}

/** Opens the control DB (migrating it), makes sure an admin token exists, and serves the API. */
export async function startApi(
  overrides: Partial<SluiceConfig> = {},
  logDestination?: DestinationStream,
): Promise<RunningApi> {
  const cfg = { ...loadConfig(), ...overrides };
  const log = createLogger(cfg.logLevel, logDestination);
  const ds = await openControlDb(cfg.databaseUrl);
  const { tokenFile } = await ensureBootstrapToken(ds, cfg.home, cfg.bootstrapToken);
  const secrets = SecretBox.load(cfg.home, cfg.secretKey);
  const readiness = new Readiness(ds, cfg.redisUrl, cfg.kafkaBrokers);
  const changes = new ChangeFeed(cfg.databaseUrl, log);
  await changes.start();
  let selfUrl = '';
  const appCtx = {
    ds,
    secrets,
    log,
    readiness,
    reads: new ReadModel(ds, changes),
    changes,
    bodyLimit: cfg.bodyLimit,
    selfUrl: () => selfUrl,
    authFailures: { max: cfg.authFailuresMax, windowMs: cfg.authFailuresWindowMs },
  };
  const app = createApp(appCtx);
  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.apiPort, cfg.apiHost, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${cfg.apiHost}:${port}`;
  // The console calls this process's own /v1 routes over loopback.
  selfUrl = `http://${['0.0.0.0', '::', ''].includes(cfg.apiHost) ? '127.0.0.1' : cfg.apiHost.includes(':') ? `[${cfg.apiHost}]` : cfg.apiHost}:${port}`;
  const alerts = new AlertEngine({
    databaseUrl: cfg.databaseUrl,
    secrets,
    log: log.child({ component: 'alerts' }),
    verify: (id) => verifyPipeline(appCtx, id),
    consoleUrl: cfg.consoleUrl,
  });
  alerts.start();
  log.info({ url, console: `${url}/console` }, 'api listening');
  return {
    url,
    port,
    ds,
    log,
    tokenFile,
    changes,
    alerts,
    async close() {
      await alerts.close();
      server.closeIdleConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await readiness.close();
      await changes.close();
      await ds.destroy();
    },
  };
}

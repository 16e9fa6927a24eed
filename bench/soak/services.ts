import fs from 'node:fs';
import { LocalStack } from '../../stack/stack';
import { q, Setup, setupPipeline, sleep, stopWorker } from '../../test/dataplane/harness';
import { PgInstance } from '../../test/dataplane/pg-instance';
import { TcpProxy } from '../../test/dataplane/tcp-proxy';
import { startTestApi, TestApi } from '../../test/helpers';
import { SoakServices, WorkerPool } from './faults';
import { ITEMS_DDL, PROBE_DDL } from './load';

export interface SoakPipeline {
  name: 'postgres' | 'mariadb';
  s: Setup;
}

export interface SoakSetup extends SoakServices {
  api: TestApi;
  pipelines: SoakPipeline[];
  /** The pipeline's status as the API reports it. */
  status(s: Setup): Promise<any>;
  /** Stops what setup started, in reverse order (`keep`: the stack's services stay up). */
  close(keep: boolean): Promise<void>;
}

/**
 * Everything the soak runs on, all its own: the local stack's Postgres (control DB), Redis, Kafka and
 * MariaDB under $SLUICE_HOME (wiped first, so runs are comparable), a source and a destination
 * Postgres, a TCP proxy in front of each database the workers use, one API, two workers and two
 * pipelines (Postgres -> Postgres, MariaDB -> Postgres) that are Active.
 */
export async function startSoakServices(
  log: (line: string) => void,
  stackLog: (line: string) => void,
): Promise<SoakSetup> {
  const home = process.env.SLUICE_HOME!;
  const stack = new LocalStack({ home, log: stackLog });
  const undo: (() => Promise<unknown>)[] = [];
  const close = async (keep: boolean) => {
    for (const f of undo.reverse()) await f().catch((e) => log(`cleanup: ${(e as Error).message}`));
    if (!keep) await stack.stop().catch((e) => log(`cleanup: ${(e as Error).message}`));
  };
  try {
    await stack.stop();
    fs.rmSync(home, { recursive: true, force: true });
    await stack.start();
    await stack.startService('mariadb');
    const [sourcePostgres, destination] = await Promise.all(
      ['soak', 'soak_pg'].map((db) => PgInstance.withDatabase(db)),
    );
    undo.push(
      () => sourcePostgres.destroy(),
      () => destination.destroy(),
    );
    await q(destination.url, 'CREATE DATABASE soak_my');
    const mariadbPort = Number(new URL(stack.mariadbEndpoints().mysqlUrl).port);
    const proxies = [sourcePostgres.port, mariadbPort, destination.port].map((port) => new TcpProxy(port));
    for (const p of proxies) {
      await p.start();
      undo.push(() => p.close());
    }
    const [srcProxy, myProxy, dstProxy] = proxies.map((p) => ({ host: '127.0.0.1', port: p.port }));

    const api = await startTestApi({ config: { logLevel: 'warn' } });
    undo.push(() => api.close());
    const probe = `${PROBE_DDL}; INSERT INTO soak_probe (id, seq) VALUES (1, 0)`;
    const pg = await setupPipeline({
      api,
      ddl: `${ITEMS_DDL.postgresql}; ${probe}`,
      srcUrl: sourcePostgres.urlFor('soak'),
      srcHostPort: srcProxy,
      dstUrl: destination.urlFor('soak_pg'),
      dstHostPort: dstProxy,
    });
    const my = await setupPipeline({
      api,
      sourceKind: 'mysql',
      ddl: `${ITEMS_DDL.mysql}; ${probe}`,
      srcHostPort: myProxy,
      dstUrl: destination.urlFor('soak_my'),
      dstHostPort: dstProxy,
    });
    const pipelines: SoakPipeline[] = [
      { name: 'postgres', s: pg },
      { name: 'mariadb', s: my },
    ];
    const status = async (s: Setup) => (await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/status`)).body;

    // Shorter idle/query timeouts than the defaults (30 s), so a stalled link is noticed within the stall.
    const workers = new WorkerPool(api, {
      SLUICE_SOURCE_IDLE_TIMEOUT_MS: '8000',
      SLUICE_DB_QUERY_TIMEOUT_MS: '8000',
      SLUICE_LOG_LEVEL: 'info',
    });
    undo.push(async () => {
      for (const w of workers.all) await stopWorker(w, 'SIGKILL').catch(() => undefined);
    });
    workers.spawn();
    workers.spawn();
    for (const p of pipelines) {
      const end = Date.now() + 120_000;
      while ((await status(p.s)).state !== 'Active') {
        if (Date.now() > end)
          throw new Error(`soak pipeline ${p.name}: not Active within 120 s: ${JSON.stringify(await status(p.s))}`);
        await sleep(500);
      }
    }
    // status.worker_id is `<host>:<pid>:<tag>`.
    const holders = async () =>
      (await Promise.all(pipelines.map((p) => status(p.s))))
        .map((st) => Number(String(st.worker_id ?? '').split(':')[1]))
        .filter(Boolean);
    return { stack, sourcePostgres, destination, proxies, workers, holders, api, pipelines, status, close };
  } catch (e) {
    await close(false);
    throw e;
  }
}

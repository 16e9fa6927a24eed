// e. A network cut (connections reset, new ones refused) and a stall (nothing moves for 10 s)
// between the worker and both databases, through TCP proxies: retries, recovers, nothing lost.
import { test } from 'node:test';
import { TcpProxy } from '../dataplane/tcp-proxy';
import { onRow } from './conformance';
import { rowsWith } from './matrix';
import { networkCutAndStall } from './scenarios';

for (const row of rowsWith('e')) {
  const proxies: TcpProxy[] = [];
  onRow(
    row,
    {
      workerEnv: { SLUICE_SOURCE_IDLE_TIMEOUT_MS: '4000', SLUICE_DB_QUERY_TIMEOUT_MS: '4000' },
      // One proxy in front of each database's server (the stack's Postgres or MariaDB), whatever the kinds.
      prepare: async ({ src, dst }) => {
        for (const url of [src.url, dst.url]) {
          const p = new TcpProxy(Number(new URL(url).port));
          await p.start();
          proxies.push(p);
        }
        return {
          srcHostPort: { host: '127.0.0.1', port: proxies[0].port },
          dstHostPort: { host: '127.0.0.1', port: proxies[1].port },
        };
      },
    },
    (run) => {
      test('e. network cut and stall between worker and databases: retries and recovers', async () => {
        try {
          await networkCutAndStall(run().s, proxies);
        } finally {
          for (const p of proxies) await p.close();
        }
      });
    },
  );
}

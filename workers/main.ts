/** Standalone worker entry (`node dist/workers/main.js`): what `sluice worker` runs; tests spawn it as a real process. */
import { loadConfig } from '../core/config';
import { createLogger } from '../core/log';
import { runWorker } from './index';

const cfg = loadConfig();
const log = createLogger(cfg.logLevel).child({ component: 'worker', pid: process.pid });
const ac = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.on(sig, () => {
    log.info({ signal: sig }, 'shutdown requested');
    ac.abort();
  });
runWorker(cfg, log, ac.signal).then(
  () => process.exit(0),
  (e) => {
    log.error({ err: (e as Error).message }, 'worker failed');
    process.exit(1);
  },
);

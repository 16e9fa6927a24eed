import { Logger } from 'pino';
import { SluiceConfig } from '../api/config';

/**
 * A worker process: runs the pipeline runners BullMQ hands it (see docs/architecture.md).
 * Resolves when the process has shut down gracefully after `signal` aborts.
 */
export async function runWorker(cfg: SluiceConfig, log: Logger, signal: AbortSignal): Promise<void> {
  log.info({ redis: cfg.redisUrl, kafka: cfg.kafkaBrokers }, 'worker started (no pipeline runners in this build yet)');
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  log.info('worker stopped');
}

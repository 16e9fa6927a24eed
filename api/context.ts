import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { ChangeFeed } from './change-feed';
import type { Readiness } from './readiness';
import type { ReadModel } from './read-model';
import type { SecretBox } from '../core/secrets';

/** What every route of the API is given: the control DB, secrets, logger, readiness, read model and change feed. */
export interface AppContext {
  ds: DataSource;
  secrets: SecretBox;
  log: Logger;
  readiness: Pick<Readiness, 'run'>;
  reads: ReadModel;
  changes: ChangeFeed;
  bodyLimit?: string;
  /** Base URL this process answers on over loopback: the console calls its /v1 API there. */
  selfUrl?: () => string;
  /** Failed authentications per client address before it gets 429, and the window they count in. */
  authFailures?: { max: number; windowMs: number };
}

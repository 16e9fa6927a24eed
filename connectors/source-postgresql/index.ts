import type { SourceModule } from '../module';
import { isPgConnectionError } from '../shared/postgres';
import { declaration } from './declaration';
import type { Lsn } from './position';

// Runtime parts load on first use, so the registry stays free of database drivers.
const source = () => require('./source') as typeof import('./source');
const counter = () => require('./row-counter') as typeof import('./row-counter');

export const sourcePostgresql = {
  declaration,
  connector: (ctx) => new (source().PostgresqlSource)(ctx),
  openCounter: (cfg) => counter().PgSourceCounter.open(cfg as never),
  isConnectionError: isPgConnectionError,
  positionText: (lsn) => lsn,
} satisfies SourceModule<Lsn>;

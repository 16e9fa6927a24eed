import { DataSource } from 'typeorm';
import { Initial1764300000000 } from './1764300000000-initial';
import { ListOrderIndexes1764300000001 } from './1764300000001-list-order-indexes';
import { Dataplane1764400000000 } from './1764400000000-dataplane';
import { ChangeNotify1764500000000 } from './1764500000000-change-notify';
import { TokenRoles1764620000000 } from './1764620000000-token-roles';
import { ConsoleAlerts1764610000000 } from './1764610000000-console-alerts';
import { SchemaChanges1764630000000 } from './1764630000000-schema-changes';

/** Every migration of the control DB, in order. */
export const migrations = [
  Initial1764300000000,
  ListOrderIndexes1764300000001,
  Dataplane1764400000000,
  ChangeNotify1764500000000,
  ConsoleAlerts1764610000000,
  TokenRoles1764620000000,
  SchemaChanges1764630000000,
];

/** The advisory lock that serialises migrations when several API and worker processes start at once. */
export const MIGRATION_LOCK = 727274001;

/**
 * Applies pending migrations (idempotent). Both planes call it on start, so whichever process comes
 * first on a fresh control DB creates the tables the other needs.
 */
export async function migrate(ds: DataSource): Promise<void> {
  await ds.transaction(async (m) => {
    await m.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await ds.runMigrations({ transaction: 'each' });
  });
}

/** Migrates the control DB at `url` on connections of its own (the lock's and the migrations'; for processes that do not use TypeORM otherwise). */
export async function migrateUrl(url: string): Promise<void> {
  const ds = new DataSource({
    type: 'postgres',
    url,
    migrations,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: 3, connectionTimeoutMillis: 5000 },
  });
  await ds.initialize();
  try {
    await migrate(ds);
  } finally {
    await ds.destroy().catch(() => undefined);
  }
}

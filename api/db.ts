import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ConnectorEntity } from './entities/connector.entity';
import { PipelineEntity } from './entities/pipeline.entity';
import { ApiTokenEntity } from './entities/api-token.entity';
import { AuditEntryEntity } from './entities/audit-entry.entity';
import { Initial1764300000000 } from '../migrations/1764300000000-initial';
import { ListOrderIndexes1764300000001 } from '../migrations/1764300000001-list-order-indexes';
import { Dataplane1764400000000 } from '../migrations/1764400000000-dataplane';
import { ChangeNotify1764500000000 } from '../migrations/1764500000000-change-notify';
import { ConsoleAlerts1764610000000 } from '../migrations/1764610000000-console-alerts';

export const entities = [ConnectorEntity, PipelineEntity, ApiTokenEntity, AuditEntryEntity];
export const migrations = [Initial1764300000000, ListOrderIndexes1764300000001, Dataplane1764400000000, ChangeNotify1764500000000, ConsoleAlerts1764610000000];

/** Opens the control DB and applies pending migrations (idempotent; safe with several API processes). */
export async function openControlDb(url: string, opts: { poolSize?: number } = {}): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: opts.poolSize ?? 20, connectionTimeoutMillis: 5000 },
  });
  await ds.initialize();
  // An advisory lock serialises migrations when several processes start at once.
  await ds.transaction(async (m) => {
    await m.query('SELECT pg_advisory_xact_lock(727274001)');
    await ds.runMigrations({ transaction: 'each' });
  });
  return ds;
}

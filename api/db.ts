import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ConnectorEntity } from './entities/connector.entity';
import { PipelineEntity } from './entities/pipeline.entity';
import { ApiTokenEntity } from './entities/api-token.entity';
import { AuditEntryEntity } from './entities/audit-entry.entity';
import { migrate, migrations } from '../migrations';

export const entities = [ConnectorEntity, PipelineEntity, ApiTokenEntity, AuditEntryEntity];

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
  await migrate(ds);
  return ds;
}

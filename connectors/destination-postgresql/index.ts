import type { DestinationModule } from '../module';
import { declaration } from './declaration';

// Runtime parts load on first use, so the registry stays free of database drivers.
const writer = () => require('./writer') as typeof import('./writer');
const counter = () => require('./row-counter') as typeof import('./row-counter');

export const destinationPostgresql = {
  declaration,
  writer: (o) => new (writer().PostgresqlWriter)(o),
  // Tables of typed columns: new columns and widened types are altered in, dropped columns kept nullable.
  schemaChanges: { add: 'alter', drop: 'nullable', widen: 'alter', retype: 'no' },
  openCounter: (cfg) => counter().PgDestinationCounter.open(cfg as never),
} satisfies DestinationModule;

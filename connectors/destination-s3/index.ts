import type { DestinationModule } from '../module';
import { declaration } from './declaration';

// The S3 client and DuckDB load on first use, so the registry stays free of them.
const writer = () => require('./writer') as typeof import('./writer');

export const destinationS3 = {
  declaration,
  // Each file takes its columns from its records; readers union files by name (a new type starts with the next file).
  schemaChanges: { add: 'free', drop: 'free', widen: 'free', retype: 'free' },
  writer: (o) => new (writer().S3Writer)(o),
} satisfies DestinationModule;

import type { DestinationModule } from '../module';
import { declaration } from './declaration';

// The Kafka client loads on first use (through patches/), so the registry stays free of it.
const writer = () => require('./writer') as typeof import('./writer');

export const destinationKafka = {
  declaration,
  // Records carry their own columns (JSON values): a schema change needs nothing of the destination.
  schemaChanges: { add: 'free', drop: 'free', widen: 'free', retype: 'free' },
  writer: (o) => new (writer().KafkaWriter)(o),
} satisfies DestinationModule;

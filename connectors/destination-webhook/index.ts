import type { DestinationModule } from '../module';
import { declaration } from './declaration';
import { reference } from './reference';

// The runtime loads on first use. No openCounter: a webhook receiver cannot be asked what it holds,
// so verify reports the source's row counts without comparing them.
const writer = () => require('./writer') as typeof import('./writer');

export const destinationWebhook = {
  declaration,
  reference,
  writer: (o) => new (writer().WebhookWriter)(o),
  // Events carry their columns: the receiver sees a change of the schema in the events themselves.
  schemaChanges: { add: 'free', drop: 'free', widen: 'free', retype: 'free' },
} satisfies DestinationModule;

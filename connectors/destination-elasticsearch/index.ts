import type { DestinationModule } from '../module';
import { declaration } from './declaration';
import { reference } from './reference';

// Runtime parts load on first use, so the registry stays free of the Elasticsearch client.
const writer = () => require('./writer') as typeof import('./writer');
const counter = () => require('./row-counter') as typeof import('./row-counter');

export const destinationElasticsearch = {
  declaration,
  reference,
  writer: (o) => new (writer().ElasticsearchWriter)(o),
  openCounter: (cfg) => counter().EsDestinationCounter.open(cfg as never),
  // New columns are mapped by the writer on first sight; a field's type cannot change in an index.
  schemaChanges: { add: 'free', drop: 'free', widen: 'no', retype: 'no' },
} satisfies DestinationModule;

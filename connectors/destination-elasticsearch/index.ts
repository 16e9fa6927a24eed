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
} satisfies DestinationModule;

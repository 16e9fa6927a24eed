// The services of the local stack, in the order `status` lists them. Adding a service is its
// module (a file or folder in services/) plus one line here; docs/architecture.md walks through it.
import { envPort } from './shared/env';
import type { Registry } from './supervisor';
import { elasticsearch } from './services/elasticsearch';
import { kafka } from './services/kafka';
import { mariadbPrimary } from './services/mariadb/primary';
import { mariadbReplica } from './services/mariadb/replica';
import { postgres } from './services/postgres';
import { redis } from './services/redis';
import { s3 } from './services/s3';

/** `enabledBy`: not in the default set; `start()` runs it when that variable is 1 (else only on request). */
export const REGISTRY = {
  postgres: { create: postgres },
  redis: { create: redis },
  kafka: {
    create: (ctx) =>
      kafka(ctx, {
        port: envPort('SLUICE_KAFKA_PORT', 19092),
        controllerPort: envPort('SLUICE_KAFKA_CONTROLLER_PORT', 19093),
        externalEnv: 'KAFKA_BROKERS',
      }),
  },
  mariadb: { create: mariadbPrimary, enabledBy: 'SLUICE_STACK_MARIADB' },
  'mariadb-replica': { create: (ctx) => mariadbReplica(ctx, ctx.peer('mariadb')), enabledBy: 'SLUICE_STACK_MARIADB' },
  elasticsearch: { create: elasticsearch, enabledBy: 'SLUICE_STACK_ELASTICSEARCH' },
  s3: { create: s3, enabledBy: 'SLUICE_STACK_S3' },
  'kafka-2': {
    create: (ctx) =>
      kafka(ctx, {
        port: envPort('SLUICE_KAFKA2_PORT', 19094),
        controllerPort: envPort('SLUICE_KAFKA2_CONTROLLER_PORT', 19095),
        saslPort: envPort('SLUICE_KAFKA2_SASL_PORT', 19096),
      }),
    enabledBy: 'SLUICE_STACK_KAFKA2',
  },
} satisfies Registry;

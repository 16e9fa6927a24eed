// The MariaDB source connector alone, outside a runner: for checks on what it does at the protocol's
// edge (what stream() answers, what a new session after a stuck one gets), which a pipeline would hide.
import pino from 'pino';
import { sourceMysql } from '../../connectors/source-mysql';
import { withDefaults } from '../../api/validation';
import type { EventDispatcher } from '../../connectors/module';

/** A connector on the database of `srcUrl`, with a server id of its own and positions kept in memory. */
export function directMysqlSource(srcUrl: string, pipelineId: string) {
  const u = new URL(srcUrl);
  const cfg = withDefaults(sourceMysql.declaration.fields, {
    host: u.hostname,
    port: Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    tls_mode: 'disable',
    database_include: [u.pathname.slice(1)],
    server_id: 2_000_000 + Math.floor(Math.random() * 1_000_000),
    heartbeat_interval_ms: 1000,
  });
  let stored: { slot: string | null; established: boolean; position: string | null } | null = null;
  return sourceMysql.connector({
    pipelineId,
    sourceId: 'direct',
    cfg,
    offsets: {
      load: async () => stored,
      establish: async (slot, position) => {
        stored = { slot, established: true, position };
      },
      save: async (position) => {
        if (stored) stored.position = position;
      },
    },
    log: pino({ level: 'silent' }),
  });
}

/** A dispatcher that drops everything and never waits. */
export const ignoringDispatcher = <P>(): EventDispatcher<P> => ({
  change: () => undefined,
  commit: async () => undefined,
  watermark: () => undefined,
  alive: () => undefined,
  room: async () => undefined,
});

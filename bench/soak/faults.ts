import type { LocalStack } from '../../stack/stack';
import { spawnWorker, Worker } from '../../test/dataplane/harness';
import type { PgInstance } from '../../test/dataplane/pg-instance';
import type { TcpProxy } from '../../test/dataplane/tcp-proxy';
import type { TestApi } from '../../test/helpers';
import { Rng } from './rng';

/** The soak's worker processes: always two running between faults; tells a crash it caused from one it did not. */
export class WorkerPool {
  readonly all: Worker[] = [];
  private readonly killed = new Set<Worker>();

  constructor(
    private readonly api: TestApi,
    private readonly env: Record<string, string>,
  ) {}

  spawn(): Worker {
    const w = spawnWorker(this.api, this.env);
    this.all.push(w);
    return w;
  }

  live(): Worker[] {
    return this.all.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
  }

  async kill(w: Worker): Promise<void> {
    this.killed.add(w);
    w.proc.kill('SIGKILL');
    await w.exited;
  }

  /** Workers that exited although the soak never killed them. */
  unexpectedExits(): Worker[] {
    return this.all.filter((w) => !this.killed.has(w) && (w.proc.exitCode !== null || w.proc.signalCode !== null));
  }
}

export interface SoakServices {
  stack: LocalStack;
  sourcePostgres: PgInstance;
  destination: PgInstance;
  /** Every database connection of the workers goes through one of these. */
  proxies: TcpProxy[];
  workers: WorkerPool;
  /** The pid of the worker running each pipeline now, if any reports one. */
  holders(): Promise<number[]>;
}

export interface Fault {
  what: string;
  /** Outage length range, ms. */
  outageMs: [number, number];
  inject(rng: Rng): Promise<string | void>;
  heal(): Promise<void>;
}

export const FAULT_KINDS = [
  'kill-source-postgres',
  'kill-source-mariadb',
  'kill-destination',
  'kill-kafka',
  'kill-worker',
  'network-cut',
  'network-stall',
  'kill-redis',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * What each fault does. Kills are SIGKILL of the whole server (no shutdown work), restarted after the
 * outage; the network faults act on every proxied link at once (worker -> source Postgres, source
 * MariaDB and destination): a cut resets connections and refuses new ones, a stall forwards nothing
 * while connections stay open (long enough for the idle and query timeouts to notice).
 */
export function faults(s: SoakServices): Record<FaultKind, Fault> {
  const outage: [number, number] = [3000, 10000];
  const crash = (what: string, kill: () => Promise<void>, restart: () => Promise<void>): Fault => ({
    what: `kill -9 of ${what}, restart`,
    outageMs: outage,
    inject: kill,
    heal: restart,
  });
  const service = (name: 'mariadb' | 'kafka' | 'redis') =>
    [() => s.stack.killService(name), () => s.stack.startService(name)] as const;
  return {
    'kill-source-postgres': crash(
      'the source Postgres',
      () => s.sourcePostgres.kill(),
      () => s.sourcePostgres.start(),
    ),
    'kill-source-mariadb': crash('the source MariaDB', ...service('mariadb')),
    'kill-destination': crash(
      'the destination Postgres',
      () => s.destination.kill(),
      () => s.destination.start(),
    ),
    'kill-kafka': crash('the Kafka broker', ...service('kafka')),
    'kill-worker': {
      what:
        'kill -9 of one of the two workers (one running a pipeline when there ' +
        'is one), a new worker after the outage',
      outageMs: outage,
      inject: async (rng) => {
        const live = s.workers.live();
        const holders = new Set(await s.holders().catch(() => []));
        const running = live.filter((w) => holders.has(w.proc.pid!));
        const pool = running.length ? running : live;
        const victim = pool[rng.int(pool.length)];
        if (!victim) return 'no live worker to kill';
        await s.workers.kill(victim);
        return `pid ${victim.proc.pid}${holders.has(victim.proc.pid!) ? ' (running a pipeline)' : ''}`;
      },
      heal: async () => {
        while (s.workers.live().length < 2) s.workers.spawn();
      },
    },
    'network-cut': {
      what: 'network cut between the workers and every database (TCP proxy: connections reset, new ones refused)',
      outageMs: outage,
      inject: async () => {
        for (const p of s.proxies) p.cut();
      },
      heal: async () => {
        for (const p of s.proxies) p.heal();
      },
    },
    'network-stall': {
      what: 'network stall between the workers and every database (TCP proxy: connections open, nothing moves)',
      outageMs: [12000, 20000],
      inject: async () => {
        for (const p of s.proxies) p.stall();
      },
      heal: async () => {
        for (const p of s.proxies) p.heal();
      },
    },
    'kill-redis': crash('Redis (BullMQ)', ...service('redis')),
  };
}

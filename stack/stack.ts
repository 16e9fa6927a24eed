// Sluice's local stack: a throwaway PostgreSQL, Redis and single-node KRaft Kafka for one machine,
// plus an optional MariaDB primary and GTID replica (MySQL-source tests and failover drills). One
// module per service (services/), listed in registry.ts and run by the Supervisor; LocalStack is
// the face the CLI and the tests use, with the endpoints under the names they have always had.
// When DATABASE_URL / REDIS_URL / KAFKA_BROKERS / MYSQL_URL is set, that service is external.
import * as path from 'path';
import { REGISTRY } from './registry';
import { envSet, findRepoRoot } from './shared/env';
import { ServicesOf, ServiceStatus as AnyServiceStatus, Supervisor } from './supervisor';

export { withDatabase } from './shared/urls';
export { pidAlive } from './shared/proc';

export type ServiceName = keyof typeof REGISTRY;
export type ServiceStatus = AnyServiceStatus<ServiceName>;
type Services = ServicesOf<typeof REGISTRY>;

export interface StackEndpoints {
  databaseUrl: string;
  demoSourceUrl: string;
  demoDestUrl: string;
  redisUrl: string;
  kafkaBrokers: string[];
  home: string;
  logsDir: string;
}

/** The local MariaDB pair (only meaningful once MariaDB is started; see mariadbEndpoints()). */
export interface MariadbEndpoints {
  /** MYSQL_URL when set, else the local primary. */
  mysqlUrl: string;
  /** Always the local replica; it replicates the local primary only. */
  mysqlReplicaUrl: string;
  mysqlDemoSourceUrl: string;
  mysqlDemoDestUrl: string;
}

const names = Object.keys(REGISTRY) as ServiceName[];
/** What start() runs by default. */
export const SERVICES: readonly ServiceName[] = names.filter((n) => !('enabledBy' in REGISTRY[n]));
/** Only started on request (their registry entry's enabledBy variable, or startService). */
export const OPTIONAL_SERVICES: readonly ServiceName[] = names.filter((n) => 'enabledBy' in REGISTRY[n]);

export class LocalStack {
  readonly home: string;
  readonly logsDir: string;
  private readonly supervisor: Supervisor<typeof REGISTRY>;
  private readonly log: (line: string) => void;

  constructor(opts: { home?: string; log?: (line: string) => void } = {}) {
    const repo = findRepoRoot();
    this.home = path.resolve(opts.home ?? envSet('SLUICE_HOME') ?? path.join(repo, '.sluice'));
    this.log = opts.log ?? ((line) => process.stderr.write(`[stack] ${line}\n`));
    this.supervisor = new Supervisor(REGISTRY, { home: this.home, repo, log: this.log });
    this.logsDir = this.supervisor.logsDir;
  }

  endpoints(): StackEndpoints {
    return {
      ...this.endpointsOf('postgres'),
      ...this.endpointsOf('redis'),
      ...this.endpointsOf('kafka'),
      home: this.home,
      logsDir: this.logsDir,
    };
  }

  /** The local MariaDB primary (or MYSQL_URL) and replica, kept apart so StackEndpoints stays as it was. */
  mariadbEndpoints(): MariadbEndpoints {
    return { ...this.endpointsOf('mariadb'), ...this.endpointsOf('mariadb-replica') };
  }

  /** One service's endpoints (URLs, brokers), typed by its module. */
  endpointsOf<N extends ServiceName>(name: N): ReturnType<Services[N]['endpoints']> {
    return this.supervisor.services[name].endpoints() as ReturnType<Services[N]['endpoints']>;
  }

  /** SLUICE_STACK_MARIADB=1 adds the MariaDB primary and replica to start(). */
  mariadbEnabled(): boolean {
    return this.supervisor.enabled('mariadb');
  }

  /** Starts every local (non-external) service of the default set that is not running. Idempotent. */
  async start(): Promise<StackEndpoints> {
    await this.supervisor.start();
    return this.endpoints();
  }

  /** Stops every service this stack runs locally and verifies by pid that nothing is left. */
  stop(): Promise<void> {
    return this.supervisor.stop();
  }

  status(): Promise<ServiceStatus[]> {
    return this.supervisor.status();
  }

  /**
   * Starts one local service (for fault-injection tests that stopped or killed it, and for the
   * optional ones). A replica that still has to be seeded starts the primary first.
   */
  startService(name: ServiceName): Promise<void> {
    return this.supervisor.startService(name);
  }

  /** Graceful stop of one local service (SIGTERM / pg_ctl stop -m fast, SIGKILL after a timeout). */
  stopService(name: ServiceName): Promise<void> {
    return this.supervisor.stopService(name);
  }

  /** Simulates a crash: SIGKILL to the service's processes, no shutdown work at all. */
  killService(name: ServiceName): Promise<void> {
    return this.supervisor.killService(name);
  }

  /** The system packages and downloads of `names` (default: the default set), installed where missing. */
  install(names?: ServiceName[]): Promise<void> {
    return this.supervisor.install(names);
  }

  /**
   * Turns the local replica into a writable primary, as a failover would (see
   * services/mariadb/replica.ts). Idempotent; returns the replica's GTID position after promotion.
   */
  promoteReplica(opts: { applyTimeoutMs?: number } = {}): Promise<{ gtidPos: string }> {
    return this.supervisor.locked(() => this.supervisor.services['mariadb-replica'].promote(opts));
  }

  /**
   * Stops the MariaDB pair and deletes both datadirs, so the next start is a fresh primary with a
   * freshly seeded replica. After a failover drill the two have diverged and this is the way back.
   */
  async resetMariadb(): Promise<void> {
    await this.supervisor.reset(['mariadb-replica', 'mariadb']);
    this.log('mariadb: primary and replica reset (datadirs removed)');
  }
}

// What one service of the local stack is to the supervisor. A service module exports a factory
// `(ctx: ServiceContext, options?) => { ... } satisfies StackService`; the registry (registry.ts)
// gives each instance its name. Everything a service knows about itself is re-derived from disk
// (pid file, /proc, its data dir) on every call, so two handles of the same service agree.
/** A system package a service needs and this machine lacks. */
export interface MissingPackage {
  /** What is missing, for messages: `postgresql>=15`, `java>=17`. */
  what: string;
  /** Debian packages that provide it, best first: the first one apt knows is installed. */
  apt: readonly string[];
}

/** A port a service listens on and the environment variable that sets it. */
export interface ServicePort {
  readonly env: string;
  readonly port: number;
}

/** What the supervisor hands a service: its name and where its files and log go. */
export interface ServiceContext {
  /** The registry name: the CLI's argument, the log file's and the data dir's name. */
  readonly name: string;
  /** $SLUICE_HOME. */
  readonly home: string;
  /** <home>/<name>: its config, data and pid file. */
  readonly dir: string;
  readonly logsDir: string;
  /** <logsDir>/<name>.log: the server's stdout and stderr, and its tools' output. */
  readonly logFile: string;
  /** The repository root (for files a service brings along, such as Kafka's pom). */
  readonly repo: string;
  /** A progress line, prefixed with the service name. */
  log(line: string): void;
  /** The context of another service of the same stack (a replica's primary). */
  peer(name: string): ServiceContext;
}

export interface StackService {
  readonly name: string;
  /** Every port it listens on, the first one being its address. In use by a stranger = start refused. */
  readonly ports: readonly ServicePort[];
  /** When this variable is set the service is external: used there, never started or stopped. */
  readonly externalEnv?: string;
  /** Services it runs against: started first in a set, and it is left out of a set when one is external. */
  readonly after?: readonly string[];
  /** Of those, the ones it cannot start without right now (started first even when not asked for). */
  requires?(): readonly string[];
  /** How long a start may take until the health check passes (first starts initialise data). */
  readonly startTimeoutMs: number;
  /** The system packages missing on this machine to run it; [] when it can run. */
  missing(): MissingPackage[];
  /** Fetches what start needs beyond system packages (a distribution into the cache), so install can do it outside the lock. */
  fetch?(): Promise<void>;
  /** Pid of its running local instance, or undefined; `clean` removes a stale pid file. */
  pid(clean?: boolean): number | undefined;
  /** Launches it and returns the pid. The supervisor has checked: not running, ports free. */
  start(): Promise<number>;
  /** Throws, with the reason, unless it serves requests right now. */
  check(): Promise<void>;
  /** Idempotent setup after every healthy start, also of one that was running (databases, accounts). */
  ready?(): Promise<void>;
  /** Graceful stop; whatever is left after the timeout is killed. Nothing of it runs afterwards. */
  stop(): Promise<void>;
  /** A crash: SIGKILL, no shutdown work (fault tests). */
  kill(): Promise<void>;
  /** Deletes its data (it is stopped first), so the next start is a fresh one. */
  reset?(): void;
  /** host:port it is reached at, local or external, without credentials. */
  address(): string;
  /** What clients need to reach it (URLs, broker lists), external ones included. */
  endpoints(): Record<string, string | string[]>;
}

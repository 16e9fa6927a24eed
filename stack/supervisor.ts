// Starts, stops and reports a set of services from a registry, in dependency order, under one
// cross-process lock. It knows services only through the StackService interface. A service whose
// externalEnv is set is external: reported and used, never started or stopped here.
import * as fs from 'fs';
import * as path from 'path';
import type { ServiceContext, StackService } from './service';
import { envFlag, envSet } from './shared/env';
import { withLock } from './shared/lock';
import { lastLines } from './shared/logs';
import { portOpen } from './shared/net';
import { ensurePackages } from './shared/packages';
import { pidAlive, sleep } from './shared/proc';

export interface RegistryEntry {
  create: (ctx: ServiceContext) => StackService;
  /** Not in the default set: start() runs it only when this variable is 1/true/yes/on. */
  enabledBy?: string;
}
export type Registry = Record<string, RegistryEntry>;
export type ServicesOf<R extends Registry> = { [N in keyof R]: ReturnType<R[N]['create']> };

export interface ServiceStatus<N extends string = string> {
  name: N;
  state: 'running' | 'stopped' | 'external';
  pid?: number;
  address?: string;
  log?: string;
  /** Only for running local services: did a health check pass just now. */
  healthy?: boolean;
}

export interface SupervisorOptions {
  home: string;
  repo: string;
  /** Progress lines (services prefix theirs with their name). */
  log: (line: string) => void;
}

export class Supervisor<R extends Registry> {
  readonly services: ServicesOf<R>;
  readonly home: string;
  readonly logsDir: string;
  private readonly log: (line: string) => void;

  constructor(
    private readonly registry: R,
    opts: SupervisorOptions,
  ) {
    this.home = opts.home;
    this.logsDir = path.join(opts.home, 'logs');
    this.log = opts.log;
    const context = (name: string): ServiceContext => ({
      name,
      home: this.home,
      dir: path.join(this.home, name),
      logsDir: this.logsDir,
      logFile: this.logFile(name),
      repo: opts.repo,
      log: (line) => this.log(`${name}: ${line}`),
      peer: context,
    });
    this.services = Object.fromEntries(
      Object.entries(registry).map(([name, e]) => [name, e.create(context(name))]),
    ) as ServicesOf<R>;
  }

  /** Every registered name, in registry order. */
  names(): (keyof R & string)[] {
    return Object.keys(this.registry);
  }

  /** In the default set, or added to it by its enabledBy variable. */
  enabled(name: keyof R & string): boolean {
    const flag = this.registry[name].enabledBy;
    return flag === undefined || envFlag(flag);
  }

  isExternal(name: string): boolean {
    const env = this.service(name).externalEnv;
    return env !== undefined && envSet(env) !== undefined;
  }

  /** Starts every service of `names` (default: the enabled ones) that is not running. Idempotent. */
  async start(names = this.names().filter((n) => this.enabled(n))): Promise<void> {
    await this.locked(async () => {
      for (const n of names.filter((n) => this.isExternal(n)))
        this.log(`${n}: external (${this.service(n).address()}), not started`);
      const local = names.filter((n) => !this.isExternal(n));
      const tied = (n: string) => this.service(n).after?.find((d) => this.isExternal(d));
      for (const n of local.filter(tied))
        this.log(`${n}: not started (it runs against the local ${tied(n)}, which is external)`);
      const wanted = local.filter((n) => !tied(n));
      await ensurePackages(
        wanted.map((n) => this.service(n)).filter((s) => s.pid() === undefined),
        this.log,
      );

      // Each service waits for those of its `after` that are in the set; the rest start in parallel.
      const errors: string[] = [];
      const runs = new Map<string, Promise<boolean>>();
      const run = (n: string): Promise<boolean> => {
        if (!runs.has(n)) {
          runs.set(
            n,
            (async () => {
              const deps = (this.service(n).after ?? []).filter((d) => wanted.includes(d));
              const ok = await Promise.all(deps.map(run));
              if (ok.includes(false)) {
                errors.push(`${n}: not started because ${deps.filter((_, i) => !ok[i]).join(', ')} did not start`);
                return false;
              }
              return this.startOne(n).then(
                () => true,
                (e: Error) => (errors.push(e.message), false),
              );
            })(),
          );
        }
        return runs.get(n)!;
      };
      await Promise.all(wanted.map(run));
      if (errors.length) throw new Error(errors.join('\n'));
    });
  }

  /** Stops every local service of `names` (default: all) and verifies by pid that nothing is left. */
  async stop(names = this.names()): Promise<void> {
    if (!fs.existsSync(this.home)) return;
    await this.locked(async () => {
      const results = await Promise.allSettled(
        names.filter((n) => !this.isExternal(n)).map((n) => this.service(n).stop()),
      );
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      if (errors.length) throw new Error(errors.join('\n'));
    });
  }

  /**
   * The default services, plus the optional ones this home has (enabled, external, running, or a
   * data dir from an earlier start): a stack that never used one keeps reporting only what it
   * runs, so "everything is running" checks over status() still mean the default set.
   */
  async status(): Promise<ServiceStatus<keyof R & string>[]> {
    const listed = this.names().filter(
      (n) =>
        this.registry[n].enabledBy === undefined ||
        this.enabled(n) ||
        this.isExternal(n) ||
        fs.existsSync(path.join(this.home, n)) ||
        this.service(n).pid(false) !== undefined,
    );
    return Promise.all(
      listed.map(async (name): Promise<ServiceStatus<keyof R & string>> => {
        const s = this.service(name);
        if (this.isExternal(name)) return { name, state: 'external', address: s.address() };
        const pid = s.pid(false);
        const base = { name, address: s.address(), log: this.logFile(name) };
        if (pid === undefined) return { ...base, state: 'stopped' };
        const healthy = await s.check().then(
          () => true,
          () => false,
        );
        return { ...base, state: 'running', pid, healthy };
      }),
    );
  }

  /** Starts one service, after what it requires right now (an unseeded replica: its primary). */
  async startService(name: keyof R & string): Promise<void> {
    this.refuseExternal(name);
    await this.locked(async () => {
      const chain = [...(this.service(name).requires?.() ?? []).filter((r) => !this.isExternal(r)), name];
      await ensurePackages(
        chain.map((n) => this.service(n)).filter((s) => s.pid() === undefined),
        this.log,
      );
      for (const n of chain) await this.startOne(n);
    });
  }

  /** Graceful stop of one local service. */
  async stopService(name: keyof R & string): Promise<void> {
    this.refuseExternal(name);
    await this.locked(() => this.service(name).stop());
  }

  /** Simulates a crash: SIGKILL to the service's processes, no shutdown work at all. */
  async killService(name: keyof R & string): Promise<void> {
    this.refuseExternal(name);
    await this.locked(() => this.service(name).kill());
  }

  /** Stops each of `names` in turn and deletes its data, so the next start is a fresh one. */
  async reset(names: (keyof R & string)[]): Promise<void> {
    await this.locked(async () => {
      for (const n of names) {
        const s = this.service(n);
        if (!s.reset) throw new Error(`${n}: has no data to reset`);
        await s.stop();
        s.reset();
      }
    });
  }

  /** The services' system packages, installed where missing (as root on Debian/Ubuntu), then their downloads. */
  async install(names = this.names().filter((n) => this.enabled(n))): Promise<void> {
    await ensurePackages(
      names.map((n) => this.service(n)),
      this.log,
    );
    for (const n of names.filter((x) => !this.isExternal(x))) await this.service(n).fetch?.();
  }

  /** Runs `fn` under the stack's cross-process lock (service-specific operations: a promotion). */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(this.home, this.log, fn);
  }

  private service(name: string): StackService {
    const s = (this.services as Record<string, StackService>)[name];
    if (!s) throw new Error(`unknown stack service '${name}'; known: ${this.names().join(', ')}`);
    return s;
  }

  private refuseExternal(name: string): void {
    if (this.isExternal(name))
      throw new Error(`${name} is external (${this.service(name).address()}); not managed here`);
  }

  private async startOne(name: string): Promise<void> {
    const s = this.service(name);
    const t0 = Date.now();
    let pid = s.pid();
    if (pid !== undefined) {
      await this.waitHealthy(name, pid);
      await s.ready?.();
      this.log(`${name}: already running (pid ${pid}) at ${s.address()}`);
      return;
    }
    for (const { port, env } of s.ports) {
      if (await portOpen(port)) {
        throw new Error(
          `${name}: port ${port} is already in use by another process (not one this stack started); free it or set ${env}`,
        );
      }
    }
    fs.mkdirSync(this.logsDir, { recursive: true });
    pid = await s.start();
    this.log(`${name}: started pid ${pid}, waiting until it accepts connections (log ${this.logFile(name)})`);
    await this.waitHealthy(name, pid);
    await s.ready?.();
    this.log(`${name}: ready at ${s.address()} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }

  private async waitHealthy(name: string, pid: number): Promise<void> {
    const s = this.service(name);
    const deadline = Date.now() + s.startTimeoutMs;
    let last = '';
    for (;;) {
      try {
        await s.check();
        return;
      } catch (e) {
        last = (e as Error).message || String(e);
      }
      if (!pidAlive(pid))
        throw new Error(`${name}: process ${pid} exited during startup. ${lastLines(this.logFile(name))}`);
      if (Date.now() > deadline) {
        throw new Error(
          `${name}: not healthy after ${s.startTimeoutMs / 1000}s (last error: ${last}); pid ${pid} is still running. ` +
            lastLines(this.logFile(name)),
        );
      }
      await sleep(300);
    }
  }

  private logFile(name: string): string {
    return path.join(this.logsDir, `${name}.log`);
  }
}

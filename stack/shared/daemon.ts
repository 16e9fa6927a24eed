// One detached server process of a service, found again through its pid file. Services outlive
// the process that started them, so every answer is re-derived from pid file + /proc.
import * as fs from 'fs';
import { isServiceProcess, pidAlive, processTree, readPidFile, sendSignal, waitDead } from './proc';
import { spawnLogged } from './run';
import type { ServiceContext } from '../service';

export interface DaemonSpec {
  /** The pid file (a function: postgres' cluster directory is only decided at its first start). */
  pidFile: () => string;
  /** Text in our server's command line, so a recycled pid is not taken for it. */
  marker: () => string;
  /** Text in the command line of every process of its tree: the sweep after a stop kills only those. */
  word: string;
  stopTimeoutMs: number;
}

export class Daemon {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly spec: DaemonSpec,
  ) {}

  /** Pid of our running instance, or undefined; removes a stale pid file when `clean`. */
  pid(clean = true): number | undefined {
    const file = this.spec.pidFile();
    const pid = readPidFile(file);
    if (pid !== undefined && isServiceProcess(pid, this.spec.marker())) return pid;
    if (clean && fs.existsSync(file)) {
      this.ctx.log(`removing stale pid file ${file}${pid ? ` (pid ${pid} is gone)` : ''}`);
      fs.rmSync(file, { force: true });
    }
    return undefined;
  }

  /** Starts the server detached, logging to the service log, and records its pid. */
  async spawn(cmd: string, args: string[], cwd: string): Promise<number> {
    const { pid } = await spawnLogged(cmd, args, { cwd, logFile: this.ctx.logFile, wait: false });
    if (pid === undefined) throw new Error(`could not run ${cmd}`);
    fs.writeFileSync(this.spec.pidFile(), `${pid}\n`); // servers that write their own write the same pid
    return pid;
  }

  /**
   * Graceful stop (`shutdown`, else SIGTERM), SIGKILL after the timeout, then whatever the clean
   * shutdown left behind (late children included) is killed and checked gone.
   */
  async stop(shutdown?: (pid: number) => Promise<void>): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return this.ctx.log('not running');
    const t0 = Date.now();
    const tree = processTree(pid);
    this.ctx.log(`stopping pid ${pid}`);
    if (shutdown) await shutdown(pid);
    else sendSignal([pid], 'SIGTERM');
    if (!(await waitDead([pid], this.spec.stopTimeoutMs))) {
      this.ctx.log(`still running after ${this.spec.stopTimeoutMs / 1000}s, sending SIGKILL`);
    }
    // The word filter keeps a pid that was recycled since the snapshot out of harm's way.
    const left = [...new Set([...tree, ...processTree(pid)])].filter((p) => isServiceProcess(p, this.spec.word));
    if (left.length) {
      sendSignal(left, 'SIGKILL');
      if (!(await waitDead(left, 10_000))) {
        throw new Error(`${this.ctx.name}: pid ${left.filter(pidAlive).join(' ')} still alive after SIGKILL`);
      }
    }
    fs.rmSync(this.spec.pidFile(), { force: true });
    this.ctx.log(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }

  /** A crash: SIGKILL to the whole process tree, no shutdown work at all. */
  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return this.ctx.log('not running, nothing to kill');
    const tree = processTree(pid);
    this.ctx.log(`SIGKILL pid ${tree.join(' ')}`);
    sendSignal(tree, 'SIGKILL');
    if (!(await waitDead(tree, 10_000))) {
      throw new Error(`${this.ctx.name}: pid ${tree.filter(pidAlive).join(' ')} survived SIGKILL`);
    }
  }
}

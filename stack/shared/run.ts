// Running programs: finding them, running a tool to completion, and running one as another user.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface RunResult {
  ok: boolean;
  out: string;
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** On PATH, else the first of `dirs` that has it (Debian keeps daemons in /usr/sbin, off PATH). */
export function findProgram(name: string, dirs: readonly string[] = ['/usr/bin']): string | undefined {
  return which(name) ?? dirs.map((d) => path.join(d, name)).find((p) => fs.existsSync(p));
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

// cwd '/' because an unprivileged user may not be allowed into the caller's working directory.
export function run(cmd: string, args: string[]): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: '/', timeout: 60_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim();
  return { ok: r.status === 0, out };
}

/**
 * Like run() but without blocking the event loop (other services start in parallel). stdin and
 * stdout may be files (dumps can be large); output not going to a file is collected.
 */
export function runAsync(
  cmd: string,
  args: string[],
  opts: { cwd?: string; stdin?: string; stdout?: string } = {},
): Promise<RunResult> {
  const inFd = opts.stdin ? fs.openSync(opts.stdin, 'r') : 'ignore';
  const outFd = opts.stdout ? fs.openSync(opts.stdout, 'w', 0o600) : 'pipe';
  return new Promise<RunResult>((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? '/', stdio: [inFd, outFd, 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ ok: false, out: `${out}${String(e)}`.trim() }));
    child.on('close', (code) => resolve({ ok: code === 0, out: out.trim() }));
  }).finally(() => {
    if (typeof inFd === 'number') fs.closeSync(inFd);
    if (typeof outFd === 'number') fs.closeSync(outFd);
  });
}

/** `exe args` as `runAs` (through runuser) when given, else as ourselves. */
export function asUser(runAs: string | undefined, exe: string, args: string[]): [string, string[]] {
  return runAs ? ['runuser', ['-u', runAs, '--', exe, ...args]] : [exe, args];
}

/** Spawns a detached program with stdout and stderr appended to `logFile`; resolves its exit code. */
export function spawnLogged(
  cmd: string,
  args: string[],
  opts: { cwd: string; logFile: string; wait: boolean },
): Promise<{ pid?: number; code: number | null }> {
  const fd = fs.openSync(opts.logFile, 'a');
  try {
    fs.writeSync(fd, `\n==== ${new Date().toISOString()} sluice stack: ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', fd, fd] });
    if (!opts.wait) {
      child.on('error', () => undefined); // reported through the missing pid
      child.unref();
      return Promise.resolve({ pid: child.pid, code: null });
    }
    return new Promise((resolve) => {
      child.on('error', () => resolve({ code: -1 }));
      child.on('exit', (code) => resolve({ pid: child.pid, code }));
    });
  } finally {
    fs.closeSync(fd); // the child has its own copy
  }
}

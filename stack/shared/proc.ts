// Process helpers. /proc is the source of truth on Linux: kill(pid, 0) alone would call a zombie
// (a killed service whose parent never reaped it) alive, and would trust a recycled pid.
import * as fs from 'fs';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const HAVE_PROC = fs.existsSync('/proc/self/stat');

function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** The pid and all its live descendants. Postgres children call setsid(), so a process-group
 *  signal does not reach them; walking the parent links does. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of HAVE_PROC ? fs.readdirSync('/proc') : []) {
    const pid = Number(entry);
    const st = Number.isInteger(pid) ? procStat(pid) : undefined;
    if (st && st.state !== 'Z') children.set(st.ppid, [...(children.get(st.ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

export function pidAlive(pid: number): boolean {
  if (HAVE_PROC) {
    const st = procStat(pid);
    return st !== undefined && st.state !== 'Z' && st.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdline(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** The pid is alive and its command line mentions `marker` (guards against recycled pids). */
export function isServiceProcess(pid: number, marker: string): boolean {
  if (!pidAlive(pid)) return false;
  const cmd = cmdline(pid);
  return cmd === undefined || cmd.includes(marker);
}

/** The first line of a pid file (postgres' postmaster.pid has more lines), or undefined. */
export function readPidFile(file: string): number | undefined {
  try {
    const n = parseInt(fs.readFileSync(file, 'utf8').split('\n')[0].trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function sendSignal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export async function waitDead(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(pidAlive)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

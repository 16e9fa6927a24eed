// Servers that refuse to run as root (initdb/postgres; Elasticsearch too) run as a system user
// when we are root. That user may be unable to traverse SLUICE_HOME (a clone under /root, mode
// 700): then the service's files go to /var/tmp/sluice-<tag>-<hash of SLUICE_HOME> instead. The
// choice is recorded in $SLUICE_HOME/stack.json so stop/status find it without re-deciding.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { ServiceContext } from '../service';
import { isRoot, run } from './run';

export interface Placement {
  /** The directory the service owns (chowned to runAs). */
  base: string;
  /** The user to run its programs as: set only when we are root. */
  runAs?: string;
}

export interface PlacementSpec {
  /** The system user to run as when we are root (it must exist: the service's package creates it). */
  user: string;
  /** Short tag in the fallback directory's name (`pg` gives /var/tmp/sluice-pg-<hash>). */
  fallbackTag: string;
  /** A service of an earlier SLUICE_HOME still runs from `base` (then it is not removed). */
  inUse: (base: string) => boolean;
}

export function userIds(user: string): { uid: number; gid: number } | undefined {
  const u = run('id', ['-u', user]);
  const g = run('id', ['-g', user]);
  return u.ok && g.ok ? { uid: Number(u.out), gid: Number(g.out) } : undefined;
}

/** chown to the placement's user (nothing when not root). */
export function chownFor(p: Placement, ...files: string[]): void {
  const ids = p.runAs ? userIds(p.runAs) : undefined;
  for (const f of ids ? files : []) fs.chownSync(f, ids!.uid, ids!.gid);
}

type StackState = Record<string, { base: string } | undefined>;

function statePath(home: string): string {
  return path.join(home, 'stack.json');
}

function readState(home: string): StackState {
  try {
    return JSON.parse(fs.readFileSync(statePath(home), 'utf8')) as StackState;
  } catch {
    return {};
  }
}

/**
 * Where the service's files live: normally <home>/<name>. `create` (at a start) decides and
 * records it; without it (stop, status) a service never started from this home is reported
 * wherever a start would have put it.
 */
export function placement(ctx: ServiceContext, spec: PlacementSpec, create: boolean): Placement {
  const runAs = isRoot() ? spec.user : undefined;
  const recorded = readState(ctx.home)[ctx.name];
  if (recorded) return { base: recorded.base, runAs };

  let base = ctx.dir;
  const hash = crypto.createHash('sha256').update(ctx.home).digest('hex').slice(0, 10);
  const fallback = path.join('/var/tmp', `sluice-${spec.fallbackTag}-${hash}`);
  if (runAs) {
    if (!create) {
      if (!fs.existsSync(base) && fs.existsSync(fallback)) base = fallback;
      return { base, runAs };
    }
    fs.mkdirSync(ctx.home, { recursive: true });
    if (!userIds(runAs)) {
      throw new Error(
        `${ctx.name}: running as root needs a '${runAs}' system user to own its files (the server refuses root); ` +
          `install the server from your distribution's packages or create the user`,
      );
    }
    if (!run('runuser', ['-u', runAs, '--', 'test', '-x', ctx.home]).ok) {
      ctx.log(`user '${runAs}' cannot reach ${ctx.home}; keeping the files in ${fallback} instead`);
      base = fallback;
      // A fresh SLUICE_HOME must mean fresh data, even though the old data lives outside it.
      if (fs.existsSync(base) && !spec.inUse(base)) {
        ctx.log(`removing leftover ${base} from an earlier ${ctx.home}`);
        fs.rmSync(base, { recursive: true, force: true });
      }
    }
  }
  if (create) {
    fs.mkdirSync(ctx.home, { recursive: true });
    fs.writeFileSync(
      statePath(ctx.home),
      JSON.stringify({ ...readState(ctx.home), [ctx.name]: { base } }, null, 2) + '\n',
    );
  }
  return { base, runAs };
}

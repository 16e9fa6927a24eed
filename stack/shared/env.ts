// Environment and repository lookups the services share. Values are read when asked for, not
// once at import: a caller may set or unset DATABASE_URL & co between two calls (the fault tests do).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ServicePort } from '../service';

export function envSet(name: string): string | undefined {
  const v = process.env[name];
  return v && v.trim() !== '' ? v.trim() : undefined;
}

/** 1, true, yes or on (any case). */
export function envFlag(name: string): boolean {
  return /^(1|true|yes|on)$/i.test(envSet(name) ?? '');
}

/** The port `env` sets, else `fallback`; a value that is not a port is an error naming the variable. */
export function envPort(env: string, fallback: number): ServicePort {
  const raw = process.env[env];
  if (raw === undefined || raw === '') return { env, port: fallback };
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${env}=${raw} is not a valid port`);
  return { env, port: n };
}

// Works from both stack/ (ts sources) and dist/stack/ (compiled): the repository is the first
// directory upwards that holds package.json and stack/.
export function findRepoRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'stack'))) return dir;
    if (path.dirname(dir) === dir)
      throw new Error(`cannot find the repository root (package.json next to stack/) above ${from}`);
  }
}

/** `${XDG_CACHE_HOME:-~/.cache}/sluice/<name>`: downloads and builds kept between runs (a second run is fast). */
export function cacheDir(name: string): string {
  return path.join(envSet('XDG_CACHE_HOME') ?? path.join(os.homedir(), '.cache'), 'sluice', name);
}

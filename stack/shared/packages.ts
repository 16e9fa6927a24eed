// Installs the system packages the services to start are missing. As root on Debian/Ubuntu it
// runs `apt-get update` once and `apt-get install` for what is missing; otherwise it fails with the
// exact command to run, so nothing is installed behind the user's back.
import { spawn } from 'child_process';
import type { MissingPackage, StackService } from '../service';
import { isRoot, run, which } from './run';

type NeedsPackages = Pick<StackService, 'name' | 'missing'>;

/** The end of a "program not found" error: how to install what the service needs. */
export function installHint(service: string): string {
  return `run node dist/stack/cli.js install ${service}`;
}

const APT_OPTS = ['-o', 'DPkg::Lock::Timeout=600', '-q']; // wait for a concurrent apt/dpkg run

export async function ensurePackages(services: readonly NeedsPackages[], log: (line: string) => void): Promise<void> {
  const missing = dedupe(services.flatMap((s) => s.missing()));
  if (missing.length === 0) return;
  const what = missing.map((m) => m.what).join(' ');
  const names = services.map((s) => s.name).join(', ');
  if (!isRoot() || !which('apt-get')) {
    const pkgs = missing.map((m) => m.apt[0]).join(' ');
    const alternatives = missing
      .filter((m) => m.apt.length > 1)
      .map((m) => `'${m.apt.slice(1).join("' or '")}' instead of '${m.apt[0]}'`);
    throw new Error(
      `missing system packages for ${names}: ${what}. ` +
        (which('apt-get')
          ? `Install them with:\n  sudo apt-get update && sudo apt-get install -y ${pkgs}` +
            (alternatives.length ? `\n  (use ${alternatives.join(', ')} if your release lacks it)` : '')
          : 'Install them with your package manager, or point Sluice at existing services with ' +
            'DATABASE_URL, REDIS_URL, KAFKA_BROKERS (and MYSQL_URL).'),
    );
  }
  log(`installing missing ${what} with apt-get (this takes a minute)...`);
  process.env.DEBIAN_FRONTEND = 'noninteractive';
  await aptGet(['update'], log);
  const pkgs = missing.map((m) => m.apt.find((p) => run('apt-cache', ['show', p]).ok) ?? m.apt[0]);
  // --no-upgrade: never upgrade something already installed as a side effect.
  await aptGet(['install', '-y', '--no-install-recommends', '--no-upgrade', ...pkgs], log);
  const still = dedupe(services.flatMap((s) => s.missing()));
  if (still.length)
    throw new Error(`${still.map((m) => m.what).join(' ')} still not found after apt-get install ${pkgs.join(' ')}`);
  log('system packages installed');
}

function dedupe(list: MissingPackage[]): MissingPackage[] {
  return [...new Map(list.map((m) => [m.what, m])).values()];
}

function aptGet(args: string[], log: (line: string) => void): Promise<void> {
  const child = spawn('apt-get', [...APT_OPTS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const forward = (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n').filter(Boolean)) {
      lines.push(l);
      log(l);
    }
  };
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`apt-get ${args[0]}: ${e.message}`)));
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`apt-get ${args.join(' ')} failed (exit ${code}):\n${lines.slice(-6).join('\n')}`)),
    );
  });
}

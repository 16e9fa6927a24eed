// An S3-compatible server for the s3 destination's tests: moto's server (moto[server] from PyPI,
// Apache-2.0, used by many SDK test suites) in a virtualenv under the cache dir, installed on the
// first start. Loopback only; any access key is accepted. It keeps buckets in memory: a restart
// starts empty (an outage test cuts the connection in front of it instead of stopping it).
import * as fs from 'fs';
import * as path from 'path';
import type { ServiceContext, StackService } from '../service';
import { Daemon } from '../shared/daemon';
import { cacheDir, envPort } from '../shared/env';
import { lastOf } from '../shared/logs';
import { run, runAsync } from '../shared/run';

const MOTO = 'moto[server]==5.2.5';

export function s3(ctx: ServiceContext) {
  const port = envPort('SLUICE_S3_PORT', 14566);
  const venv = cacheDir('moto-5.2.5');
  const exe = path.join(venv, 'bin', 'moto_server');
  const complete = path.join(venv, '.complete');
  const url = `http://127.0.0.1:${port.port}`;
  const daemon = new Daemon(ctx, {
    pidFile: () => path.join(ctx.dir, 's3.pid'),
    marker: () => exe,
    word: 'moto',
    stopTimeoutMs: 10_000,
  });

  /** The venv, made once: a half-made one (no .complete marker: an interrupted install) is made again. */
  async function ensureMoto(): Promise<void> {
    if (fs.existsSync(complete)) return;
    ctx.log(`installing ${MOTO} into ${venv} (first run only, a few minutes)...`);
    fs.rmSync(venv, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(venv), { recursive: true });
    const steps: [string, string[]][] = [
      ['python3', ['-m', 'venv', venv]],
      [path.join(venv, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', MOTO]],
    ];
    for (const [cmd, args] of steps) {
      const r = await runAsync(cmd, args);
      if (!r.ok) {
        fs.rmSync(venv, { recursive: true, force: true });
        throw new Error(`${ctx.name}: ${cmd} ${args.join(' ')} failed:\n${lastOf(r.out, 10)}`);
      }
    }
    fs.writeFileSync(complete, `${MOTO}\n`);
  }

  return {
    name: ctx.name,
    ports: [port],
    startTimeoutMs: 60_000,
    // The venv needs ensurepip (Debian's python3-venv); once made, moto runs from it.
    missing: () =>
      fs.existsSync(complete) || run('python3', ['-c', 'import ensurepip']).ok
        ? []
        : [{ what: 'python3-venv', apt: ['python3-venv'] }],
    pid: (clean?: boolean) => daemon.pid(clean),
    async start() {
      await ensureMoto();
      fs.mkdirSync(ctx.dir, { recursive: true });
      return daemon.spawn(exe, ['-H', '127.0.0.1', '-p', String(port.port)], ctx.dir);
    },
    async check() {
      const r = await fetch(`${url}/`, { signal: AbortSignal.timeout(3000) });
      if (r.status !== 200) throw new Error(`GET ${url}/ answered ${r.status}`);
    },
    stop: () => daemon.stop(),
    kill: () => daemon.kill(),
    address: () => `127.0.0.1:${port.port}`,
    endpoints: () => ({ s3Url: url }),
  } satisfies StackService;
}

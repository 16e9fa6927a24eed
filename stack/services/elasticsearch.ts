// A single-node Elasticsearch 8 for the elasticsearch destination's tests: loopback only, security
// off, a small heap, on the machine's Java 17. Its distribution is the `integ-test-zip` from Maven
// Central (Elastic License 2.0), fetched once into the cache; it has only the server and a few
// modules (no painless, no reindex, no mapper-extras), which is all the destination relies on.
// Elasticsearch refuses to run as root: then it runs as a system user of its own (created here),
// with its files placed where that user can reach them (shared/unprivileged.ts).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ServiceContext, StackService } from '../service';
import { Daemon } from '../shared/daemon';
import { envPort, envSet } from '../shared/env';
import { lastOf } from '../shared/logs';
import { installHint } from '../shared/packages';
import { processTree, sendSignal } from '../shared/proc';
import { asUser, isRoot, run, runAsync, which } from '../shared/run';
import { chownFor, placement, userIds } from '../shared/unprivileged';

const VERSION = '8.15.0';
const ARTIFACT = `org.elasticsearch.distribution.integ-test-zip:elasticsearch:${VERSION}:zip`;
const USER = 'sluice-es';
const HEAP = '512m';

const cacheDir = () =>
  path.join(envSet('XDG_CACHE_HOME') ?? path.join(os.homedir(), '.cache'), 'sluice', 'elasticsearch');
const zipFile = () => path.join(cacheDir(), `elasticsearch-${VERSION}.zip`);

/** Java 17+ as the default `java`, and its home (ES_JAVA_HOME: the distribution has no bundled JDK). */
function javaHome(): string | undefined {
  const java = which('java');
  if (!java) return undefined;
  const m = /version "(\d+)/.exec(run('java', ['-version']).out);
  return m && Number(m[1]) >= 17 ? path.dirname(path.dirname(fs.realpathSync(java))) : undefined;
}

// One download per process, however many callers start the service at once.
let fetching: Promise<void> | undefined;
function ensureZip(ctx: Pick<ServiceContext, 'name' | 'log'>): Promise<void> {
  if (fs.existsSync(zipFile())) return Promise.resolve();
  fetching ??= (async () => {
    ctx.log(`fetching ${ARTIFACT} from Maven Central (~89 MB, first run only)...`);
    const tmp = `${cacheDir()}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const r = await runAsync(
      'mvn',
      ['-q', '-B', 'dependency:copy', `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${tmp}`],
      { cwd: tmp },
    );
    if (!r.ok) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`${ctx.name}: mvn dependency:copy of ${ARTIFACT} failed:\n${lastOf(r.out, 10)}`);
    }
    // Moved into place only when complete, so an interrupted download is never taken for the zip.
    fs.mkdirSync(cacheDir(), { recursive: true });
    fs.renameSync(path.join(tmp, path.basename(zipFile())), zipFile());
    fs.rmSync(tmp, { recursive: true, force: true });
  })().finally(() => (fetching = undefined));
  return fetching;
}

async function health(url: string): Promise<void> {
  const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, {
    signal: AbortSignal.timeout(3000),
  });
  const body = (await res.json()) as { status?: string };
  if (!res.ok || !body.status || body.status === 'red')
    throw new Error(`cluster health ${res.status} ${body.status ?? ''}`);
}

export function elasticsearch(ctx: ServiceContext) {
  const port = envPort('SLUICE_ELASTICSEARCH_PORT', 19200);
  const transport = envPort('SLUICE_ELASTICSEARCH_TRANSPORT_PORT', 19300);
  const url = () => envSet('ELASTICSEARCH_URL') ?? `http://127.0.0.1:${port.port}`;
  const place = (create: boolean) =>
    placement(
      ctx,
      { user: USER, fallbackTag: 'es', inUse: (base) => daemonFor(base).pid(false) !== undefined },
      create,
    );
  const files = (base: string) => ({
    dist: path.join(base, `elasticsearch-${VERSION}`),
    conf: path.join(base, 'config'),
    data: path.join(base, 'data'),
    logs: path.join(base, 'logs'),
    tmp: path.join(base, 'tmp'),
    pid: path.join(base, 'elasticsearch.pid'),
  });
  // The marker is the data path in the command line: a recycled pid is never taken for our server.
  const daemonFor = (base: string) =>
    new Daemon(ctx, {
      pidFile: () => files(base).pid,
      marker: () => `-Epath.data=${files(base).data}`,
      word: 'elasticsearch',
      stopTimeoutMs: 60_000,
    });
  const daemon = () => daemonFor(place(false).base);

  /** The system user it runs as when we are root. */
  async function ensureUser(): Promise<void> {
    if (!isRoot() || userIds(USER)) return;
    ctx.log(`creating system user ${USER} (Elasticsearch refuses to run as root)`);
    const r = await runAsync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      USER,
    ]);
    if (!r.ok && !userIds(USER)) throw new Error(`${ctx.name}: useradd ${USER} failed: ${r.out}`);
  }

  async function start(): Promise<number> {
    const java = javaHome();
    if (!java) throw new Error(`${ctx.name}: Java 17 or newer not found; ${installHint(ctx.name)}`);
    await ensureZip(ctx);
    await ensureUser();
    const p = place(true);
    const f = files(p.base);
    fs.mkdirSync(p.base, { recursive: true, mode: 0o755 });
    if (!fs.existsSync(f.dist)) {
      ctx.log(`unpacking Elasticsearch ${VERSION} into ${p.base} (first start of this home only)...`);
      const tmp = `${f.dist}.tmp-${process.pid}`;
      fs.rmSync(tmp, { recursive: true, force: true });
      const r = await runAsync('unzip', ['-q', zipFile(), '-d', tmp]);
      if (!r.ok) throw new Error(`${ctx.name}: unzip ${zipFile()} failed: ${lastOf(r.out)}`);
      fs.renameSync(path.join(tmp, `elasticsearch-${VERSION}`), f.dist);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    // Its own config dir (Elasticsearch writes its keystore there) with the heap; the rest goes on the command line.
    if (!fs.existsSync(f.conf)) fs.cpSync(path.join(f.dist, 'config'), f.conf, { recursive: true });
    fs.writeFileSync(path.join(f.conf, 'jvm.options.d', 'sluice.options'), `-Xms${HEAP}\n-Xmx${HEAP}\n`);
    // The stock jvm.options write the GC log, error files and heap dumps to paths relative to the
    // distribution (logs/, data/), which its user cannot write: point them at its own dirs.
    const stock = fs.readFileSync(path.join(f.dist, 'config', 'jvm.options'), 'utf8');
    fs.writeFileSync(
      path.join(f.conf, 'jvm.options'),
      stock
        .replace(/=logs\//g, `=${f.logs}/`)
        .replace(/file=logs\//g, `file=${f.logs}/`)
        .replace(/HeapDumpPath=data/g, `HeapDumpPath=${f.data}`),
    );
    for (const d of [f.data, f.logs, f.tmp]) fs.mkdirSync(d, { recursive: true });
    if (p.runAs) {
      const r = run('chown', ['-R', `${USER}:${USER}`, f.conf, f.data, f.logs, f.tmp]);
      if (!r.ok) throw new Error(`${ctx.name}: chown of its files failed: ${r.out}`);
      chownFor(p, p.base);
    }
    const settings = [
      `-Epath.data=${f.data}`, // the daemon's marker
      `-Epath.logs=${f.logs}`,
      `-Ecluster.name=sluice-${ctx.name}`,
      `-Enode.name=${ctx.name}`,
      '-Ediscovery.type=single-node',
      '-Enetwork.host=127.0.0.1',
      `-Ehttp.port=${port.port}`,
      `-Etransport.port=${transport.port}`,
      '-Expack.security.enabled=false',
      // A shared test machine's disk may be fuller than the watermarks: never turn indexes read-only for that.
      '-Ecluster.routing.allocation.disk.threshold_enabled=false',
    ];
    const env = [`ES_JAVA_HOME=${java}`, `ES_PATH_CONF=${f.conf}`, `ES_TMPDIR=${f.tmp}`];
    const [cmd, args] = asUser(p.runAs, '/usr/bin/env', [
      ...env,
      path.join(f.dist, 'bin', 'elasticsearch'),
      ...settings,
    ]);
    return daemonFor(p.base).spawn(cmd, args, p.base);
  }

  return {
    name: ctx.name,
    ports: [port, transport],
    externalEnv: 'ELASTICSEARCH_URL',
    // A first start unpacks the distribution and starts a JVM on a possibly busy machine.
    startTimeoutMs: 240_000,
    missing: () => [
      ...(javaHome() ? [] : [{ what: 'java>=17', apt: ['openjdk-17-jre-headless'] }]),
      ...(which('unzip') ? [] : [{ what: 'unzip', apt: ['unzip'] }]),
      ...(fs.existsSync(zipFile()) || which('mvn') ? [] : [{ what: 'mvn', apt: ['maven'] }]),
    ],
    fetch: () => ensureZip(ctx),
    pid: (clean?: boolean) => daemon().pid(clean),
    start,
    check: () => health(url()),
    // SIGTERM to the whole tree (runuser, the launcher and the server JVM): the server shuts down cleanly.
    stop: () => daemon().stop(async (pid) => sendSignal(processTree(pid), 'SIGTERM')),
    kill: () => daemon().kill(),
    reset: () => fs.rmSync(files(place(false).base).data, { recursive: true, force: true }),
    address: () => new URL(url()).host,
    endpoints: () => ({ elasticsearchUrl: url() }),
  } satisfies StackService;
}

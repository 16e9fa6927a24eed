/**
 * One Kafka Connect worker for bench/peer-debezium: its jars (fetched once by Maven from Maven
 * Central and cached), its JVM process (so /proc/<pid>/stat is the whole of Connect's CPU), and the
 * few REST calls the bench needs.
 *
 * Distributed mode, one worker: that is how Debezium is run in production (and by Debezium's own
 * container images), so the worker pays the costs a real deployment pays (config, status and offset
 * topics in Kafka, a consumer group for the sink). Standalone mode would only swap the offset topic
 * for a local file; throughput is decided by the connector tasks, which are the same in both.
 */
import { ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep, waitFor } from '../../test/dataplane/harness';
import { processCpuMs } from '../pipeline-measure';

const repo = path.resolve(__dirname, '..', '..', '..');
const pomDir = path.join(repo, 'bench', 'peer-debezium', 'maven');

const pomVersion = (file: string) => /<kafka\.version>([^<]+)</.exec(fs.readFileSync(file, 'utf8'))?.[1];

/**
 * The jar folders: `<cache>/connect` (classpath) and `<cache>/plugins` (plugin.path), under
 * ${XDG_CACHE_HOME:-~/.cache}/sluice/peer-debezium/<hash of the pom>, so a changed pom fetches anew
 * and an unchanged one starts at once. ~/.m2 keeps the downloads as well.
 */
export async function ensureConnectJars(
  log: (line: string) => void,
): Promise<{ classpath: string; pluginPath: string; fetchedSeconds: number | null }> {
  const pom = path.join(pomDir, 'pom.xml');
  const brokerVersion = pomVersion(path.join(repo, 'stack', 'services', 'kafka', 'pom.xml'));
  const connectVersion = pomVersion(pom);
  if (!brokerVersion || brokerVersion !== connectVersion) {
    throw new Error(
      `bench/peer-debezium/maven/pom.xml: kafka.version ${connectVersion} differs from the ` +
        `broker's ${brokerVersion} in stack/services/kafka/pom.xml; set it to ${brokerVersion}`,
    );
  }
  const hash = crypto.createHash('sha256').update(fs.readFileSync(pom)).digest('hex').slice(0, 12);
  const cacheRoot = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const dir = path.join(cacheRoot, 'sluice', 'peer-debezium', hash);
  const result = { classpath: path.join(dir, 'connect', '*'), pluginPath: path.join(dir, 'plugins') };
  if (fs.existsSync(path.join(dir, 'complete'))) return { ...result, fetchedSeconds: null };

  log(
    `fetching Kafka Connect ${connectVersion} and the Debezium plugins from Maven Central into ${dir} (first run only)...`,
  );
  const t0 = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn(
      'mvn',
      ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', 'dependency:unpack', `-Dpeer.lib=${tmp}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    child.on('error', (e) =>
      resolve({ code: -1, text: `${text}${e.message} (is Maven installed? apt-get install maven)` }),
    );
    child.on('close', (code) => resolve({ code, text }));
  });
  if (out.code !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(
      `mvn could not fetch the Connect/Debezium jars (bench/peer-debezium/maven/pom.xml):\n${out.text.split('\n').slice(-12).join('\n')}`,
    );
  }
  fs.writeFileSync(path.join(tmp, 'complete'), `${new Date().toISOString()}\n`);
  // Swapped in whole, so an interrupted fetch never looks complete.
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  const fetchedSeconds = (Date.now() - t0) / 1000;
  log(`fetched in ${fetchedSeconds.toFixed(1)} s`);
  return { ...result, fetchedSeconds };
}

/**
 * The JVM settings: Kafka's own launch script defaults (G1, 20 ms pause goal, early concurrent
 * cycles) with a fixed 1 GiB heap instead of its 256 MiB-2 GiB range, so the heap is not resized
 * under load and the sink's 5,000-record batches (plus the source queue) fit without full GCs.
 */
export const CONNECT_JVM_OPTS = [
  '-Xms1g',
  '-Xmx1g',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.awt.headless=true',
];

/**
 * Worker settings that apply to every connector's Kafka clients. The producer carries Debezium's
 * change events (JSON with schemas: ~2 KB each, very repetitive), the consumer feeds the JDBC sink.
 */
export const CONNECT_CLIENT_SETTINGS: Record<string, string | number> = {
  // Source side: fill big batches instead of Kafka's 16 KiB default (~8 of these records), wait up to
  // 10 ms for them (bounded latency cost), and compress: lz4 is the cheapest codec in CPU and shrinks
  // JSON-with-schema records several times, so the broker and the sink fetch far fewer bytes.
  'producer.batch.size': 1048576,
  'producer.linger.ms': 10,
  'producer.compression.type': 'lz4',
  'producer.buffer.memory': 67108864,
  'producer.max.request.size': 4194304,
  // Sink side: one poll hands the sink a whole batch (max.poll.records = the sink's batch.size);
  // per-partition fetches of 16 MiB so 5,000 ~2 KB records come in one fetch, not 1 MiB slices.
  // fetch.min.bytes stays 1 so a trickle is delivered at once (latency).
  'consumer.max.poll.records': 5000,
  'consumer.max.partition.fetch.bytes': 16777216,
  'consumer.fetch.max.bytes': 52428800,
  'consumer.fetch.min.bytes': 1,
  // Source offsets (the LSN confirmed to the slot) and sink consumer offsets are committed every 10 s
  // instead of 60 s: closer to what an operator wants for WAL retention, and no cost to throughput.
  'offset.flush.interval.ms': 10000,
};

export class ConnectWorker {
  private proc: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  readonly url: string;
  readonly logFile: string;

  constructor(
    private o: { port: number; brokers: string[]; home: string; tag: string; classpath: string; pluginPath: string },
  ) {
    this.url = `http://127.0.0.1:${o.port}`;
    fs.mkdirSync(path.join(o.home, 'logs'), { recursive: true });
    this.logFile = path.join(o.home, 'logs', `peer-debezium-connect-${o.tag}.log`);
  }

  get pid(): number {
    if (!this.proc?.pid) throw new Error('Kafka Connect is not running');
    return this.proc.pid;
  }

  /** Starts the JVM with a cluster of its own (group id and internal topics named after the tag) and waits for REST. */
  async start(): Promise<void> {
    const dir = path.join(this.o.home, 'peer-debezium', this.o.tag);
    fs.mkdirSync(dir, { recursive: true });
    const props = path.join(dir, 'connect-distributed.properties');
    const t = this.o.tag;
    const worker: Record<string, string | number> = {
      'bootstrap.servers': this.o.brokers.join(','),
      'group.id': `peer-debezium-${t}`,
      'config.storage.topic': `_peer-debezium-${t}-configs`,
      'offset.storage.topic': `_peer-debezium-${t}-offsets`,
      'status.storage.topic': `_peer-debezium-${t}-status`,
      // One broker: internal topics can only have one replica; one partition each is plenty for one worker.
      'config.storage.replication.factor': 1,
      'offset.storage.replication.factor': 1,
      'status.storage.replication.factor': 1,
      'offset.storage.partitions': 1,
      'status.storage.partitions': 1,
      // The JDBC sink needs schemas with each record; without a schema registry (Confluent's Avro
      // converter is not on Maven Central), JSON with embedded schemas is the converter that works.
      'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'key.converter.schemas.enable': 'true',
      'value.converter.schemas.enable': 'true',
      listeners: `http://127.0.0.1:${this.o.port}`,
      'rest.advertised.host.name': '127.0.0.1',
      'plugin.path': this.o.pluginPath,
      // Both plugins ship ServiceLoader manifests: find them through those instead of scanning every
      // class of ~90 MB of jars (Connect's own advice in its log; ~12 s less start-up here).
      'plugin.discovery': 'service_load',
      ...CONNECT_CLIENT_SETTINGS,
    };
    fs.writeFileSync(
      props,
      Object.entries(worker)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );
    const out = fs.openSync(this.logFile, 'a');
    this.proc = spawn(
      'java',
      [
        ...CONNECT_JVM_OPTS,
        `-Dlog4j2.configurationFile=${path.join(repo, 'stack', 'services', 'kafka', 'log4j2.properties')}`,
        '-cp',
        this.o.classpath,
        'org.apache.kafka.connect.cli.ConnectDistributed',
        props,
      ],
      { stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    const proc = this.proc;
    this.exited = new Promise((r) => proc.on('exit', (code) => r(code)));
    proc.on('error', () => undefined);
    await waitFor(
      `Kafka Connect REST on ${this.url} (log ${this.logFile})`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`Kafka Connect exited with ${proc.exitCode}; see ${this.logFile}`);
        const r = await fetch(`${this.url}/connector-plugins`).catch(() => undefined);
        return r?.ok ? true : undefined;
      },
      180000,
      500,
    );
  }

  /**
   * CPU ms per thread group of the JVM so far (from /proc/<pid>/task/*): where Connect's CPU goes.
   * Thread names are cut to 15 characters by the kernel, so groups go by prefix (hence connector
   * names `src-...` / `snk-...`: Connect names task threads `task-thread-<connector>-<n>`).
   */
  threadCpuMs(): Record<string, number> {
    const groups: [RegExp, string][] = [
      [/^debezium-postgr/, 'source: WAL reader and event conversion'],
      [/^task-thread-src/, 'source task: to JSON, send'],
      [/^task-thread-snk/, 'sink task: from JSON, write'],
      [/^kafka-producer/, 'producer network'],
      [/^C[12] Compiler/, 'JIT'],
      [/^(G1|GC Thread|VM Thread)/, 'GC + VM'],
    ];
    const out: Record<string, number> = {};
    for (const tid of fs.readdirSync(`/proc/${this.pid}/task`)) {
      try {
        const name = fs.readFileSync(`/proc/${this.pid}/task/${tid}/comm`, 'utf8').trim();
        const group = groups.find(([re]) => re.test(name))?.[1] ?? 'other';
        out[group] = (out[group] ?? 0) + processCpuMs(this.pid, tid);
      } catch {
        /* the thread ended */
      }
    }
    return out;
  }

  async rest(method: string, p: string, body?: unknown): Promise<any> {
    const r = await fetch(this.url + p, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`Kafka Connect ${method} ${p}: ${r.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** Creates a connector and waits until it and its tasks are RUNNING; a FAILED task ends the bench with its trace. */
  async createConnector(name: string, config: Record<string, string | number | boolean>): Promise<void> {
    const strings = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]));
    await this.rest('PUT', `/connectors/${name}/config`, strings);
    await waitFor(`connector ${name} RUNNING`, async () => this.running(name), 120000, 500);
  }

  /** True when the connector and all its tasks run; throws with the worker's trace when one failed. */
  async running(name: string): Promise<boolean> {
    const s = await this.rest('GET', `/connectors/${name}/status`);
    const failed = [s.connector, ...(s.tasks ?? [])].find((x: any) => x.state === 'FAILED');
    if (failed)
      throw new Error(`connector ${name} FAILED: ${String(failed.trace).split('\n').slice(0, 6).join(' | ')}`);
    return s.connector.state === 'RUNNING' && s.tasks?.length > 0 && s.tasks.every((x: any) => x.state === 'RUNNING');
  }

  /** Ends the JVM at once (the bench is being interrupted). */
  kill(): void {
    this.proc?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    await Promise.race([this.exited, sleep(30000)]);
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await this.exited;
    }
  }
}

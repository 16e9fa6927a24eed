// A single-node KRaft Kafka 4 (broker and controller in one JVM). Its jars come from Maven Central
// through pom.xml, fetched into lib/ on the first start; log4j2.properties sends the broker's logs
// to stdout, i.e. the service log. The module is instantiated per broker: a second one only needs
// another name (data dir, log) and other ports.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { kafkajs } from '../../../patches';
import type { ServiceContext, ServicePort, StackService } from '../../service';
import { Daemon } from '../../shared/daemon';
import { envSet } from '../../shared/env';
import { appendLog, lastOf } from '../../shared/logs';
import { installHint } from '../../shared/packages';
import { run, runAsync, which } from '../../shared/run';

export interface KafkaOptions {
  /** The PLAINTEXT listener clients use. */
  port: ServicePort;
  /** The KRaft controller listener. */
  controllerPort: ServicePort;
  /** The variable that makes this broker external (a comma-separated broker list). */
  externalEnv?: string;
  /**
   * A second listener with SASL/PLAIN (no TLS) for clients that log in: user `sluice`, with a
   * password made on the first start and kept in the data dir (endpoints() gives it).
   */
  saslPort?: ServicePort;
}

const assets = (repo: string) => path.join(repo, 'stack', 'services', 'kafka');

/** Java 17 or newer as the default `java`: Kafka 4 brokers need it. */
function javaMajor(): number | undefined {
  if (!which('java')) return undefined;
  const r = run('java', ['-version']);
  const m = /version "(\d+)/.exec(r.out);
  return m ? Number(m[1]) : undefined;
}

function haveJars(repo: string): boolean {
  const lib = path.join(assets(repo), 'lib');
  const version = /<kafka\.version>([^<]+)</.exec(fs.readFileSync(path.join(assets(repo), 'pom.xml'), 'utf8'))?.[1];
  const have = fs.existsSync(lib) ? fs.readdirSync(lib) : [];
  return have.includes(`kafka_2.13-${version}.jar`) && have.some((f) => f.startsWith('log4j-slf4j-impl-'));
}

// One fetch per process, however many brokers start at once (they share lib/).
let fetching: Promise<void> | undefined;

function ensureJars(ctx: ServiceContext): Promise<void> {
  if (haveJars(ctx.repo)) return Promise.resolve();
  fetching ??= (async () => {
    const dir = assets(ctx.repo);
    const lib = path.join(dir, 'lib');
    ctx.log('fetching the Kafka jars from Maven Central (first run only)...');
    const tmp = `${lib}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    const r = await runAsync('mvn', ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`], {
      cwd: dir,
    });
    if (!r.ok) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`${ctx.name}: mvn dependency:copy-dependencies failed:\n${lastOf(r.out, 10)}`);
    }
    // Swapped in whole so an interrupted fetch never looks like a complete lib/.
    fs.rmSync(lib, { recursive: true, force: true });
    fs.renameSync(tmp, lib);
    ctx.log(`${fs.readdirSync(lib).length} jars in ${lib}`);
  })().finally(() => (fetching = undefined));
  return fetching;
}

// Kafka's own Uuid.randomUuid(): 16 random bytes, url-safe base64 without padding, and never
// starting with '-' (the CLI would read it as an option). Saves a JVM start over `random-uuid`.
function newClusterId(): string {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function kafkaCheck(brokers: string[]): Promise<void> {
  const { Kafka, logLevel } = kafkajs();
  const kafka = new Kafka({
    clientId: 'sluice-stack-health',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    // Creates __consumer_offsets on first use and waits for its coordinator, so the first real
    // consumer group does not start with COORDINATOR_NOT_AVAILABLE / LOAD_IN_PROGRESS errors.
    await admin.describeGroups(['sluice-stack-health']);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export function kafka(ctx: ServiceContext, opts: KafkaOptions) {
  const { port, controllerPort: ctrl } = opts;
  const props = path.join(ctx.dir, 'server.properties');
  const data = path.join(ctx.dir, 'data');
  const brokers = (): string[] => {
    const external = opts.externalEnv ? envSet(opts.externalEnv) : undefined;
    return external
      ? external
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean)
      : [`127.0.0.1:${port.port}`];
  };
  const pidFile = path.join(ctx.dir, `${ctx.name}.pid`);
  const sasl = opts.saslPort;
  const saslPasswordFile = path.join(ctx.dir, 'sasl-password');
  const saslPassword = (): string => {
    if (!fs.existsSync(saslPasswordFile)) {
      fs.mkdirSync(ctx.dir, { recursive: true });
      fs.writeFileSync(saslPasswordFile, `kafka-${crypto.randomBytes(12).toString('hex')}`, { mode: 0o600 });
    }
    return fs.readFileSync(saslPasswordFile, 'utf8').trim();
  };
  const daemon = new Daemon(ctx, { pidFile: () => pidFile, marker: () => props, word: 'java', stopTimeoutMs: 60_000 });

  const javaArgs = () => [
    '-Xms256m',
    '-Xmx512m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${path.join(assets(ctx.repo), 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${ctx.logsDir}`,
    '-cp',
    `${path.join(assets(ctx.repo), 'lib')}/*`, // expanded by the JVM, not a shell
  ];

  async function start(): Promise<number> {
    await ensureJars(ctx);
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(
      props,
      [
        '# Written by the Sluice local stack on every start: single-node KRaft broker+controller.',
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${ctrl.port}`,
        `listeners=PLAINTEXT://127.0.0.1:${port.port},CONTROLLER://127.0.0.1:${ctrl.port}${sasl ? `,SASL_PLAINTEXT://127.0.0.1:${sasl.port}` : ''}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port.port}${sasl ? `,SASL_PLAINTEXT://127.0.0.1:${sasl.port}` : ''}`,
        `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${sasl ? ',SASL_PLAINTEXT:SASL_PLAINTEXT' : ''}`,
        ...(sasl
          ? [
              'sasl.enabled.mechanisms=PLAIN',
              'listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule ' +
                'required ' +
                `username="sluice" password="${saslPassword()}" user_sluice="${saslPassword()}";`,
            ]
          : []),
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        `log.dirs=${data}`,
        // One node: every internal topic must be satisfiable with a single replica.
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'share.coordinator.state.topic.replication.factor=1',
        'share.coordinator.state.topic.min.isr=1',
        'min.insync.replicas=1',
        'default.replication.factor=1',
        'group.initial.rebalance.delay.ms=0',
        // After a kill -9 the restarted broker cannot register until the controller has expired
        // the dead incarnation's session (default 9s); keep that short for crash tests.
        'broker.heartbeat.interval.ms=500',
        'broker.session.timeout.ms=3000',
        'num.partitions=3',
        'auto.create.topics.enable=true',
        '',
      ].join('\n'),
    );

    if (!fs.existsSync(path.join(data, 'meta.properties'))) {
      const clusterId = newClusterId();
      ctx.log(`formatting storage ${data} (cluster id ${clusterId}, first run only)...`);
      const format = ['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props];
      const r = await runAsync('java', [...javaArgs(), ...format], { cwd: ctx.dir });
      appendLog(ctx.logFile, r.out);
      if (!r.ok) throw new Error(`${ctx.name}: storage format failed:\n${lastOf(r.out)}`);
    }
    const java = which('java');
    if (!java) throw new Error(`${ctx.name}: java not found on PATH; ${installHint(ctx.name)}`);
    return daemon.spawn(java, [...javaArgs(), 'kafka.Kafka', props], ctx.dir);
  }

  return {
    name: ctx.name,
    ports: [port, ctrl, ...(sasl ? [sasl] : [])],
    externalEnv: opts.externalEnv,
    startTimeoutMs: 120_000,
    missing: () => [
      ...((javaMajor() ?? 0) >= 17 ? [] : [{ what: 'java>=17', apt: ['openjdk-17-jre-headless'] }]),
      ...(haveJars(ctx.repo) || which('mvn') ? [] : [{ what: 'mvn', apt: ['maven'] }]),
    ],
    pid: (clean?: boolean) => daemon.pid(clean),
    start,
    check: () => kafkaCheck(brokers()),
    stop: () => daemon.stop(),
    kill: () => daemon.kill(),
    address: () => brokers().join(','),
    endpoints: () => ({
      kafkaBrokers: brokers(),
      ...(sasl ? { saslBrokers: [`127.0.0.1:${sasl.port}`], saslUser: 'sluice', saslPassword: saslPassword() } : {}),
    }),
  } satisfies StackService;
}

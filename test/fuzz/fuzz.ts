import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sampleConfigs, TestApi } from '../helpers';

/**
 * Runs schemathesis (test/setup.d/schemathesis.sh installs the version in requirements.txt) against
 * a live API, with every check. Shared by test/fuzz/api-fuzz.test.ts (two minutes, in the suite)
 * and test/fuzz/long-run.ts (the longer run docs/hardening.md records).
 *
 * The API is seeded first (objects of every kind, pipelines, DLQ records, a snapshot), and
 * schemathesis is told their ids through dictionaries: a drawn UUID never names an existing
 * pipeline, and a pipeline needs an existing source and destination, so without them half the
 * operations would only ever answer 404 or 409.
 */
const dir = path.resolve(__dirname, '..', '..', '..', 'test', 'fuzz');
export const schemathesisVersion = /^schemathesis==(\S+)$/m.exec(
  fs.readFileSync(path.join(dir, 'requirements.txt'), 'utf8'),
)![1];
export const schemathesisBin = path.join(
  process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'),
  'sluice',
  `schemathesis-${schemathesisVersion}`,
  'bin',
  'schemathesis',
);

export interface FuzzResult {
  code: number | null;
  out: string;
  summary: string;
  generated: number;
  tested: number;
  command: string;
}

async function created(api: TestApi, p: string, body: unknown): Promise<string> {
  const r = await api.call('POST', p, body);
  if (r.status !== 201) throw new Error(`seeding ${p}: ${r.status} ${r.text}`);
  return r.body.id;
}

/** Objects for the fuzzer to find; returns dictionaries of their ids. */
export async function seed(api: TestApi): Promise<Record<string, string[]>> {
  const ids: Record<string, string[]> = { sources: [], destinations: [], transforms: [], pipelines: [] };
  for (const [key, config] of Object.entries(sampleConfigs)) {
    const [category, kind] = key.split('/');
    ids[`${category}s`].push(
      await created(api, `/v1/${category}s`, {
        name: `seed-${category}-${kind}`,
        kind,
        config,
        tags: { seeded: 'yes' },
      }),
    );
  }
  for (let i = 0; i < 4; i++) {
    ids.pipelines.push(
      await created(api, '/v1/pipelines', {
        name: `seed-pipeline-${i}`,
        source_id: ids.sources[i % ids.sources.length],
        destination_id: ids.destinations[i % ids.destinations.length],
        transform_ids: ids.transforms.slice(0, i),
        tables: ['public.orders'],
      }),
    );
  }
  for (const p of ids.pipelines) {
    await api.ds.query(
      `INSERT INTO dlq_records (pipeline_id, topic, kafka_partition, kafka_offset, record_key, record_value, error_class, error_message, attempts)
       SELECT $1, 'seed.public.orders', 0, n, 'k' || n, jsonb_build_object('after', jsonb_build_object('id', n)),
       'constraint', 'seeded record', 3 FROM generate_series(1, 3) n`,
      [p],
    );
    await api.ds.query(`INSERT INTO snapshots (pipeline_id, tables) VALUES ($1, '["public.orders"]')`, [p]);
  }
  // Alert channels (one per kind) and rules, on 127.0.0.1:9 (discard): nothing is delivered anywhere.
  const channelConfigs: Record<string, Record<string, unknown>> = {
    webhook: { webhook_url: 'http://127.0.0.1:9/hook', webhook_secret: 'seed-secret' },
    slack: { slack_webhook_url: 'http://127.0.0.1:9/slack' },
    email: {
      smtp_host: '127.0.0.1',
      smtp_port: 9,
      smtp_tls: 'none',
      email_from: 'sluice@example.com',
      email_to: ['oncall@example.com'],
    },
  };
  ids.channels = [];
  for (const [kind, config] of Object.entries(channelConfigs))
    ids.channels.push(await created(api, '/v1/alert-channels', { name: `seed-channel-${kind}`, kind, config }));
  ids.rules = [
    await created(api, '/v1/alert-rules', {
      name: 'seed-rule-pipeline',
      condition: 'lag_above',
      threshold: 100,
      pipeline_id: ids.pipelines[0],
      channel_ids: ids.channels.slice(0, 1),
      enabled: false,
    }),
    await created(api, '/v1/alert-rules', {
      name: 'seed-rule-selector',
      condition: 'broken',
      selector: { seeded: 'yes' },
      channel_ids: ids.channels.slice(1),
      enabled: false,
    }),
  ];
  ids.dlq = (await api.ds.query(`SELECT id::text FROM dlq_records`)).map((r: { id: string }) => r.id);
  ids.snapshots = (await api.ds.query(`SELECT id::text FROM snapshots`)).map((r: { id: string }) => r.id);
  return ids;
}

const q = (s: string) => JSON.stringify(s);

/** The checked-in settings plus dictionaries of the seeded ids, bound to the parameters that name them. */
function configWith(ids: Record<string, string[]>): string {
  const base = fs.readFileSync(path.join(dir, 'schemathesis.toml'), 'utf8');
  const dicts = Object.entries(ids).map(
    ([name, values]) =>
      `[dictionaries.${name}]\nvalues = [${values.map((v) => (name === 'dlq' ? v : q(v))).join(', ')}]\n`,
  );
  const bind = (pathRegex: string, params: Record<string, string>, extra = '') =>
    `[[operations]]\ninclude-path-regex = ${q(pathRegex)}\n${extra}parameters = { ${Object.entries(params)
      .map(([k, d]) => `${q(k)} = { dictionary = ${q(d)}, probability = 0.7 }`)
      .join(', ')} }\n`;
  const ops = [
    // Deleting them would leave the rest of the run with 404s only.
    ...['sources', 'destinations', 'transforms'].map((c) =>
      bind(`^/v1/${c}/\\{id\\}$`, { 'path.id': c }, 'exclude-method = "DELETE"\n'),
    ),
    // Not transform_ids[*]: the binding fills every item alike, and the list must not repeat one.
    bind(
      '^/v1/pipelines/\\{id\\}$',
      { 'path.id': 'pipelines', 'body.source_id': 'sources', 'body.destination_id': 'destinations' },
      'exclude-method = "DELETE"\n',
    ),
    bind('^/v1/pipelines$', { 'body.source_id': 'sources', 'body.destination_id': 'destinations' }),
    bind('^/v1/pipelines/\\{id\\}/snapshots/\\{sid\\}$', { 'path.id': 'pipelines', 'path.sid': 'snapshots' }),
    bind('^/v1/pipelines/\\{id\\}/dlq/(replay|discard)$', { 'path.id': 'pipelines', 'body.ids[*]': 'dlq' }),
    bind('^/v1/pipelines/\\{id\\}/(status|restart|snapshots|dlq|verify|pause|resume|metrics|schema|schema/ack)$', {
      'path.id': 'pipelines',
    }),
    bind('^/v1/alert-channels/\\{id\\}$', { 'path.id': 'channels' }, 'exclude-method = "DELETE"\n'),
    bind(
      '^/v1/alert-rules/\\{id\\}$',
      { 'path.id': 'rules', 'body.pipeline_id': 'pipelines' },
      'exclude-method = "DELETE"\n',
    ),
    bind('^/v1/alert-rules$', { 'body.pipeline_id': 'pipelines' }),
    bind('^/v1/alerts$', { 'query.pipeline_id': 'pipelines', 'query.rule_id': 'rules' }),
  ];
  return [base, ...dicts, ...ops].join('\n');
}

/** Seeds the API and runs schemathesis for `seconds` with `seed`; `code` 0 means no finding. */
export async function fuzz(
  api: TestApi,
  opts: { seconds: number; seed: number; log?: (chunk: string) => void },
): Promise<FuzzResult> {
  if (!fs.existsSync(schemathesisBin))
    throw new Error(`${schemathesisBin} missing: test/setup.d/schemathesis.sh installs it`);
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-fuzz-'));
  try {
    const configFile = path.join(cwd, 'schemathesis.toml');
    fs.writeFileSync(configFile, configWith(await seed(api)));
    // One worker: hypothesis can trip CPython 3.11's AST constructor check under threads (gh-106905).
    const args = [
      '--config-file',
      configFile,
      'run',
      `${api.url}/openapi.json`,
      '-H',
      `Authorization: Bearer ${api.token}`,
      '--checks',
      'all',
      '--seed',
      String(opts.seed),
      '--max-time',
      String(opts.seconds),
      '--workers',
      '1',
      '--no-color',
      '--request-timeout',
      '30',
    ];
    const command = [
      schemathesisBin,
      ...args.map((a) =>
        a.startsWith('Authorization') ? q('Authorization: Bearer $TOKEN') : a.includes(' ') ? q(a) : a,
      ),
    ].join(' ');
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(schemathesisBin, args, { cwd, env: { ...process.env, NO_COLOR: '1' } });
      let text = '';
      const take = (d: Buffer) => {
        text += d;
        opts.log?.(String(d));
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, out: text }));
    });
    const summary = out.slice(out.lastIndexOf('SUMMARY'));
    return {
      code,
      out,
      summary,
      command,
      generated: Number(/(\d+) generated/.exec(summary)?.[1] ?? 0),
      tested: Number(/Tested: (\d+)/.exec(summary)?.[1] ?? 0),
    };
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}

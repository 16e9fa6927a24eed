import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import { startApi, RunningApi } from '../api/server';
import { loadConfig, SluiceConfig } from '../core/config';
import { withDatabase } from '../stack/stack';

/** Services come from the environment test/run.sh sets up once per run (stack/ or external). */
export const env = loadConfig();

export { withDatabase };

/** A fresh, empty database on the test Postgres, so each test file starts from nothing. */
export async function freshDatabase(prefix: string): Promise<string> {
  const name = `${prefix}_${crypto.randomBytes(4).toString('hex')}`;
  const c = new Client({ connectionString: env.databaseUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return withDatabase(env.databaseUrl, name);
}

export interface TestApi extends RunningApi {
  token: string;
  home: string;
  logLines: string[];
  databaseUrl: string;
  /** Every response call() received (status, headers, body), for tests that search them (test/secrets.test.ts). */
  responses: string[];
  call(
    method: string,
    p: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; text: string; headers: Headers }>;
}

/** Starts the real API (real Postgres, Redis, Kafka) on a random port with its own DB and home. */
export async function startTestApi(
  opts: {
    databaseUrl?: string;
    kafkaBrokers?: string[];
    bodyLimit?: string;
    config?: Partial<SluiceConfig>;
    token?: string;
  } = {},
): Promise<TestApi> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-test-'));
  // Processes sharing a control DB share the bootstrap token: a different one replaces it.
  const token = opts.token ?? 'test_' + crypto.randomBytes(16).toString('hex');
  const databaseUrl = opts.databaseUrl ?? (await freshDatabase('sluice_t'));
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const api = await startApi(
    {
      home,
      apiPort: 0,
      databaseUrl,
      bootstrapToken: token,
      logLevel: 'debug',
      ...(opts.kafkaBrokers ? { kafkaBrokers: opts.kafkaBrokers } : {}),
      ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
      ...opts.config,
    },
    sink,
  );
  const responses: string[] = [];
  const call: TestApi['call'] = async (method, p, body, headers = {}) => {
    const res = await fetch(api.url + p, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    responses.push(`${method} ${p} -> ${res.status} ${JSON.stringify([...res.headers])}\n${text}`);
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
  return Object.assign(api, { token, home, logLines, databaseUrl, call, responses });
}

/** A valid config for every declared kind; the suite checks that each kind has one. */
export const sampleConfigs: Record<string, Record<string, unknown>> = {
  'source/postgresql': {
    host: '127.0.0.1',
    port: 5432,
    database: 'shop',
    user: 'cdc',
    password: 'pw-source',
    table_include: ['public.orders'],
  },
  'source/mysql': { host: 'db.internal', user: 'cdc', password: 'pw-mysql', database_include: ['shop'] },
  'destination/postgresql': {
    host: '127.0.0.1',
    database: 'warehouse',
    user: 'loader',
    password: 'pw-dest',
    schema: 'raw',
  },
  'destination/mysql': { host: '127.0.0.1', database: 'warehouse', user: 'loader', password: 'pw-dest-my' },
  'destination/elasticsearch': {
    url: 'https://es.internal:9200',
    username: 'loader',
    password: 'pw-dest-es',
    api_key: 'es-api-key-secret',
  },
  'destination/webhook': {
    url: 'https://hooks.example.com/sluice',
    headers: ['X-Team: data'],
    secret_headers: 'Authorization: Bearer wh-token-secret',
    signing_secret: 'wh-signing-secret',
  },
  'destination/s3': {
    bucket: 'lake',
    endpoint: 'https://s3.internal:9000',
    force_path_style: true,
    access_key_id: 'AKIAS3SAMPLE',
    secret_access_key: 's3-secret-key',
    session_token: 's3-session-token',
  },
  'destination/kafka': {
    bootstrap_servers: ['kafka.internal:9092'],
    sasl_mechanism: 'scram-sha-512',
    sasl_username: 'loader',
    sasl_password: 'pw-dest-kafka',
  },
  'transform/rename_fields': { mappings: { email: 'email_address' } },
  'transform/drop_fields': { fields: ['ssn'] },
  'transform/mask_fields': { fields: ['email'], strategy: 'hash', salt: 'pepper-salt' },
  'transform/filter_rows': { column: 'status', operator: 'in', values: ['paid', 'shipped'] },
  'transform/map_filter': { code: 'function transform(e) { return e.after && e.after.total > 0 ? e : null; }' },
};

// Alert channels and rules through the API (validation, write-only secrets, export/import), every
// rule condition through the real evaluator (runner reports and DLQ rows written into the control
// DB, no worker needed), the metrics history, the status list, the CLI and the sign-in hint.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { startApi } from '../../api/server';
import { sampleMetrics } from '../../api/metrics-history';
import { tokenCommand } from '../../bin/dev';
import { freshDatabase, sampleConfigs, startTestApi, TestApi } from '../helpers';
import { repo, waitFor } from '../dataplane/harness';
import { startWebhookReceiver } from './receivers';

let api: TestApi;
let pipelineId: string;
let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
let slack: Awaited<ReturnType<typeof startWebhookReceiver>>;
let channels: { webhook: string; slack: string };

async function makePipeline(name: string, tags: Record<string, string> = {}) {
  const src = await api.call('POST', '/v1/sources', {
    name: `${name}-src`,
    kind: 'postgresql',
    config: { ...sampleConfigs['source/postgresql'], port: 1, slot_name: `s_${name.replace(/-/g, '_')}` },
  });
  const dst = await api.call('POST', '/v1/destinations', {
    name: `${name}-dst`,
    kind: 'postgresql',
    config: { ...sampleConfigs['destination/postgresql'], port: 1 },
  });
  const p = await api.call('POST', '/v1/pipelines', {
    name,
    source_id: src.body.id,
    destination_id: dst.body.id,
    tags,
  });
  assert.equal(p.status, 201, p.text);
  return p.body.id as string;
}
const sql = (text: string, args: unknown[] = []) => api.ds.query(text, args);
/**
 * A runner's report as a worker writes it (workers/pipeline.ts). No runner follows it up, so its heartbeat
 * is dated 10 minutes ahead: at load 15 a test outlasted the 15 s after which a report reads as no_worker,
 * which turned the pipeline Broken and fired the broken rule once more (11 notifications, not 10).
 */
const report = (
  id: string,
  o: {
    state?: string;
    reason?: string | null;
    lag?: number;
    lastEvent?: string | null;
    inTotal?: number;
    outTotal?: number;
    token?: string;
  },
) =>
  sql(
    `INSERT INTO pipeline_runtime (pipeline_id, state, reason, since, heartbeat_at, runner_token, source, sink) VALUES ($1, $2, $3, now(), now() + interval '10 minutes', $4, $5, $6)
   ON CONFLICT (pipeline_id) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason,
   heartbeat_at = EXCLUDED.heartbeat_at,
   runner_token = EXCLUDED.runner_token, source = EXCLUDED.source, sink = EXCLUDED.sink`,
    [
      id,
      o.state ?? 'Active',
      o.reason ?? null,
      o.token ?? 'tok',
      JSON.stringify({
        state: 'streaming',
        last_event_at: o.lastEvent === undefined ? new Date().toISOString() : o.lastEvent,
        events_in_total: o.inTotal ?? 0,
      }),
      JSON.stringify({
        state: 'running',
        lag: o.lag ?? 0,
        events_out_total: o.outTotal ?? 0,
        errors_total: 0,
        partitions: { 'dp.public.events/0': o.lag ?? 0 },
      }),
    ],
  );

before(async () => {
  api = await startTestApi();
  pipelineId = await makePipeline('orders', { team: 'pay' });
  hook = await startWebhookReceiver('s3cret-hmac');
  slack = await startWebhookReceiver('unused');
});
after(async () => {
  await api.close();
  await hook.close();
  await slack.close();
});

describe('alert channels and rules', () => {
  it('validates channels by kind, naming the field, and keeps secrets write-only', async () => {
    const bad = await api.call('POST', '/v1/alert-channels', { name: 'x', kind: 'pager', config: {} });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].field, 'kind');
    const noSecret = await api.call('POST', '/v1/alert-channels', {
      name: 'x',
      kind: 'webhook',
      config: { webhook_url: hook.url },
    });
    assert.equal(noSecret.status, 400);
    assert.ok(
      noSecret.body.errors.some((e: any) => e.field === 'config.webhook_secret'),
      noSecret.text,
    );
    const foreign = await api.call('POST', '/v1/alert-channels', {
      name: 'x',
      kind: 'webhook',
      config: { webhook_url: hook.url, webhook_secret: 'k', smtp_host: 'mail' },
    });
    assert.equal(foreign.status, 400);
    assert.ok(
      foreign.body.errors.some((e: any) => e.field === 'config.smtp_host'),
      foreign.text,
    );
    const wh = await api.call('POST', '/v1/alert-channels', {
      name: 'hook',
      kind: 'webhook',
      config: { webhook_url: hook.url, webhook_secret: 's3cret-hmac' },
    });
    assert.equal(wh.status, 201, wh.text);
    assert.deepEqual(wh.body.secrets_set, ['webhook_secret']);
    assert.ok(!wh.text.includes('s3cret-hmac'));
    const sl = await api.call('POST', '/v1/alert-channels', {
      name: 'slack',
      kind: 'slack',
      config: { slack_webhook_url: `${slack.url}/services/T000/B000/XXXX` },
    });
    assert.equal(sl.status, 201, sl.text);
    assert.ok(!sl.text.includes('/services/'), 'the Slack URL is a credential: never returned');
    channels = { webhook: wh.body.id, slack: sl.body.id };
    const stale = await api.call(
      'PATCH',
      `/v1/alert-channels/${wh.body.id}`,
      { tags: { a: 'b' } },
      { 'if-match': '"7"' },
    );
    assert.equal(stale.status, 412);
    const dup = await api.call('POST', '/v1/alert-channels', {
      name: 'hook',
      kind: 'slack',
      config: { slack_webhook_url: slack.url },
    });
    assert.equal(dup.status, 409);
    for (const l of api.logLines)
      assert.ok(!l.includes('s3cret-hmac') && !l.includes('/services/T000'), 'no secret in the logs');
  });

  it('validates rules: condition, references, target', async () => {
    // 400: the body does not match the OpenAPI document; 409: it does, but names what does not exist
    // or sets two fields that exclude each other.
    const cases: [Record<string, unknown>, string, number][] = [
      [{ name: 'r', condition: 'sad', channel_ids: [channels.webhook] }, 'condition', 400],
      [{ name: 'r', condition: 'broken', channel_ids: [] }, 'channel_ids', 400],
      [{ name: 'r', condition: 'broken', channel_ids: [channels.webhook, channels.webhook] }, 'channel_ids', 400],
      [
        { name: 'r', condition: 'broken', channel_ids: ['00000000-0000-0000-0000-000000000000'] },
        'channel_ids[0]',
        409,
      ],
      [
        {
          name: 'r',
          condition: 'broken',
          pipeline_id: '00000000-0000-0000-0000-000000000000',
          channel_ids: [channels.webhook],
        },
        'pipeline_id',
        409,
      ],
      [
        {
          name: 'r',
          condition: 'broken',
          pipeline_id: pipelineId,
          selector: { team: 'pay' },
          channel_ids: [channels.webhook],
        },
        'selector',
        409,
      ],
      [{ name: 'r', condition: 'lag_above', threshold: -1, channel_ids: [channels.webhook] }, 'threshold', 400],
    ];
    for (const [body, field, status] of cases) {
      const r = await api.call('POST', '/v1/alert-rules', body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.ok(
        r.body.errors.some((e: any) => e.field === field),
        `${field}: ${r.text}`,
      );
    }
    assert.equal((await api.call('GET', '/v1/alert-rules?name=r')).body.total, 0, 'nothing was stored');
    const inUse = await api.call('POST', '/v1/alert-rules', {
      name: 'keep',
      condition: 'broken',
      channel_ids: [channels.webhook],
      enabled: false,
    });
    assert.equal(inUse.status, 201, inUse.text);
    assert.equal((await api.call('DELETE', `/v1/alert-channels/${channels.webhook}`)).status, 409);
    assert.equal((await api.call('DELETE', `/v1/alert-rules/${inUse.body.id}`)).status, 204);
  });

  it('every condition fires once and resolves once; repeats are deduplicated', async () => {
    const rule = async (name: string, body: Record<string, unknown>) => {
      const r = await api.call('POST', '/v1/alert-rules', {
        name,
        pipeline_id: pipelineId,
        for_seconds: 0,
        channel_ids: [channels.webhook, channels.slack],
        ...body,
      });
      assert.equal(r.status, 201, r.text);
      return r.body.id as string;
    };
    const events = async (ruleId: string) =>
      (await api.call('GET', `/v1/alerts?rule_id=${ruleId}`)).body.items.map((e: any) => e.event).reverse();
    const cycle = async (ruleId: string, on: () => Promise<unknown>, off: () => Promise<unknown>) => {
      await on();
      await waitFor(`${ruleId} fires`, async () => (await events(ruleId)).join() === 'firing', 20000);
      await new Promise((r) => setTimeout(r, 4500)); // two more evaluations while it holds: no repeat
      assert.deepEqual(await events(ruleId), ['firing']);
      await off();
      await waitFor(`${ruleId} resolves`, async () => (await events(ruleId)).join() === 'firing,resolved', 20000);
    };
    const broken = await rule('broken', { condition: 'broken' });
    await cycle(
      broken,
      () => report(pipelineId, { state: 'Broken', reason: 'destination_unreachable: test' }),
      () => report(pipelineId, { state: 'Active' }),
    );
    const lag = await rule('lag', { condition: 'lag_above', threshold: 100 });
    await cycle(
      lag,
      () => report(pipelineId, { lag: 500 }),
      () => report(pipelineId, { lag: 3 }),
    );
    const dlq = await rule('dlq', { condition: 'dlq_above', threshold: 0 });
    await cycle(
      dlq,
      () =>
        sql(
          'INSERT INTO dlq_records (pipeline_id, topic, kafka_partition, ' +
            "kafka_offset, error_class, error_message, attempts) VALUES ($1, 't', " +
            "0, 1, 'pg_23514', 'check', 3)",
          [pipelineId],
        ),
      () => sql(`UPDATE dlq_records SET status = 'discarded' WHERE pipeline_id = $1`, [pipelineId]),
    );
    const silent = await rule('silent', { condition: 'no_source_event', for_seconds: 60 });
    await cycle(
      silent,
      () => report(pipelineId, { lastEvent: new Date(Date.now() - 120_000).toISOString() }),
      () => report(pipelineId, {}),
    );
    // verify_failing: the sample pipeline's databases are unreachable (port 1), so its checklist fails.
    const verify = await rule('verify', { condition: 'verify_failing' });
    await waitFor('verify_failing fires', async () => (await events(verify)).join() === 'firing', 30000);
    await api.call('PATCH', `/v1/alert-rules/${verify}`, { enabled: false });
    await waitFor('a disabled rule resolves', async () => (await events(verify)).join() === 'firing,resolved', 20000);
    // Every transition reached both channels once.
    await waitFor('all delivered', async () => hook.got.length === 10 && slack.got.length === 10, 20000);
    assert.ok(hook.got.every((g) => g.signatureOk));
    assert.deepEqual(
      hook.got.map((g) => `${g.body.rule.name}:${g.body.event}`),
      ['broken', 'lag', 'dlq', 'silent', 'verify'].flatMap((n) => [`${n}:firing`, `${n}:resolved`]),
    );
    assert.match(
      slack.got[0].body.text,
      /FIRING: broken - pipeline orders: broken \(Broken\) - destination_unreachable: test/,
    );
    assert.equal(slack.got[0].path, '/services/T000/B000/XXXX');
  });

  it('survives a restart of the only API: the state is in the control DB, nothing is sent again', async () => {
    const before = hook.got.length;
    await api.alerts.close();
    const again = await startApi({
      home: api.home,
      apiPort: 0,
      databaseUrl: api.databaseUrl,
      bootstrapToken: api.token,
      logLevel: 'warn',
    });
    try {
      await waitFor('leader again', async () => again.alerts.isLeader, 20000);
      await new Promise((r) => setTimeout(r, 5000));
      assert.equal(hook.got.length, before);
    } finally {
      await again.close();
    }
  });
});

describe('export and import', () => {
  it(
    'round-trips alert channels and rules by name, secrets as variables; ' + 'HCL has the Terraform resources',
    async () => {
      const doc = (await api.call('GET', '/v1/export?format=json')).body;
      assert.equal(doc.alert_channels.length, 2);
      assert.deepEqual(doc.alert_channels.find((c: any) => c.name === 'hook').config.webhook_secret, {
        $secret: 'alert_channel_hook_webhook_secret',
      });
      assert.equal(doc.alert_rules.find((r: any) => r.name === 'lag').pipeline, 'orders');
      const hcl = (await api.call('GET', '/v1/export?format=hcl')).text;
      assert.match(hcl, /resource "sluice_alert_channel" "hook"/);
      assert.match(hcl, /webhook_secret\s+= var\.alert_channel_hook_webhook_secret/);
      assert.match(hcl, /channel_ids\s+= \[sluice_alert_channel\.hook\.id, sluice_alert_channel\.slack\.id\]/);
      assert.match(hcl, /pipeline_id\s+= sluice_pipeline\.orders\.id/);
      const other = await startTestApi({ databaseUrl: await freshDatabase('sluice_imp') });
      try {
        const connectorSecrets = {
          source_orders_src_password: 'pw-source',
          destination_orders_dst_password: 'pw-dest',
          source_invoices_src_password: 'pw',
          destination_invoices_dst_password: 'pw',
        };
        const missing = await other.call('POST', '/v1/import', { ...doc, secrets: connectorSecrets });
        assert.equal(missing.status, 409); // matches the document, conflicts with the instance (as for connectors: topology.test)
        assert.ok(
          missing.body.errors.some((e: any) => e.field === 'secrets.alert_channel_hook_webhook_secret'),
          missing.text,
        );
        const secrets = {
          ...connectorSecrets,
          alert_channel_hook_webhook_secret: 'k1',
          alert_channel_slack_slack_webhook_url: 'http://127.0.0.1:9/x',
        };
        // Only the exact placeholder, and only in a secret field: anything else is the field's own (wrong) value.
        const withChannel = (config: Record<string, unknown>) => ({
          ...doc,
          secrets,
          alert_channels: doc.alert_channels.map((c: any) => (c.name === 'hook' ? { ...c, config } : c)),
        });
        const hook = doc.alert_channels.find((c: any) => c.name === 'hook').config;
        for (const config of [
          { ...hook, webhook_secret: { $secret: 'alert_channel_hook_webhook_secret', extra: 1 } },
          { ...hook, url: { $secret: 'alert_channel_hook_webhook_secret' } },
        ]) {
          const bad = await other.call('POST', '/v1/import?dry_run=true', withChannel(config));
          assert.ok(bad.status === 400 || bad.status === 409, bad.text);
          assert.match(bad.text, /alert_channels\[\d\]\.config\.(webhook_secret|url)/);
        }
        const dry = await other.call('POST', '/v1/import?dry_run=true', { ...doc, secrets });
        assert.equal(dry.status, 200, dry.text);
        assert.equal((await other.call('GET', '/v1/alert-rules')).body.total, 0, 'a dry run changes nothing');
        const done = await other.call('POST', '/v1/import', { ...doc, secrets });
        assert.equal(done.status, 200, done.text);
        const again = (await other.call('GET', '/v1/export?format=json')).body;
        assert.deepEqual(again.alert_channels, doc.alert_channels);
        assert.deepEqual(again.alert_rules, doc.alert_rules);
        assert.equal(
          (await other.call('POST', '/v1/import', { ...doc, secrets })).body.summary.create,
          0,
          'idempotent',
        );
      } finally {
        await other.close();
      }
    },
  );
});

describe('metrics history and status list', () => {
  it('samples every pipeline, serves buckets with bounded parameters, prunes after 24 h', async () => {
    await sql(`DELETE FROM pipeline_metrics WHERE pipeline_id = $1`, [pipelineId]); // the engine's own samples are newer than these
    await report(pipelineId, { lag: 40, inTotal: 1000, outTotal: 900, token: 'runner-1' });
    const t0 = Date.now();
    await sampleMetrics(api.ds, new Date(t0 - 20_000));
    await report(pipelineId, { lag: 20, inTotal: 1500, outTotal: 1400, token: 'runner-1' });
    await sampleMetrics(api.ds, new Date(t0 - 10_000));
    await report(pipelineId, { lag: 10, inTotal: 100, outTotal: 50, token: 'runner-2' }); // a new runner: its counters start over
    await sampleMetrics(api.ds, new Date(t0));
    const m = await api.call(
      'GET',
      `/v1/pipelines/${pipelineId}/metrics?since=${new Date(t0 - 30_000).toISOString()}&step=10`,
    );
    assert.equal(m.status, 200, m.text);
    const pts = m.body.points.slice(-3);
    assert.deepEqual(
      pts.map((p: any) => [p.lag, p.events_in, p.events_out]),
      [
        [40, 0, 0],
        [20, 500, 500],
        [10, 0, 0],
      ],
    );
    assert.equal(pts[1].events_in_per_s, 50);
    for (const [q, field] of [
      ['since=yesterday', 'since'],
      ['step=5', 'step'],
      ['step=99999', 'step'],
    ]) {
      const r = await api.call('GET', `/v1/pipelines/${pipelineId}/metrics?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.errors[0].field, field);
    }
    const old = await api.call(
      'GET',
      `/v1/pipelines/${pipelineId}/metrics?since=${new Date(t0 - 3 * 86400_000).toISOString()}&step=3600`,
    );
    assert.equal(old.status, 200, old.text);
    assert.ok(
      Date.parse(old.body.since) >= t0 - 86400_000 - 5000,
      `a start before the kept history answers from its beginning: ${old.body.since}`,
    );
    await sql(`INSERT INTO pipeline_metrics (pipeline_id, at) VALUES ($1, now() - interval '25 hours')`, [pipelineId]);
    await sampleMetrics(api.ds);
    assert.equal(
      (await sql(`SELECT count(*)::int AS n FROM pipeline_metrics WHERE at < now() - interval '24 hours'`))[0].n,
      0,
    );
  });

  it('GET /v1/pipelines/status filters by state and name, with throughput and counts', async () => {
    const other = await makePipeline('invoices');
    await report(other, { state: 'Broken', reason: 'destination_unreachable: x' });
    const all = (await api.call('GET', '/v1/pipelines/status')).body;
    assert.equal(all.total, 2);
    assert.equal(all.counts.Broken, 1);
    const broken = (await api.call('GET', '/v1/pipelines/status?state=Broken')).body;
    assert.deepEqual(
      broken.items.map((p: any) => [p.name, p.reason]),
      [['invoices', 'destination_unreachable: x']],
    );
    const named = (await api.call('GET', '/v1/pipelines/status?name_contains=ORD')).body;
    assert.deepEqual(
      named.items.map((p: any) => p.name),
      ['orders'],
    );
    assert.ok(named.items[0].throughput, 'throughput from the newest sample');
    assert.equal((await api.call('GET', '/v1/pipelines/status?state=Sad')).status, 400);
    const spec = (await api.call('GET', '/openapi.json')).body;
    for (const p of [
      '/v1/alert-channels',
      '/v1/alert-rules/{id}',
      '/v1/alerts',
      '/v1/pipelines/{id}/metrics',
      '/v1/pipelines/status',
    ])
      assert.ok(spec.paths[p], p);
    assert.deepEqual(
      spec.paths['/v1/pipelines/{id}/metrics'].get.parameters.find((x: any) => x.name === 'step').schema,
      { type: 'integer', minimum: 10, maximum: 3600, default: 10 },
    );
  });
});

describe('terminal', () => {
  // Asynchronously: the API answering the CLI runs in this very process.
  const cli = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [path.join(repo, 'dist', 'bin', 'sluice.js'), ...args],
        { encoding: 'utf8', env: { ...process.env, SLUICE_ENDPOINT: api.url, SLUICE_TOKEN: api.token } },
        (err, stdout, stderr) =>
          resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });

  it("`sluice status` shows each pipeline's actual state, reason, lag and DLQ count", async () => {
    const r = await cli(['status']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /PIPELINE\s+STATE\s+LAG\s+DLQ\s+REASON/);
    assert.match(r.stdout, /invoices\s+Broken\s+0\s+0\s+destination_unreachable: x/);
    assert.match(r.stdout, new RegExp(`console\\s+${api.url}/console`));
  });

  it('`sluice alerts` lists rules, channels and notifications', async () => {
    const r = await cli(['alerts']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /lag: lag_above > 100 for 0 s/);
    assert.match(r.stdout, /RESOLVED broken on orders/);
    const j = JSON.parse((await cli(['alerts', '--json'])).stdout);
    assert.equal(j.notifications.length, 10);
  });

  it('the sign-in hint of `sluice dev` is a command that prints the token, also with SLUICE_BOOTSTRAP_TOKEN', () => {
    const viaEnv = tokenCommand({ SLUICE_BOOTSTRAP_TOKEN: 'slc_from_env' }, '/nowhere');
    assert.equal(
      spawnSync('bash', ['-c', viaEnv], {
        encoding: 'utf8',
        env: { ...process.env, SLUICE_BOOTSTRAP_TOKEN: 'slc_from_env' },
      }).stdout.trim(),
      'slc_from_env',
    );
    assert.ok(!viaEnv.includes('slc_from_env'), 'the hint does not print the secret itself');
    const viaFile = tokenCommand({}, api.home);
    spawnSync('bash', ['-c', `echo tok123 > ${path.join(api.home, 'token')}`]);
    assert.equal(spawnSync('bash', ['-c', viaFile], { encoding: 'utf8' }).stdout.trim(), 'tok123');
  });
});

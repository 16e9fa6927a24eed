// Alerts across API restarts: evaluation and delivery run in one API process at a time (an advisory
// lock), and a transition is notified exactly once even when the leader is killed (kill -9) while
// its delivery is still being retried, and when several API processes start together.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  q,
  repo,
  setupPipeline,
  Setup,
  sleep,
  spawnWorker,
  status,
  teardown,
  waitFor,
  Worker,
  waitActive,
} from '../dataplane/harness';
import { PgInstance } from '../dataplane/pg-instance';
import { startWebhookReceiver } from './receivers';

const SECRET = 'whsec-restart';
let s: Setup;
let dest: PgInstance;
const workers: Worker[] = [];
const apis: ChildProcess[] = [];
let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;

/** A real `sluice api` process on the test's control DB (same home: same secret key and token). */
function spawnApi(name: string): { proc: ChildProcess; log: string } {
  const log = path.join(s.api.home, `api-${name}.log`);
  const proc = spawn(process.execPath, [path.join(repo, 'dist', 'bin', 'sluice.js'), 'api'], {
    env: {
      ...process.env,
      DATABASE_URL: s.api.databaseUrl,
      SLUICE_HOME: s.api.home,
      SLUICE_BOOTSTRAP_TOKEN: s.api.token,
      SLUICE_API_PORT: '0',
      SLUICE_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', fs.openSync(log, 'a'), fs.openSync(log, 'a')],
  });
  apis.push(proc);
  return { proc, log };
}
const leads = (log: string) =>
  fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('this process is the leader');
const exited = (p: ChildProcess) =>
  new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

before(async () => {
  dest = await PgInstance.withDatabase('dst');
  s = await setupPipeline({
    ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);',
    dstUrl: dest.urlFor('dst'),
  });
  // This test's in-process API only serves requests; the spawned API processes compete for the alert leadership.
  await s.api.alerts.close();
  workers.push(spawnWorker(s.api));
  hook = await startWebhookReceiver(SECRET, { failFirst: 3 });
  const ch = await s.api.call('POST', '/v1/alert-channels', {
    name: 'hook',
    kind: 'webhook',
    config: { webhook_url: hook.url, webhook_secret: SECRET },
  });
  assert.equal(ch.status, 201, ch.text);
  const rule = await s.api.call('POST', '/v1/alert-rules', {
    name: 'broken',
    condition: 'broken',
    pipeline_id: s.pipelineId,
    for_seconds: 0,
    channel_ids: [ch.body.id],
  });
  assert.equal(rule.status, 201, rule.text);
  await waitActive(s);
});
after(async () => {
  for (const p of apis) {
    p.kill('SIGKILL');
    await exited(p);
  }
  await teardown(s, workers);
  await dest?.destroy();
  await hook?.close();
});

test(
  'fire and resolve are notified once each across a kill -9 of the ' + 'leading API and a restart of two API processes',
  async () => {
    const a = spawnApi('a');
    await waitFor('API a leads', async () => leads(a.log), 30000);
    await dest.stop();
    await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (1, 'during the outage')`); // the sink notices on its next write
    // The transition is recorded and its delivery is being retried (the receiver answers 503 three times).
    await waitFor(
      'firing recorded, delivery failing',
      async () => {
        const l = (await s.api.call('GET', `/v1/alerts?pipeline_id=${s.pipelineId}`)).body;
        return (
          l.items.length === 1 &&
          l.items[0].event === 'firing' &&
          l.items[0].deliveries[0].attempts >= 1 &&
          l.items[0].deliveries[0].status === 'pending'
        );
      },
      60000,
      200,
    );
    a.proc.kill('SIGKILL');
    await exited(a.proc);
    assert.equal(hook.got.length, 0, 'nothing delivered yet');
    // Restart: two API processes at once; exactly one of them takes over.
    const b = spawnApi('b');
    const c = spawnApi('c');
    await waitFor('firing delivered by the new leader', async () => hook.got.length >= 1, 60000, 200);
    assert.equal([b, c].filter((x) => leads(x.log)).length, 1, 'one leader among the restarted processes');
    await dest.start();
    await waitFor('Active again', async () => (await status(s)).state === 'Active', 60000);
    await waitFor('resolved delivered', async () => hook.got.length >= 2, 60000, 200);
    // A graceful restart of the leader in the quiet afterwards re-sends nothing.
    const leader = leads(b.log) ? b : c;
    leader.proc.kill('SIGTERM');
    await exited(leader.proc);
    const d = spawnApi('d');
    await waitFor('a new leader', async () => leads(d.log) || leads((leader === b ? c : b).log), 30000);
    await sleep(6000);
    assert.deepEqual(
      hook.got.map((g) => g.body.event),
      ['firing', 'resolved'],
      JSON.stringify(hook.got.map((g) => g.body)),
    );
    assert.ok(hook.got.every((g) => g.signatureOk));
    assert.equal(new Set(hook.got.map((g) => g.body.id)).size, 2, 'two distinct notifications');
    assert.ok(hook.attempts >= 5, `delivery was retried (${hook.attempts} attempts)`);
    const hist = (await s.api.call('GET', `/v1/alerts?pipeline_id=${s.pipelineId}`)).body;
    assert.deepEqual(
      hist.items.map((e: any) => [e.event, e.transition, e.deliveries.map((x: any) => x.status).join()]),
      [
        ['resolved', 1, 'delivered'],
        ['firing', 1, 'delivered'],
      ],
    );
  },
);

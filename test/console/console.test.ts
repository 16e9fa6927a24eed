// The web console in a real browser (Debian's headless Chromium via playwright-core) against a real
// stack: API, worker process, Kafka, source Postgres and a destination Postgres of its own that the
// test stops and starts. Alerts ride along: a rule on Broken notifies a local HTTP receiver and a
// local SMTP sink once when the destination goes down and once when it comes back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { assertConverges, q, setupPipeline, Setup, spawnWorker, teardown, waitFor, Worker } from '../dataplane/harness';
import { PgInstance } from '../dataplane/pg-instance';
import { insertRows } from '../conformance/scenarios';
import { launchBrowser, screenshotDir, screenshotsWanted } from './browser';
import { startSmtpSink, startWebhookReceiver, subjectOf } from './receivers';

const GRACE_MS = 3000; // harness.spawnWorker's SLUICE_BROKEN_GRACE_MS
const REFRESH_MS = 3000; // the Pipelines page's refresh (api/console/pages.ts REFRESH_S)

let s: Setup;
let dest: PgInstance;
const workers: Worker[] = [];
let browser: Browser;
let closeBrowser: () => Promise<void>;
let ctx: BrowserContext;
let page: Page;
let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
const SECRET = 'whsec-console-test';

before(async () => {
  dest = await PgInstance.withDatabase('dst');
  s = await setupPipeline({
    ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);',
    dstUrl: dest.urlFor('dst'),
    pipeline: { tags: { team: 'console' } },
  });
  // The destination rejects negative values, the source does not: a poison record.
  await q(
    s.dstUrl,
    `CREATE TABLE events (id int PRIMARY KEY, v int NOT NULL CONSTRAINT v_positive CHECK (v >= 0), note text)`,
  );
  workers.push(spawnWorker(s.api));
  hook = await startWebhookReceiver(SECRET);
  smtp = await startSmtpSink();
  const wh = await s.api.call('POST', '/v1/alert-channels', {
    name: 'ops-hook',
    kind: 'webhook',
    config: { webhook_url: `${hook.url}/alerts`, webhook_secret: SECRET },
  });
  assert.equal(wh.status, 201, wh.text);
  const em = await s.api.call('POST', '/v1/alert-channels', {
    name: 'ops-mail',
    kind: 'email',
    config: {
      smtp_host: '127.0.0.1',
      smtp_port: smtp.port,
      smtp_tls: 'none',
      email_from: 'sluice@example.com',
      email_to: ['oncall@example.com'],
    },
  });
  assert.equal(em.status, 201, em.text);
  const rule = await s.api.call('POST', '/v1/alert-rules', {
    name: 'team console broken',
    condition: 'broken',
    selector: { team: 'console' },
    for_seconds: 2,
    channel_ids: [wh.body.id, em.body.id],
  });
  assert.equal(rule.status, 201, rule.text);
  ({ browser, close: closeBrowser } = await launchBrowser());
  ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
});
after(async () => {
  await closeBrowser?.();
  await teardown(s, workers);
  await dest?.destroy();
  await hook?.close();
  await smtp?.close();
});

const shot = async (name: string) => {
  if (!screenshotsWanted) return;
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
};
const row = () => page.locator(`tr[data-pipeline="p-${s.prefix.slice(2)}"]`);
const rowState = async () => (await row().locator('.state').textContent())?.trim();

test(
  'sign in with an API token: HttpOnly SameSite=Strict session cookie; ' + 'the root redirects to the console',
  async () => {
    await page.goto(s.api.url + '/');
    assert.match(page.url(), /\/console\/login/);
    await page.fill('#token', 'not-a-token');
    await page.click('button[type=submit]');
    assert.match((await page.locator('.error').textContent()) ?? '', /not valid/);
    await page.fill('#token', s.api.token);
    await Promise.all([page.waitForURL(/\/console(\?|$)/), page.click('button[type=submit]')]);
    const [cookie] = (await ctx.cookies()).filter((c) => c.name === 'sluice_console');
    assert.ok(cookie, 'session cookie set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.expires, -1, 'a session cookie (no expiry): kept for the browser session only');
    assert.ok(!cookie.value.includes(s.api.token), 'the cookie does not carry the token in clear');
    assert.equal(await page.evaluate('document.cookie'), '', 'not readable by scripts');
  },
);

test(
  'the pipeline shows Active; stopping the destination shows Broken with ' +
    'the reason within the grace period plus one refresh; it returns to ' +
    'Active',
  async () => {
    await insertRows(s.srcUrl, 'events', 50, (g) => ({ v: g, note: 'seed' }));
    await assertConverges(s, 'events', ['id', 'v', 'note']);
    await waitFor('Active on the page', async () => (await rowState()) === 'Active', 30000, 250);
    await page.waitForSelector('[data-total]');
    await dest.stop();
    const stopped = Date.now();
    await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (7, 'during the outage')`);
    // No reload: the page refreshes itself (htmx). The bound is generous for a loaded machine.
    await waitFor(
      'Broken on the page',
      async () => (await rowState()) === 'Broken',
      GRACE_MS + REFRESH_MS + 20000,
      200,
    );
    const tookMs = Date.now() - stopped;
    assert.match((await row().locator('.reason').textContent()) ?? '', /destination_unreachable/);
    await waitFor(
      'the summary line refreshed too',
      async () => /1 Broken/.test((await page.locator('#pipeline-summary').textContent()) ?? ''),
      REFRESH_MS * 3,
      200,
    );
    await shot('pipelines-broken');
    // The alert fired once to each channel.
    await waitFor('firing webhook and email', async () => hook.got.length >= 1 && smtp.mails.length >= 1, 30000, 200);
    await dest.start();
    await waitFor('Active on the page again', async () => (await rowState()) === 'Active', 60000, 250);
    await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 60000 });
    await waitFor('resolved webhook and email', async () => hook.got.length >= 2 && smtp.mails.length >= 2, 30000, 200);
    await new Promise((r) => setTimeout(r, 5000)); // nothing more may arrive (no repeat while firing, none after resolve)
    assert.deepEqual(
      hook.got.map((g) => g.body.event),
      ['firing', 'resolved'],
      JSON.stringify(hook.got.map((g) => g.body)),
    );
    assert.ok(
      hook.got.every((g) => g.signatureOk && g.path === '/alerts'),
      'HMAC signature verifies',
    );
    assert.equal(hook.got[0].body.pipeline.id, s.pipelineId);
    assert.equal(hook.got[0].body.id, hook.got[0].headers['x-sluice-notification-id']);
    assert.deepEqual(
      smtp.mails.map((m) => subjectOf(m.raw).split(':')[0]),
      ['[sluice] FIRING', '[sluice] RESOLVED'],
    );
    assert.deepEqual(smtp.mails[0].to, ['oncall@example.com']);
    await shot('pipelines');
    process.stderr.write(
      `# Broken shown ${tookMs} ms after the destination stopped (grace ${GRACE_MS} ms + refresh ${REFRESH_MS} ms)\n`,
    );
  },
);

test(
  'pipeline detail: a poison record appears in the DLQ, is replayed from ' + 'the page after the fix, and arrives',
  async () => {
    await page.click(`a[href="/console/pipelines/${s.pipelineId}"]`);
    await page.waitForSelector('#live');
    const [{ id }] = await q(s.srcUrl, `INSERT INTO events (v, note) VALUES (-5, 'poison') RETURNING id`);
    await waitFor(
      'the poison record on the DLQ page',
      async () => {
        await page.goto(`${s.api.url}/console/pipelines/${s.pipelineId}`);
        return (await page.locator('tr[data-dlq]').count()) === 1;
      },
      60000,
      1000,
    );
    const rec = page.locator('tr[data-dlq]').first();
    assert.match((await rec.textContent()) ?? '', /v_positive|check constraint/i);
    await rec.locator('summary').click();
    assert.match((await rec.locator('pre').textContent()) ?? '', /"poison"/);
    await page.waitForSelector('.chart canvas', { timeout: 20000 }); // uPlot drew the charts
    await shot('pipeline-detail');
    // The fix: the destination accepts the value now. Then replay the selected record from the page.
    await q(s.dstUrl, `ALTER TABLE events DROP CONSTRAINT v_positive`);
    await rec.locator('input[type=checkbox]').check();
    await Promise.all([page.waitForURL(/msg=/), page.click('button[value=replay]')]);
    assert.match((await page.locator('.flash').textContent()) ?? '', /1 record\(s\) queued for replay/);
    await waitFor(
      'the replayed record at the destination',
      async () => (await q(s.dstUrl, `SELECT v FROM events WHERE id = $1`, [id]))[0]?.v === -5,
      30000,
      300,
    );
    await page.goto(`${s.api.url}/console/pipelines/${s.pipelineId}`);
    assert.equal(await page.locator('tr[data-dlq]').count(), 0);
    // The console's calls are the API's: the audit log shows them with origin console.
    await Promise.all([page.waitForURL(/msg=/), page.click('form[action$="/pause"] button')]);
    const audit = await s.api.call('GET', `/v1/audit?object_id=${s.pipelineId}`);
    assert.equal(audit.body.items[0].action, 'pause');
    assert.equal(audit.body.items[0].origin, 'console');
    await Promise.all([page.waitForURL(/msg=/), page.click('form[action$="/resume"] button')]);
  },
);

test('a snapshot started from the page shows its progress to completion', async () => {
  await insertRows(s.srcUrl, 'events', 3000, (g) => ({ v: g, note: `bulk${g}` }));
  await page.goto(`${s.api.url}/console/pipelines/${s.pipelineId}`);
  await page.fill('#snap-tables', 'public.events');
  await Promise.all([page.waitForURL(/msg=/), page.click('.snapshot-form button[type=submit]')]);
  const seen = new Set<string>();
  await waitFor(
    'snapshot done on the page (no reload)',
    async () => {
      const st = await page.locator('tr[data-snapshot]').first().getAttribute('data-status');
      if (st) seen.add(st);
      return st === 'done';
    },
    120000,
    200,
  );
  assert.equal(await page.locator('tr[data-snapshot] progress').first().getAttribute('value'), '100');
  assert.match((await page.locator('tr[data-snapshot]').first().textContent()) ?? '', /100%/);
  assert.ok(seen.size >= 1);
  await assertConverges(s, 'events', ['id', 'v', 'note'], { timeoutMs: 60000 });
  await page.waitForSelector('#verify .checklist', { timeout: 60000 });
});

test(
  'read-only pages: consumer groups, sources (secrets only as set / not ' + 'set), alerts with the notifications',
  async () => {
    await page.goto(`${s.api.url}/console/consumer-groups`);
    assert.match((await page.locator('main').textContent()) ?? '', new RegExp(`sluice-${s.pipelineId}`));
    await shot('consumer-groups');
    await page.goto(`${s.api.url}/console/sources`);
    const src = (await page.locator('main').textContent()) ?? '';
    assert.match(src, /password\s*set/);
    assert.ok(!src.includes('sluice@') && !/password\s*sluice/.test(src), 'no secret value on the page');
    assert.match(src, new RegExp(`Used by: p-${s.prefix.slice(2)}`));
    await shot('sources');
    await page.goto(`${s.api.url}/console/alerts`);
    const alerts = (await page.locator('main').textContent()) ?? '';
    assert.match(alerts, /ops-hook/);
    assert.match(alerts, /webhook_secret\s*set/);
    assert.ok(!alerts.includes(SECRET));
    assert.equal(await page.locator('tr[data-event="firing"]').count(), 1);
    assert.equal(await page.locator('tr[data-event="resolved"]').count(), 1);
    await shot('alerts');
  },
);

test('state-changing requests need this origin; sign-out clears the session', async () => {
  const cookie = (await ctx.cookies()).find((c) => c.name === 'sluice_console')!;
  const forged = await fetch(`${s.api.url}/console/pipelines/${s.pipelineId}/pause`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: `sluice_console=${cookie.value}`, origin: 'http://evil.example' },
  });
  assert.equal(forged.status, 403);
  const none = await fetch(`${s.api.url}/console/pipelines/${s.pipelineId}/pause`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: `sluice_console=${cookie.value}` },
  });
  assert.equal(none.status, 403);
  assert.equal((await s.api.call('GET', `/v1/pipelines/${s.pipelineId}`)).body.desired_state, 'running');
  await page.goto(`${s.api.url}/console`);
  await Promise.all([page.waitForURL(/\/console\/login/), page.click('.signout button')]);
  assert.equal((await ctx.cookies()).filter((c) => c.name === 'sluice_console' && c.value).length, 0);
  await page.goto(`${s.api.url}/console`);
  assert.match(page.url(), /\/console\/login/);
});

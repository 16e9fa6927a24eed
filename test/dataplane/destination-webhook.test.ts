// The webhook destination against a receiver that fails on purpose (node:http in this process):
// signed JSON-array batches of at most batch_size events with the plain and the secret headers,
// Retry-After honoured on 503 and 429, a cut connection and a timeout retried, 4xx records to the DLQ
// after the delivery retries while the rest flows, verify saying it cannot count, and no secret in
// the API's answers, exports or any log line.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fs from 'node:fs';
import { assertConverges, q, Setup, setupPipeline, spawnWorker, status, teardown, waitFor, Worker } from './harness';
import crypto from 'node:crypto';
import { ReceivedRequest, webhookConfig, WebhookReceiver } from '../conformance/kits/destination-webhook';
import { VERIFY_SNIPPET } from '../../connectors/destination-webhook/reference';

const COLS = ['id', 'v', 'note'];
/** docs/connectors.md's three verification lines, run on a recorded request. */
const verifyAs = (x: ReceivedRequest, secret: string, rawBody: string) =>
  new Function('crypto', 'req', 'secret', 'rawBody', `${VERIFY_SNIPPET}\nreturn ok;`)(
    crypto,
    { headers: x.headers },
    secret,
    rawBody,
  ) as boolean;
let s: Setup;
let w: Worker;
const r = new WebhookReceiver();

/** The receiver's latest state of `events` as text rows, like rowsOf gives for the source. */
const received = async (table: string, cols: string[], key: string) =>
  [...(r.state.get(table)?.values() ?? [])]
    .map((row) => Object.fromEntries(cols.map((c) => [c, row[c] === null ? null : String(row[c])])))
    .sort((a, b) => (String(a[key]) < String(b[key]) ? -1 : String(a[key]) > String(b[key]) ? 1 : 0));
/** n rows; with `poison`, every 40th has the note the receiver refuses in the 4xx test. */
const insert = (n: number, poison = false) =>
  q(
    s.srcUrl,
    `INSERT INTO events (v, note) SELECT g, ${poison ? `CASE WHEN g % 40 = 0 THEN 'poison' ELSE 'ok' || g END` : `'n' || g`} FROM generate_series(1, ${n}) g`,
  );

before(async () => {
  await r.start();
  s = await setupPipeline({
    ddl: 'CREATE TABLE events (id serial PRIMARY KEY, v int NOT NULL, note text);',
    destinationKind: 'webhook',
    destinationConfig: webhookConfig(r, {
      format: 'json_array',
      headers: ['X-Team: data'],
      batch_size: 50,
      timeout_ms: 1500,
    }),
    dstRows: received,
    pipeline: { delivery: { max_retries: 2, backoff_initial_ms: 50, backoff_max_ms: 200 } },
  });
  w = spawnWorker(s.api);
});
after(async () => {
  await teardown(s, [w]);
  await r.stop();
});

describe('webhook destination', () => {
  it(
    'delivers signed JSON-array batches of at most batch_size events with ' +
      'the plain and secret headers, in order per key',
    async () => {
      await insert(300);
      await q(s.srcUrl, `UPDATE events SET v = v + 1000 WHERE id % 3 = 0; DELETE FROM events WHERE id % 10 = 0`);
      await assertConverges(s, 'events', COLS);
      const ok = r.requests.filter((x) => x.status === 204);
      assert.ok(ok.length >= 300 / 50, `${ok.length} requests`);
      // The documented check (the receiver runs it) accepts every request, and refuses a changed body or another key.
      assert.equal(verifyAs(ok[0], r.secret, ok[0].rawBody), true);
      assert.equal(verifyAs(ok[0], r.secret, ok[0].rawBody.replace('"op":', '"op" :')), false);
      assert.equal(verifyAs(ok[0], 'another secret', ok[0].rawBody), false);
      for (const x of ok) {
        assert.ok(x.signatureOk, 'signature and timestamp verify');
        assert.equal(x.headers['content-type'], 'application/json');
        assert.equal(x.headers['x-team'], 'data');
        assert.equal(x.headers.authorization, `Bearer ${r.token}`);
        assert.ok(x.events.length >= 1 && x.events.length <= 50, `batch of ${x.events.length}`);
        for (const e of x.events)
          assert.ok(e.table === 'events' && e.source && typeof e.offset === 'string' && 'before' in e && 'after' in e);
      }
      // Per key, the offsets of delivered events only grow (arrival order is commit order).
      const last = new Map<string, bigint>();
      for (const e of ok.flatMap((x) => x.events)) {
        const k = JSON.stringify(e.key);
        assert.ok(!last.has(k) || BigInt(e.offset) > last.get(k)!, `key ${k} out of order`);
        last.set(k, BigInt(e.offset));
      }
    },
  );

  it(
    'retries 503 and 429 no sooner than their Retry-After, and a cut ' + 'connection and a timeout, losing nothing',
    async () => {
      const n0 = r.requests.length;
      // The date form of Retry-After has whole seconds: the sink must not come back before that second.
      const retryAt = new Date(Date.now() + 6000);
      r.script = [
        { status: 503, retryAfter: '2' },
        { status: 429, retryAfter: retryAt.toUTCString() },
        'destroy',
        'hang',
        { status: 500 },
      ];
      await insert(20);
      await assertConverges(s, 'events', COLS, { timeoutMs: 60000 });
      const seen = r.requests.slice(n0);
      assert.deepEqual(
        seen.slice(0, 6).map((x) => x.status),
        [503, 429, 0, -1, 500, 204],
      );
      assert.ok(
        seen[1].at - seen[0].at >= 1900,
        `retried ${seen[1].at - seen[0].at} ms after a 503 with Retry-After: 2`,
      );
      assert.ok(
        seen[2].at >= Math.floor(retryAt.getTime() / 1000) * 1000,
        `retried ${seen[2].at - retryAt.getTime()} ms after the Retry-After date of a 429`,
      );
      assert.ok(
        seen[4].at - seen[3].at >= 1400,
        `the hung request timed out after ${seen[4].at - seen[3].at} ms (timeout_ms 1500)`,
      );
      assert.equal((await status(s)).dlq.count, 0);
    },
  );

  it(
    '4xx answers: the records a receiver refuses go to the DLQ after the ' +
      'retries, the rest of their batches arrives',
    async () => {
      r.rejectStatus = 400;
      r.rejectIf = (e) => e.after?.note === 'poison';
      const [{ before }] = await q(s.srcUrl, `SELECT max(id) AS before FROM events`);
      await insert(200, true);
      const poison = await q(s.srcUrl, `SELECT id FROM events WHERE note = 'poison'`);
      assert.equal(poison.length, 5);
      const healthy = `WHERE id > ${before} AND note <> 'poison'`;
      await waitFor(
        'the healthy rows arrive',
        async () => {
          const src = await q(s.srcUrl, `SELECT id::text AS id FROM events ${healthy} ORDER BY 1`);
          const got = new Set((await received('events', ['id'], 'id')).map((x) => x.id));
          return src.every((x) => got.has(x.id));
        },
        60000,
        500,
      );
      const dlq = await waitFor(
        '5 in the DLQ',
        async () => {
          const x = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq`);
          return x.body.total === 5 ? x.body : null;
        },
        30000,
      );
      assert.ok(
        dlq.items.every(
          (x: any) => x.error_class === 'http_400' && x.attempts === 3 && /answered 400/.test(x.error_message),
        ),
        JSON.stringify(dlq.items[0]),
      );
      r.rejectIf = null;
      // The replay meets a receiver that cannot answer for a moment: it waits, the records stay out of the DLQ.
      const n0 = r.requests.length;
      r.script = [{ status: 503, retryAfter: '1' }, 'destroy'];
      const rp = await s.api.call('POST', `/v1/pipelines/${s.pipelineId}/dlq/replay`, { all: true });
      assert.equal(rp.status, 202, rp.text);
      await assertConverges(s, 'events', COLS);
      await waitFor('DLQ empty', async () => (await status(s)).dlq.count === 0, 20000);
      assert.deepEqual(
        r.requests.slice(n0, n0 + 2).map((x) => x.status),
        [503, 0],
      );
      const back = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/dlq?status=replayed&page_size=100`);
      const replayed = new Set(back.body.items.map((x: any) => x.id));
      assert.ok(
        dlq.items.every((x: any) => replayed.has(x.id)),
        JSON.stringify(back.body.items.map((x: any) => x.id)),
      );
    },
  );

  it('verify says a webhook cannot count what it holds; no secret in answers, exports or logs', async () => {
    const v = await waitFor(
      'verify',
      async () => {
        const x = await s.api.call('GET', `/v1/pipelines/${s.pipelineId}/verify`);
        return x.body.pass ? x.body : null;
      },
      30000,
      1000,
    );
    const n = (await q(s.srcUrl, 'SELECT count(*) AS n FROM events'))[0].n;
    assert.ok(
      v.checks.some(
        (c: any) =>
          c.check === 'row_count' &&
          c.detail === `source ${n}; a webhook destination cannot count what it holds (not compared)`,
      ),
      JSON.stringify(v.checks),
    );
    const secrets = [r.secret, r.token];
    const d = await s.api.call('GET', `/v1/destinations/${s.destinationId}`);
    assert.equal(d.body.config.signing_secret, undefined);
    assert.equal(d.body.config.secret_headers, undefined);
    assert.deepEqual(d.body.config.headers, ['X-Team: data']);
    const texts = [
      d.text,
      (await s.api.call('GET', '/v1/destinations')).text,
      (await s.api.call('GET', '/v1/export?format=json')).text,
      (await s.api.call('GET', '/v1/export?format=hcl')).text,
      s.api.logLines.join('\n'),
      fs.readFileSync(w.logFile, 'utf8'),
    ];
    for (const t of texts) for (const secret of secrets) assert.ok(!t.includes(secret), 'a secret leaked');
    assert.match(texts[3], /secret_headers\s*=\s*var\./);
  });
});

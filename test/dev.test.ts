import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LocalStack } from '../stack/stack';
import { demoTopology } from '../bin/dev';
import { startTestApi, TestApi } from './helpers';

describe('local stack and the demo are idempotent', () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => {
    await api.close();
  });

  it('starting the running stack again changes nothing (same processes, all healthy)', async () => {
    const stack = new LocalStack({ log: () => undefined });
    const before = await stack.status();
    await stack.start();
    const afterStart = await stack.status();
    assert.deepEqual(
      afterStart.map((s) => [s.name, s.state, s.pid]),
      before.map((s) => [s.name, s.state, s.pid]),
    );
    for (const s of afterStart) assert.ok(s.state === 'external' || s.healthy, `${s.name} not healthy`);
  });

  it('creating the demo topology twice creates it once', async () => {
    const { document, secrets } = demoTopology(new LocalStack().endpoints());
    const first = await api.call('POST', '/v1/import', { ...document, secrets });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.body.summary, { create: 4, update: 0, delete: 0, unchanged: 0 });
    const second = await api.call('POST', '/v1/import', { ...document, secrets });
    assert.deepEqual(second.body.summary, { create: 0, update: 0, delete: 0, unchanged: 4 });
    assert.equal((await api.call('GET', '/v1/pipelines')).body.total, 1);
  });
});

describe('readiness', () => {
  it('/readyz is 200 with everything up and 503 naming Kafka when it is unreachable', async () => {
    const ok = await startTestApi();
    const bad = await startTestApi({ kafkaBrokers: ['127.0.0.1:1'] });
    try {
      const r1 = await fetch(ok.url + '/readyz');
      assert.equal(r1.status, 200, await r1.clone().text());
      const r2 = await fetch(bad.url + '/readyz');
      assert.equal(r2.status, 503);
      const body = (await r2.json()) as { detail: string; checks: Record<string, { ok: boolean }> };
      assert.match(body.detail, /kafka/);
      assert.equal(body.checks.kafka.ok, false);
      assert.equal(body.checks.control_db.ok, true);
      assert.equal(body.checks.redis.ok, true);
    } finally {
      await ok.close();
      await bad.close();
    }
  });
});

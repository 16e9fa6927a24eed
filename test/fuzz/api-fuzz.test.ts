import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApi, TestApi } from '../helpers';
import { fuzz } from './fuzz';

/**
 * Property-based fuzzing of the live API (real Postgres, Redis, Kafka) from its own /openapi.json
 * with schemathesis: every check, a fixed seed, a two-minute budget. Any finding fails the test: a
 * 500, a response or status the document does not describe, a schema-valid request refused, a
 * schema-violating one accepted, a wrong answer to an undeclared method. schemathesis prints a curl
 * line that reproduces each; docs/hardening.md has the longer run.
 */
const SEED = 20261201;
const SECONDS = 120;

let api: TestApi;
// The fuzzer sends requests without a valid token on purpose (ignored_auth): the failed-auth limit
// would soon refuse it everything, and every later case would test only the 429.
before(async () => {
  api = await startTestApi({ config: { authFailuresMax: 1_000_000 } });
});
after(async () => {
  await api?.close();
});

describe('API fuzzing (schemathesis)', () => {
  it(`finds nothing in ${SECONDS} s with every check (seed ${SEED})`, async () => {
    const r = await fuzz(api, { seconds: SECONDS, seed: SEED });
    assert.equal(
      r.code,
      0,
      `schemathesis found problems (each comes with a curl line that reproduces it):\n${r.out.slice(-30000)}`,
    );
    const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
    assert.equal(r.tested, operations, `every operation of the document is tested:\n${r.summary}`);
    // A guard against an empty run, not a speed check: ~560 cases on a quiet 2-core machine, 183 at load 15 - 19.
    assert.ok(r.generated >= 150, `only ${r.generated} cases ran:\n${r.summary}`);
    assert.doesNotMatch(r.summary, /Failures:|Errors:/, r.summary);
    // No request made the API log an error (a 500 would be one).
    assert.deepEqual(
      api.logLines.filter((l) => /"level":50/.test(l)),
      [],
    );
    process.stdout.write(
      `schemathesis ${r.summary
        .split('\n')
        .filter((l) => /generated|Coverage|Fuzzing|Stateful/.test(l))
        .map((l) => l.trim())
        .join('; ')}\n`,
    );
  });
});

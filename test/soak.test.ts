// The chaos soak (bench/soak) for 5 minutes: a Postgres and a MariaDB pipeline under mixed load
// while sources, destination, Kafka, a worker and Redis are killed and the network is cut and
// stalled. It runs on services of its own (SLUICE_SOAK_HOME, ports from SLUICE_SOAK_PORT_BASE,
// default 31xxx), so it can run beside the other test files without touching the suite's stack.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { SoakReport } from '../bench/soak/report';

const repo = path.resolve(__dirname, '..', '..');

test(
  'chaos soak, 5 minutes: every fault recovered; destination == source, ' + 'DLQ empty, no duplicates, nothing stuck',
  async () => {
    const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-soak-')), 'report.json');
    // 540 s: inside the per-file timeouts (test/run.sh 900 s), so a stuck pipeline
    // fails with the soak's report.
    const args = [
      path.join(repo, 'dist/bench/soak/main.js'),
      '--minutes',
      '5',
      '--max-seconds',
      '540',
      '--json',
      report,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    for (const s of [child.stdout, child.stderr])
      s.on('data', (d) => {
        out += d;
        process.stdout.write(d);
      });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.ok(fs.existsSync(report), `the soak wrote no report (exit ${code}):\n${out.slice(-4000)}`);
    const r = JSON.parse(fs.readFileSync(report, 'utf8')) as SoakReport;
    const seed = `seed ${r.seed}: replay with npm run bench:soak -- --minutes 5 --seed ${r.seed}`;
    assert.deepEqual(r.failures, [], seed);
    assert.ok(r.faults.length >= 5, `${r.faults.length} faults injected in 5 minutes (${seed})`);
    assert.ok(new Set(r.faults.map((f) => f.kind)).size >= 5, `fault kinds: ${r.faults.map((f) => f.kind)}`);
    for (const f of r.faults) assert.notEqual(f.recovery_ms, null, `fault ${f.n} ${f.kind} recovered (${seed})`);
    assert.deepEqual(
      r.pipelines.map((p) => p.name),
      ['postgres', 'mariadb'],
    );
    for (const p of r.pipelines) {
      assert.ok(p.source.rows > 1000, `${p.name}: the load wrote rows (${p.source.rows})`);
      assert.deepEqual(p.destination, p.source, `${p.name}: destination == source (count and checksum)`);
      assert.equal(p.duplicate_rows, 0, `${p.name}: duplicates`);
      assert.equal(p.dlq, 0, `${p.name}: DLQ`);
      assert.equal(p.state, 'Active', p.name);
      assert.equal(p.sink_lag, 0, p.name);
      assert.ok(p.source_caught_up, `${p.name}: source position caught up`);
      assert.deepEqual(p.verify_failed, [], `${p.name}: verify`);
      assert.ok(p.load.largeTransactions >= 1, `${p.name}: at least one large transaction`);
    }
    assert.equal(code, 0, seed);
  },
);

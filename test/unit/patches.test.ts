// patches/: kafkajs and pg-logical-replication load patched through one loader, whatever the
// import order; a library that no longer matches (loaded before the loader, another version, a module
// gone) fails loudly; the installed patches are reported (worker log and /metrics).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

const dist = path.resolve(__dirname, '..', '..');
const patches = JSON.stringify(path.join(dist, 'patches', 'index.js'));

/** Runs `code` in a fresh node process (its own module cache) and returns what it printed as JSON. */
function fresh(code: string): any {
  return JSON.parse(execFileSync(process.execPath, ['-e', code], { cwd: path.resolve(dist, '..'), encoding: 'utf8' }));
}

test(
  'kafkajs() installs the patches before kafkajs loads: its internals ' + 'are the replacements, and they are reported',
  () => {
    const r = fresh(`
    const p = require(${patches});
    const { Kafka } = p.kafkajs();
    const framing = require('kafkajs/src/protocol/request');
    const produce = require(${JSON.stringify(path.join(dist, 'patches', 'kafkajs-produce.js'))});
    p.pgLogicalReplication();
    process.stdout.write(JSON.stringify({ kafka: typeof Kafka, framing: framing === produce.frameRequest, installed: p.installedPatches() }));`);
    assert.equal(r.kafka, 'function');
    assert.equal(r.framing, true, 'kafkajs uses the patched request framing');
    assert.deepEqual(
      r.installed.map((x: any) => [x.library, x.version]),
      [
        ['kafkajs', '2.2.4'],
        ['pg-logical-replication', '2.5.0'],
      ],
    );
    assert.ok(r.installed[0].patches.includes('record batch decoder') && r.installed[0].patches.includes('murmur2'));
  },
);

test('kafkajs loaded around the loader is refused loudly (PatchMismatchError), not half-patched', () => {
  const r = fresh(`
    require('kafkajs');
    try { require(${patches}).kafkajs(); process.stdout.write(JSON.stringify({ threw: false })); }
    catch (e) { process.stdout.write(JSON.stringify({ threw: true, name: e.name, message: e.message })); }`);
  assert.equal(r.threw, true);
  assert.equal(r.name, 'PatchMismatchError');
  assert.match(r.message, /was loaded before the patch was installed; load kafkajs only through patches\/index\.ts/);
});

test('a patched module that is missing or of another shape is refused loudly', () => {
  const r = fresh(`
    const { replaceModule } = require(${JSON.stringify(path.join(dist, 'patches', 'module-cache.js'))});
    const out = [];
    for (const [id, shape] of [['kafkajs/src/no/such/module', 'function'], ['kafkajs/src/protocol/message/compression', 'function']]) {
      try { replaceModule(id, shape, (x) => x); out.push('accepted'); } catch (e) { out.push(e.name + ': ' + e.message); }
    }
    process.stdout.write(JSON.stringify(out));`);
  assert.match(r[0], /^PatchMismatchError: kafkajs patch: module kafkajs\/src\/no\/such\/module does not exist/);
  assert.match(
    r[1],
    /^PatchMismatchError: kafkajs patch: module kafkajs\/src\/protocol\/message\/compression exports a object, not a function/,
  );
});

test('a worker exports the patches in effect as sluice_patch_active', async () => {
  const r = fresh(`
    const p = require(${patches});
    p.kafkajs();
    require(${JSON.stringify(path.join(dist, 'workers', 'metrics.js'))}).registry.metrics().then((t) => process.stdout.write(JSON.stringify(t)));`);
  assert.match(r, /sluice_patch_active\{library="kafkajs",version="2\.2\.4",patch="produce v3 encoder"\} 1/);
});

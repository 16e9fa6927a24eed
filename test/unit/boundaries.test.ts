// The import boundaries of the tree (.dependency-cruiser.js): no cycles; core/ at the bottom; the
// control plane (api/) and the data plane (workers/) never import each other; connector modules
// import neither plane, nor each other; declarations are driver-free; kafkajs and
// pg-logical-replication load only through patches/. Checked with dependency-cruiser on the
// TypeScript sources, plus a self-check that the rules do catch a forbidden import.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const repo = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(repo, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const TREE = [
  'core',
  'patches',
  'connectors',
  'api',
  'workers',
  'provider',
  'bin',
  'bench',
  'stack',
  'test',
  'migrations',
];

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

function cruise(cwd: string, dirs: string[]): Violation[] {
  let out: string;
  try {
    out = execFileSync(
      process.execPath,
      [cli, '--config', path.join(repo, '.dependency-cruiser.js'), '--output-type', 'json', ...dirs],
      { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (e) {
    // depcruise exits non-zero when it finds errors; its JSON is on stdout all the same.
    out = String((e as { stdout?: string }).stdout ?? '');
    if (!out.trim().startsWith('{')) throw e;
  }
  return JSON.parse(out).summary.violations as Violation[];
}

const describe = (v: Violation) =>
  `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`;

test('the tree has no import cycle and no import across a boundary', () => {
  assert.deepEqual(cruise(repo, TREE).map(describe), []);
});

test('the rules catch forbidden imports and cycles (a scratch tree with one of each)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-boundaries-'));
  try {
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    };
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
    write(
      'tsconfig.json',
      JSON.stringify({
        compilerOptions: { module: 'commonjs', moduleResolution: 'node', esModuleInterop: true, strict: true },
      }),
    );
    write('workers/runner.ts', 'export const runner = 1;\n');
    write('api/route.ts', "import { runner } from '../workers/runner';\nexport const route = runner;\n");
    write('core/names.ts', "import { route } from '../api/route';\nexport const name = route;\n");
    write('workers/a.ts', "import { b } from './b';\nexport const a = () => b;\n");
    write('workers/b.ts', "import { a } from './a';\nexport const b = () => a;\n");
    write('workers/kafka.ts', "import { Kafka } from 'kafkajs';\nexport const k = Kafka;\n");
    write('connectors/source-x/declaration.ts', "import { Client } from 'pg';\nexport const declaration = Client;\n");
    write(
      'connectors/destination-y/writer.ts',
      "import { declaration } from '../source-x/declaration';\nexport const w = declaration;\n",
    );
    write(
      'connectors/destination-y/index.ts',
      "import { runner } from '../../workers/runner';\nexport const m = runner;\n",
    );
    const found = new Set(cruise(dir, ['api', 'core', 'workers', 'connectors']).map((v) => v.rule.name));
    for (const rule of [
      'control-plane-not-data-plane',
      'core-is-the-bottom',
      'no-circular',
      'patched-libraries-through-patches',
      'declarations-driver-free',
      'a-kind-does-not-import-another-kind',
      'connectors-below-the-planes',
    ]) {
      assert.ok(found.has(rule), `rule ${rule} did not fire (fired: ${[...found].join(', ')})`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('loading the registry loads no database driver, Kafka client or sandbox (declarations are driver-free)', () => {
  const probe = `
    require(${JSON.stringify(path.join(repo, 'dist', 'connectors', 'index.js'))});
    const heavy = ['pg', 'mysql2', 'kafkajs', 'pg-logical-replication', '@vlasky/zongji', 'isolated-vm', '@elastic/elasticsearch'];
    const loaded = Object.keys(require.cache).filter((f) => heavy.some((h) => f.includes('/node_modules/' + h + '/')));
    process.stdout.write(JSON.stringify(loaded));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['-e', probe], { cwd: repo, encoding: 'utf8' })) as string[];
  assert.deepEqual(loaded, []);
});

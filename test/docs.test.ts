import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { renderConnectorDocs } from '../api/connector-docs';
import { connectorSpecs } from '../connectors';

describe('docs match the code', () => {
  it('docs/connectors.md is generated from the current declarations (run `npm run docs`)', () => {
    const file = path.resolve(__dirname, '..', '..', 'docs', 'connectors.md');
    assert.equal(fs.readFileSync(file, 'utf8'), renderConnectorDocs());
  });
  it('the README configuration table lists every environment variable the code reads', () => {
    const root = path.resolve(__dirname, '..', '..');
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const read = new Set<string>();
    for (const dir of ['api', 'bin', 'stack', 'workers']) {
      for (const f of fs.readdirSync(path.join(root, dir), { recursive: true }) as string[]) {
        if (!f.endsWith('.ts')) continue;
        const text = fs.readFileSync(path.join(root, dir, f), 'utf8');
        // process.env.X, env.X, and the stack's envPort('X', ...), envSet('X'), enabledBy: 'X', externalEnv: 'X'.
        const reads =
          /(?:(?:env|process\.env)(?:\.|\[')|(?:envPort|envSet|envFlag)\('|(?:enabledBy|externalEnv): ')((?:SLUICE|DATABASE|REDIS|KAFKA|MYSQL)_[A-Z0-9_]+)/g;
        for (const m of text.matchAll(reads)) read.add(m[1]);
      }
    }
    assert.ok(read.size > 5);
    for (const v of read) assert.match(readme, new RegExp('`' + v + '`'), `README lacks ${v}`);
  });
  it('declares every kind the issue names', () => {
    const kinds = connectorSpecs.map((s) => `${s.category}/${s.kind}`);
    for (const k of [
      'source/postgresql',
      'source/mysql',
      'destination/postgresql',
      'destination/mysql',
      'transform/rename_fields',
      'transform/drop_fields',
      'transform/mask_fields',
      'transform/filter_rows',
      'transform/map_filter',
    ])
      assert.ok(kinds.includes(k), k);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateBindings } from '../../provider/bindings';
import { startTestApi, TestApi } from '../helpers';
import { defaultTf, mirror, repoRoot, runTf, TfEnv, workdir } from './tf';

/**
 * CDKTF: bindings generated from the provider's schema, the examples/cdktf app compiled against
 * them, synthesized, and deployed with terraform; the result equals what examples/basic (HCL)
 * creates.
 */
let tf: string;
let d: TestApi;
let e: TestApi;
const vars = { source_password: 'pw-src', destination_password: 'pw-dst', mask_salt: 'salt' };

before(async () => {
  tf = await defaultTf();
  [d, e] = await Promise.all([startTestApi(), startTestApi()]);
  mirror();
});
after(async () => {
  await Promise.all([d?.close(), e?.close()]);
});

describe('CDKTF bindings', () => {
  it('examples/cdktf synthesizes and deploys the same topology as examples/basic', async () => {
    const exampleDir = path.join(repoRoot, 'examples/cdktf');
    const files = await generateBindings(path.join(exampleDir, '.gen'));
    assert.ok(files.some((f) => f.endsWith('providers/sluice/pipeline/index.ts')));
    const pipelineTs = fs.readFileSync(path.join(exampleDir, '.gen/providers/sluice/pipeline/index.ts'), 'utf8');
    assert.match(pipelineTs, /export class Pipeline extends cdktf\.TerraformResource/);

    const out = workdir();
    const tsc = spawnSync(
      process.execPath,
      [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', exampleDir, '--outDir', path.join(out, 'dist')],
      { encoding: 'utf8' },
    );
    assert.equal(tsc.status, 0, `examples/cdktf does not compile against the bindings:\n${tsc.stdout}${tsc.stderr}`);
    const synth = spawnSync(process.execPath, [path.join(out, 'dist/main.js')], {
      encoding: 'utf8',
      cwd: out,
      env: {
        ...process.env,
        NODE_PATH: path.join(repoRoot, 'node_modules'),
        CDKTF_OUTDIR: path.join(out, 'cdktf.out'),
      },
    });
    assert.equal(synth.status, 0, synth.stderr);
    const stackDir = path.join(out, 'cdktf.out/stacks/sluice-basic');
    const json = JSON.parse(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8'));
    assert.equal(json.terraform.required_providers.sluice.source, 'sluice.local/sluice/sluice');
    assert.equal(json.terraform.backend.local.path, 'terraform.tfstate');

    const envD: TfEnv = { endpoint: d.url, token: d.token, vars };
    for (const args of [
      ['init', '-input=false'],
      ['apply', '-auto-approve', '-input=false'],
    ]) {
      const r = await runTf(tf!, stackDir, args, envD);
      assert.equal(r.code, 0, r.out);
    }
    assert.equal((await runTf(tf!, stackDir, ['plan', '-detailed-exitcode', '-input=false'], envD)).code, 0);

    const hclDir = workdir({}, path.join(repoRoot, 'examples/basic'));
    const envE: TfEnv = { endpoint: e.url, token: e.token, vars };
    for (const args of [
      ['init', '-input=false'],
      ['apply', '-auto-approve', '-input=false'],
    ]) {
      const r = await runTf(tf!, hclDir, args, envE);
      assert.equal(r.code, 0, r.out);
    }
    const docD = (await d.call('GET', '/v1/export?format=json')).body;
    const docE = (await e.call('GET', '/v1/export?format=json')).body;
    assert.equal(docD.pipelines.length, 1);
    assert.deepEqual(docD, docE);
  });
});

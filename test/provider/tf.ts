import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import assert from 'node:assert/strict';
import path from 'node:path';
import { installProvider, Installed } from '../../provider/install';
import type { TestApi } from '../helpers';

/** Running real terraform / tofu against the provider from tests. */

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/** terraform from PATH, else the one test/setup.d/terraform.sh built into the cache dir. */
export function findBinary(name: 'terraform' | 'tofu'): string | undefined {
  const cache = process.env.SLUICE_TOOLS_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'sluice', 'tools');
  const cached = path.join(cache, 'bin', name);
  return onPath(name) ?? (fs.existsSync(cached) ? cached : undefined);
}

export const repoRoot = path.resolve(__dirname, '../../..');

let installed: Installed | undefined;
/**
 * Installs the freshly built provider into a temporary filesystem mirror (once per process). The
 * mirror runs a snapshot of the compiled code, so a rebuild of dist/ while tests run (tsc rewrites
 * every file) cannot hand Terraform a half-written provider.
 */
export function mirror(): Installed {
  if (installed) return installed;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-mirror-'));
  created.push(tmp);
  const snap = path.join(tmp, 'snapshot');
  // Everything the provider loads: its declarations come from connectors/ and core/.
  for (const d of ['dist/provider', 'dist/api', 'dist/core', 'dist/connectors', 'dist/patches', 'provider/proto']) fs.cpSync(path.join(repoRoot, d), path.join(snap, d), { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(snap, 'package.json'));
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(snap, 'node_modules'));
  installed = installProvider({ dir: path.join(tmp, 'mirror'), entry: path.join(snap, 'dist/provider/main.js') });
  return installed;
}

export interface TfResult { code: number; stdout: string; stderr: string; out: string; ms: number }

export interface TfEnv { endpoint: string; token: string; vars?: Record<string, string>; extra?: Record<string, string> }

export function runTf(bin: string, dir: string, args: string[], env: TfEnv): Promise<TfResult> {
  const started = Date.now();
  const vars = Object.fromEntries(Object.entries(env.vars ?? {}).map(([k, v]) => [`TF_VAR_${k}`, v]));
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...args, '-no-color'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: os.tmpdir(),
        TF_CLI_CONFIG_FILE: mirror().cliConfigFile, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1',
        SLUICE_ENDPOINT: env.endpoint, SLUICE_TOKEN: env.token, ...vars, ...env.extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, out: stdout + stderr, ms: Date.now() - started }));
  });
}

const created: string[] = [];
process.on('exit', () => { for (const d of created) fs.rmSync(d, { recursive: true, force: true }); });

/** A working directory with the given files (or copies of a directory's *.tf files); removed when the process exits. */
export function workdir(files: Record<string, string> = {}, copyFrom?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-tf-'));
  created.push(dir);
  if (copyFrom) for (const f of fs.readdirSync(copyFrom)) if (/\.tf$/.test(f)) fs.copyFileSync(path.join(copyFrom, f), path.join(dir, f));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Whether this terraform/tofu announces write-only attributes (Terraform and OpenTofu >= 1.11): then secrets stay out of state. */
export function supportsWriteOnly(bin: string): boolean {
  const r = spawnSync(bin, ['version', '-json'], { encoding: 'utf8', env: { ...process.env, TF_CLI_CONFIG_FILE: mirror().cliConfigFile } });
  const v = /^(\d+)\.(\d+)/.exec(JSON.parse(r.stdout || '{}').terraform_version ?? '0.0');
  return !!v && (Number(v[1]) > 1 || (Number(v[1]) === 1 && Number(v[2]) >= 11));
}

/** The terraform (or tofu) the provider tests run. */
export const tfBin = findBinary('terraform') ?? findBinary('tofu');

/** Runs tfBin and fails the test with Terraform's output unless it exits 0. */
export async function ok(dir: string, args: string[], env: TfEnv): Promise<TfResult> {
  const r = await runTf(tfBin!, dir, args, env);
  assert.equal(r.code, 0, `terraform ${args.join(' ')} failed:\n${r.out}`);
  return r;
}
/** plan -detailed-exitcode: 0 = no changes, 2 = changes. */
export async function planCode(dir: string, env: TfEnv): Promise<TfResult> {
  const r = await runTf(tfBin!, dir, ['plan', '-detailed-exitcode', '-input=false'], env);
  assert.notEqual(r.code, 1, r.out);
  return r;
}
/** Terraform wraps diagnostic text at 78 columns. */
export const flat = (s: string) => s.replace(/\s+/g, ' ');
/** The object named `name` in an API collection (sources, destinations, ...). */
export async function one(api: TestApi, coll: string, name: string) {
  const r = await api.call('GET', `/v1/${coll}?name=${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, r.text);
  return r.body.items[0];
}

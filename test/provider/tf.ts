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
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export const repoRoot = path.resolve(__dirname, '../../..');

/**
 * Waiting longer than this for a tool build gives a clear error before the file's own timeout
 * (test/run.sh: 900 s per file) cancels it without one.
 */
const TOOL_WAIT_MS = 840_000;
const builds = new Map<string, Promise<string>>();

/**
 * A binary that test/setup.d/terraform.sh builds once per machine into the tools cache (Terraform
 * 1.5.7, OpenTofu 1.6.3; the script holds the pins): waits for a build under way (test/run.sh
 * starts them in the background first thing), builds it if none ran, fails with the build log's
 * tail if the build failed.
 */
export function builtTool(name: 'terraform' | 'tofu'): Promise<string> {
  let p = builds.get(name);
  if (!p) {
    p = new Promise<string>((resolve, reject) => {
      const child = spawn('bash', [path.join(repoRoot, 'test/setup.d/terraform.sh'), '--wait', name], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        err += d;
      });
      const timer = setTimeout(() => {
        child.kill();
        reject(
          new Error(
            `${name} was not built within ${TOOL_WAIT_MS / 1000} s (test/setup.d/terraform.sh; its log is in the tools ` +
              `cache ~/.cache/sluice/tools): run \`bash test/setup.d/terraform.sh --wait ${name}\` once, or put ${name} on PATH`,
          ),
        );
      }, TOOL_WAIT_MS);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const bin = out.trim().split('\n').pop() ?? '';
        if (code === 0 && bin && fs.existsSync(bin)) resolve(bin);
        else
          reject(
            new Error(`building ${name} failed (test/setup.d/terraform.sh --wait ${name} exited ${code}):\n${err}`),
          );
      });
    });
    builds.set(name, p);
  }
  return p;
}

/** The terraform most provider tests run: terraform (or tofu) on PATH, else the cached Terraform 1.5.7. */
export async function defaultTf(): Promise<string> {
  return onPath('terraform') ?? onPath('tofu') ?? builtTool('terraform');
}

/** OpenTofu: tofu on PATH, else the cached OpenTofu 1.6.3. */
export async function tofuBin(): Promise<string> {
  return onPath('tofu') ?? builtTool('tofu');
}

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
  // What the provider loads: itself, the shared core and the connector declarations (never api/ or workers/).
  for (const d of ['dist/provider', 'dist/core', 'dist/connectors', 'provider/proto'])
    fs.cpSync(path.join(repoRoot, d), path.join(snap, d), { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(snap, 'package.json'));
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(snap, 'node_modules'));
  installed = installProvider({ dir: path.join(tmp, 'mirror'), entry: path.join(snap, 'dist/provider/main.js') });
  return installed;
}

export interface TfResult {
  code: number;
  stdout: string;
  stderr: string;
  out: string;
  ms: number;
}

export interface TfEnv {
  endpoint: string;
  token: string;
  vars?: Record<string, string>;
  extra?: Record<string, string>;
}

export function runTf(bin: string, dir: string, args: string[], env: TfEnv): Promise<TfResult> {
  const started = Date.now();
  const vars = Object.fromEntries(Object.entries(env.vars ?? {}).map(([k, v]) => [`TF_VAR_${k}`, v]));
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...args, '-no-color'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: os.tmpdir(),
        TF_CLI_CONFIG_FILE: mirror().cliConfigFile,
        TF_IN_AUTOMATION: '1',
        CHECKPOINT_DISABLE: '1',
        SLUICE_ENDPOINT: env.endpoint,
        SLUICE_TOKEN: env.token,
        ...vars,
        ...env.extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout, stderr, out: stdout + stderr, ms: Date.now() - started }),
    );
  });
}

const created: string[] = [];
process.on('exit', () => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});

/** A working directory with the given files (or copies of a directory's *.tf files); removed when the process exits. */
export function workdir(files: Record<string, string> = {}, copyFrom?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-tf-'));
  created.push(dir);
  if (copyFrom)
    for (const f of fs.readdirSync(copyFrom))
      if (/\.tf$/.test(f)) fs.copyFileSync(path.join(copyFrom, f), path.join(dir, f));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Whether this terraform/tofu announces write-only attributes (Terraform and OpenTofu >= 1.11): then secrets stay out of state. */
export function supportsWriteOnly(bin: string): boolean {
  const r = spawnSync(bin, ['version', '-json'], {
    encoding: 'utf8',
    env: { ...process.env, TF_CLI_CONFIG_FILE: mirror().cliConfigFile },
  });
  const v = /^(\d+)\.(\d+)/.exec(JSON.parse(r.stdout || '{}').terraform_version ?? '0.0');
  return !!v && (Number(v[1]) > 1 || (Number(v[1]) === 1 && Number(v[2]) >= 11));
}

/** The terraform (or tofu) ok() and planCode() run: set by resolveTf() in a before() hook. */
export let tfBin: string | undefined;
export async function resolveTf(): Promise<string> {
  tfBin = await defaultTf();
  return tfBin;
}

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

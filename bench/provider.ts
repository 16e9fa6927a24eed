/**
 * bench/provider: the Terraform provider on a topology of 100 pipelines (100 sources, 100
 * destinations, 10 transforms: 310 resources). Prints the time of `terraform apply` (create all),
 * of a no-op `terraform plan` (refreshes all 310), and the provider's start-up (process spawn to
 * go-plugin handshake line). Goals: apply <= 60 s, no-op plan <= 5 s, start-up <= 300 ms.
 * docs/benchmarks.md records the figures.
 *
 *   npm run bench:provider       # needs a stack (`npm start`, or DATABASE_URL/REDIS_URL/KAFKA_BROKERS) and terraform
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBenchApi } from './bench-api';
import { installProvider } from '../provider/install';

const PIPELINES = Number(process.env.BENCH_PIPELINES ?? 100);
const TRANSFORMS = 10;
const root = path.resolve(__dirname, '..', '..');

function terraformBin(): string {
  for (const n of ['terraform', 'tofu']) {
    const r = spawnSync('sh', ['-c', `command -v ${n}`], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  throw new Error('terraform (or tofu) must be on PATH');
}

function topology(n: number): string {
  const out = [
    'terraform {\n  required_providers {\n    sluice = { source = "sluice.local/sluice/sluice" }\n  }\n}\n',
    'variable "pw" {\n  type      = string\n  sensitive = true\n}\n',
  ];
  for (let t = 0; t < TRANSFORMS; t++)
    out.push(`resource "sluice_transform_drop_fields" "t${t}" {\n  name   = "t${t}"\n  fields = ["secret_${t}"]\n}\n`);
  for (let i = 0; i < n; i++) {
    out.push(
      `resource "sluice_source_postgresql" "s${i}" {\n  name      = "src-${i}"\n  host      = "db${i}.internal"\n  database  = ` +
        `"app${i}"\n  user      = "cdc"\n  password  = var.pw\n  slot_name = "slot_${i}"\n  tags      = { shard = "${i % 10}" }\n}\n`,
    );
    out.push(
      `resource "sluice_destination_postgresql" "d${i}" {\n  name     = "dst-${i}"\n  host     = ` +
        `"dw.internal"\n  database = "dw"\n  user     = "loader"\n  password = var.pw\n  schema   = "raw_${i}"\n}\n`,
    );
    out.push(
      `resource "sluice_pipeline" "p${i}" {\n  name           = "p-${i}"\n  source_id      = sluice_source_postgresql.s${i}.id\n  destination_id = ` +
        `sluice_destination_postgresql.d${i}.id\n  transform_ids  = [sluice_transform_drop_fields.t${i % TRANSFORMS}.id]\n  desired_state  = "paused"\n}\n`,
    );
  }
  return out.join('\n');
}

function run(bin: string, cwd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, [...args, '-no-color', '-input=false'], {
    cwd,
    env,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && !(args.includes('-detailed-exitcode') && r.status === 2))
    throw new Error(`terraform ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  if (args.includes('-detailed-exitcode') && r.status !== 0)
    throw new Error(`the no-op plan is not empty:\n${r.stdout}`);
  return ms;
}

async function startupMs(entry: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const p = spawn(process.execPath, [entry], {
    env: {
      ...process.env,
      TF_PLUGIN_MAGIC_COOKIE: 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2',
      PLUGIN_PROTOCOL_VERSIONS: '6',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise((r) => p.stdout!.once('data', r));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  p.kill('SIGKILL');
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main() {
  const api = await startBenchApi();
  const { url, token } = api;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-tf-'));
  try {
    const tf = terraformBin();
    const inst = installProvider({
      dir: path.join(work, 'mirror'),
      cliConfigFile: path.join(work, 'terraform.rc'),
      entry: path.join(root, 'dist/provider/main.js'),
    });
    const dir = path.join(work, 'config');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'main.tf'), topology(PIPELINES));
    const env = {
      ...process.env,
      TF_CLI_CONFIG_FILE: inst.cliConfigFile,
      CHECKPOINT_DISABLE: '1',
      TF_IN_AUTOMATION: '1',
      SLUICE_ENDPOINT: url,
      SLUICE_TOKEN: token,
      TF_VAR_pw: 'bench-secret',
    };
    const resources = PIPELINES * 3 + TRANSFORMS;

    const starts: number[] = [];
    for (let i = 0; i < 21; i++) starts.push(await startupMs(path.join(root, 'dist/provider/main.js')));
    run(tf, dir, ['init'], env);
    const apply = run(tf, dir, ['apply', '-auto-approve'], env);
    const plans = [0, 1, 2].map(() => run(tf, dir, ['plan', '-detailed-exitcode'], env));
    const noRefresh = [0, 1, 2].map(() => run(tf, dir, ['plan', '-detailed-exitcode', '-refresh=false'], env));
    const version = spawnSync(tf, ['version'], { encoding: 'utf8' }).stdout.split('\n')[0];

    const rows = [
      ['terraform apply (create all)', sec(apply), '<= 60 s'],
      ['no-op terraform plan (refresh all), median of 3', sec(median(plans)), '<= 5 s'],
      ['no-op terraform plan -refresh=false (Terraform alone), median of 3', sec(median(noRefresh)), ''],
      [
        'provider start-up (spawn -> handshake), median of 21',
        `${median(starts).toFixed(0)} ms (min ${Math.min(...starts).toFixed(0)}, max ${Math.max(...starts).toFixed(0)})`,
        '<= 300 ms',
      ],
    ];
    process.stdout.write(
      `\nProvider benchmark: ${PIPELINES} pipelines, ${resources} resources; ${version}; node ${process.version}; ` +
        `${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''}; load average ${os
          .loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')}\n\n`,
    );
    process.stdout.write('| measure | result | goal |\n| --- | --- | --- |\n');
    for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
  } finally {
    await api.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});

import fs from 'node:fs';
import { Command, Option } from 'commander';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/log';
import { startApi } from '../api/server';
import { LocalStack } from '../stack/stack';
import { runWorker } from '../workers';
import { registerDataplaneCommands } from './dataplane-commands';
import { ApiClient, CliError } from './client';
import { roles } from '../core/roles';
import { devDown, devProcesses, devUp } from './dev';
import { allPipelineStatuses, PipelineStatusLine, pipelineTable } from './status';
import { UUID_RE } from '../core/patterns';

const program = new Command();
program
  .name('sluice')
  .description(
    'Sluice: change-data-capture from Postgres and MySQL through Kafka into your destinations, configured as code.',
  )
  .showHelpAfterError();

program
  .command('dev')
  .description(
    'Start the whole system on this machine (Postgres, Redis, Kafka, API, ' +
      'one worker) and a demo pipeline. Safe to run again; --stop stops it ' +
      'all.',
  )
  .option('--stop', 'stop everything `sluice dev` started')
  .option('--json', 'machine-readable summary')
  .action(async (o: { stop?: boolean; json?: boolean }) => (o.stop ? devDown() : devUp({ json: o.json })));

program
  .command('api')
  .description('Run the control-plane API in the foreground (DATABASE_URL, REDIS_URL, KAFKA_BROKERS, SLUICE_API_PORT).')
  .action(async () => {
    const api = await startApi();
    await untilSignal();
    api.log.info('api shutting down');
    await api.close();
  });

program
  .command('worker')
  .description(
    'Run a worker process in the foreground: it takes pipeline runners ' +
      'from the queue. SIGTERM flushes, acknowledges and releases them.',
  )
  .action(async () => {
    const cfg = loadConfig();
    const log = createLogger(cfg.logLevel).child({ component: 'worker', pid: process.pid });
    const ac = new AbortController();
    untilSignal().then(() => ac.abort());
    await runWorker(cfg, log, ac.signal);
  });

program
  .command('status')
  .description('Local services, API readiness and every pipeline with its actual state, reason, lag and DLQ count.')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const stack = new LocalStack();
    const services = await stack.status();
    const procs = devProcesses(stack.endpoints().home);
    const client = tryClient();
    let ready: unknown = 'unreachable';
    let pipelines: PipelineStatusLine[] = [];
    let error: string | undefined;
    if (client) {
      try {
        const r = await fetch(client.endpoint + '/readyz');
        ready = await r.json();
        pipelines = await allPipelineStatuses(client);
      } catch (e) {
        error = (e as Error).message;
      }
    }
    if (o.json) {
      print(
        JSON.stringify(
          {
            services,
            processes: procs,
            api: client?.endpoint,
            console: client ? `${client.endpoint}/console` : undefined,
            ready,
            pipelines,
          },
          null,
          2,
        ),
      );
      return;
    }
    for (const s of services)
      print(`${s.name.padEnd(9)} ${s.state.padEnd(9)} ${s.pid ? `pid ${s.pid}` : ''} ${s.address ?? ''}`.trimEnd());
    for (const [p, pid] of Object.entries(procs))
      print(`${p.padEnd(9)} ${(pid ? 'running' : 'stopped').padEnd(9)} ${pid ? `pid ${pid}` : ''}`.trimEnd());
    const r = ready as { status?: string; detail?: string };
    print(
      `api       ${client?.endpoint ?? '(no token)'} ${typeof ready === 'string' ? ready : r.status}${r.detail ? ` (${r.detail})` : ''}`,
    );
    if (client) print(`console   ${client.endpoint}/console`);
    if (error) print(`pipelines not readable: ${error}`);
    if (pipelines.length) print(pipelineTable(pipelines));
  });

program
  .command('alerts')
  .description(
    'Alert rules (and what each is firing for now), channels, and the recent notifications with their delivery.',
  )
  .option('--limit <n>', 'notifications to show', '20')
  .option('--json', 'machine-readable output')
  .action(async (o: { limit: string; json?: boolean }) => {
    const api = client();
    const limit = Math.min(500, Math.max(1, Number(o.limit) || 20));
    const [channels, rules, events] = await Promise.all([
      api.request('GET', '/v1/alert-channels?page_size=500'),
      api.request('GET', '/v1/alert-rules?page_size=500'),
      api.request('GET', `/v1/alerts?page_size=${limit}`),
    ]);
    if (o.json) {
      print(
        JSON.stringify(
          { channels: channels.body.items, rules: rules.body.items, notifications: events.body.items },
          null,
          2,
        ),
      );
      return;
    }
    const chName = new Map<string, string>(channels.body.items.map((c: any) => [c.id, c.name]));
    print(`rules (${rules.body.total})`);
    for (const r of rules.body.items) {
      const watch = r.pipeline_id
        ? `pipeline ${r.pipeline_id}`
        : Object.keys(r.selector).length
          ? `tags ${Object.entries(r.selector)
              .map(([k, v]) => `${k}=${v}`)
              .join(',')}`
          : 'all pipelines';
      print(
        `  ${r.firing.length ? 'FIRING ' : 'ok     '} ${r.name}: ${r.condition}` +
          `${['lag_above', 'dlq_above'].includes(r.condition) ? ` > ${r.threshold}` : ''} ` +
          `for ${r.for_seconds} s, ${watch} -> ${r.channel_ids.map((id: string) => chName.get(id) ?? id).join(', ')}${r.enabled ? '' : ' (disabled)'}`,
      );
      for (const f of r.firing) print(`           firing for ${f.pipeline} since ${f.since}`);
    }
    print(`channels (${channels.body.total})`);
    for (const c of channels.body.items) print(`  ${c.name} (${c.kind})`);
    print(`notifications (latest ${events.body.items.length} of ${events.body.total})`);
    for (const e of events.body.items) {
      print(
        `  ${e.at} ${e.event.toUpperCase().padEnd(8)} ${e.rule} on ${e.pipeline}${e.value ? `: ${e.value}` : ''} ` +
          `[${e.deliveries.map((d: any) => `${d.channel} ${d.status}`).join(', ')}]`,
      );
    }
  });

program
  .command('export')
  .description('Print the whole topology as JSON or Terraform HCL (secrets become variables).')
  .addOption(new Option('--format <format>', 'json or hcl').choices(['json', 'hcl']).default('json'))
  .option('--import-blocks', 'HCL: add import {} blocks so Terraform adopts the existing objects')
  .option('-o, --output <file>', 'write to a file instead of stdout')
  .action(async (o: { format: string; importBlocks?: boolean; output?: string }) => {
    const r = await client().request(
      'GET',
      `/v1/export?format=${o.format}${o.importBlocks ? '&import_blocks=true' : ''}`,
    );
    const text = o.format === 'json' ? JSON.stringify(r.body, null, 2) + '\n' : r.text;
    if (o.output) {
      fs.writeFileSync(o.output, text);
      process.stderr.write(`wrote ${o.output}\n`);
    } else process.stdout.write(text);
  });

program
  .command('import')
  .description(
    'Apply a topology document (from `sluice export`), idempotent by name. ' +
      'Secret values come from --secrets or SLUICE_SECRET_<VARIABLE> env ' +
      'vars.',
  )
  .argument('<file>', 'JSON document, - for stdin')
  .option('--dry-run', 'show the plan, change nothing')
  .option('--prune', 'delete objects the document does not name')
  .option('--secrets <file>', 'JSON object of secret variable name -> value')
  .option('--json', 'machine-readable result')
  .action(async (file: string, o: { dryRun?: boolean; prune?: boolean; secrets?: string; json?: boolean }) => {
    const doc = JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8'));
    const secrets: Record<string, string> = { ...(o.secrets ? JSON.parse(fs.readFileSync(o.secrets, 'utf8')) : {}) };
    for (const [k, v] of Object.entries(process.env))
      if (k.startsWith('SLUICE_SECRET_') && k !== 'SLUICE_SECRET_KEY' && v !== undefined)
        secrets[k.slice(14).toLowerCase()] = v;
    const r = await client().request('POST', `/v1/import?dry_run=${!!o.dryRun}&prune=${!!o.prune}`, {
      ...doc,
      ...(Object.keys(secrets).length ? { secrets } : {}),
    });
    if (o.json) {
      print(JSON.stringify(r.body, null, 2));
      return;
    }
    for (const c of r.body.changes)
      print(
        `${c.action.padEnd(9)} ${c.type.padEnd(11)} ${c.name}${c.fields?.length && c.action === 'update' ? `  (${c.fields.join(', ')})` : ''}`,
      );
    const s = r.body.summary;
    print(
      `${o.dryRun ? 'Plan' : 'Applied'}: ${s.create} to create, ${s.update} to update, ${s.delete} to delete, ${s.unchanged} unchanged.`,
    );
  });

program
  .command('provider')
  .description(
    'The Terraform provider: `sluice provider install [--dir <mirror>] ' +
      '[--cli-config <file>]` puts it in a filesystem mirror and prints the ' +
      'CLI config.',
  )
  .argument('<action>', 'install')
  .option('--dir <dir>', 'mirror directory (default $SLUICE_HOME/terraform-plugins)')
  .option('--cli-config <file>', 'where to write the CLI configuration')
  .action(async (action: string, o: { dir?: string; cliConfig?: string }) => {
    if (action !== 'install') throw new CliError(`unknown provider action ${action}: use install`);
    const { installProvider, installSummary } = await import('../provider/install');
    process.stdout.write(installSummary(installProvider({ dir: o.dir, cliConfigFile: o.cliConfig })));
  });

program
  .command('stack')
  .description('Control only the local services (Postgres, Redis, Kafka).')
  .addArgument(new Command().createArgument('<action>', 'start, stop or status').choices(['start', 'stop', 'status']))
  .action(async (action: string) => {
    const stack = new LocalStack();
    if (action === 'start') await stack.start();
    else if (action === 'stop') await stack.stop();
    print(JSON.stringify(await stack.status(), null, 2));
  });

registerDataplaneCommands(program, () => client()); // snapshot, dlq, verify, restart (workers/cli.ts)

const token = program
  .command('token')
  .description(
    'API tokens with roles (viewer, operator, admin): create (prints the ' +
      'secret once), list, revoke. Needs an admin token.',
  );
token
  .command('create')
  .argument('<name>', 'unique name; the audit log shows it as the actor')
  .addOption(new Option('--role <role>', 'what the token may do').choices([...roles]).makeOptionMandatory())
  .option('--expires-in <duration>', 'lifetime: seconds, or with a unit: 30m, 12h, 90d (default: never expires)')
  .option('--json', 'machine-readable output')
  .action(async (name: string, o: { role: string; expiresIn?: string; json?: boolean }) => {
    const r = await client().request('POST', '/v1/tokens', {
      name,
      role: o.role,
      ...(o.expiresIn ? { expires_in: seconds(o.expiresIn) } : {}),
    });
    if (o.json) {
      print(JSON.stringify(r.body, null, 2));
      return;
    }
    process.stderr.write(
      `created ${r.body.role} token ${JSON.stringify(r.body.name)} ` +
        `(${r.body.id})${r.body.expires_at ? `, expires ${r.body.expires_at}` : ''}; the secret is shown only now:\n`,
    );
    print(r.body.token);
  });
token
  .command('list')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const items = await allTokens(client());
    if (o.json) {
      print(JSON.stringify(items, null, 2));
      return;
    }
    for (const t of items)
      print(
        `${t.id}  ${String(t.role).padEnd(8)} ${String(t.name).padEnd(24)} expires ${t.expires_at ?? 'never'}  last used ${t.last_used_at ?? 'never'}`,
      );
  });
token
  .command('revoke')
  .argument('<token>', 'id or name of the token')
  .action(async (ref: string) => {
    const c = client();
    let id = ref;
    if (!UUID_RE.test(ref)) {
      const found = (await allTokens(c)).find((t) => t.name === ref);
      if (!found) throw new CliError(`no token named ${JSON.stringify(ref)}: see \`sluice token list\``);
      id = String(found.id);
    }
    await c.request('DELETE', `/v1/tokens/${id}`);
    print(`revoked token ${ref}`);
  });

async function allTokens(c: ApiClient): Promise<Record<string, string | null>[]> {
  const items: Record<string, string | null>[] = [];
  for (let page = 1; ; page++) {
    const r = await c.request('GET', `/v1/tokens?page=${page}&page_size=500`);
    items.push(...r.body.items);
    if (items.length >= r.body.total || !r.body.items.length) return items;
  }
}

/** "90d", "12h", "30m", "45s" or plain seconds. */
function seconds(text: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!m)
    throw new CliError(
      `--expires-in must be seconds or a number with s, m, h or d (e.g. 90d), not ${JSON.stringify(text)}`,
    );
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

function print(line: string) {
  process.stdout.write(line + '\n');
}
function client() {
  return new ApiClient();
}
function tryClient() {
  try {
    return new ApiClient();
  } catch {
    return undefined;
  }
}

function untilSignal(): Promise<void> {
  // The timer keeps the event loop alive while the process has nothing else scheduled.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  return new Promise((resolve) => {
    const done = () => {
      clearInterval(keepAlive);
      resolve();
    };
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
}

program.parseAsync(process.argv).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(e instanceof CliError ? `error: ${e.message}\n` : `error: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);

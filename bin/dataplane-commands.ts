import { Command } from 'commander';
import { UUID_RE as uuid } from '../core/patterns';

/** What the data-plane commands need from the CLI's API client (bin/client.ts). */
export interface CliClient {
  request<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; text: string }>;
}

const out = (s: string) => process.stdout.write(s + '\n');

async function pipelineId(c: CliClient, ref: string): Promise<string> {
  if (uuid.test(ref)) return ref;
  const r = await c.request('GET', `/v1/pipelines?name=${encodeURIComponent(ref)}&page_size=1`);
  const hit = r.body.items?.[0];
  if (!hit) throw new Error(`no pipeline named ${ref}`);
  return hit.id;
}

export function progressBar(percent: number, width = 30): string {
  const p = Math.max(0, Math.min(100, percent));
  const full = Math.round((p / 100) * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.floor(p)).padStart(3)}%`;
}

/** `sluice snapshot`, `sluice dlq list|replay|discard`, `sluice schema show|ack`, `sluice verify`, `sluice restart`. */
export function registerDataplaneCommands(program: Command, client: () => CliClient): void {
  program
    .command('snapshot')
    .description(
      'Snapshot tables of a pipeline while it keeps streaming (incremental, ' +
        'watermark-based); shows a progress bar until done.',
    )
    .argument('<pipeline>', 'pipeline name or id')
    .requiredOption('-t, --tables <tables>', 'comma-separated schema.table list')
    .option('--filter <predicate>', 'SQL predicate limiting the rows, e.g. "created_at > now() - interval \'7 days\'"')
    .option('--mode <mode>', 'incremental or blocking', 'incremental')
    .option('--no-wait', 'return once the snapshot is accepted')
    .option('--json', 'machine-readable output')
    .action(
      async (ref: string, o: { tables: string; filter?: string; mode: string; wait: boolean; json?: boolean }) => {
        const c = client();
        const id = await pipelineId(c, ref);
        const r = await c.request('POST', `/v1/pipelines/${id}/snapshots`, {
          tables: o.tables
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          mode: o.mode,
          ...(o.filter ? { filter: o.filter } : {}),
        });
        let snap = r.body;
        if (!o.wait) {
          out(o.json ? JSON.stringify(snap, null, 2) : `snapshot ${snap.id} accepted`);
          return;
        }
        const tty = process.stderr.isTTY;
        while (snap.status !== 'done' && snap.status !== 'failed') {
          const line = `${progressBar(snap.percent)} ${snap.rows_done}/${snap.rows_total || '?'} rows  ${snap.status}`;
          if (!o.json) process.stderr.write(tty ? `\r${line}` : `${line}\n`);
          await new Promise((res) => setTimeout(res, tty ? 250 : 2000));
          snap = (await c.request('GET', `/v1/pipelines/${id}/snapshots/${snap.id}`)).body;
        }
        if (o.json) {
          out(JSON.stringify(snap, null, 2));
          return;
        }
        process.stderr.write(`${tty ? '\r' : ''}${progressBar(100)} ${snap.rows_done} rows  ${snap.status}\n`);
        for (const [t, p] of Object.entries<any>(snap.progress))
          out(`${t}: ${p.rows} rows${p.error ? ` (${p.error})` : ''}`);
        if (snap.status === 'failed') throw new Error(`snapshot failed: ${snap.error}`);
      },
    );

  const dlq = program
    .command('dlq')
    .description(
      'Dead-letter queue of a pipeline: list, replay (through the current ' +
        'transforms and destination) or discard records.',
    );
  dlq
    .command('list')
    .argument('<pipeline>', 'pipeline name or id')
    .option('--status <status>', 'pending, replay_requested, replayed, discarded, superseded or all', 'pending')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: { status: string; json?: boolean }) => {
      const c = client();
      const id = await pipelineId(c, ref);
      const r = await c.request('GET', `/v1/pipelines/${id}/dlq?status=${encodeURIComponent(o.status)}&page_size=500`);
      if (o.json) {
        out(JSON.stringify(r.body, null, 2));
        return;
      }
      for (const x of r.body.items)
        out(
          `${String(x.id).padStart(6)}  ${x.status.padEnd(9)} ${x.topic}/${x.partition}@${x.offset} ` +
            ` attempts=${x.attempts}  ${x.error_class}: ${x.error_message}`,
        );
      out(`${r.body.total} record(s)`);
    });
  for (const op of ['replay', 'discard'] as const) {
    dlq
      .command(op)
      .argument('<pipeline>', 'pipeline name or id')
      .option('--ids <ids>', 'comma-separated record ids')
      .option('--all', 'every pending record')
      .option('--json', 'machine-readable output')
      .action(async (ref: string, o: { ids?: string; all?: boolean; json?: boolean }) => {
        if (!o.all && !o.ids) throw new Error(`give --ids or --all`);
        const c = client();
        const id = await pipelineId(c, ref);
        const r = await c.request(
          'POST',
          `/v1/pipelines/${id}/dlq/${op}`,
          o.all ? { all: true } : { ids: o.ids!.split(',').map(Number) },
        );
        out(
          o.json
            ? JSON.stringify(r.body, null, 2)
            : `${op === 'replay' ? 'replay requested for' : 'discarded'} ${r.body.ids.length} record(s)`,
        );
      });
  }

  program
    .command('verify')
    .description(
      'The post-outage checklist: state, lag falling, freshness per table, ' +
        'DLQ count, source vs destination row counts. Exit 1 when a line fails.',
    )
    .argument('<pipeline>', 'pipeline name or id')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: { json?: boolean }) => {
      const c = client();
      const id = await pipelineId(c, ref);
      const r = await c.request('GET', `/v1/pipelines/${id}/verify`);
      if (o.json) out(JSON.stringify(r.body, null, 2));
      else
        for (const x of r.body.checks)
          out(`${x.pass ? 'PASS' : 'FAIL'}  ${x.check}${x.table ? ` ${x.table}` : ''}: ${x.detail}`);
      if (!r.body.pass) process.exitCode = 1;
    });

  const schema = program
    .command('schema')
    .description(
      "Schema changes of a pipeline's tables: the history, and acknowledging " +
        'a table held by one (schema_changes = fail, or an incompatible type ' +
        'change).',
    );
  schema
    .command('show')
    .description(
      'Current columns and types of each table, and every change with the source position at which it took effect.',
    )
    .argument('<pipeline>', 'pipeline name or id')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: { json?: boolean }) => {
      const c = client();
      const r = await c.request('GET', `/v1/pipelines/${await pipelineId(c, ref)}/schema`);
      if (o.json) {
        out(JSON.stringify(r.body, null, 2));
        return;
      }
      out(`schema_changes: ${r.body.schema_changes}`);
      for (const t of r.body.tables) {
        out(
          `${t.table} (version ${t.version}): ${t.columns.map((col: any) => `${col.name} ${col.type}${col.key ? ' key' : ''}`).join(', ')}`,
        );
        for (const h of t.history.slice(1))
          out(
            `  v${h.version} ${h.status} ` +
              `at ${h.position ?? '?'}: ${h.changes.map(describeHistoryChange).join(', ')}` +
              `${h.reason ? `\n    ${h.reason}` : ''}`,
          );
      }
    });
  schema
    .command('ack')
    .description(
      'Release the tables a schema change holds; the change is applied and ' +
        'delivery goes on. An incompatible type change needs --resolution.',
    )
    .argument('<pipeline>', 'pipeline name or id')
    .option('--table <schema.table>', 'only this table')
    .option(
      '--resolution <resolution>',
      'for an incompatible type change: resnapshot (recreate the column with ' +
        'the new type, snapshot the table again) or new_column (write into ' +
        '<column>_v<n> from now on)',
    )
    .option('--json', 'machine-readable output')
    .action(async (ref: string, o: { table?: string; resolution?: string; json?: boolean }) => {
      const c = client();
      const r = await c.request('POST', `/v1/pipelines/${await pipelineId(c, ref)}/schema/ack`, {
        ...(o.table ? { table: o.table } : {}),
        ...(o.resolution ? { resolution: o.resolution } : {}),
      });
      if (o.json) out(JSON.stringify(r.body, null, 2));
      else
        for (const a of r.body.acknowledged)
          out(`acknowledged ${a.table} version ${a.version}${a.resolution ? ` (${a.resolution})` : ''}`);
    });

  program
    .command('restart')
    .description('Restart a pipeline runner (the worker holding it stops and starts it again).')
    .argument('<pipeline>', 'pipeline name or id')
    .action(async (ref: string) => {
      const c = client();
      const id = await pipelineId(c, ref);
      await c.request('POST', `/v1/pipelines/${id}/restart`);
      out('restart requested');
    });
}

/** One change of a schema-history entry: `kind column [old->new]`. */
function describeHistoryChange(x: { kind: string; column: string; old_type?: string; new_type?: string }): string {
  return `${x.kind} ${x.column}${x.new_type ? ` ${x.old_type ?? ''}->${x.new_type}` : ''}`;
}

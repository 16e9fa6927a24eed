// Setting up one matrix row for a scenario: fresh source and destination databases from the kits
// (on servers the test may stop, when the scenario needs that), the scenario tables, a pipeline
// through the API, and real worker processes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { findSpec } from '../../connectors';
import { secretFields } from '../../core/spec';
import { Setup, setupPipeline, spawnWorker, teardown, Worker } from '../dataplane/harness';
import type { Database } from './kits';
import type { MatrixRow } from './matrix';

export interface RowRun {
  s: Setup;
  src: Database;
  dst: Database;
  workers: Worker[];
}

/**
 * describe(`<row name>`) with a pipeline built before its tests and torn down after them. `tables`
 * picks the kits' scenario tables (or `extraDdl` adds the row's own); `stoppable` puts the source or
 * destination on a server the test may stop.
 */
export function onRow(
  row: MatrixRow,
  opts: {
    tables?: ('events' | 'big')[];
    extraDdl?: string;
    stoppable?: 'source' | 'destination';
    workers?: number;
    source?: Record<string, unknown>;
    pipeline?: Record<string, unknown>;
    transforms?: Record<string, unknown>[];
    workerEnv?: Record<string, string>;
    prepare?: (run: Omit<RowRun, 's'>) => Promise<Partial<Parameters<typeof setupPipeline>[0]> | void>;
  },
  body: (run: () => RowRun) => void,
) {
  describe(row.name, () => {
    let run: RowRun | undefined;
    before(async () => {
      const src = await row.source.database(opts.stoppable === 'source');
      const dst = await row.destination.database(opts.stoppable === 'destination');
      const ddl = [...(opts.tables ?? ['events']).map((t) => row.source.ddl[t]), opts.extraDdl ?? ''].join('\n');
      const extra = (await opts.prepare?.({ src, dst, workers: [] })) ?? {};
      const s = await setupPipeline({
        ddl,
        sourceKind: row.source.kind,
        srcUrl: src.url,
        dstUrl: dst.url,
        destinationKind: row.destination.kind,
        destinationConfig: (dst as { config?: Record<string, unknown> }).config,
        dstRows: (table, cols, key, where) => row.destination.rows(dst.url, table, cols, key, where),
        source: opts.source,
        pipeline: opts.pipeline,
        transforms: opts.transforms,
        ...extra,
      });
      const workers = Array.from({ length: opts.workers ?? 1 }, () => spawnWorker(s.api, opts.workerEnv));
      run = { s, src, dst, workers };
    });
    after(async () => {
      if (!run) return;
      await run.src.outage?.start().catch(() => undefined);
      await run.dst.outage?.start().catch(() => undefined);
      await teardown(run.s, run.workers);
      await run.src.destroy();
      await run.dst.destroy();
    });
    body(() => run!);
    // Last in the row, after its faults: error paths (outages, rejections, retries) are where a
    // connector would put a credential into a log line.
    it('no credential of the row appears in a worker log, the API log or an API response', () => {
      const r = run!;
      const found = leakedSecrets(r, [
        ...r.workers.map((w) => ({ name: `worker log ${w.logFile}`, text: fs.readFileSync(w.logFile, 'utf8') })),
        { name: 'API log', text: r.s.api.logLines.join('\n') },
        ...r.s.api.responses.map((text) => ({ name: `response ${text.slice(0, text.indexOf('\n'))}`, text })),
      ]);
      assert.deepEqual(found, []);
    });
  });
}

/**
 * Where the row's secrets (the sensitive fields of its destination config, the passwords of its
 * database URLs) appear. Values under 10 characters are left out: the test stack's own passwords
 * ("sluice") are words that appear in every log line; the destinations' test credentials are random.
 */
function leakedSecrets(r: RowRun, artifacts: { name: string; text: string }[]): string[] {
  const values = new Map<string, string>(); // value -> what it is
  const add = (what: string, v: unknown) => {
    if (typeof v !== 'string') return;
    // A header line ("Authorization: Bearer tok-...") leaks as its value alone, too.
    for (const part of [v, ...v.split(/[\s:]+/)]) if (part.length >= 10) values.set(part, what);
  };
  const config = (r.dst as { config?: Record<string, unknown> }).config;
  const spec = findSpec('destination', r.s.dstKind);
  assert.ok(spec, `destination kind ${r.s.dstKind} is registered`);
  const fields = secretFields(spec).filter((f) => config?.[f] !== undefined);
  for (const f of fields) add(`${r.s.dstKind} destination field ${f}`, config?.[f]);
  // A kind whose kit sets credentials is really searched for them.
  assert.ok(!fields.length || values.size >= fields.length, `secrets of ${fields.join(', ')} collected`);
  for (const [what, url] of [
    ['source', r.s.srcUrl],
    ['destination', r.s.dstUrl],
  ])
    if (/^[a-z]+:\/\//.test(url)) add(`the ${what} database password`, decodeURIComponent(new URL(url).password));
  return [...values].flatMap(([v, what]) =>
    artifacts.filter((a) => a.text.includes(v)).map((a) => `${what} appears in ${a.name}`),
  );
}

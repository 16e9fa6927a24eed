// Setting up one matrix row for a scenario: fresh source and destination databases from the kits
// (on servers the test may stop, when the scenario needs that), the scenario tables, a pipeline
// through the API, and real worker processes.
import { after, before, describe } from 'node:test';
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
  });
}

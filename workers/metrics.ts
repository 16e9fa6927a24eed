import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { installedPatches } from '../patches';

/** Data-plane metrics of this worker process (exposed by `sluice worker --metrics-port`). */
export const registry = new Registry();
export const metrics = {
  eventsIn: new Counter({
    name: 'sluice_events_in_total',
    help: 'Change events read from the source',
    labelNames: ['pipeline'],
    registers: [registry],
  }),
  eventsOut: new Counter({
    name: 'sluice_events_out_total',
    help: 'Change events written to the destination',
    labelNames: ['pipeline'],
    registers: [registry],
  }),
  snapshotRows: new Counter({
    name: 'sluice_snapshot_rows_total',
    help: 'Rows read by snapshots',
    labelNames: ['pipeline'],
    registers: [registry],
  }),
  writeLatency: new Histogram({
    name: 'sluice_destination_write_seconds',
    help: 'Destination batch write latency',
    labelNames: ['pipeline'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
  retries: new Counter({
    name: 'sluice_write_retries_total',
    help: 'Destination write retries',
    labelNames: ['pipeline', 'kind'],
    registers: [registry],
  }),
  dlq: new Counter({
    name: 'sluice_dlq_records_total',
    help: 'Records sent to the DLQ',
    labelNames: ['pipeline'],
    registers: [registry],
  }),
  lag: new Gauge({
    name: 'sluice_replication_lag_bytes',
    help: 'Bytes of WAL the slot holds behind the server',
    labelNames: ['pipeline'],
    registers: [registry],
  }),
  /** 1 per third-party patch in effect (patches/index.ts); `max` so a sink thread's copy does not add up. */
  patches: new Gauge({
    name: 'sluice_patch_active',
    help: 'Third-party library patches in effect in this worker (patches/)',
    labelNames: ['library', 'version', 'patch'],
    aggregator: 'max',
    registers: [registry],
    collect() {
      for (const p of installedPatches())
        for (const patch of p.patches) this.set({ library: p.library, version: p.version, patch }, 1);
    },
  }),
};

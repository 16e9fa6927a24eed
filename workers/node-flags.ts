import fs from 'node:fs';
import path from 'node:path';

/**
 * Node flags of every worker process, from workers/worker.node-flags (read by bin/sluice too, so
 * `sluice worker`, `sluice dev` and the tests' workers start alike). --max-semi-space-size=64: a
 * worker allocates a young-generation object or three per row and keeps whole snapshot chunks alive
 * across scavenges; with V8's default 16 MiB semi-space it spent ~20 % of its CPU in GC. At 64 MiB
 * the 1M-row snapshot read went from 47 – 50k to 54 – 58k rows/s and 21 -> 18 µs of worker CPU per
 * row (docs/benchmarks.md). The flag is process-wide, so the sink thread gets it too.
 */
export function workerNodeFlags(): string[] {
  const file = path.resolve(__dirname, '..', '..', 'workers', 'worker.node-flags'); // dist/workers -> repo/workers
  return fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean);
}

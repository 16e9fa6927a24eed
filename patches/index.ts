/**
 * Third-party patches, in plain sight. Two libraries Sluice depends on are patched at run time:
 *  - kafkajs 2.2.4 (no release since 2023): produce encoding, request framing, partitioning and
 *    record batch decoding, for speed, byte for byte the same (patches/kafkajs-produce.ts,
 *    patches/kafkajs-consume.ts, checked by test/unit/kafkajs-*-patch.test.ts);
 *  - pg-logical-replication 2.5.0: text decoding that keeps a leading U+FEFF (a correctness fix).
 * Every use of these libraries at run time goes through the loaders below, which install the
 * patches first (once per process or worker thread): no entry point has to import anything in a
 * particular order. A patch that no longer matches the library's internals throws a
 * PatchMismatchError at the first client built, instead of running silently half-patched; the
 * boundary test (test/unit/boundaries.test.ts) forbids loading these libraries any other way.
 * The installed patches are logged by each worker and exported as `sluice_patch_active` in /metrics.
 */
import type * as KafkaJS from 'kafkajs';
import type * as PgLogicalReplication from 'pg-logical-replication';
import * as kafkajsConsume from './kafkajs-consume';
import * as kafkajsProduce from './kafkajs-produce';
import { PatchMismatchError } from './patch-mismatch-error';
import * as pgLogical from './pg-logical-replication';

export { PatchMismatchError } from './patch-mismatch-error';

/** The library versions the patches were written and checked against. */
const CHECKED = { kafkajs: '2.2.4', 'pg-logical-replication': '2.5.0' } as const;

export interface PatchStatus {
  library: string;
  version: string;
  patches: string[];
}

const installed = new Map<string, PatchStatus>();

function installOnce(library: keyof typeof CHECKED, steps: (() => string[])[]): void {
  if (installed.has(library)) return;
  const version = String(require(`${library}/package.json`).version);
  if (version !== CHECKED[library])
    throw new PatchMismatchError(library, `found version ${version}, the patches are for ${CHECKED[library]}`);
  installed.set(library, { library, version, patches: steps.flatMap((s) => s()) });
}

/** kafkajs, patched. The only way Sluice's code loads kafkajs at run time (types may be imported anywhere). */
export function kafkajs(): typeof KafkaJS {
  installOnce('kafkajs', [kafkajsConsume.install, kafkajsProduce.install]);
  return require('kafkajs') as typeof KafkaJS;
}

/** pg-logical-replication, patched. */
export function pgLogicalReplication(): typeof PgLogicalReplication {
  installOnce('pg-logical-replication', [pgLogical.install]);
  return require('pg-logical-replication') as typeof PgLogicalReplication;
}

/** What is patched in this process (or worker thread) so far. */
export function installedPatches(): PatchStatus[] {
  return [...installed.values()];
}

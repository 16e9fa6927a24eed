/**
 * The object key layout: `<prefix>/<table>/dt=YYYY-MM-DD/hr=HH/<first offset>-<last offset>.parquet`
 * (`.jsonl` for JSON Lines; a topic partition other than 0 adds `-p<partition>` before the
 * extension). dt/hr is the UTC hour of the file's first change (its source commit time), which a
 * re-read of the same change computes again: that is how a restart finds the files a crash left
 * between upload and offset commit (one LIST of the hour's folder) and skips their offsets.
 */

/** `dt=YYYY-MM-DD/hr=HH` of an epoch-ms time, in UTC. */
export function hourFolder(ms: number): string {
  const iso = new Date(Number.isFinite(ms) ? ms : 0).toISOString();
  return `dt=${iso.slice(0, 10)}/hr=${iso.slice(11, 13)}`;
}

/** The folder of a table's files: `<prefix>/<table>/`. */
export const tableFolder = (prefix: string, table: string) => `${prefix ? `${prefix}/` : ''}${table}/`;

export function objectKey(o: {
  prefix: string;
  table: string;
  hour: string;
  first: bigint;
  last: bigint;
  partition: number;
  ext: 'parquet' | 'jsonl';
}): string {
  return `${tableFolder(o.prefix, o.table)}${o.hour}/${o.first}-${o.last}${o.partition ? `-p${o.partition}` : ''}.${o.ext}`;
}

const FILE = /\/(\d+)-(\d+)(?:-p(\d+))?\.(?:parquet|jsonl)$/;

/** The partition and offset range of a file Sluice wrote, from its key; null for any other key. */
export function parseKey(key: string): { partition: number; first: bigint; last: bigint } | null {
  const m = FILE.exec(key);
  return m ? { partition: m[3] ? Number(m[3]) : 0, first: BigInt(m[1]), last: BigInt(m[2]) } : null;
}

import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Envelope } from '../../core/change-event';
import type { BufferedWrites, DestinationWriter, TopicPartition, WriterOpts } from '../module';
import { ParquetColumn, parquetColumns, prepareValue, UnrepresentableValueError } from './columns';
import { hourFolder, objectKey, parseKey, tableFolder } from './keys';
import { ParquetEncoder } from './parquet';

export interface S3Config {
  bucket: string;
  prefix?: string;
  format?: 'parquet' | 'jsonl';
  parquet_compression?: string;
  max_file_bytes?: number;
  max_file_age_ms?: number;
  endpoint?: string;
  region?: string;
  force_path_style?: boolean;
  access_key_id?: string;
  secret_access_key?: string;
  session_token?: string;
  server_side_encryption?: 'none' | 'AES256' | 'aws:kms';
  sse_kms_key_id?: string;
}

/** The S3 client of a destination config (the writer's, and the tests' reading the bucket back). */
export function s3Client(cfg: S3Config): S3Client {
  return new S3Client({
    region: cfg.region || 'us-east-1',
    endpoint: cfg.endpoint || undefined,
    forcePathStyle: cfg.force_path_style ?? false,
    credentials: cfg.access_key_id
      ? {
          accessKeyId: cfg.access_key_id,
          secretAccessKey: cfg.secret_access_key ?? '',
          sessionToken: cfg.session_token || undefined,
        }
      : undefined,
    maxAttempts: 1, // the sink retries (without limit for an unreachable destination)
    requestHandler: { connectionTimeout: 5000, requestTimeout: 60000 },
  });
}

/** The records of one topic-partition and destination table waiting for their file. */
class FileBuffer {
  lines: { offset: bigint; line: string }[] = [];
  offsets = new Set<string>();
  /** Column -> DuckDB type, in first-seen order; a column whose type changes inside one file is text in that file. */
  columns = new Map<string, string>();
  /** The column list last merged into `columns` (the sink shares one list between the records of a table). */
  lastCols: ParquetColumn[] | null = null;
  bytes = 0;
  openedAt = 0;
  first: { offset: bigint; ts: number } | null = null;
  constructor(
    readonly tp: TopicPartition,
    readonly table: string,
  ) {}
}

/** Files a table has in the bucket, per partition, learnt from LISTs of hour folders and from our own uploads. */
class KnownFiles {
  private listed = new Set<string>();
  private ranges = new Map<number, { first: bigint; last: bigint }[]>();
  private maxLast = new Map<number, bigint>();

  isListed(hour: string) {
    return this.listed.has(hour);
  }
  markListed(hour: string) {
    this.listed.add(hour);
  }
  add(partition: number, first: bigint, last: bigint) {
    let list = this.ranges.get(partition);
    if (!list) this.ranges.set(partition, (list = []));
    list.push({ first, last });
    // A re-read starts at the committed offset, near the newest files: the oldest ranges can go.
    if (list.length > 2000) {
      list.sort((a, b) => (a.last < b.last ? -1 : 1));
      list.splice(0, 1000);
    }
    if (last > (this.maxLast.get(partition) ?? -1n)) this.maxLast.set(partition, last);
  }
  /** Whether a file in the bucket covers the offset (every offset of a file's range was written, sent to the DLQ or dropped). */
  covers(partition: number, offset: bigint): boolean {
    if (offset > (this.maxLast.get(partition) ?? -1n)) return false; // the usual case: newer than every file
    return (this.ranges.get(partition) ?? []).some((r) => r.first <= offset && offset <= r.last);
  }
}

/**
 * S3 destination: an append log of files per table. write() turns each change into a JSON line
 * (checked against its Parquet type) and buffers it per topic-partition; settle() rolls a buffer
 * into a file once it is big or old enough, uploads it with one PUT (a file is in the bucket whole
 * or not at all) and reports the offset below which everything is in the bucket: the sink commits
 * only that (BufferedWrites). After a crash between upload and commit, the re-read changes meet
 * their file again: the first change of a not yet seen hour LISTs that hour's folder, and offsets
 * inside the range of a file found there (from its key) are not written twice.
 */
export class S3Writer implements DestinationWriter {
  private cfg: S3Config;
  private s3: S3Client;
  private encoder: ParquetEncoder;
  private buffers = new Map<string, FileBuffer>();
  private known = new Map<string, KnownFiles>();
  private prefix: string;
  readonly buffered: BufferedWrites;

  constructor(private o: WriterOpts) {
    this.cfg = o.cfg as S3Config;
    this.prefix = this.cfg.prefix ?? '';
    this.s3 = s3Client(this.cfg);
    this.encoder = new ParquetEncoder(this.cfg.parquet_compression ?? 'zstd');
    this.buffered = {
      settle: (tp, next, force) => this.settle(tp, next, force),
      discard: (tp) => {
        for (const [k, b] of this.buffers)
          if (!tp || (b.tp.topic === tp.topic && b.tp.partition === tp.partition)) this.buffers.delete(k);
      },
      writeNow: (envs, offsets, tableFor, from) => this.writeNow(envs, offsets, tableFor, from),
    };
  }

  async write(
    envs: Envelope[],
    offsets: string[],
    tableFor: (schema: string, table: string) => string,
    from: TopicPartition,
  ): Promise<void> {
    const lines = await this.lines(envs, offsets, tableFor, from, true);
    const now = Date.now();
    for (const l of lines) {
      const k = `${from.topic}\u0000${from.partition}\u0000${l.table}`;
      let b = this.buffers.get(k);
      if (!b) this.buffers.set(k, (b = new FileBuffer(from, l.table)));
      if (b.offsets.has(l.offsetText)) continue; // handed over twice (after a rebalance): buffered once
      this.add(b, l, now);
    }
  }

  private add(b: FileBuffer, l: Line, now: number) {
    if (!b.lines.length) b.openedAt = now;
    b.lines.push({ offset: l.offset, line: l.line });
    b.offsets.add(l.offsetText);
    b.bytes += l.line.length;
    if (!b.first || l.offset < b.first.offset) b.first = { offset: l.offset, ts: l.ts };
    if (l.pcols === b.lastCols) return;
    b.lastCols = l.pcols;
    for (const { name, sqlType } of l.pcols) {
      const had = b.columns.get(name);
      if (had === undefined) b.columns.set(name, sqlType);
      else if (had !== sqlType) b.columns.set(name, 'VARCHAR');
    }
  }

  /** JSON lines of the changes, checked; with `skipWritten`, changes already in a file of the bucket are left out. */
  private async lines(
    envs: Envelope[],
    offsets: string[],
    tableFor: (schema: string, table: string) => string,
    from: TopicPartition,
    skipWritten: boolean,
  ): Promise<Line[]> {
    const out: Line[] = [];
    for (let i = 0; i < envs.length; i++) {
      const env = envs[i];
      const offset = BigInt(offsets[i]);
      const table = tableFor(env.source.schema, env.source.table);
      const ts = env.source.ts_ms ?? env.ts_ms;
      if (ts !== this.lastTs.ms) this.lastTs = { ms: ts, iso: new Date(ts).toISOString(), hour: hourFolder(ts) };
      if (skipWritten) {
        let known = this.known.get(table);
        if (!known?.isListed(this.lastTs.hour)) known = await this.knownFiles(table, this.lastTs.hour);
        if (known.covers(from.partition, offset)) continue;
      }
      out.push(this.line(env, offset, offsets[i], table, ts));
    }
    return out;
  }

  /** The ISO text and hour folder of the last source time seen (a transaction's changes share it). */
  private lastTs = { ms: NaN, iso: '', hour: '' };

  /** Called right after lastTs was set to `ts`. */
  private line(env: Envelope, offset: bigint, offsetText: string, table: string, ts: number): Line {
    const image = env.op === 'd' ? env.before : env.op === 't' ? null : env.after;
    const pcols = parquetColumns(env.columns);
    let row = image ?? {};
    for (const c of pcols) {
      if (!c.check) continue;
      const v = prepareValue(c, row[c.name]);
      if (v !== undefined) {
        if (row === image) row = { ...image };
        row[c.name] = v;
      }
    }
    const json = JSON.stringify(row);
    const meta = `"_sluice_op":"${env.op}","_sluice_source_ts":"${this.lastTs.iso}","_sluice_offset":${offsetText}}`;
    return {
      offset,
      offsetText,
      table,
      ts,
      line: json.length > 2 ? `${json.slice(0, -1)},${meta}` : `{${meta}`,
      pcols,
    };
  }

  private async knownFiles(table: string, hour: string): Promise<KnownFiles> {
    let k = this.known.get(table);
    if (!k) this.known.set(table, (k = new KnownFiles()));
    if (k.isListed(hour)) return k;
    let token: string | undefined;
    do {
      const r = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.cfg.bucket,
          Prefix: `${tableFolder(this.prefix, table)}${hour}/`,
          ContinuationToken: token,
        }),
      );
      for (const obj of r.Contents ?? []) {
        const f = parseKey(obj.Key ?? '');
        if (f) k.add(f.partition, f.first, f.last);
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    k.markListed(hour);
    return k;
  }

  private async settle(tp: TopicPartition, next: string, force: boolean): Promise<string> {
    const now = Date.now();
    let low: bigint | null = null;
    for (const b of this.buffers.values()) {
      if (b.tp.topic !== tp.topic || b.tp.partition !== tp.partition || !b.lines.length) continue;
      if (
        force ||
        b.bytes >= (this.cfg.max_file_bytes ?? 64 * 1024 * 1024) ||
        now - b.openedAt >= (this.cfg.max_file_age_ms ?? 60000)
      )
        await this.roll(b);
      if (b.first && (low === null || b.first.offset < low)) low = b.first.offset;
    }
    return low === null ? next : low.toString();
  }

  /** Encodes the buffer as one file and uploads it; the buffer is emptied only once the bucket has the file. */
  private async roll(b: FileBuffer): Promise<void> {
    const lines = b.lines.slice().sort((x, y) => (x.offset < y.offset ? -1 : x.offset > y.offset ? 1 : 0));
    const first = lines[0].offset;
    const last = lines[lines.length - 1].offset;
    const ext = this.cfg.format === 'jsonl' ? 'jsonl' : 'parquet';
    const key = objectKey({
      prefix: this.prefix,
      table: b.table,
      hour: hourFolder(b.first!.ts),
      first,
      last,
      partition: b.tp.partition,
      ext,
    });
    const ingestedAt = new Date().toISOString();
    let body: Buffer;
    if (ext === 'jsonl') {
      const tail = `,"_sluice_ingested_at":"${ingestedAt}"}`;
      body = Buffer.from(lines.map((l) => l.line.slice(0, -1) + tail).join('\n') + '\n');
    } else {
      const enc = await this.encoder.encode(
        lines.map((l) => l.line),
        b.columns,
        ingestedAt,
      );
      if (!enc.typed)
        this.o.log.error(
          { pipeline_id: this.o.pipelineId, key },
          'a value could not be cast to its Parquet type: this file has every column as text',
        );
      body = enc.bytes;
    }
    const sse =
      this.cfg.server_side_encryption && this.cfg.server_side_encryption !== 'none'
        ? this.cfg.server_side_encryption
        : undefined;
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.cfg.bucket,
        Key: key,
        Body: body,
        ContentType: ext === 'jsonl' ? 'application/x-ndjson' : 'application/vnd.apache.parquet',
        ServerSideEncryption: sse,
        SSEKMSKeyId: sse === 'aws:kms' && this.cfg.sse_kms_key_id ? this.cfg.sse_kms_key_id : undefined,
      }),
    );
    let k = this.known.get(b.table);
    if (!k) this.known.set(b.table, (k = new KnownFiles()));
    k.add(b.tp.partition, first, last);
    b.lines = [];
    b.offsets.clear();
    b.bytes = 0;
    b.first = null;
    b.columns.clear();
    b.lastCols = null;
    this.o.log.debug({ pipeline_id: this.o.pipelineId, key, rows: lines.length, bytes: body.length }, 'file written');
  }

  /** DLQ replays: a file of their own now (their offsets were committed long ago: no buffer, no skipping). */
  private async writeNow(
    envs: Envelope[],
    offsets: string[],
    tableFor: (schema: string, table: string) => string,
    from: TopicPartition,
  ): Promise<void> {
    const files = new Map<string, FileBuffer>();
    for (const l of await this.lines(envs, offsets, tableFor, from, false)) {
      let b = files.get(l.table);
      if (!b) files.set(l.table, (b = new FileBuffer(from, l.table)));
      this.add(b, l, Date.now());
    }
    for (const b of files.values()) await this.roll(b);
  }

  /** Everything but a value check is the bucket not taking a file now: retried without limit (a wrong bucket or credentials show as Broken). */
  isConnectionError(e: unknown) {
    return !(e instanceof UnrepresentableValueError);
  }
  errorClass(e: unknown) {
    return e instanceof UnrepresentableValueError ? 's3_unrepresentable_value' : (e as Error)?.name || 'Error';
  }

  async close() {
    await this.encoder.close();
    this.s3.destroy();
  }
}

interface Line {
  offset: bigint;
  offsetText: string;
  table: string;
  ts: number;
  line: string;
  pcols: ParquetColumn[];
}

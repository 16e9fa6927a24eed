// The S3-compatible server of the s3 destination's tests: the test stack's optional `s3` service
// (moto), started once per run on first use; a fresh bucket per test; and the bucket read back
// with DuckDB, as the latest state per key of a table's append log.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { s3Client } from '../connectors/destination-s3/writer';
import { LocalStack } from '../stack/stack';
import { sortByKeyText } from './dataplane/harness';

const stack = new LocalStack({ log: () => undefined });
let started: Promise<string> | null = null;

/** The stack's S3 endpoint URL, starting the service once per run. */
export function startS3(): Promise<string> {
  started ??= (async () => {
    await stack.startService('s3');
    return stack.endpointsOf('s3').s3Url;
  })();
  return started;
}

/** A destination config for `bucket` on `endpoint` (moto takes any credentials; these are the ones a leak test looks for). */
export function s3Config(endpoint: string, bucket: string, extra: Record<string, unknown> = {}) {
  return {
    bucket,
    prefix: 'lake',
    endpoint,
    region: 'us-east-1',
    force_path_style: true,
    access_key_id: `AKIA${crypto.randomBytes(8).toString('hex').toUpperCase()}`,
    secret_access_key: `s3-secret-${crypto.randomBytes(12).toString('hex')}`,
    ...extra,
  };
}

export async function freshBucket(endpoint: string, prefix = 'dst'): Promise<string> {
  const bucket = `${prefix}-${crypto.randomBytes(5).toString('hex')}`;
  const s3 = s3Client({ bucket, endpoint, force_path_style: true, access_key_id: 'test', secret_access_key: 'test' });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
  return bucket;
}

/**
 * Reads a bucket's files back: every object under `<prefix>/<folder>/` is fetched once (files are
 * immutable; a key written again holds the same rows) into a local directory and queried with DuckDB.
 */
export class BucketReader {
  private s3: S3Client;
  private dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bucket-'));
  private have = new Map<string, string>();
  private db: Promise<DuckDBConnection> | null = null;

  constructor(
    private endpoint: string,
    private bucket: string,
    private prefix = 'lake',
  ) {
    this.s3 = s3Client({ bucket, endpoint, force_path_style: true, access_key_id: 'test', secret_access_key: 'test' });
  }

  /** The keys under a table's folder. */
  async keys(folder: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: `${this.prefix}/${folder}/`,
          ContinuationToken: token,
        }),
      );
      out.push(...(r.Contents ?? []).map((c) => c.Key!));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Local copies of the table's files, fetched as needed. */
  async files(folder: string): Promise<string[]> {
    const keys = await this.keys(folder);
    for (const k of keys) {
      if (this.have.has(k)) continue;
      const o = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: k }));
      const file = path.join(this.dir, `${this.have.size}${path.extname(k)}`);
      fs.writeFileSync(file, Buffer.from(await o.Body!.transformToByteArray()));
      this.have.set(k, file);
    }
    return keys.map((k) => this.have.get(k)!);
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    this.db ??= DuckDBInstance.create(':memory:', { threads: '1' }).then((i) => i.connect());
    return (await (await this.db).runAndReadAll(sql)).getRowObjects() as Record<string, unknown>[];
  }

  /** `read_parquet(...)` (or read_json for .jsonl) over the table's files, or null when it has none. */
  async source(folder: string): Promise<string | null> {
    const files = await this.files(folder);
    if (!files.length) return null;
    const list = `[${files.map((f) => `'${f}'`).join(', ')}]`;
    return files[0].endsWith('.jsonl')
      ? `read_json(${list}, format = 'newline_delimited', union_by_name = true)`
      : `read_parquet(${list}, union_by_name = true)`;
  }

  /**
   * The latest state per key of a table's append log, as text rows in rowsOf's order (sortByKeyText): per key the row
   * with the highest `_sluice_offset`, unless it is a delete; rows before the last truncate do not count.
   * `where` (SQL on the columns, e.g. `WHERE id > 5`) filters the result.
   */
  async latest(folder: string, cols: string[], key: string, where = ''): Promise<Record<string, string | null>[]> {
    const from = await this.source(folder);
    if (!from) return [];
    const q = (c: string) => `"${c}"`;
    const rows = await this.query(`WITH log AS (SELECT * FROM ${from}),
      cut AS (SELECT coalesce(max(_sluice_offset) FILTER (WHERE _sluice_op = 't'), -1) AS o FROM log),
      ranked AS (SELECT *, row_number() OVER (PARTITION BY ${q(key)} ORDER BY _sluice_offset DESC) AS rn FROM log
      WHERE _sluice_op <> 't' AND _sluice_offset > (SELECT o FROM cut))
      SELECT ${cols.map((c) => `CAST(${q(c)} AS VARCHAR) AS ${q(c)}`).join(', ')} FROM (SELECT * FROM ranked WHERE rn
      = 1 AND _sluice_op <> 'd') x ${where} ORDER BY ${q(key)}`);
    return sortByKeyText(
      rows.map((r) =>
        Object.fromEntries(cols.map((c) => [c, r[c] === null || r[c] === undefined ? null : String(r[c])])),
      ),
      key,
    );
  }

  /** Deletes a table's files (a destination "truncate": the next snapshot fills it again). */
  async deleteFolder(folder: string): Promise<void> {
    const keys = await this.keys(folder);
    for (let i = 0; i < keys.length; i += 1000) {
      await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) },
        }),
      );
    }
    for (const k of keys) this.have.delete(k);
  }

  close() {
    this.s3.destroy();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

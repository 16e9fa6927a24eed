/**
 * Encodes a file's rows (JSON lines) as Parquet with DuckDB (@duckdb/node-api), in memory and
 * offline: DuckDB reads the lines with its JSON reader, casts each column to its Parquet type and
 * writes the file with its Parquet writer. Chosen over parquet-wasm + apache-arrow because DuckDB
 * casts Postgres' text forms (decimals, timestamps with offsets) exactly and writes DECIMAL,
 * TIMESTAMPTZ and JSON logical types without hand-built Arrow vectors; measured here at ~3 us/row of
 * JavaScript (building the line) plus ~5 us/row in DuckDB for the 10-column bench row (docs/benchmarks.md).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { castExpression } from './columns';

const ident = (n: string) => `"${n.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

export class ParquetEncoder {
  private db: Promise<{ instance: DuckDBInstance; conn: DuckDBConnection }> | null = null;
  private dir: string | null = null;
  private seq = 0;

  constructor(private compression: string) {}

  private open() {
    this.db ??= (async () => {
      const { DuckDBInstance } = require('@duckdb/node-api') as typeof import('@duckdb/node-api');
      // One thread: the worker's CPU is shared with the sink and source threads of other pipelines. No ICU
      // extension (it would be downloaded): TIMESTAMPTZ values are UTC, which is what the files carry.
      const instance = await DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '2GB' });
      return { instance, conn: await instance.connect() };
    })();
    return this.db;
  }

  /**
   * Parquet bytes of the rows: `columns` (name -> DuckDB type) in order, then the append metadata.
   * A cast that fails (a value write() let through but DuckDB refuses) writes that file with every
   * column as text instead, so a file is never lost to a type: `typed` says which happened.
   */
  async encode(
    lines: string[],
    columns: Map<string, string>,
    ingestedAt: string,
  ): Promise<{ bytes: Buffer; typed: boolean }> {
    const { conn } = await this.open();
    this.dir ??= await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-s3-'));
    const base = path.join(this.dir, `f${++this.seq}`);
    try {
      await fs.writeFile(`${base}.jsonl`, lines.join('\n'));
      const meta = ['_sluice_op', '_sluice_source_ts', '_sluice_offset'];
      const spec = [...columns.keys(), ...meta].map((n) => `${literal(n)}: 'VARCHAR'`).join(', ');
      // DuckDB's JSON reader buffers up to this per line (twice over): as much as the longest line needs, 16 MiB at least.
      const longest = lines.reduce((m, l) => Math.max(m, Buffer.byteLength(l)), 0);
      const maxObject = Math.max(16 * 1024 * 1024, 2 ** Math.ceil(Math.log2(longest + 1)));
      const copy = async (typed: boolean) => {
        const select = [...columns]
          .map(([n, t]) => `${typed ? castExpression(ident(n), t) : ident(n)} AS ${ident(n)}`)
          .concat([
            '_sluice_op',
            'CAST(_sluice_source_ts AS TIMESTAMPTZ) AS _sluice_source_ts',
            'CAST(_sluice_offset AS BIGINT) AS _sluice_offset',
            `TIMESTAMPTZ ${literal(ingestedAt)} AS _sluice_ingested_at`,
          ])
          .join(', ');
        await conn.run(
          `COPY (SELECT ${select} FROM read_json(${literal(`${base}.jsonl`)}, format = 'newline_delimited', records = true, ` +
            `maximum_object_size = ${maxObject}, columns = {${spec}}) ORDER BY _sluice_offset) TO ${literal(`${base}.parquet`)} ` +
            `(FORMAT parquet, COMPRESSION ${this.compression})`,
        );
      };
      let typed = true;
      try {
        await copy(true);
      } catch (e) {
        if (!/Conversion Error|Invalid Input Error|Could not convert/i.test((e as Error).message)) throw e;
        typed = false;
        await copy(false);
      }
      return { bytes: await fs.readFile(`${base}.parquet`), typed };
    } finally {
      await fs.rm(`${base}.jsonl`, { force: true });
      await fs.rm(`${base}.parquet`, { force: true });
    }
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    if (db) {
      const { instance, conn } = await db.catch(() => ({ instance: null, conn: null }));
      conn?.closeSync();
      instance?.closeSync();
    }
    if (this.dir) await fs.rm(this.dir, { recursive: true, force: true });
  }
}

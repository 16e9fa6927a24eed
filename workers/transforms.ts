import crypto from 'node:crypto';
import type { Envelope } from './envelope';

export interface TransformDef { id: string; name: string; kind: string; config: Record<string, any> }
export type TransformFn = (e: Envelope) => Envelope | null;

export class TransformError extends Error {
  constructor(public transform: string, message: string) { super(`transform ${transform}: ${message}`); this.name = 'TransformError'; }
}

const applies = (cfg: Record<string, any>, e: Envelope) => !cfg.tables?.length || cfg.tables.includes(`${e.source.schema}.${e.source.table}`);
const eachImage = (e: Envelope, f: (row: Record<string, unknown>) => void) => { if (e.before) f(e.before); if (e.after) f(e.after); };

function compare(v: unknown, op: string, want: unknown, values: unknown[]): boolean {
  const num = (x: unknown) => (typeof x === 'number' ? x : Number(x));
  const bothNum = v !== null && v !== undefined && !Number.isNaN(num(v)) && !Number.isNaN(num(want));
  switch (op) {
    case 'eq': return String(v) === String(want);
    case 'ne': return String(v) !== String(want);
    case 'gt': return bothNum ? num(v) > num(want) : String(v) > String(want);
    case 'gte': return bothNum ? num(v) >= num(want) : String(v) >= String(want);
    case 'lt': return bothNum ? num(v) < num(want) : String(v) < String(want);
    case 'lte': return bothNum ? num(v) <= num(want) : String(v) <= String(want);
    case 'in': return values.map(String).includes(String(v));
    case 'not_in': return !values.map(String).includes(String(v));
    case 'is_null': return v === null || v === undefined;
    case 'not_null': return v !== null && v !== undefined;
    default: return true;
  }
}

/** Builds the transform chain; map_filter code runs in an isolated-vm isolate (own heap, CPU-time limit). */
export function buildChain(defs: TransformDef[]): { apply(e: Envelope): Envelope | null; dispose(): void } {
  const fns: TransformFn[] = [];
  const disposers: (() => void)[] = [];
  for (const d of defs) {
    const cfg = d.config;
    let fn: TransformFn;
    switch (d.kind) {
      case 'rename_fields':
        fn = (e) => { eachImage(e, (row) => { for (const [from, to] of Object.entries(cfg.mappings ?? {})) if (from in row) { row[to as string] = row[from]; delete row[from]; } });
          e.columns = e.columns.map((c) => ({ ...c, name: (cfg.mappings?.[c.name] as string) ?? c.name })); return e; };
        break;
      case 'drop_fields':
        fn = (e) => { const drop = new Set<string>(cfg.fields ?? []); eachImage(e, (row) => { for (const f of drop) delete row[f]; });
          e.columns = e.columns.filter((c) => !drop.has(c.name) || c.key); return e; };
        break;
      case 'mask_fields':
        fn = (e) => {
          eachImage(e, (row) => {
            for (const f of cfg.fields ?? []) {
              if (!(f in row) || row[f] === null) continue;
              const s = typeof row[f] === 'string' ? (row[f] as string) : JSON.stringify(row[f]);
              row[f] = cfg.strategy === 'redact' ? '***' : cfg.strategy === 'partial' ? '*'.repeat(Math.max(0, s.length - (cfg.keep_last ?? 4))) + s.slice(-(cfg.keep_last ?? 4) || s.length)
                : crypto.createHash('sha256').update(String(cfg.salt ?? '')).update(s).digest('hex');
            }
          });
          e.columns = e.columns.map((c) => ((cfg.fields ?? []).includes(c.name) && !c.key ? { ...c, type: 'text', oid: 25 } : c));
          return e;
        };
        break;
      case 'filter_rows':
        fn = (e) => {
          if (e.op === 't') return e;
          const row = e.op === 'd' ? e.before : e.after;
          // A delete's before image may hold only the key: without the column there is nothing to judge, keep it.
          if (e.op === 'd' && !(row && cfg.column in row)) return e;
          const hit = compare(row?.[cfg.column], cfg.operator, cfg.value, cfg.values ?? []);
          return (cfg.action === 'drop' ? !hit : hit) ? e : null;
        };
        break;
      case 'map_filter': {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const ivm = require('isolated-vm');
        const isolate = new ivm.Isolate({ memoryLimit: Math.max(8, Number(cfg.memory_limit_mb ?? 32)) });
        const context = isolate.createContextSync();
        try {
          isolate.compileScriptSync(String(cfg.code)).runSync(context, { timeout: 1000 });
        } catch (err) { throw new TransformError(d.name, `code does not compile: ${(err as Error).message}`); }
        const timeout = Number(cfg.timeout_ms ?? 50);
        disposers.push(() => { try { isolate.dispose(); } catch { /* already gone */ } });
        fn = (e) => {
          if (isolate.isDisposed) throw new TransformError(d.name, 'sandbox was disposed (memory limit exceeded?)');
          let out: string | undefined;
          try {
            out = context.evalClosureSync(`const r = transform(JSON.parse($0)); return r === null || r === undefined ? null : JSON.stringify(r);`, [JSON.stringify(e)], { timeout });
          } catch (err) {
            throw new TransformError(d.name, (err as Error).message);
          }
          if (out === null || out === undefined) return null;
          const r = JSON.parse(out) as Envelope;
          r.columns = r.columns ?? e.columns;
          r.source = r.source ?? e.source;
          return r;
        };
        break;
      }
      default:
        throw new TransformError(d.name, `unknown transform kind ${d.kind}`);
    }
    fns.push((e) => (applies(cfg, e) ? fn(e) : e));
  }
  return {
    apply(e) {
      let cur: Envelope | null = e;
      for (const f of fns) { if (!cur) return null; try { cur = f(cur); } catch (err) { if (err instanceof TransformError) throw err; throw new TransformError('?', (err as Error).message); } }
      return cur;
    },
    dispose() { for (const d of disposers) d(); },
  };
}

import type { ColumnInfo } from '../core/change-event';

/**
 * How a source table's columns changed between two column lists (the envelope's `columns`: names,
 * types in Postgres format_type vocabulary whatever the source, primary-key flags). A renamed column
 * is indistinguishable from a drop plus an add, and is reported as such.
 */
export interface ColumnChange {
  kind: 'added' | 'dropped' | 'retyped' | 'key_changed';
  column: string;
  old_type?: string;
  new_type?: string;
  /** For retyped: the new type holds every value of the old one (int -> bigint, varchar(n) -> longer or text, numeric precision up). */
  widening?: boolean;
}

export function diffColumns(before: ColumnInfo[], after: ColumnInfo[]): ColumnChange[] {
  const old = new Map(before.map((c) => [c.name, c]));
  const now = new Map(after.map((c) => [c.name, c]));
  const changes: ColumnChange[] = [];
  for (const c of after) {
    const o = old.get(c.name);
    if (!o) {
      changes.push({ kind: 'added', column: c.name, new_type: c.type });
      continue;
    }
    if (o.type !== c.type)
      changes.push({
        kind: 'retyped',
        column: c.name,
        old_type: o.type,
        new_type: c.type,
        widening: widens(o.type, c.type),
      });
    if (o.key !== c.key) changes.push({ kind: 'key_changed', column: c.name, old_type: o.type, new_type: c.type });
  }
  for (const o of before) if (!now.has(o.name)) changes.push({ kind: 'dropped', column: o.name, old_type: o.type });
  return changes;
}

const INTEGER_RANK: Record<string, number> = { smallint: 1, integer: 2, bigint: 3 };
/** Decimal digits an integer type needs. */
const INTEGER_DIGITS: Record<string, number> = { smallint: 5, integer: 10, bigint: 19 };

/** numeric(p,s) -> [p, s]; unconstrained numeric -> null. */
function numeric(t: string): [number, number] | null | undefined {
  if (t === 'numeric') return null;
  const m = /^numeric\((\d+)(?:,(-?\d+))?\)$/.exec(t);
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : undefined;
}

/** character varying(n) -> n, character varying / text -> Infinity. */
function varcharLength(t: string): number | undefined {
  if (t === 'text' || t === 'character varying') return Infinity;
  const m = /^character varying\((\d+)\)$/.exec(t);
  return m ? Number(m[1]) : undefined;
}

/** timestamp / time precision: `timestamp(3) with time zone` -> ['timestamp with time zone', 3]; no modifier is 6. */
function temporal(t: string): [string, number] | undefined {
  const m = /^(timestamp|time)(?:\((\d)\))? (with|without) time zone$/.exec(t);
  return m ? [`${m[1]} ${m[3]} time zone`, m[2] === undefined ? 6 : Number(m[2])] : undefined;
}

/**
 * True when every value of type `from` is a value of type `to`, unchanged: the change can be applied
 * downstream by widening the column. Anything else (narrowing, another kind of type) is incompatible.
 */
export function widens(from: string, to: string): boolean {
  if (from === to) return true;
  if (INTEGER_RANK[from] && INTEGER_RANK[to]) return INTEGER_RANK[to] > INTEGER_RANK[from];
  const nTo = numeric(to);
  if (INTEGER_RANK[from] && nTo !== undefined)
    return nTo === null || (nTo[1] >= 0 && nTo[0] - nTo[1] >= INTEGER_DIGITS[from]);
  const nFrom = numeric(from);
  if (nFrom !== undefined && nTo !== undefined) {
    if (nTo === null) return true;
    if (nFrom === null) return false;
    return nTo[1] >= nFrom[1] && nTo[0] - nTo[1] >= nFrom[0] - nFrom[1];
  }
  if (from === 'real' && to === 'double precision') return true;
  const vFrom = varcharLength(from);
  const vTo = varcharLength(to);
  if (vFrom !== undefined && vTo !== undefined) return vTo >= vFrom;
  const tFrom = temporal(from);
  const tTo = temporal(to);
  if (tFrom && tTo) return tFrom[0] === tTo[0] && tTo[1] >= tFrom[1];
  return false;
}

/** One line per change, for reasons, logs and the schema history. */
export function describeChange(c: ColumnChange): string {
  switch (c.kind) {
    case 'added':
      return `column ${c.column} added (${c.new_type})`;
    case 'dropped':
      return `column ${c.column} dropped (was ${c.old_type})`;
    case 'retyped':
      return `column ${c.column} changed from ${c.old_type} to ${c.new_type}${c.widening ? ' (widened)' : ''}`;
    case 'key_changed':
      return `column ${c.column} ${c.new_type ? 'joined or left' : 'left'} the primary key`;
  }
}

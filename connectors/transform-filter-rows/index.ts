import type { TransformModule } from '../module';
import { declaration } from './declaration';

function compare(v: unknown, op: string, want: unknown, values: unknown[]): boolean {
  const num = (x: unknown) => (typeof x === 'number' ? x : Number(x));
  const bothNum = v !== null && v !== undefined && !Number.isNaN(num(v)) && !Number.isNaN(num(want));
  switch (op) {
    case 'eq':
      return String(v) === String(want);
    case 'ne':
      return String(v) !== String(want);
    case 'gt':
      return bothNum ? num(v) > num(want) : String(v) > String(want);
    case 'gte':
      return bothNum ? num(v) >= num(want) : String(v) >= String(want);
    case 'lt':
      return bothNum ? num(v) < num(want) : String(v) < String(want);
    case 'lte':
      return bothNum ? num(v) <= num(want) : String(v) <= String(want);
    case 'in':
      return values.map(String).includes(String(v));
    case 'not_in':
      return !values.map(String).includes(String(v));
    case 'is_null':
      return v === null || v === undefined;
    case 'not_null':
      return v !== null && v !== undefined;
    default:
      return true;
  }
}

export const transformFilterRows = {
  declaration,
  build({ config: cfg }) {
    return {
      apply: (e) => {
        if (e.op === 't') return e;
        const row = e.op === 'd' ? e.before : e.after;
        // A delete's before image may hold only the key: without the column there is nothing to judge, keep it.
        if (e.op === 'd' && !(row && cfg.column in row)) return e;
        const hit = compare(row?.[cfg.column], cfg.operator, cfg.value, cfg.values ?? []);
        return (cfg.action === 'drop' ? !hit : hit) ? e : null;
      },
    };
  },
} satisfies TransformModule;

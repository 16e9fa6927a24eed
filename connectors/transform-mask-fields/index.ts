import crypto from 'node:crypto';
import type { TransformModule } from '../module';
import { eachImage } from '../shared/images';
import { declaration } from './declaration';

export const transformMaskFields = {
  declaration,
  build({ config: cfg }) {
    const fields: string[] = cfg.fields ?? [];
    const keepLast: number = cfg.keep_last ?? 4;
    const mask = (s: string) =>
      cfg.strategy === 'redact'
        ? '***'
        : cfg.strategy === 'partial'
          ? '*'.repeat(Math.max(0, s.length - keepLast)) + s.slice(-keepLast || s.length)
          : crypto
              .createHash('sha256')
              .update(String(cfg.salt ?? ''))
              .update(s)
              .digest('hex');
    return {
      apply: (e) => {
        eachImage(e, (row) => {
          for (const f of fields) {
            if (!(f in row) || row[f] === null) continue;
            row[f] = mask(typeof row[f] === 'string' ? (row[f] as string) : JSON.stringify(row[f]));
          }
        });
        // A masked value is text whatever the column was (key columns are never masked by type).
        e.columns = e.columns.map((c) => (fields.includes(c.name) && !c.key ? { ...c, type: 'text', oid: 25 } : c));
        return e;
      },
    };
  },
} satisfies TransformModule;

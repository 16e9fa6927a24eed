import type { Envelope } from '../core/change-event';
import { TransformError } from '../core/errors';
import { transformModule } from '../connectors';
import type { TransformDef, TransformFn } from '../connectors/module';

export type { TransformDef } from '../connectors/module';
export { TransformError } from '../core/errors';

/**
 * A pipeline's transform chain, each step built by its kind's module. A transform with `tables`
 * applies only to those `schema.table`s. Any throw becomes a TransformError (the record goes to the DLQ).
 */
export function buildChain(defs: TransformDef[]): { apply(e: Envelope): Envelope | null; dispose(): void } {
  const fns: TransformFn[] = [];
  const disposers: (() => void)[] = [];
  for (const d of defs) {
    const step = transformModule(d.kind).build(d);
    if (step.dispose) disposers.push(step.dispose);
    const tables: string[] = d.config.tables ?? [];
    fns.push(
      tables.length ? (e) => (tables.includes(`${e.source.schema}.${e.source.table}`) ? step.apply(e) : e) : step.apply,
    );
  }
  return {
    apply(e) {
      let cur: Envelope | null = e;
      for (const f of fns) {
        if (!cur) return null;
        try {
          cur = f(cur);
        } catch (err) {
          if (err instanceof TransformError) throw err;
          throw new TransformError('?', (err as Error).message);
        }
      }
      return cur;
    },
    dispose() {
      for (const d of disposers) d();
    },
  };
}

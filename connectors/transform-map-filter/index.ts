import type { Envelope } from '../../core/change-event';
import { TransformError } from '../../core/errors';
import type { TransformModule } from '../module';
import { declaration } from './declaration';

export const transformMapFilter = {
  declaration,
  /** The code runs in an isolated-vm isolate: its own heap (memory_limit_mb) and a CPU-time limit per event. */
  build({ name, config: cfg }) {
    // Loaded here, not at the top: the declaration must load without the native sandbox.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ivm = require('isolated-vm') as typeof import('isolated-vm');
    const isolate = new ivm.Isolate({ memoryLimit: Math.max(8, Number(cfg.memory_limit_mb ?? 32)) });
    const context = isolate.createContextSync();
    try {
      isolate.compileScriptSync(String(cfg.code)).runSync(context, { timeout: 1000 });
    } catch (err) {
      throw new TransformError(name, `code does not compile: ${(err as Error).message}`);
    }
    const timeout = Number(cfg.timeout_ms ?? 50);
    return {
      apply: (e) => {
        if (isolate.isDisposed) throw new TransformError(name, 'sandbox was disposed (memory limit exceeded?)');
        let out: string | null | undefined;
        try {
          out = context.evalClosureSync(
            `const r = transform(JSON.parse($0)); return r === null || r === undefined ? null : JSON.stringify(r);`,
            [JSON.stringify(e)],
            { timeout },
          );
        } catch (err) {
          throw new TransformError(name, (err as Error).message);
        }
        if (out === null || out === undefined) return null;
        const r = JSON.parse(out) as Envelope;
        r.columns = r.columns ?? e.columns;
        r.source = r.source ?? e.source;
        return r;
      },
      dispose: () => {
        try {
          isolate.dispose();
        } catch {
          /* already gone */
        }
      },
    };
  },
} satisfies TransformModule;
